"""An index transaction that reports an error: its blob is removed only when the index says no row refers to it.

A connection lost during COMMIT (a PostgreSQL restart) leaves the outcome unknown: the row may be committed.
Removing the placed blob then would leave an acknowledged-on-retry instance without its object (a resend
finds the row "identical" and keeps nothing new). These tests make COMMIT fail in the three ways it can.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import dicomkit
from dicomkit.net import connect
from dicomkit.server import Server
from dicomkit.server.index import Index
from dicomkit.server.index.dialect import Database
from dicomkit.server.sweep import startup_sweep, verify
from dicomkit.services import store

from .data import files

MR = "MRImageStorage"
INDEX_UNAVAILABLE = 0xA700


async def send(port: int, paths: list[Path]) -> list[int]:
    async with connect("127.0.0.1", port, called_ae_title="DICOMKIT", contexts=[MR]) as assoc:
        return [int((await store(assoc, p)).status_value) for p in paths]


def fail_one_commit(monkeypatch: pytest.MonkeyPatch, *, after_commit: bool) -> list[int]:
    """The next COMMIT raises, after committing (``after_commit``) or instead of it (rolled back)."""
    real_commit, real_rollback = Database.commit, Database.rollback
    armed = [1]

    def commit(self: Database) -> None:
        if armed and armed.pop():
            if after_commit:
                real_commit(self)
            else:
                real_rollback(self)
            raise ConnectionError("server closed the connection unexpectedly")
        real_commit(self)

    monkeypatch.setattr(Database, "commit", commit)
    return armed


def sop(path: Path) -> str:
    return str(dicomkit.read(path, stop_before_pixels=True).SOPInstanceUID)


def test_committed_although_commit_raised(tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = files(tmp_path / "in", 3)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None) as pacs:
        asyncio.run(send(pacs.port, paths[:1]))
        armed = fail_one_commit(monkeypatch, after_commit=True)
        statuses = asyncio.run(send(pacs.port, paths[1:]))
        assert not armed  # the failure happened
        # the row is there with its blob, so the store is answered as what it is: stored
        assert statuses == [0, 0]
        assert asyncio.run(send(pacs.port, paths[1:2])) == [0]  # a resend is identical
        report = verify(pacs.archive)
        assert report.ok and not report.missing and not report.orphans, report
        row = pacs.index.instance(sop(paths[1]))
        assert row is not None and pacs.archive.store.size(row.blob_key) == row.size


def test_rolled_back_commit_removes_the_blob(tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = files(tmp_path / "in", 2)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None) as pacs:
        asyncio.run(send(pacs.port, paths[:1]))
        armed = fail_one_commit(monkeypatch, after_commit=False)
        assert asyncio.run(send(pacs.port, paths[1:])) == [INDEX_UNAVAILABLE]
        assert not armed
        assert pacs.index.instance(sop(paths[1])) is None
        report = verify(pacs.archive)
        assert report.ok and not report.orphans, report  # the index said no row needs it: removed
        assert asyncio.run(send(pacs.port, paths[1:])) == [0]  # the retry stores it
        assert verify(pacs.archive).ok


def test_blob_kept_while_the_index_cannot_be_asked(tmp_path: Path, database: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    paths = files(tmp_path / "in", 2)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None) as pacs:
        asyncio.run(send(pacs.port, paths[:1]))
        real_lookup = Index.lookup_duplicate
        down = [False]

        def lookup(self: Index, uid: str) -> tuple[str, str] | None:
            if down[0]:
                raise ConnectionError("the database is restarting")
            return real_lookup(self, uid)

        monkeypatch.setattr(Index, "lookup_duplicate", lookup)
        real_commit = Database.commit

        def commit(self: Database) -> None:
            down[0] = True  # from this COMMIT on, the database is away
            real_commit(self)
            raise ConnectionError("server closed the connection unexpectedly")

        monkeypatch.setattr(Database, "commit", commit)
        stored = pacs.archive.ingest_file(paths[1])
        assert stored.status == INDEX_UNAVAILABLE, stored  # the outcome cannot be known: answered as a failure
        monkeypatch.setattr(Database, "commit", real_commit)
        down[0] = False
        # committed, and its blob was kept although the store could not be confirmed
        row = pacs.index.instance(sop(paths[1]))
        assert row is not None and pacs.archive.store.size(row.blob_key) == row.size
        assert verify(pacs.archive).ok
        startup_sweep(pacs.archive)
        assert verify(pacs.archive).ok

