"""Storage service pieces: received file meta, safe names, context proposals, probing, payloads, memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.dataset import Dataset
from dicomkit.core.errors import NetworkError, UnsupportedTransferSyntaxError
from dicomkit.core.uid import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicomkit.io.meta import encode_file_meta, part10_header
from dicomkit.io.raw import meta_end, probe_part10
from dicomkit.net import ApplicationEntity, PresentationContext, connect
from dicomkit.net.payload import FilePayload
from dicomkit.net.status import Status
from dicomkit.services.storage import (
    STORAGE,
    DirectoryReceiver,
    FileInfo,
    StorageSCP,
    StoreSource,
    peek,
    safe_filename,
    storage_contexts,
    storage_sop_classes,
    storage_transfer_syntaxes,
    store,
)
from dicomkit.services.storage.files import TempFiles
from dicomkit.services.storage.scu import context_groups
from dicomkit.services.storage.source import LOSSLESS_ALTERNATIVES

from ..conftest import CORPUS, corpus_params
from ..helpers import until

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def test_received_file_meta_matches_the_core_writer(tmp_path):
    meta = Dataset()
    meta.add_new(0x00020001, "OB", b"\x00\x01")
    meta.add_new(0x00020002, "UI", "1.2.840.10008.5.1.4.1.1.2")
    meta.add_new(0x00020003, "UI", "1.2.3.45")
    meta.add_new(0x00020010, "UI", ELE)
    meta.add_new(0x00020012, "UI", IMPLEMENTATION_CLASS_UID)
    meta.add_new(0x00020013, "SH", IMPLEMENTATION_VERSION_NAME)
    meta.add_new(0x00020016, "AE", "STORESCU")
    expected = bytes(128) + b"DICM" + encode_file_meta(meta)
    assert part10_header("1.2.840.10008.5.1.4.1.1.2", "1.2.3.45", ELE, "STORESCU") == expected
    # an odd-length AE title is padded, and the result reads back as a Part 10 file
    path = tmp_path / "x.dcm"
    path.write_bytes(part10_header("1.2.3", "1.2.3.4", ILE, "ODD") + b"\x08\x00\x16\x00\x06\x00\x00\x001.2.3\x00")
    ds = dicomkit.read(path)
    assert ds.file_meta.value(0x00020016) == "ODD" and ds.file_meta.value(0x00020010) == ILE
    assert ds.SOPClassUID == "1.2.3"


@pytest.mark.parametrize("uid,name", [
    ("1.2.3.4", "1.2.3.4.dcm"),
    ("../../etc/passwd", "_.._etc_passwd.dcm"),
    ("..", "unnamed.dcm"),
    ("a/b\\c\x00", "a_b_c.dcm"),
    ("9" * 200, "9" * 64 + ".dcm"),
])
def test_safe_filename(uid, name):
    assert safe_filename(uid) == name
    assert "/" not in name and not name.startswith(".")


@pytest.mark.parametrize("code,category,meaning", [
    (0x0000, "Success", "Success"), (0xB000, "Warning", "Warning: coercion of data elements"),
    (0xB007, "Warning", "Warning: data set does not match SOP Class"),
    (0xA700, "Failure", "Refused: out of resources"), (0xA7FF, "Failure", "Refused: out of resources"),
    (0xA900, "Failure", "Error: data set does not match SOP Class"), (0xC123, "Failure", "Error: cannot understand"),
    (0xC111, "Failure", "Error: duplicate SOP Instance UID with different content"),
    (0x0122, "Failure", "Failure: refused: SOP Class not supported"),
])
def test_storage_status_meanings(code, category, meaning):
    """PS3.4 B.2.3 with the general ones behind it, and dicomkit's duplicate code in the Cxxx range."""
    s = Status(code)
    assert s.category == category and s.meaning(STORAGE) == meaning


def test_registry_derived_lists():
    classes = storage_sop_classes()
    assert "1.2.840.10008.5.1.4.1.1.2" in classes and len(classes) > 150
    syntaxes = storage_transfer_syntaxes()
    assert syntaxes[0] == ELE and syntaxes[1] == ILE
    assert "1.2.840.10008.1.2.4.90" in syntaxes and len(set(syntaxes)) == len(syntaxes)


def test_storage_contexts_grouping():
    files = [FileInfo(Path("a"), "1.2.840.10008.5.1.4.1.1.2", ELE),
             FileInfo(Path("b"), "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.2"),
             FileInfo(Path("c"), "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.4.90"),
             FileInfo(Path("d"), "1.2.840.10008.5.1.4.1.1.4", ILE),
             FileInfo(Path("e"), error="not DICOM")]
    contexts = storage_contexts(files, alternatives=False)
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        ("1.2.840.10008.5.1.4.1.1.2", [ELE, "1.2.840.10008.1.2.2", ILE]),
        ("1.2.840.10008.5.1.4.1.1.4", [ILE, ELE]),
        ("1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2.4.90"]),
    ]
    # with the lossless alternatives: one more context for the class with compressed files, without its own
    with_alternatives = storage_contexts(files, alternatives=True)
    assert with_alternatives[:3] == contexts
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in with_alternatives[3:]] == [
        ("1.2.840.10008.5.1.4.1.1.2", [ts for ts in LOSSLESS_ALTERNATIVES if ts != "1.2.840.10008.1.2.4.90"])]
    too_many = [FileInfo(Path(str(i)), f"1.2.3.{i}", ELE) for i in range(128)]
    with pytest.raises(NetworkError, match="several runs"):
        storage_contexts(too_many)


def test_context_groups_keep_classes_whole_and_fit_one_association():
    files = [FileInfo(Path(f"{i}"), f"1.2.3.{i % 150}", ELE if i % 2 else "1.2.840.10008.1.2.4.90")
             for i in range(300)]
    files.append(FileInfo(Path("broken"), error="not DICOM"))
    groups = context_groups(files, alternatives=True)
    assert len(groups) > 2
    seen: set[str] = set()
    for contexts, items in groups:
        assert 0 < len(contexts) <= 127
        classes = {c.abstract_syntax for c in contexts}
        assert not classes & seen  # a class lives in one group only
        seen |= classes
        assert all(i.error or i.sop_class_uid in classes for i in items)
    assert sum(len(items) for _, items in groups) == len(files)
    assert groups[0][1][0].path == Path("broken")  # unreadable files go with the first group


@pytest.mark.parametrize("path", corpus_params())
def test_probe_agrees_with_the_reader(path):
    head = path.read_bytes()
    probe = probe_part10(head)
    ds = dicomkit.read(path, stop_before_pixels=True, force=True)  # every corpus file reads this way
    if probe is None:  # unusual files go to the full reader: it must then be a file without plain meta
        assert ds.file_meta is None or "SOPInstanceUID" not in ds or ds.read_corrections
        return
    assert probe.sop_class_uid == ds.SOPClassUID and probe.sop_instance_uid == ds.SOPInstanceUID
    assert probe.transfer_syntax == ds.read_transfer_syntax
    assert probe.data_offset == meta_end(head)
    info = peek(path)
    assert (info.sop_class_uid, info.transfer_syntax) == (probe.sop_class_uid, probe.transfer_syntax)


def test_store_source_payloads(tmp_path):
    path = CORPUS / "SC_rgb.dcm"
    if not path.exists():
        pytest.skip("corpus missing")
    source = StoreSource.from_path(path)
    own = source.payload(ELE)
    assert isinstance(own, FilePayload)
    data = path.read_bytes()
    assert b"".join(bytes(f) for f in own.fragments(1000)) == data[meta_end(data):]
    assert all(len(f) <= 1000 for f in own.fragments(1000))
    implicit = source.payload(ILE)
    encoded = b"".join(bytes(f) for f in implicit.fragments(4096))
    again = dicomkit.read(encoded, force=True)
    assert again.read_transfer_syntax == ILE and again.PixelData == dicomkit.read(path).PixelData
    compressed = StoreSource.from_path(CORPUS / "JPEG-LL.dcm")
    assert compressed.candidate_syntaxes()[0] == compressed.transfer_syntax
    assert ELE in compressed.candidate_syntaxes()
    plain = dicomkit.read(b"".join(bytes(f) for f in compressed.payload(ELE).fragments(4096)), force=True)
    assert (plain.pixel_array == dicomkit.read(CORPUS / "JPEG-LL.dcm").pixel_array).all()
    with pytest.raises(UnsupportedTransferSyntaxError, match="lossy"):
        source.payload("1.2.840.10008.1.2.4.50")  # lossy compression only when allowed
    lossless = source.payload("1.2.840.10008.1.2.4.80")  # native -> JPEG-LS lossless, on the fly
    head = part10_header(source.sop_class_uid, source.sop_instance_uid, "1.2.840.10008.1.2.4.80")
    back = dicomkit.read(head + b"".join(bytes(f) for f in lossless.fragments(1 << 16)))
    assert (back.pixel_array == dicomkit.read(path).pixel_array).all()


def test_temp_files_are_made_ahead_and_removed(tmp_path):
    import os

    async def run() -> None:
        pool = TempFiles(tmp_path, spare=3)
        path, fd = pool.take()
        os.close(fd)
        os.unlink(path)
        # made by the event loop after the turn that took one, one per turn
        await until(lambda: len(list(tmp_path.glob(".dicomkit-*.part"))) == 3, what="three spare files")
        spare_path, spare_fd = pool.take()  # a spare: made before it was asked for
        os.close(spare_fd)
        os.unlink(spare_path)
        pool.close()

    asyncio.run(run())
    assert not list(tmp_path.iterdir())


def test_temp_files_outside_an_event_loop_are_made_when_taken(tmp_path):
    import os

    pool = TempFiles(tmp_path, spare=3)
    path, fd = pool.take()
    assert list(tmp_path.iterdir()) == [Path(path)]  # no spare without a loop
    os.close(fd)
    os.unlink(path)
    pool.close()


def _big_file(path: Path, frames: int, frame: int = 1 << 20) -> Path:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated = 512, 1024, 1, 16
    ds.NumberOfFrames = frames
    dicomkit.write(ds, path, transfer_syntax=ELE)
    chunk = bytes(range(256)) * (frame // 256)
    with open(path, "ab") as f:
        f.write(b"\xe0\x7f\x10\x00OW\x00\x00" + (frames * frame).to_bytes(4, "little"))
        for _ in range(frames):
            f.write(chunk)
    return path


def test_large_object_streams_both_ways_with_flat_memory(tmp_path):
    """A 48 MB object goes from file to socket to file: neither side gathers it in memory."""
    src = _big_file(tmp_path / "big.dcm", 48)
    receiver = DirectoryReceiver(tmp_path / "in")

    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_service(StorageSCP(receiver))
        server = await ae.start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(
                "1.2.840.10008.5.1.4.1.1.7.3", [ELE])], max_pdu=65536) as assoc:
            rsp = await store(assoc, src)
        await server.close()
        return rsp

    tracemalloc.start()
    try:
        rsp = asyncio.run(main())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        receiver.close()
    assert rsp.status_value.is_success
    got = tmp_path / "in" / f"{rsp.affected_sop_instance_uid}.dcm"
    assert got.stat().st_size > 48 << 20
    with open(got, "rb") as a, open(src, "rb") as b:
        a.seek(meta_end(a.read(4096)))
        b.seek(meta_end(b.read(4096)))
        while True:
            x, y = a.read(1 << 20), b.read(1 << 20)
            assert x == y
            if not x:
                break
    assert peak < 16 << 20, f"peak traced memory {peak / 1e6:.1f} MB for a 48 MB object"


def test_sweep_removes_only_stale_leftovers(tmp_path):
    import os
    import time

    from dicomkit.services.storage import sweep_temp_files

    work = tmp_path / ".dicomkit" / "tmp"
    work.mkdir(parents=True)
    stale = work / ".dicomkit-0123.part"
    fresh = work / ".dicomkit-4567.part"
    legacy = tmp_path / ".dicomkit-89ab.part"  # where earlier versions kept them
    other = tmp_path / "keep.dcm"
    for p in (stale, fresh, legacy, other):
        p.write_bytes(b"x")
    old = time.time() - 7200
    for p in (stale, legacy, other):
        os.utime(p, (old, old))
    assert sorted(sweep_temp_files(tmp_path)) == sorted([stale, legacy])
    assert not stale.exists() and not legacy.exists() and fresh.exists() and other.exists()
    assert sweep_temp_files(tmp_path / "missing") == []
