"""Every corpus file reads, decodes and writes back; unchanged canonical files round-trip byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.display import dump_lines
from dicomkit.core.vr import VR
from dicomkit.io.writer import to_bytes
from tests.conftest import RAW_FILES, corpus_params, read_options

# Files that are not canonical, and why writing them back changes bytes.
NOT_CANONICAL = {
    "693_J2KR.dcm": "stale (7FE0,0000) group length",
    "693_UNCI.dcm": "group lengths computed for another encoding",
    "693_UNCR.dcm": "stale group lengths",
    "bad_sequence.dcm": "meta SOP Instance UID differs from the data set's",
    "emri_small_jpeg_2k_lossless.dcm": "encapsulated Pixel Data with VR OW (written as OB)",
    "emri_small_jpeg_2k_lossless_too_short.dcm": "missing Sequence Delimitation Item",
    "emri_small_jpeg_ls_lossless.dcm": "encapsulated Pixel Data with VR OW (written as OB)",
    "explicit_VR-UN.dcm": "UN elements of known tags are written with their real VR",
}


def _read(path: Path) -> dicomkit.Dataset:
    return dicomkit.read(path, **read_options(path))


@pytest.mark.parametrize("path", corpus_params())
def test_reads_and_decodes_every_value(path: Path):
    ds = _read(path)
    assert len(ds) > 5
    count = 0
    for elem in ds.iterall():
        elem.value  # noqa: B018 - decoding must not raise
        count += 1
    assert count >= len(ds)
    assert any(line.startswith("(0008,0016)") for line in dump_lines(ds))
    if path.name not in RAW_FILES:
        assert ds.file_meta is not None and ds.transfer_syntax is not None


@pytest.mark.parametrize("path", corpus_params())
def test_stop_before_pixels(path: Path):
    full = _read(path)
    head = dicomkit.read(path, stop_before_pixels=True, **read_options(path))
    assert 0x7FE00010 not in head
    assert [t for t in full.tags() if t < 0x7FE00000] == [t for t in head.tags() if t < 0x7FE00000]
    assert head.get("SOPInstanceUID") == full.get("SOPInstanceUID")


@pytest.mark.parametrize("path", corpus_params())
def test_unchanged_file_writes_back_identically(path: Path):
    ds = _read(path)
    original = path.read_bytes()
    if path.name in RAW_FILES:
        # a raw data set is written back raw; a leading group 0002 (no preamble) is meta, not data set
        out = to_bytes(ds, file_meta=False)
        if ds.file_meta is not None:
            original = original[len(original) - len(out):]
        assert out == original
        return
    out = to_bytes(ds)
    if path.name in NOT_CANONICAL:
        assert out != original  # keeps the list honest
        return
    assert out == original


@pytest.mark.parametrize("path", corpus_params())
def test_round_trip_through_every_native_syntax(path: Path):
    ds = _read(path)
    ts = ds.transfer_syntax or ds.read_transfer_syntax
    if ts.is_encapsulated:
        targets = [str(ts)]
    else:
        targets = [str(dicomkit.uid.ImplicitVRLittleEndian), str(dicomkit.uid.ExplicitVRLittleEndian),
                   str(dicomkit.uid.ExplicitVRBigEndian), str(dicomkit.uid.DeflatedExplicitVRLittleEndian)]
    raw = path.name in RAW_FILES
    if raw:  # no meta information to name the transfer syntax: only what can be told from the bytes
        targets = [t for t in targets if t != str(dicomkit.uid.DeflatedExplicitVRLittleEndian)]
    for target in targets:
        buf = io.BytesIO()
        dicomkit.write(ds, buf, transfer_syntax=target, file_meta=not raw)
        back = dicomkit.read(io.BytesIO(buf.getvalue()), force=raw)
        expected = str(dicomkit.uid.ExplicitVRLittleEndian) if raw and ts.is_encapsulated else target
        assert str(back.transfer_syntax or back.read_transfer_syntax) == expected
        assert_same_values(ds, back, target)


def assert_same_values(a: dicomkit.Dataset, b: dicomkit.Dataset, target: str, where: str = "") -> None:
    assert a.tags() == b.tags(), f"{where} tags differ for {target}"
    for elem in a:
        other = b[elem.tag]
        here = f"{where}{elem.tag}"
        if elem.vr is VR.SQ:
            assert len(elem.value) == len(other.value), here
            for i, (x, y) in enumerate(zip(elem.value, other.value)):
                assert_same_values(x, y, target, f"{here}[{i}].")
            continue
        if elem.tag & 0xFFFF == 0:
            continue  # group lengths are recomputed for the new encoding
        if target == str(dicomkit.uid.ImplicitVRLittleEndian) and elem.vr != other.vr:
            # implicit VR re-derives ambiguous and private VRs from the dictionary; compare the bytes
            assert elem.encoded(True, other.source.charset) == other.encoded(True, other.source.charset), here
            continue
        if elem.vr is VR.UN and target == str(dicomkit.uid.ExplicitVRBigEndian):
            continue
        assert elem.vr == other.vr, here
        assert elem.value == other.value, here
