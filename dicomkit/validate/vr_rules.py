"""Value formats per VR (PS3.5 6.2, Table 6.2-1) as the validator reports them, in dciodvfy's words.

The rules themselves — lengths, character repertoires, the forms of DA, TM, DT, AS, DS, IS and UI, what a date,
a time or a person name must mean — are :data:`dicomkit.core.vr_rules.RULES`, the table that also checks
values assigned through the API. Here they are applied to the values of a stored object (no query forms)
and each finding is worded as dciodvfy words it, one per value: a character problem first, then the length,
then the form.
"""

from __future__ import annotations

import re

from ..core.vr_rules import RULES, bad_character, matches_form

# what dciodvfy checks of each VR: the repertoire (the text VRs LT, ST, UT and UR are not checked), the length
# against PS3.5's maximum (not for PN, whose limit is per component group), exactly for AS
_REPERTOIRE = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "PN", "SH", "TM", "UC", "UI"})
_EXACT_LENGTH = frozenset({"AS"})
_FORMS = {"DA": "Not a valid date (YYYYMMDD, PS3.5 6.2)", "TM": "Not a valid time (HH[MM[SS[.FFFFFF]]], PS3.5 6.2)",
          "DT": "Not a valid date-time (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX], PS3.5 6.2)",
          "DS": "Not a decimal string (PS3.5 6.2)", "IS": "Not an integer string (PS3.5 6.2)",
          "AS": "Not an age string (nnnD, nnnW, nnnM or nnnY)"}
_MEANINGS = {"IS": "Integer string out of range -2^31 .. 2^31-1"}


def _char_problem(ch: str) -> str:
    return f"Character invalid for this VR = '{ch}' (0x{ord(ch):x})"


def check_value(vr: str, value: str) -> list[str]:
    """The first problem of one value (without its padding) of a string VR: its characters, then its length,
    then its form — as dciodvfy reports one problem per value."""
    found = _problems(vr, value)
    chars = [p for p in found if p.startswith("Character")]
    return chars[:1] or found[:1]


def _problems(vr: str, value: str) -> list[str]:
    rule = RULES.get(vr)
    if rule is None:
        return []
    problems: list[str] = []
    if vr in _EXACT_LENGTH and rule.max_length is not None and len(value) != rule.max_length:
        problems.append(f"Length invalid for this VR = {len(value)}, expected == {rule.max_length}")
    elif rule.max_length is not None and len(value) > rule.max_length:
        problems.append(f"Length invalid for this VR = {len(value)}, expected <= {rule.max_length}")
    text = value.rstrip(" ")
    if rule.strip_leading:
        text = text.lstrip(" ")
    if vr == "AE" and value and not text:
        return [*problems, "Value of only spaces is not allowed for AE (PS3.5 6.2)"]
    if vr in _REPERTOIRE:
        ch = bad_character(vr, text)
        if ch is not None:
            if vr == "AE":
                return [*problems, "Character invalid for this VR (backslash or control character)"]
            return [*problems, _char_problem(ch)]
    if not text:
        return problems
    if vr == "UI":
        return problems + [p for p in _uid_problems(text) if not p.startswith("Illegal root")]
    if vr in _FORMS:
        if not matches_form(vr, text):
            return [*problems, _FORMS[vr]]
        if rule.meaning is not None and rule.meaning(text) is not None:
            return [*problems, _MEANINGS.get(vr, _FORMS[vr])]
    elif vr == "PN" and rule.meaning is not None:
        wrong = rule.meaning(text)
        if wrong is not None and "component group of" in wrong:
            longest = max(len(g) for g in text.split("="))
            problems.append(f"Length invalid for this VR = {longest} in a component group, expected <= 64")
        elif wrong is not None:
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


__all__ = ["check_value", "uid_root_problem", "vm_allows"]
