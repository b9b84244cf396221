import copy
import datetime as dt

import pytest

from dicomkit import DA, DS, IS, VR, DataElement, Dataset, PersonName, Sequence, Tag
from dicomkit.core.errors import InvalidTagError, InvalidValueError

from ..conftest import corpus_params


def make() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Doe^John"
    ds.PatientID = "12345"
    ds.Rows = 512
    ds.Columns = 256
    ds.PixelSpacing = [0.5, "0.25"]
    ds.ImageType = "ORIGINAL\\PRIMARY\\AXIAL"
    ds.StudyDate = dt.date(2024, 2, 29)
    return ds


def test_keyword_tag_and_string_access():
    ds = make()
    assert ds.PatientName == "Doe^John"
    assert isinstance(ds.PatientName, PersonName)
    assert ds["PatientName"].value == "Doe^John"
    assert ds[0x00100010].vr is VR.PN
    assert ds[Tag(0x0010, 0x0010)].keyword == "PatientName"
    assert ds["(0010,0010)"].tag == 0x00100010
    assert "PatientName" in ds and 0x00100010 in ds and Tag("PatientName") in ds
    assert "PatientSex" not in ds and "NoSuchKeyword" not in ds


def test_values_are_normalised():
    ds = make()
    assert ds.PixelSpacing == (DS("0.5"), DS("0.25"))
    assert all(isinstance(v, DS) for v in ds.PixelSpacing)
    assert ds.ImageType == ("ORIGINAL", "PRIMARY", "AXIAL")
    assert ds.StudyDate == "20240229" and isinstance(ds.StudyDate, DA)
    assert ds.StudyDate.date == dt.date(2024, 2, 29)
    ds.InstanceNumber = 7
    assert isinstance(ds.InstanceNumber, IS) and ds.InstanceNumber == 7
    ds.PatientName = None
    assert ds.PatientName == "" and ds["PatientName"].VM == 0


def test_get_semantics_follow_pydicom():
    ds = make()
    assert ds.get("PatientID") == "12345"
    assert ds.get("PatientSex", "O") == "O"
    assert isinstance(ds.get(0x00100020), DataElement)
    assert ds.get(0x00100040) is None
    assert ds.value("Rows") == 512


def test_missing_attribute_and_typos():
    ds = make()
    with pytest.raises(AttributeError):
        _ = ds.PatientSex
    with pytest.raises(AttributeError, match="not a DICOM keyword"):
        ds.PatientNmae = "x"
    with pytest.raises(KeyError):
        _ = ds["PatientSex"]
    ds.note = "lower-case names are ordinary attributes"
    assert ds.note.startswith("lower")


def test_delete():
    ds = make()
    del ds.PatientID
    assert "PatientID" not in ds
    del ds[0x00280010]
    assert "Rows" not in ds
    with pytest.raises(AttributeError):
        del ds.PatientID
    with pytest.raises(KeyError):
        del ds[0x00280010]


def test_iteration_in_tag_order():
    ds = Dataset()
    ds.Rows = 1
    ds.PatientName = "A"
    ds.SOPClassUID = "1.2"
    assert [e.tag for e in ds] == sorted(e.tag for e in ds)
    assert ds.keys() == [Tag(0x00080016), Tag(0x00100010), Tag(0x00280010)]
    assert len(ds) == 3


@pytest.mark.parametrize(("keyword", "value"), [
    ("Rows", -1), ("Rows", 70000), ("Rows", "abc"), ("PixelSpacing", float("nan")), ("InstanceNumber", 1.5),
    ("SOPClassUID", 12), ("ImageType", object()),
])
def test_invalid_values_raise(keyword, value):
    ds = Dataset()
    with pytest.raises(InvalidValueError):
        setattr(ds, keyword, value)


def test_sequences():
    ds = make()
    item = Dataset()
    item.CodeValue = "121327"
    item.CodingSchemeDesignator = "DCM"
    ds.DerivationCodeSequence = [item]
    seq = ds.DerivationCodeSequence
    assert isinstance(seq, Sequence) and seq[0].CodeValue == "121327"
    seq.append(Dataset())
    assert len(ds.DerivationCodeSequence) == 2
    with pytest.raises(InvalidValueError):
        seq.append("not a dataset")  # type: ignore[arg-type]
    assert [e.keyword for e in ds.iterall()].count("CodeValue") == 1


def test_copy_is_independent():
    ds = make()
    ds.DerivationCodeSequence = [Dataset()]
    other = ds.copy()
    other.PatientName = "Other^Name"
    other.DerivationCodeSequence[0].CodeValue = "X"
    assert ds.PatientName == "Doe^John"
    assert "CodeValue" not in ds.DerivationCodeSequence[0]
    deep = copy.deepcopy(ds)
    assert deep == ds


def test_equality():
    a, b = make(), make()
    assert a == b
    b.Rows = 1
    assert a != b
    b.Rows = 512
    b.PatientSex = "M"
    assert a != b


def test_private_blocks():
    ds = Dataset()
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", "hello")
    assert ds[0x00290010].value == "ACME 1.0"
    assert ds[0x00291010].value == "hello"
    assert block.tag(0x10) == Tag(0x0029, 0x1010)
    second = ds.private_block(0x0029, "OTHER", create=True)
    assert second.slot == 0x11
    assert ds.private_block(0x0029, "ACME 1.0")[0x10].value == "hello"
    assert ds.private_creators(0x0029) == ["ACME 1.0", "OTHER"]
    with pytest.raises(KeyError):
        ds.private_block(0x0029, "MISSING")
    with pytest.raises(InvalidTagError):
        ds.private_block(0x0010, "EVEN GROUP")
    ds.remove_private_tags()
    assert len(ds) == 0


def test_unknown_tags_need_a_vr():
    ds = Dataset()
    with pytest.raises(InvalidValueError, match="add_new"):
        ds[0x00291010] = "x"
    ds.add_new(0x00291010, "LO", "x")
    assert ds[0x00291010].value == "x"


def test_ambiguous_vr_follows_pixel_representation():
    ds = Dataset()
    ds.PixelRepresentation = 1
    ds.SmallestImagePixelValue = -5
    assert ds["SmallestImagePixelValue"].vr is VR.SS
    unsigned = Dataset()
    unsigned.PixelRepresentation = 0
    unsigned.SmallestImagePixelValue = 5
    assert unsigned["SmallestImagePixelValue"].vr is VR.US


def test_repr_lists_elements():
    text = repr(make())
    assert "(0010,0010) PN [Doe^John]" in text
    assert "PatientName" in text


def test_character_set_of_an_un_specific_character_set():
    # Regression: Specific Character Set kept as UN (bytes) made character_set (and so writing) raise.
    import io

    import dicomkit

    ds = Dataset()
    ds.add_new(0x00080005, "UN", b"\\ISO 2022 IR 100")
    ds.add_new(0x00100010, "PN", "Müller")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3"
    assert ds.character_set == ("", "ISO 2022 IR 100")
    buf = io.BytesIO()
    dicomkit.write(ds, buf)
    assert dicomkit.read(buf.getvalue()).PatientName == "Müller"


@pytest.mark.parametrize("path", corpus_params())
def test_peek_gives_what_the_element_gives(path):
    """``Dataset.peek``: every top-level element of every corpus file, (VR, value) as ``ds[tag]`` gives them
    in a data set read again, and the same error for a value that does not decode; nothing is kept."""
    import dicomkit
    from dicomkit.core.errors import DicomError as _DicomError

    try:
        peeked = dicomkit.read(path, stop_before_pixels=True, force=True)
        again = dicomkit.read(path, stop_before_pixels=True, force=True)
    except _DicomError:
        return  # unreadable files are the reader's tests'
    tags = list(peeked.tags())
    assert tags
    raw_before = {t for t in tags if peeked._elements[t].__class__ is tuple}
    decoded = set()
    for tag in tags:
        try:
            want = (again[tag].vr, again[tag].value)
        except _DicomError as exc:
            with pytest.raises(type(exc)):
                peeked.peek(tag)
            continue
        got = peeked.peek(tag)
        assert got is not None and got[0] == want[0]
        assert type(got[1]) is type(want[1]) and got[1] == want[1], tag
        if want[0] != "SQ":
            decoded.add(tag)
    # no element was made for a value peeked from the bytes
    assert {t for t in raw_before & decoded if peeked._elements[t].__class__ is not tuple} == set()
    assert peeked.peek(0x7FFF0010) is None
