"""The PS3.6 data dictionary: tag -> (VR, VM, name, keyword, retired), incl. repeating groups."""

from __future__ import annotations

from typing import NamedTuple

from ._dictionary_data import ELEMENTS, REPEATING
from .tag import is_private_group


class DictionaryEntry(NamedTuple):
    vr: str  # may be "US or SS", "OB or OW", "US or SS or OW", "US or OW", "NONE"
    vm: str
    name: str
    keyword: str
    retired: bool


_KEYWORDS: dict[str, int] = {}
for _tag, _entry in ELEMENTS.items():
    if _entry[3]:
        _KEYWORDS[_entry[3]] = _tag
for _mask, _value, _entry in REPEATING:
    if _entry[3] and _entry[3] not in _KEYWORDS:
        _KEYWORDS[_entry[3]] = _value

# For quick VR lookup by the implicit-VR reader.
VR_OF: dict[int, str] = {tag: entry[0] for tag, entry in ELEMENTS.items()}


def lookup(tag: int) -> DictionaryEntry | None:
    """The dictionary entry of a standard tag, resolving repeating groups such as (60xx,3000)."""
    entry = ELEMENTS.get(tag)
    if entry is not None:
        return DictionaryEntry(*entry)
    group = tag >> 16
    if is_private_group(group):
        return None
    if (tag & 0xFFFF) == 0 and group not in (0x0000, 0x0002):
        # PS3.5 7.2: every group may carry a (retired) Group Length element.
        return DictionaryEntry("UL", "1", "Group Length", "GroupLength", True)
    for mask, value, rentry in REPEATING:
        if tag & mask == value:
            return DictionaryEntry(*rentry)
    return None


def vr_for_tag(tag: int) -> str | None:
    """The dictionary VR (possibly ambiguous like ``"US or SS"``), or None for unknown tags."""
    vr = VR_OF.get(tag)
    if vr is not None:
        return vr
    entry = lookup(tag)
    return entry.vr if entry else None


def keyword_for_tag(tag: int) -> str:
    entry = lookup(tag)
    return entry.keyword if entry else ""


def name_for_tag(tag: int) -> str:
    entry = lookup(tag)
    if entry:
        return entry.name
    if is_private_group(tag >> 16):
        elem = tag & 0xFFFF
        if 0x10 <= elem <= 0xFF:
            return "Private Creator"
        if elem == 0:
            return "Private Group Length"
        return "Private tag data"
    return "Unknown Tag"


def tag_for_keyword(keyword: str) -> int | None:
    return _KEYWORDS.get(keyword)


def keywords() -> list[str]:
    return list(_KEYWORDS)


def is_known_keyword(name: str) -> bool:
    return name in _KEYWORDS


# Tags of repeating groups whose keywords refer to the first group (e.g. OverlayData -> (6000,3000)).
REPEATING_KEYWORDS = frozenset(e[3] for _, _, e in REPEATING)
