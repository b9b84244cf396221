"""C-STORE into a running archive (in-process ``Server``): the order of the consistency steps, duplicates,
refusals (limits, an unwritable store, UIDs that do not match), 50 associations at once."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

import dicomkit
from dicomkit.net import connect
from dicomkit.server import Server
from dicomkit.server.index.dialect import Database
from dicomkit.server.ingest import Events
from dicomkit.services import echo, store

from .data import files, image, write

MR = "MRImageStorage"


class Recorder(Events):
    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.checks: list[bool] = []
        self.pacs: Server | None = None

    def __call__(self, step: str, sop_instance_uid: str) -> None:
        with self.lock:
            self.steps.append((step, sop_instance_uid))
        if step == "answered" and self.pacs is not None:
            # at the moment the answer goes, the row is committed and the blob is in place
            row = self.pacs.index.instance(sop_instance_uid)
            self.checks.append(row is not None and self.pacs.archive.store.size(row.blob_key) == row.size)

    def add(self, step: str, what: str) -> None:
        with self.lock:
            self.steps.append((step, what))


async def send(port: int, paths: list[Path], ae: str = "DICOMKIT", **options: object) -> list[int]:
    async with connect("127.0.0.1", port, called_ae_title=ae, contexts=[MR], **options) as assoc:
        return [int((await store(assoc, p)).status_value) for p in paths]


def test_steps_run_in_order(tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync(file) → link to its own name → fsync(directory) → durable commit → answer, for every object."""
    recorder = Recorder()
    real_fsync, real_link, real_commit = os.fsync, os.link, Database.commit
    temp_fds: dict[int, str] = {}

    def fsync(fd: int) -> None:
        real_fsync(fd)
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else str(fd)
        recorder.add("fsync", target)

    def link(src: object, dst: object, *a: object, **k: object) -> None:
        real_link(src, dst, *a, **k)  # type: ignore[arg-type]
        recorder.add("link", str(dst))

    def commit(self: Database) -> None:
        real_commit(self)
        recorder.add("commit", "")

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(Database, "commit", commit)
    paths = files(tmp_path / "in", 5)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None,
                events=recorder) as pacs:
        recorder.pacs = pacs
        recorder.steps.clear()
        statuses = asyncio.run(send(pacs.port, paths))
    assert statuses == [0] * 5 and recorder.checks == [True] * 5
    del temp_fds
    steps = recorder.steps
    for p in paths:
        sop = dicomkit.read(p, stop_before_pixels=True).SOPInstanceUID
        mine = [i for i, (s, w) in enumerate(steps) if w == sop]
        names = [steps[i][0] for i in mine]
        assert names == ["received", "file synced", "placed", "committed", "answered"], names
        received, synced, placed, committed, answered = mine
        # the fsync of the temporary file, the link to the blob's name, the directory's fsync (in the index
        # transaction of the group commit, once for the stores that share it) and the commit, in that order
        link_at = next(i for i in range(synced, placed) if steps[i][0] == "link" and sop in steps[i][1])
        blob = steps[link_at][1]
        file_sync = [i for i in range(received, synced) if steps[i][0] == "fsync" and ".part" in steps[i][1]]
        commit_at = next(i for i in range(placed, committed) if steps[i][0] == "commit")
        dir_sync = [i for i in range(link_at, commit_at) if steps[i][0] == "fsync" and
                    steps[i][1] == os.path.dirname(blob)]
        assert file_sync and dir_sync, steps[received:answered + 1]


def test_store_echo_and_duplicates_over_the_network(tmp_path: Path, database: str) -> None:
    a = write(image(sop="1.2.826.0.1.3680043.10.9.1", fill=1), tmp_path / "a")
    b = write(image(sop="1.2.826.0.1.3680043.10.9.1", fill=2), tmp_path / "b")
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None) as pacs:
        async def main() -> list[int]:
            async with connect("127.0.0.1", pacs.port, called_ae_title="DICOMKIT", contexts=[MR]) as assoc:
                assert int(await echo(assoc)) == 0
                out = []
                for p in (a, a, b):
                    rsp = await store(assoc, p)
                    out.append(int(rsp.status_value))
                    if int(rsp.status_value) == 0xC111:
                        assert rsp.error_comment and "duplicate" in rsp.error_comment
                return out
        assert asyncio.run(main()) == [0, 0, 0xC111]
        assert pacs.index.count("instance") == 1
        assert pacs.archive.metrics.stores["stored"] == 1 and pacs.archive.metrics.stores["identical"] == 1
        assert pacs.archive.metrics.store_failures["0xC111"] == 1


def test_refusals(tmp_path: Path) -> None:
    paths = files(tmp_path / "in", 3)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False,
                overrides={"storage.max_archive_size": paths[0].stat().st_size + 400}) as pacs:
        assert asyncio.run(send(pacs.port, paths)) == [0, 0xA700, 0xA700]
        assert pacs.index.count("instance") == 1
    # an unwritable store: the temporary folder cannot take files
    data = tmp_path / "data2"
    with Server(data_dir=data, dicom_port=0, http=False) as pacs:
        pacs.archive.store._spare_target = 0  # type: ignore[attr-defined]
        while pacs.archive.store._spares:  # type: ignore[attr-defined]
            pacs.archive.store._spares.popleft().discard()  # type: ignore[attr-defined]
        temp_dir = data / "store" / "tmp"
        temp_dir.rename(data / "store" / "tmp-gone")
        temp_dir.write_text("a file where the folder was")
        statuses = asyncio.run(send(pacs.port, paths[:1]))
        assert statuses == [0xA700]
        assert pacs.index.count("instance") == 0
        temp_dir.unlink()
        (data / "store" / "tmp-gone").rename(temp_dir)
        assert asyncio.run(send(pacs.port, paths[:1])) == [0]  # and it keeps serving


def test_object_that_does_not_match_its_command(tmp_path: Path) -> None:
    from dicomkit.io.writer import encode_dataset
    from dicomkit.net.dimse import CStoreRQ
    from dicomkit.net.payload import BytesPayload

    good = write(image(sop="1.2.826.0.1.3680043.10.9.7"), tmp_path)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False) as pacs:
        async def main() -> tuple[int, str | None]:
            async with connect("127.0.0.1", pacs.port, called_ae_title="DICOMKIT", contexts=[MR]) as assoc:
                ctx = assoc.accepted_contexts[0]
                data = encode_dataset(dicomkit.read(good), ctx.transfer_syntax)
                rq = CStoreRQ(affected_sop_class_uid=ctx.abstract_syntax,
                              affected_sop_instance_uid="1.2.826.0.1.3680043.10.9.8")
                rsp = await assoc.send_request(rq, context=ctx, payload=BytesPayload(data, ctx.transfer_syntax))
                return int(rsp.status_value), rsp.error_comment
        status, comment = asyncio.run(main())
        assert status == 0xA900 and "SOP Instance UID differs" in (comment or "")
        assert pacs.index.count("instance") == 0 and not list(pacs.archive.store.iterate())


def test_fifty_associations_at_once(tmp_path: Path, database: str) -> None:
    paths = files(tmp_path / "in", 200, studies=10)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False, database=database or None) as pacs:
        async def main() -> list[list[int]]:
            return await asyncio.gather(*(send(pacs.port, paths[i::50]) for i in range(50)))
        started = time.perf_counter()
        results = asyncio.run(main())
        assert time.perf_counter() > started
        assert all(s == [0] * 4 for s in results)
        assert pacs.index.count("instance") == 200
        assert sum(s["num_instances"] for s in pacs.index.studies()) == 200
        assert pacs.archive.index.writer.batches < 200  # group commit shared transactions


def test_no_file_is_created_on_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without spare temporary files (every store needs a new one), the files are made in worker threads:
    the event loop that serves every association never waits on the file system for them."""
    from dicomkit.server.blobs import FolderBlobStore

    makers: list[str] = []
    real_new_temp = FolderBlobStore._new_temp

    def new_temp(self: FolderBlobStore) -> object:
        makers.append(threading.current_thread().name)
        return real_new_temp(self)

    paths = files(tmp_path / "in", 4)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False) as pacs:
        pacs.archive.store._spare_target = 0  # type: ignore[attr-defined]
        while pacs.archive.store._spares:  # type: ignore[attr-defined]
            pacs.archive.store._spares.popleft().discard()  # type: ignore[attr-defined]
        monkeypatch.setattr(FolderBlobStore, "_new_temp", new_temp)
        for durability in ("full", "os"):
            pacs.archive.durable = durability == "full"
            makers.clear()
            assert asyncio.run(send(pacs.port, paths)) == [0, 0, 0, 0]
            assert len(makers) == 4 and "dicomkit-server" not in makers, makers
            assert all(name.startswith("dicomkit-archive") for name in makers)
            assert pacs.index.count("instance") == 4
