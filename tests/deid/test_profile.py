"""The shipped Table E.1-1 against the standard's tabulation, and the rules that combine its columns."""

from __future__ import annotations

import pytest

from dicomkit.deid import _profile_data as data
from dicomkit.deid.profile import Options, Profile, combine, conformance_action, iod_table

from .conftest import CT_IMAGE, TABLE_PATH, table_rows

pytestmark = pytest.mark.skipif(not TABLE_PATH.exists(), reason=f"{TABLE_PATH} not found")


def test_every_row_of_table_e1_1_is_shipped_with_its_actions() -> None:
    rows = table_rows()
    shipped = 0
    for row in rows:
        tag = row["tag"]
        if tag.startswith("(GGGG"):
            entry = data.PRIVATE
        elif "X" in tag[1:5].upper() or "X" in tag[6:10].upper():
            matches = [e for m, v, e in data.REPEATING if e[0] == " ".join(row["name"].split())]
            assert len(matches) == 1, tag
            entry = matches[0]
        else:
            entry = data.ACTIONS[int(tag.strip("()").replace(",", ""), 16)]
        assert entry[1] == row["basicProfile"], tag
        assert entry[2:] == tuple(row.get(c) or "" for c in data.COLUMNS), tag
        shipped += 1
    assert shipped == len(rows) == len(data.ACTIONS) + len(data.REPEATING) + 1


@pytest.mark.parametrize(("action", "type_", "expected"), [
    ("X/Z", 3, "X"), ("X/Z", 2, "Z"), ("X/Z", 1, "Z"), ("X/Z", None, "X"),
    ("X/D", 3, "X"), ("X/D", 2, "X"), ("X/D", 1, "D"), ("X/D", None, "X"),
    ("X/Z/D", 3, "X"), ("X/Z/D", 2, "Z"), ("X/Z/D", 1, "D"),
    ("Z/D", 2, "Z"), ("Z/D", 1, "D"), ("Z/D", None, "Z"),
    ("X/Z/U*", 3, "X"), ("X/Z/U*", 2, "Z"), ("X/Z/U*", 1, "U*"),
])
def test_conformance_actions_follow_the_iod_type(action: str, type_: int | None, expected: str) -> None:
    assert conformance_action(action, type_) == expected


def test_iod_types_come_from_ps3_3() -> None:
    ct = iod_table(CT_IMAGE)
    assert ct[0x00100020] == 2  # Patient ID: Type 2 in the Patient Module
    assert ct[0x00080023] == 2  # Content Date: Type 2C in the General Image Module
    assert ct[0x00080022] == 3  # Acquisition Date: Type 3
    enhanced_ct = iod_table("1.2.840.10008.5.1.4.1.1.2.1")
    assert enhanced_ct[0x00080023] == 1  # Content Date: Type 1 in the Multi-frame Functional Groups Module
    assert (0x52009230 << 32) | 0x00081140 in enhanced_ct  # Referenced Image Sequence in the per-frame groups
    assert iod_table("1.2.3.4.private") is data.ANY_IOD


def test_options_override_the_profile_and_cleaning_wins_over_keeping() -> None:
    assert combine("X", []) == "X"
    assert combine("X", ["K"]) == "K"
    assert combine("X", ["K", "C"]) == "C"
    basic = Profile(Options())
    assert basic.action(0x00081030) == "X"  # Study Description
    assert Profile(Options(clean_descriptors=True)).action(0x00081030) == "C"
    assert basic.action(0x00080020) == "Z"  # Study Date
    assert Profile(Options(dates="keep")).action(0x00080020) == "K"
    assert Profile(Options(dates="shift")).action(0x00080020) == "C"
    assert basic.action(0x0020000D) == "U"
    assert Profile(Options(retain_uids=True)).action(0x0020000D) == "K"
    # Beam Hold Transition DateTime: device identity keeps it, modified dates cleans it; cleaning wins
    assert Profile(Options(retain_device_identity=True, dates="shift")).action(0x300C0127) == "C"
    assert basic.action(0x60003000) == "X" and basic.action(0x60223000) == "X"  # Overlay Data, any group
    assert Profile(Options(clean_graphics=True)).action(0x60023000) == "C"
    assert basic.action(0x50001000) == "X"  # Curve Data
    assert basic.private == "X" and Profile(Options(retain_safe_private=True)).private == "C"
    assert Profile(Options(keep=frozenset({0x00081030}))).action(0x00081030) == "K"


def test_method_codes_are_cid_7050() -> None:
    codes = Options(dates="shift", retain_safe_private=True, clean_descriptors=True).method_codes()
    assert codes == [("113100", "Basic Application Confidentiality Profile"), ("113105", "Clean Descriptors Option"),
                     ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
                     ("113111", "Retain Safe Private Option")]
