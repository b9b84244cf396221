"""Bad input: truncated, corrupt and malicious data raise DicomError naming the offset; never hang or explode."""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset, DicomError, InvalidFileError, TruncatedError
from dicomkit.io.writer import to_bytes
from tests.conftest import CORPUS, corpus_files


def minimal() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = dicomkit.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.PatientName = "Test^Patient"
    ds.PatientID = "ID1"
    item = Dataset()
    item.CodeValue = "1"
    ds.DerivationCodeSequence = [item]
    ds.Rows = 2
    ds.Columns = 2
    ds.BitsAllocated = 8
    ds.PixelData = b"\x01\x02\x03\x04"
    return ds


def test_not_dicom():
    with pytest.raises(InvalidFileError, match="DICM"):
        dicomkit.read(io.BytesIO(b"x" * 300))
    with pytest.raises(InvalidFileError):
        dicomkit.read(io.BytesIO(b""))
    with pytest.raises(DicomError):
        dicomkit.read(io.BytesIO(b"\x00" * 10), force=True)


def test_every_truncation_of_a_file_is_an_error_or_a_correct_prefix():
    data = to_bytes(minimal())
    for cut in range(0, len(data)):
        try:
            ds = dicomkit.read(io.BytesIO(data[:cut]))
        except DicomError as exc:
            assert str(exc)
            continue
        _touch_all(ds)


def _touch_all(ds: Dataset) -> None:
    """Decode every value; a lazily parsed sequence may turn out broken, which must be a DicomError."""
    try:
        for elem in ds.iterall():
            try:
                elem.value  # noqa: B018
            except DicomError:
                pass
    except DicomError:
        pass


def test_truncated_value_names_offset():
    data = to_bytes(minimal())
    with pytest.raises(TruncatedError) as info:
        dicomkit.read(io.BytesIO(data[:-2]))
    assert info.value.offset is not None and "offset" in str(info.value)


def test_lenient_keeps_a_truncated_value():
    data = to_bytes(minimal())
    ds = dicomkit.read(io.BytesIO(data[:-2]), lenient=True)
    assert ds.PixelData == b"\x01\x02"
    assert any("truncated" in str(c) for c in ds.read_corrections)


def test_huge_length_does_not_allocate():
    data = bytearray(to_bytes(minimal()))
    # PatientName (0010,0010) PN: make its 16-bit length... use an OB element with a 32-bit length instead
    pos = data.index(b"\xe0\x7f\x10\x00OW")
    struct.pack_into("<I", data, pos + 8, 0xFFFFFFF0)
    tracemalloc.start()
    with pytest.raises(TruncatedError):
        dicomkit.read(io.BytesIO(bytes(data)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 * len(data) + 1_000_000


def test_deep_nesting_is_rejected_not_a_recursion_error():
    item = Dataset()
    item.CodeValue = "x"
    for _ in range(200):
        outer = Dataset()
        outer.DerivationCodeSequence = [item]
        item = outer
    ds = minimal()
    ds.ReferencedImageSequence = [item]
    data = to_bytes(ds, sequence_length="undefined")
    with pytest.raises(InvalidFileError, match="nested"):
        dicomkit.read(io.BytesIO(data))


def test_invalid_vr_strict_and_lenient():
    data = bytearray(to_bytes(minimal()))
    pos = data.index(b"\x10\x00\x10\x00PN")
    data[pos + 4:pos + 6] = b"\x00\x00"  # no such VR
    with pytest.raises(InvalidFileError, match="invalid VR"):
        dicomkit.read(io.BytesIO(bytes(data)))
    # leniently the element is read as implicit VR: its 2-byte length becomes part of a 4-byte one,
    # which is wrong here, so the reader must still end cleanly one way or the other
    try:
        ds = dicomkit.read(io.BytesIO(bytes(data)), lenient=True)
        assert ds.read_corrections
    except DicomError:
        pass


def test_missing_sequence_delimiter_at_end_is_refused_and_read_leniently():
    # the data ending inside an undefined-length sequence is what a file cut short looks like: DCMTK and
    # pydicom refuse it, and so does the default reader; lenient=True reads it with a correction
    ds = minimal()
    del ds.PixelData
    ds.DigitalSignaturesSequence = [Dataset()]  # (FFFA,FFFA): the last element
    data = to_bytes(ds, sequence_length="undefined")
    assert data.endswith(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")
    with pytest.raises(TruncatedError, match="not terminated"):
        dicomkit.read(io.BytesIO(data[:-8]))
    back = dicomkit.read(io.BytesIO(data[:-8]), lenient=True)
    assert len(back.DigitalSignaturesSequence) == 1
    assert any("Sequence Delimitation" in str(c) for c in back.read_corrections)


def test_garbage_in_a_sequence_is_refused_at_read_time():
    ds = minimal()
    data = bytearray(to_bytes(ds))
    pos = data.index(b"\xfe\xff\x00\xe0")  # first item tag of DerivationCodeSequence
    data[pos:pos + 4] = b"\x08\x00\x00\x01"
    with pytest.raises(InvalidFileError, match="expected an Item"):
        dicomkit.read(io.BytesIO(bytes(data)))


def test_meta_only_file():
    meta_only = to_bytes(minimal())[: 132 + 200]
    with pytest.raises(DicomError):
        dicomkit.read(io.BytesIO(meta_only))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not found")
def test_truncated_corpus_files():
    for path in corpus_files()[::7]:
        data = Path(path).read_bytes()
        for cut in (140, 300, len(data) // 2, len(data) - 3):
            try:
                ds = dicomkit.read(io.BytesIO(data[:cut]), force=True)
                _touch_all(ds)
            except DicomError:
                pass


def test_header_only_dataset_is_not_written_by_accident(tmp_path):
    path = tmp_path / "a.dcm"
    minimal().save(path)
    head = dicomkit.read(path, stop_before_pixels=True)
    assert head.is_partial
    with pytest.raises(dicomkit.InvalidValueError, match="stop_before_pixels"):
        head.save(path)
    assert dicomkit.read(path).PixelData == b"\x01\x02\x03\x04"  # the file is intact
    head.save(tmp_path / "b.dcm", allow_partial=True)
    assert "PixelData" not in dicomkit.read(tmp_path / "b.dcm")


def test_meta_says_explicit_but_data_is_implicit():
    ds = minimal()
    implicit = to_bytes(ds, transfer_syntax=dicomkit.uid.ImplicitVRLittleEndian)
    explicit = to_bytes(ds, transfer_syntax=dicomkit.uid.ExplicitVRLittleEndian)
    meta_end = explicit.index(b"\x08\x00\x16\x00")  # first data set element, SOP Class UID
    lying = explicit[:meta_end] + implicit[implicit.index(b"\x08\x00\x16\x00"):]
    back = dicomkit.read(io.BytesIO(lying))
    assert back.PatientName == "Test^Patient" and back.Rows == 2
    assert back.read_transfer_syntax == dicomkit.uid.ImplicitVRLittleEndian
    assert any("encoded as Implicit VR Little Endian" in str(c) for c in back.read_corrections)


def test_odd_length_values_are_read_and_reported():
    data = bytearray(to_bytes(minimal()))
    pos = data.index(b"\x10\x00\x20\x00LO")  # PatientID "ID1 " (4 bytes) -> declare 3
    struct.pack_into("<H", data, pos + 6, 3)
    del data[pos + 8 + 3]
    ds = dicomkit.read(io.BytesIO(bytes(data)))
    assert ds.PatientID == "ID1"
    assert any("odd length" in str(c) for c in ds.read_corrections)
    # written back, the value is padded to an even length
    again = dicomkit.read(io.BytesIO(to_bytes(ds)))
    assert again["PatientID"].length == 4 and not again.read_corrections


def test_write_atomic_replaces_whole_files_with_normal_permissions(tmp_path):
    import os

    from dicomkit.io.writer import write_atomic

    path = tmp_path / "x.dcm"
    write_atomic(minimal(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~umask
    bad = minimal()
    bad.add_new(0x00100010, "PN", "Müller")  # not encodable in the default character set
    with pytest.raises(dicomkit.InvalidValueError):
        write_atomic(bad, path)
    assert dicomkit.read(path).PatientName == "Test^Patient"  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["x.dcm"]  # no temporary left behind


def test_listing_of_assigned_non_ascii_values_uses_the_data_set_character_set():
    # Regression: the dump (and repr) computed lengths of assigned values with the default repertoire and
    # raised for any non-ASCII name, although Specific Character Set allowed it.
    ds = dicomkit.Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Wang^XiaoDong=王^小東"
    seq_item = dicomkit.Dataset()
    seq_item.PatientID = "王"
    ds.OtherPatientIDsSequence = [seq_item]
    text = repr(ds)
    assert "Wang^XiaoDong=王^小東" in text
    assert "#  24, 1 PatientName" in text  # UTF-8 bytes, padded to even length
    assert "#   4, 1 PatientID" in text  # the item inherits the character set


def test_undefined_length_sequences_are_parsed_on_access_and_written_in_either_form():
    ds = minimal()
    item = Dataset()
    item.CodeValue = "ODD"  # 3 characters: padded to 4 when written
    item.CodingSchemeDesignator = "DCM"
    ds.DerivationCodeSequence = [item]
    data = bytearray(to_bytes(ds, sequence_length="undefined"))
    # make the item's CodeValue odd-length on the wire: a defect found only when the items are parsed
    pos = data.index(b"\x08\x00\x00\x01SH")
    struct.pack_into("<H", data, pos + 6, 3)
    del data[pos + 8 + 3]
    back = dicomkit.read(io.BytesIO(bytes(data)))
    assert not any("odd length" in str(c) for c in back.read_corrections)  # not parsed yet
    assert back.DerivationCodeSequence[0].CodeValue == "ODD"
    assert back.DerivationCodeSequence.is_undefined_length
    assert any("odd length" in str(c) for c in back.read_corrections)  # reported once parsed
    untouched = dicomkit.read(io.BytesIO(to_bytes(ds, sequence_length="undefined")))
    assert to_bytes(untouched) == to_bytes(ds, sequence_length="undefined")  # passed through as read
    defined = to_bytes(untouched, sequence_length="defined")
    assert b"\xfe\xff\xdd\xe0" not in defined and b"\xfe\xff\x0d\xe0" not in defined
    assert dicomkit.read(io.BytesIO(defined)).DerivationCodeSequence[0].CodingSchemeDesignator == "DCM"


def test_file_meta_of_bytes_as_of_the_file(tmp_path: Path) -> None:
    from dicomkit.io.reader import read_file_meta

    ds = minimal()
    data = to_bytes(ds)
    path = tmp_path / "f.dcm"
    path.write_bytes(data)
    from_bytes, from_file = read_file_meta(data), read_file_meta(path)
    assert [(e.tag, e.value) for e in from_bytes] == [(e.tag, e.value) for e in from_file]
    assert str(from_bytes.value(0x00020003)) == str(ds.SOPInstanceUID)
    assert read_file_meta(memoryview(data)).value(0x00020010) == from_file.value(0x00020010)
    for bad in (b"", data[:100], bytes(128) + b"DICX" + data[132:]):
        with pytest.raises(InvalidFileError):
            read_file_meta(bad)
    with pytest.raises(DicomError):
        read_file_meta(data[:140])  # the meta cut short
