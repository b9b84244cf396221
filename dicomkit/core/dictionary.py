"""The PS3.6 data dictionary: tag -> (VR, VM, name, keyword, retired), incl. repeating groups; and the vendors'
private dictionary: (private creator, group, element) -> (VR, VM, name), loaded on first use."""

from __future__ import annotations

from typing import Any, NamedTuple

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
    """The dictionary VR (possibly ambiguous like ``"US or SS"``), or None for unknown tags; LO for the
    Private Creator elements (gggg,0010-00FF) of private groups (PS3.5 7.8.1)."""
    vr = VR_OF.get(tag)
    if vr is not None:
        return vr
    entry = lookup(tag)
    if entry is not None:
        return entry.vr
    return "LO" if is_private_group(tag >> 16) and 0x10 <= tag & 0xFFFF <= 0xFF else None


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


# -- private data elements (PS3.5 7.8) ------------------------------------------------------------------


class PrivateEntry(NamedTuple):
    vr: str  # as for DictionaryEntry; "OB or OW" where the vendor's table leaves it open
    vm: str
    name: str  # the vendor table's name, e.g. "PMTFInformation1" (what dcmdump shows); often "Unknown"


_private_tables: tuple[dict[str, dict[int, tuple[str, str, str]]], dict[str, Any]] | None = None


def _private_data() -> tuple[dict[str, dict[int, tuple[str, str, str]]], dict[str, Any]]:
    # Imported on first use only: a data set without private elements of known creators never pays for it.
    global _private_tables
    if _private_tables is None:
        from ._private_dictionary_data import PRIVATE, PRIVATE_RANGES

        _private_tables = (PRIVATE, PRIVATE_RANGES)
    return _private_tables


def private_lookup(creator: str, group: int, element: int) -> PrivateEntry | None:
    """The vendor dictionary entry of private element (``group``, ``element``) in a block reserved by
    ``creator`` (the value of (gggg,00xx) for element xxEE), or None when the creator or element is unknown.

    ``element`` is the element number as in the tag (e.g. 0x1031 for (0029,1031)): entries are found by
    their offset EE within the block whatever block xx the creator holds (PS3.5 7.8.1), and entries fixed
    to one element number by the vendor's table match only that one.

    >>> private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x1031)
    PrivateEntry(vr='LO', vm='1', name='PMTFInformation1')
    """
    if not is_private_group(group) or not 0x1000 <= element <= 0xFFFF:
        return None
    exact, ranges = _private_data()
    creator = creator.strip(" \x00")
    table = exact.get(creator)
    if table is not None:
        entry = table.get((group << 16) | element) or table.get((group << 16) | (element & 0xFF))
        if entry is not None:
            return PrivateEntry(*entry)
    for first, last, offsets in ranges.get(creator, ()):
        if first <= group <= last:
            entry = offsets.get(element & 0xFF)
            if entry is not None:
                return PrivateEntry(*entry)
    return None


def private_creators() -> list[str]:
    """Every private creator the private dictionary knows."""
    exact, ranges = _private_data()
    return sorted({*exact, *ranges})


# Tags of repeating groups whose keywords refer to the first group (e.g. OverlayData -> (6000,3000)).
REPEATING_KEYWORDS = frozenset(e[3] for _, _, e in REPEATING)
