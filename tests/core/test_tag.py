import pytest

from dicomkit import Tag
from dicomkit.core.errors import DicomError, InvalidTagError


def test_constructors_agree():
    expected = 0x00100010
    assert Tag(0x0010, 0x0010) == expected
    assert Tag("PatientName") == expected
    assert Tag(0x00100010) == expected
    assert Tag("(0010,0010)") == expected
    assert Tag("0010,0010") == expected
    assert Tag("00100010") == expected
    assert Tag((0x10, 0x10)) == expected
    assert Tag("0x00100010") == expected


def test_str_and_repr():
    assert str(Tag(0x7FE0, 0x0010)) == "(7FE0,0010)"
    assert repr(Tag(0x0010, 0x0010)) == "Tag(0x0010, 0x0010)"


def test_properties():
    t = Tag(0x0029, 0x1010)
    assert t.group == 0x0029 and t.element == 0x1010
    assert t.is_private and not t.is_private_creator
    assert t.private_creator_tag == Tag(0x0029, 0x0010)
    assert Tag(0x0029, 0x0010).is_private_creator
    assert not Tag(0x0008, 0x0010).is_private
    assert Tag("PatientName").keyword == "PatientName"
    assert Tag("PatientName").name == "Patient's Name"


def test_repeating_group_names():
    assert Tag(0x6002, 0x3000).keyword == "OverlayData"
    assert Tag(0x5010, 0x0022).name != "Unknown Tag"
    # odd groups are private, never a repeating standard group
    assert Tag(0x6001, 0x3000).keyword == ""


@pytest.mark.parametrize("bad", ["NotAKeyword", "(10000,0000)", "12", 2**32, -1, object()])
def test_bad_tags_raise_dicom_error(bad):
    with pytest.raises(DicomError):
        Tag(bad)


def test_bad_pair():
    with pytest.raises(InvalidTagError):
        Tag(0x10000, 0)
