"""Cutting values in listings: only long values are cut, UIDs never, and the cut says how much is left out."""

from __future__ import annotations

from dicomkit.core.display import DEFAULT_CUT, format_value
from dicomkit.core.element import DataElement
from dicomkit.core.vr import VR


def test_short_values_are_whole():
    assert format_value(DataElement(0x00100010, VR.PN, "Doe^John")) == "[Doe^John]"
    assert format_value(DataElement(0x00081030, VR.LO, "z" * 64)) == f"[{'z' * 64}]"
    uids = ("1.2.3." + "4" * 58, "1.2.3." + "5" * 58)
    assert format_value(DataElement(0x00081150, VR.UI, uids)) == "[" + "\\".join(uids) + "]"  # never cut


def test_long_values_say_what_was_left_out():
    text = format_value(DataElement(0x00204000, VR.LT, "a" * 200))
    assert text == f"[{'a' * DEFAULT_CUT}...(+{200 - DEFAULT_CUT} characters)"
    hex_text = format_value(DataElement(0x00091010, VR.OB, bytes(100)))
    assert hex_text == "\\".join(["00"] * 21) + "...(+79 bytes)"
    numbers = format_value(DataElement(0x00283006, VR.US, tuple(range(1000, 1100))))
    shown = numbers.split("...")[0].split("\\")
    assert shown == [str(n) for n in range(1000, 1000 + len(shown))]
    assert numbers.endswith(f"...(+{(100 - len(shown)) * 2} bytes)")


def test_a_value_just_over_the_limit_is_shown_whole():
    # cutting would make it longer: the rest is shorter than "...(+N ...)"
    assert format_value(DataElement(0x00204000, VR.LT, "b" * (DEFAULT_CUT + 5))) == f"[{'b' * (DEFAULT_CUT + 5)}]"
    assert format_value(DataElement(0x00091010, VR.OB, bytes(23))) == "\\".join(["00"] * 23)
    assert format_value(DataElement(0x00204000, VR.LT, "c" * 200), cut=None) == f"[{'c' * 200}]"
