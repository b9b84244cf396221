"""Value formats per VR (PS3.5 6.2, Table 6.2-1): lengths, character repertoires and the forms of DA, TM, DT,
AS, DS, IS and UI values. Each check returns the problems of one value as text, empty when it is valid.

(A table of VR rules for value assignment is being written in dicomkit.core on another branch; until it lands
these checks live here, with the validator.)
"""

from __future__ import annotations

import datetime as _dt
import re

# PS3.5 Table 6.2-1: maximum length of one value (bytes; characters for the text VRs)
MAX_LENGTH = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240,
              "PN": 64, "SH": 16, "ST": 1024, "TM": 14, "UC": None, "UI": 64, "UR": None, "UT": None}
EXACT_LENGTH = {"AS": 4}
# characters allowed besides the default repertoire's letters and digits
_CS = re.compile(r"[A-Z0-9 _]*")
_DS = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IS = re.compile(r"[+-]?\d+")
_AS = re.compile(r"\d{3}[DWMY]")
_UI_CHARS = re.compile(r"[0-9.]*")
_TM = re.compile(r"(\d{2})((\d{2})((\d{2})(\.\d{1,6})?)?)?")
_DT = re.compile(r"(\d{4})((\d{2})((\d{2})((\d{2})((\d{2})((\d{2})(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?")
_CHARS_OF = {"DA": "0123456789", "TM": "0123456789.", "DT": "0123456789.+-", "IS": "0123456789+-",
             "DS": "0123456789+-.eE", "UI": "0123456789.", "AS": "0123456789DWMY"}


def _bad_char(value: str, allowed: str) -> str | None:
    for ch in value:
        if ch not in allowed:
            return ch
    return None


def _char_problem(ch: str) -> str:
    return f"Character invalid for this VR = '{ch}' (0x{ord(ch):x})"


def _date_ok(y: int, m: int, d: int) -> bool:
    try:
        _dt.date(y, m, d)
        return True
    except ValueError:
        return False


def _time_ok(text: str) -> bool:
    m = _TM.fullmatch(text)
    if not m:
        return False
    hh = int(m.group(1))
    mm = int(m.group(3)) if m.group(3) else 0
    ss = int(m.group(5)) if m.group(5) else 0
    return hh < 24 and mm < 60 and ss < 61  # PS3.5 6.2: 60 for a leap second


def check_value(vr: str, value: str) -> list[str]:
    """The first problem of one value (without its padding) of a string VR: its characters, then its length,
    then its form — as dciodvfy reports one problem per value."""
    found = _problems(vr, value)
    chars = [p for p in found if p.startswith("Character")]
    return chars[:1] or found[:1]


def _problems(vr: str, value: str) -> list[str]:
    problems: list[str] = []
    limit = MAX_LENGTH.get(vr)
    if vr in EXACT_LENGTH and len(value) != EXACT_LENGTH[vr]:
        problems.append(f"Length invalid for this VR = {len(value)}, expected == {EXACT_LENGTH[vr]}")
    elif limit is not None and vr != "PN" and len(value) > limit:
        problems.append(f"Length invalid for this VR = {len(value)}, expected <= {limit}")
    if vr in _CHARS_OF:
        text = value.strip(" ") if vr in ("DS", "IS") else value.rstrip(" ")
        ch = _bad_char(text, _CHARS_OF[vr])
        if ch is not None:
            return [*problems, _char_problem(ch)]
        if vr == "DA" and text and not (len(text) == 8 and _date_ok(int(text[:4]), int(text[4:6]), int(text[6:]))):
            problems.append("Not a valid date (YYYYMMDD, PS3.5 6.2)")
        elif vr == "TM" and text and not _time_ok(text):
            problems.append("Not a valid time (HH[MM[SS[.FFFFFF]]], PS3.5 6.2)")
        elif vr == "DT" and text:
            m = _DT.fullmatch(text)
            if not m or (m.group(3) and not _date_ok(int(m.group(1)), int(m.group(3)),
                                                      int(m.group(5) or 1))):
                problems.append("Not a valid date-time (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX], PS3.5 6.2)")
        elif vr == "DS" and text and not _DS.fullmatch(text):
            problems.append("Not a decimal string (PS3.5 6.2)")
        elif vr == "IS" and text:
            if not _IS.fullmatch(text):
                problems.append("Not an integer string (PS3.5 6.2)")
            elif not -(2**31) <= int(text) < 2**31:
                problems.append("Integer string out of range -2^31 .. 2^31-1")
        elif vr == "AS" and text and not _AS.fullmatch(text):
            problems.append("Not an age string (nnnD, nnnW, nnnM or nnnY)")
        elif vr == "UI" and text:
            problems += [p for p in _uid_problems(text) if not p.startswith("Illegal root")]
    elif vr == "CS":
        ch = _bad_char(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _")
        if ch is not None:
            problems.append(_char_problem(ch))
    elif vr == "AE":
        if "\\" in value or any(ord(c) < 0x20 for c in value):
            problems.append("Character invalid for this VR (backslash or control character)")
        elif value.strip(" ") == "":
            problems.append("Value of only spaces is not allowed for AE (PS3.5 6.2)")
    elif vr in ("LO", "SH", "PN", "UC"):
        bad = next((c for c in value if ord(c) < 0x20 and c != "\x1b"), None)
        if bad is not None:
            problems.append(_char_problem(bad))
        if vr == "PN":
            for group in value.split("="):
                if len(group) > 64:
                    problems.append(f"Length invalid for this VR = {len(group)} in a component group, expected <= 64")
            if value.count("=") > 2 or any(g.count("^") > 4 for g in value.split("=")):
                problems.append("Too many components or component groups (PS3.5 6.2.1)")
    return problems


def _uid_problems(text: str) -> list[str]:
    # PS3.5 9.1: numeric components separated by '.', no leading zeros; an ISO 8824 object identifier,
    # whose first arc is 0, 1 or 2
    out: list[str] = []
    parts = text.split(".")
    if any(p == "" for p in parts):
        out.append("Empty component")
    elif any(len(p) > 1 and p[0] == "0" for p in parts):
        out.append("Leading zeroes in embedded numeric component(s)")
    elif parts[0] not in ("0", "1", "2"):
        out.append(f"Illegal root for UID - \"{text}\"")
    return out


def uid_root_problem(text: str) -> str | None:
    """The root of a UID that is not an ISO 8824 object identifier (first arc 0, 1 or 2), as dciodvfy checks."""
    first = text.split(".")[0]
    if first and first.isdigit() and first not in ("0", "1", "2"):
        return f"Illegal root for UID - \"{text}\""
    if first and not first.isdigit():
        return f"Illegal root for UID - \"{text}\""
    return None


def vm_allows(vm: str, count: int) -> bool:
    """Whether ``count`` values satisfy the dictionary's VM ("1", "2", "1-n", "2-2n", "3-3n", "1-3", ...)."""
    for alternative in vm.split(" or "):
        m = re.fullmatch(r"(\d+)(?:-(\d*)(n)?)?", alternative.strip())
        if not m:
            return True
        low = int(m.group(1))
        if m.group(2) is None and m.group(3) is None:
            if count == low:
                return True
            continue
        if m.group(3):  # "1-n" or "2-2n": multiples of the step from low
            step = int(m.group(2)) if m.group(2) else 1
            if count >= low and count % step == 0 if step > 1 else count >= low:
                return True
            continue
        if low <= count <= int(m.group(2)):
            return True
    return False


__all__ = ["EXACT_LENGTH", "MAX_LENGTH", "check_value", "uid_root_problem", "vm_allows"]
