"""The DICOM JSON Model (PS3.18 Annex F): the standard's examples, every VR, bulk data, malformed input,
the corpus through JSON and back, and DCMTK's dcm2json output read back."""

from __future__ import annotations

import io
import json
import math
import subprocess
import warnings
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset, DicomError, InvalidFileError, Tag
from dicomkit.core.vr import VR
from dicomkit.io.bulk_data import BulkDataFiles
from dicomkit.io.json_model import (
    datasets_from_json,
    datasets_to_json,
    from_json,
    json_number_text,
    to_json,
    to_json_dict,
)
from tests.conftest import RAW_FILES, corpus_params, require_tool
from tests.io.model_helpers import corpus_by_transfer_syntax, differences, read_corpus

DATA = Path(__file__).parent / "data"
# PS3.18 F.4 "DICOM JSON Model Example" (a QIDO-RS response of two studies) as published, with its two
# typographic artefacts undone: the // comments removed and the RetrieveURL joined onto one line.
F4_EXAMPLE = DATA / "ps3_18_f4_example.json"


# ---------------------------------------------------------------------------------------------------
# The standard's examples


def test_ps3_18_f4_example_reads():
    first, second = datasets_from_json(F4_EXAMPLE.read_bytes())
    assert first.SpecificCharacterSet == "ISO_IR 192"
    assert first["StudyDate"].vr is VR.DT  # the example says DT; the vr given wins over the dictionary
    assert first.StudyTime == "131600.0000"
    assert first.ModalitiesInStudy == ("CT", "PET")
    doctor = first.ReferringPhysicianName
    assert (doctor.family_name, doctor.given_name, doctor.name_prefix) == ("", "Bob", "Dr.")
    assert first.PatientName.alphabetic == "Wang^XiaoDong"
    assert first.PatientName.ideographic == "王^小東"
    private = first.private_block(0x0009, "Vendor A")[0x02]
    assert private.vr is VR.UN and private.value == bytes.fromhex("cf4c7d73cbfb")  # base64 "z0x9c8v7"
    assert [(i.PatientID, i.IssuerOfPatientID) for i in first.OtherPatientIDsSequence] == [
        ("54321", "Hospital B"), ("24680", "Hospital C")]
    assert first.StudyInstanceUID == "1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873"
    assert (first.NumberOfStudyRelatedSeries, first.NumberOfStudyRelatedInstances) == (4, 942)
    assert isinstance(first.NumberOfStudyRelatedInstances, dicomkit.IS)
    assert (second.AccessionNumber, second.NumberOfStudyRelatedInstances) == ("11235821", 1123)


def test_ps3_18_f4_example_is_written_back_as_published():
    expected = json.loads(F4_EXAMPLE.read_text(encoding="utf-8"))
    for study in expected:  # published as a one-element array; F.2.7 says it is a base64 string
        study["00091002"]["InlineBinary"] = study["00091002"]["InlineBinary"][0]
    assert json.loads(datasets_to_json(datasets_from_json(F4_EXAMPLE.read_bytes()))) == expected


def test_ps3_18_f4_example_becomes_a_part10_file():
    first = datasets_from_json(F4_EXAMPLE.read_bytes())[0]
    first.SOPClassUID = dicomkit.uid.BasicTextSRStorage
    first.SOPInstanceUID = "1.2.3.4"
    buf = io.BytesIO()
    dicomkit.write(first, buf)
    back = dicomkit.read(buf.getvalue())
    assert back.PatientName == "Wang^XiaoDong=王^小東"
    assert back["PatientName"].raw == "Wang^XiaoDong=王^小東".encode()  # UTF-8, as ISO_IR 192 says
    assert not differences(first, back)


def test_ps3_18_f2_1_multiple_results():
    text = """[
      { "0020000D": { "vr": "UI", "Value": [ "1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873" ] } },
      { "0020000D" : { "vr": "UI", "Value": [ "1.2.392.200036.9116.2.2.2.2162893313.1029997326.945876" ] } }
    ]"""
    studies = datasets_from_json(text)
    assert [s.StudyInstanceUID[-6:] for s in studies] == ["945873", "945876"]
    with pytest.raises(InvalidFileError, match="array of data sets"):
        from_json(text)


# ---------------------------------------------------------------------------------------------------
# Values


def _every_vr() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.add_new(0x00080054, "AE", ("STORESCP", "ARCHIVE"))
    ds.PatientAge = "042Y"
    ds.FrameIncrementPointer = (Tag(0x00181063), Tag(0x00540010))
    ds.ImageType = ["ORIGINAL", "", "AXIAL"]
    ds.StudyDate = "20240131"
    ds.PixelSpacing = ["0.50", "0.25"]
    ds.add_new(0x0040A120, "DT", "20240131120000.5+0100")
    ds.add_new(0x00189219, "SS", (-1, 2))
    ds.add_new(0x00186028, "FD", (0.1, -1e300))
    ds.add_new(0x00189151, "FL", 1.5)
    ds.SeriesNumber = "+7"
    ds.InstitutionName = "Hôpital"
    ds.add_new(0x00204000, "LT", "line 1\r\nline 2 \\ kept")
    ds.add_new(0x00280108, "OB", b"\x00\x01\x02")
    ds.add_new(0x00660023, "OD", b"\x00" * 8)
    ds.add_new(0x00660016, "OF", b"\x00\x00\x80\x3f")
    ds.add_new(0x00660040, "OL", b"\x01\x00\x00\x00")
    ds.add_new(0x00720000 | 0x0075, "OV", b"\x02" + b"\x00" * 7)
    ds.add_new(0x00281201, "OW", b"\x01\x00\x02\x00")
    ds.PatientName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    ds.StationName = "CT1"
    ds.add_new(0x00189219 + 1, "SL", -70000)
    ds.add_new(0x00080034 - 0x34 + 0x0102, "SH", "99")
    ds.add_new(0x00400254, "ST", "short text")
    ds.add_new(0x0072007E, "SV", (-(2**60), 5))
    ds.add_new(0x00720082, "UV", 2**64 - 1)
    ds.StudyTime = "120000.5"
    ds.add_new(0x00080119, "UC", "unlimited")
    ds.StudyInstanceUID = "1.2.3"
    ds.add_new(0x00081161, "UL", 70000)
    ds.add_new(0x00091010, "UN", b"\xff\xfe")
    ds.add_new(0x00080120, "UR", "http://example.org/a%20b")
    ds.Rows = 512
    ds.add_new(0x00189215, "UT", "unlimited text")
    item = Dataset()
    item.CodeValue = "T-A0100"
    ds.ReferencedImageSequence = [item, Dataset()]
    return ds


def test_every_vr_round_trips_and_maps_as_table_f_2_3_1_says():
    ds = _every_vr()
    obj = to_json_dict(ds)
    assert obj["00080054"] == {"vr": "AE", "Value": ["STORESCP", "ARCHIVE"]}
    assert obj["00280009"] == {"vr": "AT", "Value": ["00181063", "00540010"]}
    assert obj["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", None, "AXIAL"]}  # F.2.5: null inside
    assert obj["00280030"] == {"vr": "DS", "Value": [0.5, 0.25]}  # numbers, written with their text (0.50)
    assert [str(v) for v in obj["00280030"]["Value"]] == ["0.50", "0.25"]
    assert obj["00200011"] == {"vr": "IS", "Value": ["+7"]}  # not a JSON number: the text, as a string
    assert obj["00186028"] == {"vr": "FD", "Value": [0.1, -1e300]}
    assert obj["00100010"] == {"vr": "PN", "Value": [
        {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}]}
    assert obj["00281201"] == {"vr": "OW", "InlineBinary": "AQACAA=="}  # little endian words
    assert obj["0072007E"] == {"vr": "SV", "Value": [str(-(2**60)), 5]}  # beyond 2**53: strings
    assert obj["00720082"] == {"vr": "UV", "Value": [str(2**64 - 1)]}
    assert obj["00081140"] == {"vr": "SQ", "Value": [{"00080100": {"vr": "SH", "Value": ["T-A0100"]}}, {}]}
    text = to_json(ds)
    assert '"00280030": {"vr": "DS", "Value": [0.50, 0.25]}' in text
    back = from_json(text)
    assert not differences(ds, back)
    assert back.PixelSpacing[0].original_string == "0.50"
    assert from_json(obj).PixelSpacing[0].original_string == "0.50"  # the dict form keeps the text too


# (VR, DICOM text, the JSON written for it by default): the text itself where it is a JSON number that a
# parser reading doubles gets exactly, else the text as a string.
DECIMALS = [
    ("DS", "0.5", "0.5"), ("DS", "0.50", "0.50"), ("DS", "12", "12"), ("DS", "-0", "-0"), ("DS", "-0.0", "-0.0"),
    ("DS", "1.0E2", "1.0E2"), ("DS", "1e-05", "1e-05"), ("DS", "-1.5e+300", "-1.5e+300"),
    ("DS", " 2.5 ", "2.5"),  # padding spaces are not part of the value (PS3.5 6.2)
    ("DS", "0.1234567890123", "0.1234567890123"),
    ("DS", "+5", '"+5"'), ("DS", ".5", '".5"'), ("DS", "5.", '"5."'), ("DS", "00012", '"00012"'),
    ("DS", "1e400", '"1e400"'),  # a double overflows: Infinity
    ("DS", "1e-400", '"1e-400"'),  # a double underflows: 0
    ("DS", "9007199254740993", '"9007199254740993"'),  # 2**53 + 1: a double rounds it
    ("DS", "1,5", '"1,5"'),  # not a number at all: kept as read
    ("DS", "inf", '"inf"'), ("DS", "NaN", '"NaN"'),  # not valid DS, read all the same; JSON has no such numbers
    ("IS", "7", "7"), ("IS", "-12", "-12"), ("IS", "-0", "-0"), ("IS", "2147483647", "2147483647"),
    ("IS", " 00", '"00"'), ("IS", "+5", '"+5"'), ("IS", "007", '"007"'),
]


def _decimal_ds(vr: str, text: str) -> Dataset:
    raw = text.encode() + (b" " if len(text) % 2 else b"")
    ds = Dataset()
    ds.add(dicomkit.DataElement.from_raw(0x00181041 if vr == "DS" else 0x00200013, VR(vr), raw,
                                         dicomkit.core.element.SourceEncoding(True, False)))
    return ds


@pytest.mark.parametrize(("vr", "text", "written"), DECIMALS, ids=[f"{v}-{t}" for v, t, _ in DECIMALS])
def test_is_and_ds_are_json_numbers_where_the_number_keeps_the_value(vr: str, text: str, written: str):
    ds = _decimal_ds(vr, text)
    key = next(iter(to_json_dict(ds)))
    out = to_json(ds)
    assert out == f'{{"{key}": {{"vr": "{vr}", "Value": [{written}]}}}}'
    value = json.loads(out)[key]["Value"][0]
    if not written.startswith('"'):
        assert isinstance(value, int | float) and value == float(text)  # what any JSON client reads
        assert isinstance(to_json_dict(ds)[key]["Value"][0], int | float)
    # every form reads back to the same text: the JSON text, the dict, and the text-only form
    for form in (out, to_json_dict(ds), to_json(ds, numbers_as="text"), to_json_dict(ds, numbers_as="text")):
        assert str(from_json(form)[key].value) == text.strip(" ")
    assert to_json(ds, numbers_as="text") == f'{{"{key}": {{"vr": "{vr}", "Value": ["{text.strip(" ")}"]}}}}'


def test_numbers_as_text_keeps_every_is_and_ds_a_string():
    ds = _every_vr()
    obj = to_json_dict(ds, numbers_as="text")
    assert obj["00280030"] == {"vr": "DS", "Value": ["0.50", "0.25"]}
    assert obj["00200011"] == {"vr": "IS", "Value": ["+7"]}
    assert obj["00189219"] == {"vr": "SS", "Value": [-1, 2]}  # only IS and DS: binary numbers stay numbers
    assert json.loads(to_json(ds, numbers_as="text", indent=2)) == obj
    assert json.loads(datasets_to_json([ds, ds], numbers_as="text")) == [obj, obj]
    with pytest.raises(dicomkit.InvalidValueError, match="numbers_as must be one of number, text"):
        to_json(ds, numbers_as="strings")  # type: ignore[arg-type]


def test_indented_and_multiple_results_keep_the_number_text():
    ds = _every_vr()
    assert "\n      0.50,\n      0.25\n" in to_json(ds, indent=2)
    many = datasets_to_json([ds, _decimal_ds("DS", "1.0E2")], indent=1)
    assert "0.50," in many and "1.0E2" in many and "\ue000" not in many
    assert [str(d[0x00181041].value) for d in datasets_from_json(many)[1:]] == ["1.0E2"]


def test_a_value_that_looks_like_the_marker_is_only_a_string():
    # the exact-text numbers are put in place through a marker unique to each call; text of the data set
    # that imitates such a marker stays what it is
    ds = _decimal_ds("DS", "0.50")
    ds.add_new(0x00100020, "LO", "\ue0000000000000000000.500\ue0000000000000000000")
    back = from_json(to_json(ds))
    assert back.PatientID == ds.PatientID and str(back[0x00181041].value) == "0.50"


def test_json_numbers_keep_their_literal_text():
    ds = from_json('{"00280030": {"vr": "DS", "Value": [0.50, 1e2]}, "00200013": {"vr": "IS", "Value": [7.0]}, '
                   '"00181041": {"vr": "DS", "Value": ["  5 "]}}')
    assert [str(v) for v in ds.PixelSpacing] == ["0.50", "1e2"]
    assert str(ds.InstanceNumber) == "7"  # an integral JSON number is a valid IS
    assert str(ds[0x00181041].value) == "5"  # padding spaces are not part of the value


def test_a_private_creator_without_vr_is_lo():
    ds = from_json('{"00290010": {"Value": ["ACME 1.0"]}, "00291001": {"vr": "US", "Value": [5]}}')
    assert ds[0x00290010].vr is VR.LO and ds.private_block(0x0029, "ACME 1.0")[0x01].value == 5


def test_parsed_json_is_accepted_too():
    ds = from_json({"00280030": {"vr": "DS", "Value": [0.5, 0.25]}, "00280010": {"vr": "US", "Value": [512.0]}})
    assert ds.PixelSpacing == (0.5, 0.25) and ds.Rows == 512


def test_ds_longer_than_sixteen_characters_is_shortened_and_reported():
    ds = from_json('{"00181041": {"vr": "DS", "Value": [0.12345678901234567]}}')
    assert str(ds[0x00181041].value) == "0.12345678901235"
    assert "more than 16 characters" in str(ds.read_corrections[0])


def test_invalid_decimal_text_is_kept_not_lost():
    ds = from_json('{"00181041": {"vr": "DS", "Value": ["1,5"]}}')
    assert ds[0x00181041].value == "1,5"
    assert to_json_dict(ds)["00181041"] == {"vr": "DS", "Value": ["1,5"]}


def test_empty_values_follow_f_2_5():
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = None
    ds.OtherPatientIDsSequence = []
    ds.add_new(0x00100021, "LO", ("", ""))
    ds.add_new(0x00081032, "SQ", [Dataset()])
    ds.add_new(0x00101001, "PN", ("A^B", "", "C"))
    obj = to_json_dict(ds)
    assert obj["00100010"] == {"vr": "PN"} and obj["00100020"] == {"vr": "LO"}
    assert obj["00101002"] == {"vr": "SQ"}
    assert obj["00100021"] == {"vr": "LO", "Value": [None, None]}
    assert obj["00081032"] == {"vr": "SQ", "Value": [{}]}
    assert obj["00101001"] == {"vr": "PN", "Value": [{"Alphabetic": "A^B"}, None, {"Alphabetic": "C"}]}
    back = from_json(json.dumps(obj))
    assert not differences(ds, back)
    assert from_json('{"00101001": {"vr": "PN", "Value": [{}, {"Alphabetic": "X"}]}}').OtherPatientNames == ("", "X")


def test_non_finite_floats_are_strings():
    ds = Dataset()
    ds.add_new(0x00186028, "FD", (math.inf, -math.inf, math.nan))
    text = to_json(ds)
    assert json.loads(text)["00186028"]["Value"] == ["Infinity", "-Infinity", "NaN"]
    values = from_json(text)[0x00186028].value
    assert values[:2] == (math.inf, -math.inf) and math.isnan(values[2])


# ---------------------------------------------------------------------------------------------------
# Bulk data (F.2.6) and file meta


def test_bulk_data_goes_out_and_comes_back(tmp_path: Path):
    ds = read_corpus(dicomkit_corpus("MR2_UNCR.dcm"))
    files = BulkDataFiles(tmp_path / "bulk", base=tmp_path)
    text = ds.to_json(bulk_data_handler=files.handler, bulk_data_threshold=4096)
    obj = json.loads(text)
    assert obj["7FE00010"] == {"vr": "OW", "BulkDataURI": "bulk/7FE00010-1.bin"}
    assert files.count == 1  # only values of 4096 bytes or more
    back = Dataset.from_json(text, bulk_data_reader=files.reader)
    assert not differences(ds, back)
    assert not back.is_partial


def test_bulk_data_without_a_reader_leaves_a_partial_data_set():
    text = ('{"00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]}, "00080018": {"vr": "UI", "Value": '
            '["1.2.3"]}, "7FE00010": {"vr": "OB", "BulkDataURI": "http://server/bulk/1"}}')
    ds = from_json(text)
    assert ds.is_partial and ds.PixelData == b""
    assert "http://server/bulk/1" in str(ds.read_corrections[0])
    with pytest.raises(DicomError, match="allow_partial"):
        dicomkit.write(ds, io.BytesIO())
    dicomkit.write(ds, io.BytesIO(), allow_partial=True)


def test_bulk_data_reader_failures_name_the_place():
    def reader(tag: Tag, vr: VR, uri: str) -> bytes:
        raise ConnectionError("server gone")

    with pytest.raises(InvalidFileError, match=r"/7FE00010/BulkDataURI: bulk data reader failed .*server gone"):
        from_json('{"7FE00010": {"vr": "OB", "BulkDataURI": "http://x/1"}}', bulk_data_reader=reader)


def test_file_meta_and_encapsulated_pixel_data_survive():
    ds = read_corpus(dicomkit_corpus("MR2_J2KR.dcm"))
    back = from_json(ds.to_json(include_file_meta=True))
    assert back.file_meta is not None and back.transfer_syntax == ds.transfer_syntax
    assert back["PixelData"].is_undefined_length
    assert dicomkit.read(_part10(back))["PixelData"].value == ds["PixelData"].value
    without_meta = from_json(ds.to_json())
    assert without_meta.file_meta is None and not without_meta["PixelData"].is_undefined_length
    assert from_json(ds.to_json(), transfer_syntax=str(ds.transfer_syntax))["PixelData"].is_undefined_length


# ---------------------------------------------------------------------------------------------------
# Malformed input: a DicomError naming where (as a JSON Pointer)

MALFORMED = [
    ('{"00100010": ', "not valid JSON: Expecting value at line 1 column 14"),
    ('"text"', "a data set must be an object"),
    ('{"0010001": {"vr": "LO"}}', "/0010001: attribute names are eight hexadecimal digits"),
    ('{"PatientID": {"vr": "LO"}}', "/PatientID: attribute names"),
    ('{"00100020": {"vr": "XX"}}', "/00100020: vr must be one of"),
    ('{"00100020": ["a"]}', "/00100020: an attribute must be a JSON object"),
    ('{"00100020": {"vr": "LO", "value": ["a"]}}', "/00100020: unknown member 'value'"),
    ('{"00100020": {"vr": "LO", "Value": "a"}}', "/00100020/Value: Value must be a JSON array"),
    ('{"00100020": {"vr": "LO", "Value": [5]}}', "/00100020/Value/0: a LO value must be a string"),
    ('{"00100020": {"vr": "LO", "Value": ["a\\\\b"]}}', "/00100020/Value/0: a LO value cannot contain a backslash"),
    ('{"00280010": {"vr": "US", "Value": ["512"]}}', "/00280010/Value/0: a US value must be an integer number"),
    ('{"00280010": {"vr": "US", "Value": [70000]}}', "/00280010/Value: (0028,0010) Rows: 70000 is out of range"),
    ('{"00280010": {"vr": "US", "Value": [true]}}', "/00280010/Value/0: a US value cannot be a boolean"),
    ('{"00100010": {"vr": "PN", "Value": ["Doe^John"]}}', "/00100010/Value/0: a PN value must be an object"),
    ('{"00100010": {"vr": "PN", "Value": [{"Alphabetical": "x"}]}}', "unknown person name component group"),
    ('{"00280009": {"vr": "AT", "Value": ["0010"]}}', "/00280009/Value/0: an AT value is eight hexadecimal"),
    ('{"7FE00010": {"vr": "OB", "Value": [1, 2]}}', "/7FE00010/Value: OB values are given as InlineBinary"),
    ('{"7FE00010": {"vr": "OB", "InlineBinary": "%%%"}}', "/7FE00010/InlineBinary: InlineBinary is not valid base64"),
    ('{"7FE00010": {"vr": "OB", "InlineBinary": "AA==", "Value": []}}', "Value and InlineBinary together"),
    ('{"00081140": {"vr": "SQ", "Value": [5]}}', "/00081140/Value/0: a data set must be a JSON object"),
    ('{"00101002": {"vr": "SQ", "Value": [{}, {"00100020": {"vr": "LO", "Value": [7]}}]}}',
     "/00101002/Value/1/00100020/Value/0: a LO value must be a string"),
    ('{"00204000": {"vr": "LT", "Value": ["a", "b"]}}', "/00204000/Value: LT holds a single value, got 2"),
    ('{"00081140": {"vr": "SQ", "BulkDataURI": "x"}}', "a sequence cannot be given as bulk data"),
    ('{"00091001": {"Value": ["x"]}}', "/00091001: no vr for (0009,1001)"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_json_is_refused_naming_where(text: str, message: str):
    with pytest.raises(InvalidFileError) as info:
        from_json(text)
    assert message in str(info.value)


def test_nesting_is_bounded():
    deep = '{"00081140": {"vr": "SQ", "Value": [' * 70 + "{}" + "]}}" * 70
    with pytest.raises(InvalidFileError, match="nested deeper than 64"):
        from_json(deep)
    with pytest.raises(InvalidFileError):
        from_json("[" * 100000 + "]" * 100000)


def test_non_utf8_bytes_are_refused():
    with pytest.raises(InvalidFileError, match="not UTF-8"):
        from_json(b'{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "\xe9"}]}}')


# ---------------------------------------------------------------------------------------------------
# The corpus: Part 10 -> JSON -> Part 10 keeps every value


def dicomkit_corpus(name: str) -> Path:
    from tests.conftest import CORPUS

    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not found (CI provides ../shared/corpus)")
    return path


def _part10(ds: Dataset, raw: bool = False) -> bytes:
    """The data set as a Part 10 file, or as a raw data set when it came from one (no SOP UIDs to name)."""
    buf = io.BytesIO()
    if raw or ds.file_meta is None:
        ts = ds.transfer_syntax or ds.read_transfer_syntax
        dicomkit.write(ds, buf, file_meta=False, transfer_syntax=str(ts))
    else:
        dicomkit.write(ds, buf)
    return buf.getvalue()


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_part10_to_json_to_part10_keeps_every_value(path: Path):
    ds = read_corpus(path)
    back = from_json(ds.to_json(include_file_meta=True))
    assert not differences(ds, back)
    if ds.file_meta is not None:
        assert not differences(ds.file_meta, back.file_meta)
    else:
        back.__dict__["read_transfer_syntax"] = ds.read_transfer_syntax
    raw = path.name in RAW_FILES
    again = dicomkit.read(_part10(back, raw), force=raw)
    assert not differences(ds, again)


# ---------------------------------------------------------------------------------------------------
# DCMTK's dcm2json output reads back equal to the file

_NATIVE, _ENCAPSULATED = corpus_by_transfer_syntax()
# dcm2json (3.6.7) refuses compressed Pixel Data ("InlineBinary encoding not supported for compressed pixel
# data"), and this file, whose character set term it cannot convert.
_DCM2JSON_CANNOT = {"explicit_VR-UN.dcm": "DCMTK cannot convert its Specific Character Set to UTF-8"}


@pytest.mark.parametrize("path", [p for p in _NATIVE if p.name not in _DCM2JSON_CANNOT], ids=lambda p: p.name)
def test_dcmtk_dcm2json_output_reads_back_equal_to_the_file(path: Path):
    exe = require_tool("dcm2json")
    raw = path.name in RAW_FILES
    out = subprocess.run([exe, "-fc", "-ee", *(["-f"] if raw else []), str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    theirs = from_json(out.stdout)
    # DCMTK converts text to UTF-8 and says so in (0008,0005); it rewrites DS text as JSON numbers, drops
    # trailing empty name components and prints doubles with up to 2 ulp of error.
    problems = differences(read_corpus(path), theirs, skip=frozenset({0x00080005}), pn_components=True,
                           float_tolerance=1e-14, numeric_decimals=True)
    assert not problems, problems[:5]


# ---------------------------------------------------------------------------------------------------
# IS and DS numbers as dcm2json and pydicom write and read them


class _Literal(str):
    """The text of a JSON number as written."""


def _decimal_values(obj: dict, path: str = "") -> dict[str, tuple[str, list]]:
    """JSON Pointer-like place -> (VR, the Value array) of every IS and DS attribute, recursively."""
    out: dict[str, tuple[str, list]] = {}
    for key, attr in obj.items():
        if attr.get("vr") in ("IS", "DS") and "Value" in attr:
            out[f"{path}/{key}"] = (attr["vr"], attr["Value"])
        elif attr.get("vr") == "SQ":
            for i, item in enumerate(attr.get("Value", [])):
                out.update(_decimal_values(item, f"{path}/{key}/{i}"))
    return out


@pytest.mark.interop
@pytest.mark.parametrize("path", [p for p in _NATIVE if p.name not in _DCM2JSON_CANNOT], ids=lambda p: p.name)
def test_is_and_ds_are_the_numbers_dcm2json_writes(path: Path):
    exe = require_tool("dcm2json")
    raw = path.name in RAW_FILES
    out = subprocess.run([exe, "-fc", "-ee", *(["-f"] if raw else []), str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    literal = {"parse_float": _Literal, "parse_int": _Literal}
    theirs = _decimal_values(json.loads(out.stdout, **literal))
    ours = _decimal_values(json.loads(read_corpus(path).to_json(), **literal))
    assert ours.keys() == theirs.keys()
    for where, (vr, values) in ours.items():
        assert len(values) == len(theirs[where][1]), where
        for mine, dcmtk in zip(values, theirs[where][1]):
            if mine is None:
                assert dcmtk is None, where
                continue
            # both numbers (dcm2json writes the text too, normalised: 1.000000e+00 as 1.000000e00), or a
            # string where the text is no JSON number: dcm2json rewrites that ("01" as 1), we keep it
            assert isinstance(dcmtk, _Literal) and float(dcmtk) == float(mine), where
            if not isinstance(mine, _Literal):
                assert not json_number_text(mine, vr == "IS"), where


@pytest.mark.parametrize("path", _NATIVE, ids=lambda p: p.name)
def test_pydicom_reads_our_numbers_and_we_read_its(path: Path):
    pydicom = pytest.importorskip("pydicom", reason="pydicom (dev extra) is the oracle for this test")
    ds = read_corpus(path)
    ours = ds.to_json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's remarks on the corpus' own odd values (1996.10.29 as DA)
        theirs_text = pydicom.Dataset.from_json(ours).to_json()  # pydicom expects numbers and gets them
    reference = _decimal_values(json.loads(theirs_text))
    assert _decimal_values(json.loads(ours)).keys() == reference.keys()
    for where, (_, values) in _decimal_values(json.loads(ours)).items():
        assert [None if v is None else float(v) for v in values] == \
            [None if v is None else float(v) for v in reference[where][1]], where
    # and pydicom's JSON (numbers everywhere, as repr of a float) reads back to the same values here
    assert not differences(ds, from_json(theirs_text), skip=frozenset(t for t in ds.tags()
                                                                      if ds.vr_of(t) not in (VR.IS, VR.DS)),
                           numeric_decimals=True)
