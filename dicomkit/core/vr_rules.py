"""The rules each string Value Representation sets for its values (PS3.5 6.2, Table 6.2-1), as a table of
data, and :func:`check_value`, which says which rule a value breaks.

A value assigned through the API is checked against its VR's rule (dicomkit.core.element): breaking one
warns (:class:`~dicomkit.InvalidValueWarning`) and marks the element, and the writer refuses marked
elements unless asked not to (``validate=False``). Values read from a file are never checked: they are
written back as they were read.

Query forms are accepted because C-FIND identifiers use them (PS3.4 C.2.2.2): a range of dates, times or
date times (``"20240101-20241231"``, ``"-1200"``), and the wildcards ``*`` and ``?`` in CS values (the other
VRs that allow wildcard matching have them in their repertoire anyway).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .vr import MAX_LENGTH  # PS3.5 Table 6.2-1, the one copy of the lengths

# Characters, as regular expression classes (PS3.5 6.1.2.1, 6.1.3): the Default Character Repertoire is
# ISO 646 (20H-7EH); "text" VRs also take the extended repertoires of Specific Character Set (any other
# character; whether the data set's character set can encode it is checked when it is encoded).
_NO_CONTROL = r"[^\x00-\x1a\x1c-\x1f\x7f\\]"  # no control character but ESC (1BH), no backslash
_TEXT = r"[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]"  # control characters TAB, LF, FF, CR and ESC allowed


@dataclass(frozen=True)
class VRRule:
    """What PS3.5 Table 6.2-1 asks of one VR's values (each value, for a multi-valued element)."""

    vr: str
    max_length: int | None  # characters per value (bytes for the VRs limited to ISO 646, which are the same)
    characters: str  # a regular expression class matching one allowed character
    allowed: str  # the character repertoire, as the standard words it
    form: str | None = None  # a regular expression a value must match in full, when there is a format
    form_text: str = ""  # that format, as the standard words it
    meaning: Callable[[str], str | None] | None = None  # a further check of what the value means
    range_form: str | None = None  # the form of a query range (PS3.4 C.2.2.2.5), for DA, TM and DT
    fixed_length: bool = False
    strip_leading: bool = False  # leading spaces are padding, not part of the value


def _date(text: str) -> str | None:
    try:
        _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return "is not a date of the calendar"
    return None


def _time(text: str) -> str | None:
    hours, minutes, seconds = int(text[:2]), int(text[2:4] or 0), int(text[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 60:  # 60: a leap second
        return "is not a time of day (HH 00-23, MM 00-59, SS 00-60)"
    return None


def _date_time(text: str) -> str | None:
    stamp, zone = re.match(r"([^+-]*)([+-]\d{4})?$", text).groups()  # type: ignore[union-attr]
    year, month, day = int(stamp[:4]), int(stamp[4:6] or 1), int(stamp[6:8] or 1)
    try:
        _dt.date(year, month, day)
    except ValueError:
        return "is not a date of the calendar"
    if len(stamp) > 8 and _time(stamp[8:14]):
        return "is not a time of day (HH 00-23, MM 00-59, SS 00-60)"
    if zone and not (-1200 <= int(zone) <= 1400 and int(zone[3:]) < 60):
        return "has an offset from UTC outside -1200 to +1400"
    return None


def _integer(text: str) -> str | None:
    if not -(2**31) <= int(text) <= 2**31 - 1:
        return "is outside -2^31 to 2^31-1"
    return None


def _person_name(text: str) -> str | None:
    groups = text.split("=")
    if len(groups) > 3:
        return "has more than 3 component groups"
    for group in groups:
        if len(group) > MAX_LENGTH["PN"]:  # PS3.5 Table 6.2-1: 64 characters per component group
            return f"has a component group of {len(group)} characters, more than {MAX_LENGTH['PN']}"
        if group.count("^") > 4:
            return "has more than 5 components in a group"
    return None


_DA = r"\d{8}"
_TM = r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?"
_DT = r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?"

RULES: dict[str, VRRule] = {rule.vr: rule for rule in (
    VRRule("AE", MAX_LENGTH["AE"],
           r"[\x20-\x5b\x5d-\x7e]", "the Default Character Repertoire without backslash and control "
           "characters; not only spaces", strip_leading=True),
    VRRule("AS", MAX_LENGTH["AS"], r"[0-9DWMY]", '"0"-"9", "D", "W", "M", "Y"', form=r"\d{3}[DWMY]",
           form_text="nnnD, nnnW, nnnM or nnnY", fixed_length=True),
    VRRule("CS", MAX_LENGTH["CS"], r"[A-Z0-9 _]", 'upper case letters, "0"-"9", space and "_"', strip_leading=True),
    VRRule("DA", MAX_LENGTH["DA"], r"[0-9]", '"0"-"9"', form=_DA, form_text="YYYYMMDD", meaning=_date,
           range_form=_DA, fixed_length=True),
    VRRule("DS", MAX_LENGTH["DS"], r"[0-9+\-Ee. ]", '"0"-"9", "+", "-", "E", "e", "." and space',
           form=r"[+-]?(\d+\.?\d*|\.\d+)([Ee][+-]?\d+)?", form_text="a fixed or floating point number",
           strip_leading=True),
    VRRule("DT", MAX_LENGTH["DT"], r"[0-9+\-. ]", '"0"-"9", "+", "-", "." and space', form=_DT,
           form_text="YYYYMMDDHHMMSS.FFFFFF&ZZXX (components may be left out from the right)",
           meaning=_date_time, range_form=_DT),
    VRRule("IS", MAX_LENGTH["IS"],
           r"[0-9+\- ]", '"0"-"9", "+", "-" and space', form=r"[+-]?\d+", form_text="an integer",
           meaning=_integer, strip_leading=True),
    VRRule("LO", MAX_LENGTH["LO"], _NO_CONTROL, "characters without backslash and control characters but ESC",
           strip_leading=True),
    VRRule("LT", MAX_LENGTH["LT"], _TEXT, "characters and the control characters TAB, LF, FF, CR and ESC"),
    VRRule("PN", None, _NO_CONTROL, "characters without backslash and control characters but ESC",
           meaning=_person_name),
    VRRule("SH", MAX_LENGTH["SH"], _NO_CONTROL, "characters without backslash and control characters but ESC",
           strip_leading=True),
    VRRule("ST", MAX_LENGTH["ST"], _TEXT, "characters and the control characters TAB, LF, FF, CR and ESC"),
    VRRule("TM", MAX_LENGTH["TM"], r"[0-9. ]", '"0"-"9", "." and space', form=_TM,
           form_text="HHMMSS.FFFFFF (components may be left out from the right)", meaning=_time, range_form=_TM),
    VRRule("UC", None, _NO_CONTROL, "characters without backslash and control characters but ESC"),
    VRRule("UI", MAX_LENGTH["UI"], r"[0-9.]", '"0"-"9" and "."', form=r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*",
           form_text="numeric components separated by \".\", without leading zeros (PS3.5 9.1)"),
    VRRule("UR", None, r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]", "the characters of a URI (RFC 3986)"),
    VRRule("UT", None, _TEXT, "characters and the control characters TAB, LF, FF, CR and ESC"),
)}

@functools.cache
def _compiled(vr: str) -> tuple[re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None]:
    """The repertoire, form and range patterns of ``vr``, compiled on first use (not at import: start-up)."""
    rule = RULES[vr]
    return (re.compile(f"{rule.characters}*"), re.compile(rule.form) if rule.form else None,
            re.compile(f" *({rule.range_form})? *- *({rule.range_form})? *") if rule.range_form else None)


def check_text(vr: str, text: str, *, query: bool = True) -> str | None:
    """What is wrong with one value's text for ``vr`` (None when nothing; always None for VRs without a rule).

    With ``query`` (the default, for values assigned through the API) the forms of a C-FIND identifier pass
    too; ``query=False`` checks a value as one of a stored object.
    """
    rule = RULES.get(vr)
    if rule is None or not text:
        return None
    value = text.rstrip(" ")
    if rule.strip_leading:
        value = value.lstrip(" ")
    if not value:
        return "is only spaces" if vr == "AE" else None
    if query:
        if rule.range_form is not None and "-" in value and value != "-" and _compiled(vr)[2].fullmatch(value):  # type: ignore[union-attr]
            # a range (PS3.4 C.2.2.2.5): each end is checked as a value
            for end in (part.strip(" ") for part in value.split("-")):
                if end and rule.meaning is not None and (wrong := rule.meaning(end)):
                    return f"is a range whose end {end!r} {wrong}"
            return None
        if vr == "CS" and ("*" in value or "?" in value):
            # wildcards (PS3.4 C.2.2.2.4): the other characters are checked
            return _single(rule, text, value.replace("*", "").replace("?", "") or "A", form=False)
    return _single(rule, text, value)


def bad_character(vr: str, value: str) -> str | None:
    """The first character of ``value`` outside the repertoire of ``vr`` (None: all are in it, or no rule)."""
    if vr not in RULES:
        return None
    characters = _compiled(vr)[0]
    if characters.fullmatch(value):
        return None
    return next(c for c in value if not characters.fullmatch(c))


def matches_form(vr: str, value: str) -> bool:
    """Whether ``value`` (without its padding) has the form of ``vr`` (True for VRs without one)."""
    pattern = _compiled(vr)[1] if vr in RULES else None
    return pattern is None or pattern.fullmatch(value) is not None


def _single(rule: VRRule, text: str, value: str, form: bool = True) -> str | None:
    if rule.max_length is not None and len(text) > rule.max_length:
        unit = "characters" if rule.vr in ("LO", "LT", "SH", "ST") else "bytes"
        shape = f": {rule.form_text}" if rule.form_text else ""
        return f"is {len(text)} {unit} long, more than the {rule.max_length} of {rule.vr}{shape}"
    bad = bad_character(rule.vr, value)
    if bad is not None:
        return f"holds {bad!r}, not among the characters of {rule.vr} ({rule.allowed})"
    if not form:
        return None
    if not matches_form(rule.vr, value):
        return f"is not of the form {rule.form_text}"
    if rule.fixed_length and len(value) != rule.max_length:
        return f"is not {rule.max_length} characters long"
    return rule.meaning(value) if rule.meaning is not None else None


def check_value(vr: str, value: Any, *, query: bool = True) -> str | None:
    """What rule of ``vr`` a normalised value breaks, as a phrase naming the value; None when it keeps them.

    ``value`` is what DataElement holds (a ``str`` subclass, DS, IS, or a tuple of them); numbers and bytes
    are not checked here (their range is checked when they are assigned). ``query``: see check_text.
    """
    if vr not in RULES or value is None:
        return None
    values = value if isinstance(value, tuple) else (value,)
    for index, one in enumerate(values):
        text = getattr(one, "original_string", None)
        if text is None:
            if not isinstance(one, str):
                continue
            text = str(one)
        problem = check_text(vr, text, query=query)
        if problem is not None:
            which = f"value {index + 1} " if len(values) > 1 else ""
            return f"{which}{text!r} {problem} (PS3.5 6.2)"
    return None


__all__ = ["RULES", "VRRule", "bad_character", "check_text", "check_value", "matches_form"]
