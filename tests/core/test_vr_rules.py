"""Values that break their VR (PS3.5 6.2, Table 6.2-1; issue 9): assigning one warns, writing it fails unless
``validate=False``; values read from files (or imported from DICOM JSON/XML and pydicom) pass through."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest

import dicomkit
from dicomkit import DataElement, Dataset, InvalidValueError, InvalidValueWarning
from dicomkit.core.vr_rules import RULES, check_text, check_value
from dicomkit.io.writer import encode_dataset, to_bytes, write_atomic
from tests.conftest import corpus_file

# (VR, valid values, invalid values and a word of the reason)
TABLE: list[tuple[str, list[str], list[tuple[str, str]]]] = [
    ("AE", ["STORESCP", " ARCHIVE ", "A" * 16], [("A" * 17, "17 bytes"), ("MY\\AE", "'\\\\'"), ("   ", "only spaces"),
                                                 ("A\tB", "'\\t'")]),
    ("AS", ["018M", "000D", "120Y", "003W"], [("ABCDEFGHIJKLM", "13 bytes"), ("12Y", "nnnD"), ("012y", "'y'"),
                                             ("01Y ", "nnnD")]),
    ("CS", ["ORIGINAL", "MR", "A_B 1", " PADDED ", "M*", "?R"], [("mr", "'m'"), ("ABDOM/RAD", "'/'"),
                                                                  ("X" * 17, "17 bytes")]),
    ("DA", ["20240131", "19000101", "20240229", "20240101-20241231", "-20241231", "20240101-"],
     [("2020-01-01", "10 bytes"), ("20240230", "calendar"), ("2024013", "YYYYMMDD"), ("1994.11.05", "10 bytes"),
      ("20241301-", "'20241301' is not a date")]),
    ("DS", ["1.5", "-0.25", "1e-3", "+3E+10", " 7 ", ".5", "12345678901234.5"],
     [("abc", "'a'"), ("1 5", "fixed or floating point"), ("1.2.3", "fixed or floating point"),
      ("12345678901234567", "17 bytes"), ("1,5", "','")]),
    ("DT", ["2024", "20240131", "20240131120000.123456", "20240131120000+0100", "20240131-0500",
            "2020-2021", "20240101120000-20240102"], [("20241332", "calendar"), ("20240131250000", "time of day"),
                                                      ("20240131+1500", "UTC"), ("2024-01-31T12:00", "'T'")]),
    ("IS", ["42", "-7", "+12", " 3 ", "2147483647", "-2147483648"],
     [("1.5", "'.'"), ("1.0", "'.'"), ("2147483648", "-2^31"), ("1234567890123", "13 bytes"), ("1 2", "an integer")]),
    ("LO", ["Any text", "Hôpital", "a" * 64], [("a" * 65, "65 characters"), ("a\nb", "'\\n'")]),
    ("LT", ["line 1\r\nline 2\tand \\ a backslash", "x" * 10240], [("x" * 10241, "10241 characters"),
                                                                  ("bell\x07", "'\\x07'")]),
    ("PN", ["Doe^John", "Yamada^Tarou=山田^太郎=やまだ^たろう", "a^b^c^d^e", "x" * 64],
     [("a^b^c^d^e^f", "5 components"), ("a=b=c=d", "3 component groups"), ("x" * 65, "65 characters"),
      ("Doe\r^John", "'\\r'")]),
    ("SH", ["short", "S" * 16], [("S" * 17, "17 characters")]),
    ("ST", ["short text\r\n", "x" * 1024], [("x" * 1025, "1025 characters")]),
    ("TM", ["12", "1230", "123059", "123059.5", "235960", "070000.123456", "1200-1300", "-1200"],
     [("250000", "time of day"), ("126000", "time of day"), ("12:30:59", "':'"), ("123059.1234567", "HHMMSS"),
      ("1", "HHMMSS")]),
    ("UC", ["unlimited " * 1000], [("a\x00b", "'\\x00'")]),
    ("UI", ["1.2.840.10008.1.2", "0.1", "2.25.1234567890", "1." + "2" * 62],
     [("1.2.abc", "'a'"), ("1.02.3", "leading zeros"), ("1..2", "leading zeros"), (".1", "leading zeros"),
      ("1." + "2" * 63, "65 bytes")]),
    ("UR", ["http://example.org/a%20b?c=d#e", "urn:oid:1.2.3"], [("http://a b", "' '"), (" http://x", "' '")]),
    ("UT", ["anything \\ goes\x1b$B", "x" * 100000], [("nul\x00", "'\\x00'")]),
]


@pytest.mark.parametrize(("vr", "valid", "invalid"), TABLE, ids=[t[0] for t in TABLE])
def test_the_table_of_values(vr: str, valid: list[str], invalid: list[tuple[str, str]]) -> None:
    for text in valid:
        assert check_text(vr, text) is None, (vr, text)
    for text, reason in invalid:
        problem = check_text(vr, text)
        assert problem is not None and reason in problem, (vr, text, problem)


def test_every_string_vr_has_a_rule_and_others_none() -> None:
    from dicomkit.core.vr import STRING_VRS

    assert set(RULES) == set(STRING_VRS)
    assert check_value("US", 70000) is None and check_value("OB", b"\x00") is None  # checked when normalised


def test_query_forms_are_refused_for_stored_values() -> None:
    for vr, text, reason in (("DA", "20240101-20241231", "more than the 8"), ("TM", "-1200", "'-'"),
                             ("DT", "2020-2021", "offset from UTC"), ("CS", "M*", "'*'")):
        assert check_text(vr, text) is None
        problem = check_text(vr, text, query=False)
        assert problem is not None and reason in problem, (vr, text, problem)
    assert check_text("DT", "20240131120000-0500", query=False) is None  # an offset from UTC is no range
    assert check_value("CS", ("ORIGINAL", "M?"), query=False) is not None


def test_empty_values_keep_the_rules() -> None:
    for vr in RULES:
        assert check_text(vr, "") is None
    assert check_value("CS", ("ORIGINAL", "", "AXIAL")) is None


# ---------------------------------------------------------------------------------------------------
# Assignment warns


@pytest.mark.parametrize(("keyword", "value", "reason"), [
    ("PatientAge", "ABCDEFGHIJKLM", "13 bytes long, more than the 4 of AS"),
    ("StudyDate", "2024-01-31", "more than the 8 of DA"),
    ("SOPInstanceUID", "1.2.abc", "not among the characters of UI"),
    ("Modality", "mr", "not among the characters of CS"),
    ("PatientID", "x" * 65, "65 characters long, more than the 64 of LO"),
    ("SeriesNumber", "1.5", "not among the characters of IS"),
    ("SliceThickness", "abc", "not among the characters of DS"),
    ("InstanceNumber", 2**40, "more than the 12 of IS"),
    ("ImageType", ["ORIGINAL", "primary"], "value 2 'primary'"),
])
def test_assigning_a_value_that_breaks_its_vr_warns_and_keeps_it(keyword: str, value: object, reason: str) -> None:
    ds = Dataset()
    with pytest.warns(InvalidValueWarning, match=reason) as record:
        setattr(ds, keyword, value)
    assert record[0].filename == __file__  # the warning names the line that assigned the value
    elem = ds[keyword]
    assert elem.value_problem is not None and reason in elem.value_problem
    assert keyword in elem.value_problem and "(PS3.5 6.2)" in elem.value_problem
    assert getattr(ds, keyword) is not None  # the value is kept


def test_every_way_of_assigning_is_checked() -> None:
    ds = Dataset()
    with pytest.warns(InvalidValueWarning):
        ds["Modality"] = "mr"
    with pytest.warns(InvalidValueWarning):
        ds.add_new(0x00080060, "CS", "mr")
    with pytest.warns(InvalidValueWarning):
        ds[0x00080060] = DataElement(0x00080060, "CS", "ct")
    with pytest.warns(InvalidValueWarning):
        Dataset({"Modality": "mr"})
    ds.Modality = "MR"
    with pytest.warns(InvalidValueWarning):
        ds["Modality"].value = "mr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds["Modality"].value = "CT"  # a valid value clears the mark
        ds.add_new(0x00080070, "LO", "x" * 65, validate=False)  # taken as it is, on request
    assert ds["Modality"].value_problem is None and ds["Manufacturer"].value_problem is None


def test_valid_values_and_query_forms_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = Dataset()
        ds.PatientAge, ds.StudyDate, ds.SOPInstanceUID = "042Y", "20240131", dicomkit.generate_uid()
        ds.Modality, ds.PixelSpacing, ds.SeriesNumber = "MR", [0.5, "0.25"], 3
        ds.StudyTime, ds.PatientName = "120000.5", "Doe^John"
        # C-FIND identifiers (PS3.4 C.2.2.2): ranges and wildcards
        ds.StudyDate, ds.StudyTime, ds.Modality, ds.PatientName = "20240101-20241231", "-1200", "M*", "Do*"
    assert all(e.value_problem is None for e in ds)


# ---------------------------------------------------------------------------------------------------
# Writing refuses what was marked


def _marked() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = dicomkit.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.PatientName = "Doe^John"
    with pytest.warns(InvalidValueWarning):
        ds.PatientAge = "ABCDEFGHIJKLM"
    return ds


def test_write_refuses_naming_the_element_and_the_rule(tmp_path: Path) -> None:
    ds = _marked()
    message = r"\(0010,1010\) PatientAge: 'ABCDEFGHIJKLM' is 13 bytes long, more than the 4 of AS.*validate=False"
    with pytest.raises(InvalidValueError, match=message):
        ds.save(tmp_path / "a.dcm")
    assert not (tmp_path / "a.dcm").exists()  # refused before anything is written
    with pytest.raises(InvalidValueError, match="PatientAge"):
        to_bytes(ds)
    with pytest.raises(InvalidValueError, match="PatientAge"):
        encode_dataset(ds, dicomkit.uid.ImplicitVRLittleEndian)  # what the network sends
    good = tmp_path / "good.dcm"
    write_atomic(_valid(), good)
    with pytest.raises(InvalidValueError):
        write_atomic(ds, good)
    assert dicomkit.read(good).PatientName == "Valid^Patient"  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.dcm"]  # no temporary file left


def _valid() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = dicomkit.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.PatientName = "Valid^Patient"
    return ds


def test_validate_false_writes_the_value_as_it_is(tmp_path: Path) -> None:
    ds = _marked()
    ds.save(tmp_path / "a.dcm", validate=False)
    back = dicomkit.read(tmp_path / "a.dcm")
    assert back.PatientAge == "ABCDEFGHIJKLM" and back["PatientAge"].value_problem is None
    back.save(tmp_path / "b.dcm")  # read from a file: written back as read
    assert (tmp_path / "b.dcm").read_bytes() == (tmp_path / "a.dcm").read_bytes()
    assert encode_dataset(ds, validate=False)


def test_a_marked_element_inside_a_sequence_is_named_with_its_path() -> None:
    ds = _valid()
    item = Dataset()
    item.ReferencedSOPClassUID = dicomkit.uid.CTImageStorage
    with pytest.warns(InvalidValueWarning):
        item.ReferencedSOPInstanceUID = "1.2.3.abc"
    ds.ReferencedImageSequence = [_valid(), item]
    with pytest.raises(InvalidValueError, match=r"^\(0008,1140\) ReferencedImageSequence item 2 > \(0008,1155\) "
                                                r"ReferencedSOPInstanceUID: '1.2.3.abc' holds 'a'"):
        to_bytes(ds)


def test_a_marked_file_meta_element_is_refused() -> None:
    ds = _valid()
    ds.file_meta = Dataset()
    with pytest.warns(InvalidValueWarning):
        ds.file_meta.SourceApplicationEntityTitle = "AN AE TITLE TOO LONG"
    with pytest.raises(InvalidValueError, match="SourceApplicationEntityTitle"):
        to_bytes(ds)
    assert to_bytes(ds, validate=False)


def test_a_copy_keeps_the_mark() -> None:
    ds = _marked()
    assert ds.copy()["PatientAge"].value_problem == ds["PatientAge"].value_problem
    with pytest.raises(InvalidValueError):
        to_bytes(ds.copy())


# ---------------------------------------------------------------------------------------------------
# Values read, imported or derived by the library pass through


@pytest.mark.parametrize("name", ["color-pl.dcm", "gdcm-US-ALOKA-16.dcm", "bad_sequence.dcm", "OT-PAL-8-face.dcm"])
def test_odd_values_of_a_file_are_written_back_as_read(name: str) -> None:
    # ACR-NEMA dates and times (color-pl: '1994.11.05', '11:20:00'), a CS with '/' (ALOKA: 'ABDOM/RAD'),
    # UIDs of hex digits and an AS '22Y' (bad_sequence)
    path = corpus_file(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = dicomkit.read(path, force=name == "OT-PAL-8-face.dcm")
        assert any(check_value(e.vr, e.value) for e in ds.iterall())  # the file has values that break their VR
        data = to_bytes(ds, file_meta=ds.file_meta is not None)
        if name == "color-pl.dcm":
            assert data == path.read_bytes()
        ds.PatientName = "Changed^Name"  # one element changed, the odd ones pass through
        again = dicomkit.read(io.BytesIO(to_bytes(ds, file_meta=ds.file_meta is not None)),
                              force=ds.file_meta is None)
    assert again.PatientName == "Changed^Name"
    for elem in ds:
        if elem.tag != 0x00100010 and elem.vr != "SQ" and elem.tag & 0xFFFF:  # group lengths are recomputed
            assert again[elem.tag].value == elem.value


def test_reassigning_an_odd_value_read_from_a_file_is_checked() -> None:
    ds = dicomkit.read(corpus_file("color-pl.dcm"))
    with pytest.warns(InvalidValueWarning, match="StudyDate"):
        ds.StudyDate = ds.StudyDate  # an assignment through the API, like any other
    with pytest.raises(InvalidValueError, match="StudyDate"):
        to_bytes(ds)


def test_dicom_json_and_xml_imports_pass_values_through_unless_asked() -> None:
    ds = dicomkit.read(corpus_file("color-pl.dcm"), stop_before_pixels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_json = Dataset.from_json(ds.to_json())
        from_xml = Dataset.from_xml(ds.to_xml())
        for back in (from_json, from_xml):
            assert back.StudyDate == "1994.11.05"
            back.SOPClassUID, back.SOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
            assert dicomkit.read(io.BytesIO(to_bytes(back, allow_partial=True))).StudyTime == "11:20:00"
    for importer in (lambda: Dataset.from_json(ds.to_json(), validate=True),
                     lambda: Dataset.from_xml(ds.to_xml(), validate=True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            checked = importer()
        assert {str(w.message).split(":")[0] for w in caught} == {
            "(0008,0020) StudyDate", "(0008,0023) ContentDate", "(0008,0030) StudyTime"}
        with pytest.raises(InvalidValueError, match="StudyDate"):
            to_bytes(checked)


def test_the_pydicom_bridge_passes_values_through_unless_asked() -> None:
    pytest.importorskip("pydicom")
    ds = dicomkit.read(corpus_file("gdcm-US-ALOKA-16.dcm"), stop_before_pixels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's own warnings
        pds = ds.to_pydicom()
    with warnings.catch_warnings():
        warnings.simplefilter("error", InvalidValueWarning)
        back = Dataset.from_pydicom(pds)
    assert back.ImageType[2] == "ABDOM/RAD"
    assert to_bytes(back, allow_partial=True)
    with pytest.warns(InvalidValueWarning, match="ImageType"):
        checked = Dataset.from_pydicom(pds, validate=True)
    with pytest.raises(InvalidValueError, match="ImageType"):
        to_bytes(checked)


def test_json2dcm_converts_odd_values_as_they_are(tmp_path: Path) -> None:
    from dicomkit.cli.main import main

    src = tmp_path / "in.json"
    src.write_text('{"00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]}, '
                   '"00080018": {"vr": "UI", "Value": ["1.2.3.4"]}, "00080060": {"vr": "CS", "Value": ["mr"]}, '
                   '"00101010": {"vr": "AS", "Value": ["22Y"]}}')
    with warnings.catch_warnings():
        warnings.simplefilter("error", InvalidValueWarning)
        assert main(["json2dcm", str(src), str(tmp_path / "out.dcm")]) == 0
    back = dicomkit.read(tmp_path / "out.dcm")
    assert (back.Modality, back.PatientAge) == ("mr", "22Y")


def test_compressing_a_file_with_odd_values_passes_them_through(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("imagecodecs")
    from dicomkit.pixels import transcode
    from dicomkit.pixels.encode import EncodeOptions

    ds = dicomkit.read(corpus_file("gdcm-US-ALOKA-16.dcm"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InvalidValueWarning)
        lossy = transcode(ds, "jpeg2000", options=EncodeOptions(quality=50), as_rgb=True)
        lossy.save(tmp_path / "lossy.dcm")
    assert dicomkit.read(tmp_path / "lossy.dcm").ImageType == ("DERIVED", *ds.ImageType[1:])
    assert ds.ImageType[2] == "ABDOM/RAD"
