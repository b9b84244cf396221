"""A C-STORE into the archive is checked from its data set alone (the receiver built its File Meta Information
from the command: ``check_received(..., transfer_syntax=, meta_length=)``), and stores exactly what the check
of the whole object stored: the same blob, header (DICOM JSON), typed columns, bulk data and frame offsets.

The reference is the same archive with the archive's ``check_received`` made to read the whole object again
(the shortcut's arguments dropped). Every corpus file goes over a real association (``store_all``, the SCU of
``dicomkit store``) into each; the frames are then read by their stored offsets from the stored blob and
compared with the frames of the file as sent.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from dicomkit.core.errors import DicomError
from dicomkit.io.encapsulation import encapsulated_frames
from dicomkit.io.reader import read_buffer, read_file_meta
from dicomkit.net import ApplicationEntity
from dicomkit.net.association import Association
from dicomkit.net.negotiation import PresentationContext
from dicomkit.server import Server, ingest
from dicomkit.services.storage import scp
from dicomkit.services.storage.scu import peek, store_all

from ..conftest import corpus_files

VOLATILE = {"pk", "patient_pk", "study_pk", "series_pk", "blob_key", "node", "stored_at", "created_at",
            "updated_at"}
TABLES = ("patients", "studies", "series", "instances")


def _rounds() -> list[list[Any]]:
    """The sendable corpus files in rounds without a SOP Instance UID twice (the corpus has several files of
    one UID: each round goes to an archive of its own, so that every file is indexed once)."""
    rounds: list[tuple[set[str], list[Any]]] = []
    for path in corpus_files():
        try:
            info = peek(path)
            uid = str(read_file_meta(path).value(0x00020003) or "").strip("\x00 ")
        except (DicomError, OSError):
            continue
        if not (info.sop_class_uid and info.transfer_syntax):
            continue
        free = next((r for r in rounds if uid not in r[0]), None)
        if free is None:
            free = (set(), [])
            rounds.append(free)
        free[0].add(uid)
        free[1].append(info)
    return [files for _uids, files in rounds]


def _ingest(tmp: Path, files: list[Any]) -> dict[str, Any]:
    """Send ``files`` to a fresh archive; what it stored, by SOP Instance UID, and the answers, by path."""
    with Server(data_dir=tmp, dicom_port=0, http=False) as pacs:
        ae = ApplicationEntity("SHORTCUT")

        async def open_association(contexts: list[PresentationContext]) -> Association:
            return await ae.associate("127.0.0.1", pacs.port, contexts, called_ae_title=pacs.ae_title)

        summary = asyncio.run(store_all(open_association, files))
        answers = {str(r.path): (int(r.status) if r.status is not None else None, r.text) for r in summary.results}
        index = pacs.index
        stored: dict[str, Any] = {}
        for row in index.instances():
            pks = index.query("SELECT st.patient_pk, s.study_pk, i.series_pk, i.pk FROM instances i JOIN series s "
                              "ON s.pk = i.series_pk JOIN studies st ON st.pk = s.study_pk WHERE i.pk = ?",
                              (row.pk,))[0]
            rows = {}
            for table, pk in zip(TABLES, pks.values(), strict=True):
                found = index.query(f"SELECT * FROM {table} WHERE pk = ?", (pk,))[0]
                rows[table] = {k: v for k, v in found.items() if k not in VOLATILE}
            header = index.query("SELECT header, bulk, header_version FROM instance_headers WHERE instance_pk = ?",
                                 (row.pk,))[0]
            with pacs.archive.store.open(row.blob_key) as f:
                blob = f.read()
            stored[row.sop_instance_uid] = {
                "rows": rows, "header": zlib.decompress(bytes(header["header"])).decode(),
                "bulk": json.loads(header["bulk"]) if header["bulk"] is not None else None,
                "header_version": header["header_version"], "blob": blob, "dataset_offset": row.dataset_offset,
                "transfer_syntax": row.transfer_syntax}
        return {"stored": stored, "answers": answers}


def _ingest_rounds(tmp: Path, rounds: list[list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"stored": {}, "answers": {}}
    for n, files in enumerate(rounds):
        got = _ingest(tmp / str(n), files)
        out["stored"].update({(n, uid): v for uid, v in got["stored"].items()})
        out["answers"].update(got["answers"])
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    rounds = _rounds()
    if not rounds:
        pytest.skip("corpus not found")
    calls = {"shortcut": 0, "whole": 0}
    real = scp.check_received

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["shortcut" if kwargs.get("transfer_syntax") else "whole"] += 1
        return real(*args, **kwargs)

    def whole(source: Any, sop_class_uid: str, sop_instance_uid: str, **_: Any) -> Any:
        calls["whole"] += 1
        return real(source, sop_class_uid, sop_instance_uid)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "check_received", counting)
        fast = _ingest_rounds(tmp_path_factory.mktemp("shortcut"), rounds)
    shortcut_calls = dict(calls)
    calls.update(shortcut=0, whole=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "check_received", whole)
        reference = _ingest_rounds(tmp_path_factory.mktemp("whole"), rounds)
    return fast, reference, shortcut_calls


def test_the_shortcut_is_taken(both: tuple[dict[str, Any], dict[str, Any], dict[str, int]]) -> None:
    fast, _reference, calls = both
    # every C-STORE's check gets the built meta (an object refused before its check has none)
    assert calls["whole"] == 0 and calls["shortcut"] >= len(fast["answers"]) - 2, calls
    assert len(fast["stored"]) > 40


def test_same_answers_and_same_instances(both: tuple[dict[str, Any], dict[str, Any], dict[str, int]]) -> None:
    fast, reference, _calls = both
    assert fast["answers"] == reference["answers"]
    assert fast["stored"].keys() == reference["stored"].keys()


def test_same_blob_header_columns_and_offsets(both: tuple[dict[str, Any], dict[str, Any], dict[str, int]]) -> None:
    fast, reference, _calls = both
    for uid, want in reference["stored"].items():
        got = fast["stored"][uid]
        for key in ("blob", "header", "header_version", "dataset_offset", "transfer_syntax", "bulk"):
            assert got[key] == want[key], (uid, key)
        assert got["rows"] == want["rows"], uid


def test_frames_by_their_stored_offsets_are_the_sent_frames(
        both: tuple[dict[str, Any], dict[str, Any], dict[str, int]]) -> None:
    """What WADO-RS frames read as stored: the byte ranges of the bulk map, from the blob."""
    fast, _reference, _calls = both
    checked = 0
    for uid, got in fast["stored"].items():
        frames = (got["bulk"] or {}).get("frames")
        if frames is None:
            continue
        blob = got["blob"]
        ds = read_buffer(memoryview(blob))
        if "native" in frames:
            offset, length, count = frames["native"]
            pixels = bytes(ds[0x7FE00010].value)
            for n in range(count):
                assert blob[offset + n * length:offset + (n + 1) * length] == pixels[n * length:(n + 1) * length], uid
        else:
            expected = encapsulated_frames(ds)
            assert len(expected) == len(frames["fragments"]), uid
            for spans, pieces in zip(frames["fragments"], expected, strict=True):
                assert [blob[o:o + n] for o, n in spans] == [bytes(p) for p in pieces], uid
        for tag, (offset, length) in (got["bulk"] or {}).get("elements", {}).items():
            value = ds[int(tag, 16)].value
            if isinstance(value, bytes | bytearray | memoryview):
                assert blob[offset:offset + length] == bytes(value), (uid, tag)
        checked += 1
    assert checked > 20


def test_a_large_object_read_from_its_temporary_file(tmp_path: Path) -> None:
    """An object of several MB streams to its temporary file and is mapped from there for its check: the same
    stored bytes, header and frame offsets with and without the shortcut."""
    from .data import image, write

    path = write(image(sop="1.2.826.0.1.3680043.10.78.1", rows=512, cols=512, frames=10, fill=7), tmp_path / "in")
    assert path.stat().st_size > ingest.MMAP_THRESHOLD
    files = [peek(path)]
    real = scp.check_received
    given: list[tuple[type, dict[str, Any]]] = []

    def recording(source: Any, cls: str, sop: str, **kwargs: Any) -> Any:
        given.append((type(source), kwargs))
        return real(source, cls, sop, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "check_received", recording)
        fast = _ingest(tmp_path / "fast", files)
    assert [(kind.__name__, sorted(kwargs)) for kind, kwargs in given] == [
        ("memoryview", ["meta_length", "transfer_syntax"])]  # the mapped file, after the built meta
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "check_received", lambda source, cls, sop, **_: real(source, cls, sop))
        reference = _ingest(tmp_path / "whole", files)
    (got,) = fast["stored"].values()
    (want,) = reference["stored"].values()
    assert got == want
    offset, length, count = got["bulk"]["frames"]["native"]
    assert (length, count) == (512 * 512 * 2, 10)
    assert got["blob"][offset:offset + length * count] == bytes(read_buffer(memoryview(path.read_bytes()))[
        0x7FE00010].value)
