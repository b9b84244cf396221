import datetime as dt

import pytest

from dicomkit import DA, DS, DT, IS, TM, PersonName
from dicomkit.core.errors import InvalidValueError
from dicomkit.core.valuetypes import format_ds


def test_ds_keeps_original_text():
    v = DS("  1.50 ")
    assert v == 1.5 and str(v) == "1.50"
    assert DS(0.1).original_string == "0.1"
    assert DS(1) == 1.0 and str(DS(1)) == "1"
    with pytest.raises(InvalidValueError):
        DS("abc")
    with pytest.raises(InvalidValueError):
        DS(float("nan"))


@pytest.mark.parametrize("value", [1 / 3, 123456789.123456789, -1e-20, 1e300, 2**60, -0.000123456789012345])
def test_format_ds_fits_16_chars_and_is_close(value):
    text = format_ds(value)
    assert len(text) <= 16
    assert float(text) == pytest.approx(value, rel=1e-9)


def test_is():
    assert IS("  42") == 42 and str(IS(" 042")) == "042"
    assert IS("3.0") == 3
    with pytest.raises(InvalidValueError):
        IS("3.5")
    assert str(IS(2**40)) == "1099511627776"  # the 32-bit range is a VR rule, checked when assigned


def test_dates_and_times():
    assert DA("20200131").date == dt.date(2020, 1, 31)
    assert DA("2020.01.31").date == dt.date(2020, 1, 31)  # ACR-NEMA form
    assert DA(dt.date(1999, 12, 31)) == "19991231"
    assert DA("").date is None
    with pytest.raises(InvalidValueError):
        _ = DA("20201301").date
    assert TM("1234").time == dt.time(12, 34)
    assert TM("123456.78").time == dt.time(12, 34, 56, 780000)
    assert TM("12:34:56").time == dt.time(12, 34, 56)
    assert TM(dt.time(1, 2, 3, 400)) == "010203.000400"
    value = DT("20200131123456.5+0100").datetime
    assert value == dt.datetime(2020, 1, 31, 12, 34, 56, 500000,
                                tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert DT("2020").datetime == dt.datetime(2020, 1, 1)
    assert DT(dt.datetime(2020, 1, 2, 3, 4, 5)) == "20200102030405"
    # original text is preserved exactly
    assert str(TM("1200")) == "1200"


def test_person_name():
    pn = PersonName("Yamada^Tarou=山田^太郎=やまだ^たろう")
    assert pn.family_name == "Yamada" and pn.given_name == "Tarou"
    assert pn.ideographic == "山田^太郎" and pn.phonetic == "やまだ^たろう"
    assert pn.components(1)[0] == "山田"
    assert pn == "Yamada^Tarou=山田^太郎=やまだ^たろう"
    full = PersonName("Adams^John Robert Quincy^^Rev.^B.A. M.Div.")
    assert full.name_prefix == "Rev." and full.name_suffix == "B.A. M.Div." and full.middle_name == ""
    built = PersonName.from_components("Doe", "John", ideographic="ド^ジョン")
    assert built == "Doe^John=ド^ジョン"
    assert PersonName.from_components("Doe") == "Doe"
    with pytest.raises(InvalidValueError):
        PersonName.from_components("Do^e")
    assert PersonName("Doe^John").formatted("{family_name}, {given_name}") == "Doe, John"


def test_two_tags_assigned_to_an_at_element_stay_two_values():
    # Regression: a tuple of two Tags (as read from a file with VM 2) was taken as one (group, element) pair.
    from dicomkit import Dataset, Tag

    ds = Dataset()
    ds.FrameIncrementPointer = (Tag(0x00540010), Tag(0x00540020))
    assert ds.FrameIncrementPointer == (Tag(0x00540010), Tag(0x00540020))
    ds.FrameIncrementPointer = (0x0054, 0x0010)  # a plain (group, element) pair is still one tag
    assert ds.FrameIncrementPointer == Tag(0x00540010)
    ds.FrameIncrementPointer = [0x00540010, 0x00540020]
    assert ds.FrameIncrementPointer == (Tag(0x00540010), Tag(0x00540020))
