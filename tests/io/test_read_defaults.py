"""Reading by default what DCMTK and pydicom both read, refusing what both refuse (issue 9).

The table of cases is tests/io/deviations.py: for each deviation the bytes, what dcmdump and pydicom do by
default (checked here against both), what dicomkit does by default and with strict=True, and that the
raw walker (dicomkit.io.raw.check_lengths, the storage SCU's check) passes whatever the reader reads.
"""

from __future__ import annotations

import io
import subprocess
import warnings

import pytest

import dicomkit
from dicomkit import DicomError, InvalidFileError
from dicomkit.io.raw import EXPLICIT_LITTLE, IMPLICIT_LITTLE, check_lengths, meta_end
from dicomkit.io.reader import parse_sequences
from dicomkit.io.writer import to_bytes
from tests.conftest import require_tool
from tests.io.deviations import CASES, IMPLICIT_LE, REFS, Case, el, item, part10

IDS = [c.name for c in CASES]


def _read_all(data: bytes, **options: bool) -> dicomkit.Dataset:
    """Read and decode every value, sequences included."""
    ds = dicomkit.read(io.BytesIO(data), **options)
    for elem in ds.iterall():
        elem.value  # noqa: B018
    return ds


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_reading(case: Case) -> None:
    data = case.build()
    if case.ours == "refuses":
        with pytest.raises(InvalidFileError) as info:
            if case.on_access:
                ds = dicomkit.read(io.BytesIO(data))
                with pytest.raises(InvalidFileError):  # parse_sequences finds it as accessing does
                    parse_sequences(ds)
                ds.ReferencedImageSequence  # noqa: B018
            else:
                dicomkit.read(io.BytesIO(data))  # refused at read time
        assert case.error and case.error in str(info.value)
        if case.on_access:
            with pytest.raises(InvalidFileError):
                dicomkit.read(io.BytesIO(data), strict=True)
        return
    ds = _read_all(data)
    found = [str(c) for c in ds.read_corrections]
    if case.correction is None:
        assert not found, found
    else:
        assert any(case.correction in c for c in found), found
    if case.items is not None:
        assert len(ds.ReferencedImageSequence) == case.items
        for item in ds.ReferencedImageSequence:  # the items hold their own elements, nothing of the parent
            assert "PatientName" not in item and "StudyID" not in item
    for keyword in case.top:
        assert keyword in ds, keyword
    assert "CodeMeaning" not in ds  # an overrunning item's elements never land at the top level


@pytest.mark.parametrize("case", [c for c in CASES if c.ours == "reads"], ids=lambda c: c.name)
def test_strict_refuses_every_correction(case: Case) -> None:
    data = case.build()
    if case.correction is None:
        _read_all(data, strict=True)  # valid input reads strictly
        return
    with pytest.raises(InvalidFileError, match="strict=True") as info:
        dicomkit.read(io.BytesIO(data), strict=True)
    assert case.correction in str(info.value)


@pytest.mark.parametrize("case", [c for c in CASES if c.ours == "refuses"], ids=lambda c: c.name)
def test_lenient_reads_what_the_default_refuses_or_fails_cleanly(case: Case) -> None:
    try:
        ds = _read_all(case.build(), lenient=True)
    except DicomError:
        return
    assert ds.read_corrections


def test_strict_and_lenient_contradict() -> None:
    with pytest.raises(ValueError, match="contradict"):
        dicomkit.read(io.BytesIO(CASES[0].build()), strict=True, lenient=True)


def test_strict_reports_deviations_inside_sequences_at_read_time() -> None:
    # two odd-length elements in an item of even length: only parsing the item finds them
    body = el(0x00080100, "SH", b"1") + el(0x00080102, "SH", b"DCM")
    data = part10(el(REFS, "SQ", item(body)))
    ds = dicomkit.read(io.BytesIO(data))
    assert not ds.read_corrections  # not parsed yet
    parse_sequences(ds)
    assert [str(c) for c in ds.read_corrections] == [  # offsets within the sequence's value
        "in the value of (0008,1140) at 8: (0008,0100) has odd length 1",
        "in the value of (0008,1140) at 17: (0008,0102) has odd length 3"]
    with pytest.raises(InvalidFileError, match=r"\(0008,1140\) at 8: \(0008,0100\) has odd length 1 "
                                               r"\(refused: strict=True\)"):
        dicomkit.read(io.BytesIO(data), strict=True)


@pytest.mark.parametrize("case", [c for c in CASES if c.canonical_after_write], ids=lambda c: c.name)
def test_a_corrected_sequence_is_written_back_right(case: Case) -> None:
    ds = dicomkit.read(io.BytesIO(case.build()))  # the sequence is never touched: written from its raw bytes
    again = dicomkit.read(io.BytesIO(to_bytes(ds)), strict=True)
    assert len(again.ReferencedImageSequence) == case.items
    assert again == _read_all(case.build())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_lengths_passes_what_the_reader_reads(case: Case) -> None:
    data = case.build()
    layout = IMPLICIT_LITTLE if IMPLICIT_LE.encode() + b"\0" in data[:300] else EXPLICIT_LITTLE
    start = meta_end(data)
    if case.ours == "reads":
        check_lengths(data, start, len(data), layout)
        return
    if "end of the data" in case.name or "after the data set" in case.name or "cut short" in case.name:
        with pytest.raises(InvalidFileError):
            check_lengths(data, start, len(data), layout)


# ---------------------------------------------------------------------------------------------------
# The record of what the peers do


def _dcmdump(case: Case, tmp_path: object) -> str:
    exe = require_tool("dcmdump")
    path = tmp_path / "case.dcm"  # type: ignore[operator]
    path.write_bytes(case.build())
    out = subprocess.run([exe, str(path)], capture_output=True, timeout=60)
    return "reads" if out.returncode == 0 else "refuses"


def _pydicom(case: Case) -> str:
    pydicom = pytest.importorskip("pydicom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(io.BytesIO(case.build()))
            str(ds)  # values and sequences are decoded on access
        except Exception:
            return "refuses"
    return "reads" if len(ds) else "refuses"


@pytest.mark.interop
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_record_of_dcmdump_and_pydicom(case: Case, tmp_path: object) -> None:
    assert (_dcmdump(case, tmp_path), _pydicom(case)) == (case.dcmdump, case.pydicom)
    if case.dcmdump == case.pydicom:
        assert case.ours == case.dcmdump  # read what both read, refuse what both refuse
    else:
        assert case.ours == "refuses" or case.dcmdump == "reads"  # where they differ, DCMTK's reading
