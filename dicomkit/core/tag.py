"""Data Element Tags (PS3.5 7.1): an ordered pair of 16-bit group and element numbers."""

from __future__ import annotations

from typing import Any, SupportsIndex

from .errors import InvalidTagError

# PS3.5 7.5: the three tags that structure sequences; they carry no VR.
ITEM = 0xFFFEE000
ITEM_DELIMITATION = 0xFFFEE00D
SEQUENCE_DELIMITATION = 0xFFFEE0DD

# File Meta Information (PS3.10 7.1)
MEDIA_STORAGE_SOP_CLASS_UID = 0x00020002
MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003
TRANSFER_SYNTAX_UID = 0x00020010

SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
PIXEL_DATA = 0x7FE00010
FLOAT_PIXEL_DATA = 0x7FE00008
DOUBLE_FLOAT_PIXEL_DATA = 0x7FE00009
SPECIFIC_CHARACTER_SET = 0x00080005
PIXEL_REPRESENTATION = 0x00280103


class Tag(int):
    """A DICOM tag, usable anywhere an ``int`` is (it is one).

    >>> Tag(0x0010, 0x0010), Tag("PatientName"), Tag(0x00100010), Tag("(0010,0010)")
    """

    __slots__ = ()

    def __new__(cls, arg: Any, element: SupportsIndex | None = None) -> Tag:
        if element is not None:
            group = _as_int(arg)
            elem = _as_int(element)
            if not (0 <= group <= 0xFFFF and 0 <= elem <= 0xFFFF):
                raise InvalidTagError(f"tag group and element must be 0..0xFFFF, got ({group:#x}, {elem:#x})")
            return int.__new__(cls, (group << 16) | elem)
        if isinstance(arg, Tag):
            return arg
        if isinstance(arg, int):
            if not 0 <= arg <= 0xFFFFFFFF:
                raise InvalidTagError(f"tag must be in 0..0xFFFFFFFF, got {arg:#x}")
            return int.__new__(cls, arg)
        if isinstance(arg, str):
            return int.__new__(cls, parse_tag_string(arg))
        if isinstance(arg, tuple | list) and len(arg) == 2:
            return cls(arg[0], arg[1])
        raise InvalidTagError(f"cannot make a tag from {arg!r}")

    @property
    def group(self) -> int:
        return self >> 16

    @property
    def element(self) -> int:
        return self & 0xFFFF

    @property
    def is_private(self) -> bool:
        """True for tags in odd groups (PS3.5 7.8.1), excluding groups 0001, 0003, 0005, 0007 and FFFF."""
        return is_private_group(self >> 16)

    @property
    def is_private_creator(self) -> bool:
        """True for (gggg,0010)-(gggg,00FF) in a private group: they reserve a block (PS3.5 7.8.1)."""
        return self.is_private and 0x0010 <= (self & 0xFFFF) <= 0x00FF

    @property
    def private_creator_tag(self) -> Tag | None:
        """For a private data element (gggg,xxyy) the creator tag (gggg,00xx) that reserved its block."""
        elem = self & 0xFFFF
        if not self.is_private or elem < 0x1000:
            return None
        return Tag((self & 0xFFFF0000) | (elem >> 8))

    @property
    def keyword(self) -> str:
        from .dictionary import keyword_for_tag

        return keyword_for_tag(self)

    @property
    def name(self) -> str:
        from .dictionary import name_for_tag

        return name_for_tag(self)

    def __str__(self) -> str:
        return f"({self >> 16:04X},{self & 0xFFFF:04X})"

    def __repr__(self) -> str:
        return f"Tag(0x{self >> 16:04X}, 0x{self & 0xFFFF:04X})"

    def json_key(self) -> str:
        """The 8 upper-case hex digits used as attribute key in the DICOM JSON model (PS3.18 F.2.1)."""
        return f"{self:08X}"


def is_private_group(group: int) -> bool:
    return bool(group & 1) and group not in (0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF)


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            raise InvalidTagError(f"not a hexadecimal number: {value!r}") from None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidTagError(f"not a tag component: {value!r}") from None


def parse_tag_string(text: str) -> int:
    """Parse a keyword, ``"(0010,0010)"``, ``"0010,0010"``, ``"00100010"`` or ``"0x00100010"``."""
    s = text.strip()
    if s and s[0].isalpha() and not _looks_hex(s):
        from .dictionary import tag_for_keyword

        tag = tag_for_keyword(s)
        if tag is None:
            raise InvalidTagError(f"unknown DICOM keyword {text!r}")
        return tag
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    if "," in s:
        group_text, _, elem_text = s.partition(",")
        group, elem = _as_int(group_text.strip()), _as_int(elem_text.strip())
        if not (0 <= group <= 0xFFFF and 0 <= elem <= 0xFFFF):
            raise InvalidTagError(f"tag out of range: {text!r}")
        return (group << 16) | elem
    if s.lower().startswith("0x"):
        s = s[2:]
    if len(s) == 8:
        return _as_int(s)
    raise InvalidTagError(f"cannot parse tag {text!r}")


def _looks_hex(s: str) -> bool:
    return len(s) == 8 and all(c in "0123456789abcdefABCDEF" for c in s)


def tag_str(tag: int) -> str:
    """``(gggg,eeee)`` for a plain int tag (used in messages and dumps)."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
