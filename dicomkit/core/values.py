"""Conversion between encoded value bytes and Python values, per Value Representation (PS3.5 6.2).

Conventions (documented for users in docs/core.md):
- string VRs: ``str`` (or ``PersonName``, ``UID``, ``DS``, ``IS``, ``DA``, ``TM``, ``DT``); several values
  separated by backslash become a ``tuple``; an empty value is ``""``.
- binary numbers (US, SS, UL, SL, FL, FD, SV, UV) and AT: a number (or ``Tag``), a ``tuple`` when VM > 1,
  ``None`` when empty.
- OB, OW, OF, OD, OL, OV, UN: ``bytes``; words are always little endian in memory, whatever the transfer
  syntax, so a value can be written to any transfer syntax.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .charset import CharacterSet
from .errors import InvalidValueError
from .personname import PersonName
from .tag import Tag
from .uid import UID
from .valuetypes import DA, DS, DT, IS, TM
from .vr import (
    BYTES_VRS,
    CHARSET_VRS,
    MULTI_STRING_VRS,
    NUMBER_FORMATS,
    NUMBER_SIZES,
    STRING_VRS,
    WORD_SIZES,
)

_RANGES = {"US": (0, 0xFFFF), "SS": (-0x8000, 0x7FFF), "UL": (0, 0xFFFFFFFF),
           "SL": (-0x80000000, 0x7FFFFFFF), "SV": (-(2**63), 2**63 - 1), "UV": (0, 2**64 - 1)}

_ARRAY_CODES = {2: "H", 4: "I", 8: "Q"}
_NATIVE_LITTLE = sys.byteorder == "little"


def swap_words(data: bytes | memoryview, size: int) -> bytes:
    """Reverse the byte order of each ``size``-byte word (between little and big endian)."""
    if size <= 1:
        return bytes(data)
    usable = len(data) - len(data) % size
    arr = array(_ARRAY_CODES[size])
    arr.frombytes(data[:usable])
    arr.byteswap()
    return arr.tobytes() + bytes(data[usable:])


def _ascii(raw: bytes | memoryview) -> str:
    try:
        return str(raw, "ascii")
    except UnicodeDecodeError:
        return str(raw, "latin_1")


def _split_stripped(text: str, both: bool) -> list[str]:
    if both:
        return [part.strip(" \x00") for part in text.split("\\")]
    return [part.rstrip(" \x00") for part in text.split("\\")]


def _string_decoder(vr: str, convert: Any, uses_charset: bool, both: bool) -> Any:
    """A decoder for a multi-valued string VR: text -> stripped value(s), converted per VR."""

    def decode(raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
        text = charset.decode(bytes(raw), vr) if uses_charset else _ascii(raw)
        if "\\" in text:
            return tuple(convert(part) for part in _split_stripped(text, both))
        return convert(text.strip(" \x00") if both else text.rstrip(" \x00"))

    return decode


def _text_decoder(vr: str) -> Any:
    def decode(raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
        if vr == "UR":
            return _ascii(raw).strip(" ")
        return charset.decode(bytes(raw), vr).rstrip(" \x00")

    return decode


def _optional(cls: Any) -> Any:
    def convert(text: str) -> Any:
        if not text:
            return None
        try:
            return cls(text)
        except InvalidValueError:
            return text  # keep what the file holds; validation reports it

    return convert


def _identity(text: str) -> str:
    return text


def _number_decoder(vr: str) -> Any:
    fmt = NUMBER_FORMATS[vr]
    size = NUMBER_SIZES[vr]
    one_le, one_be = struct.Struct("<" + fmt), struct.Struct(">" + fmt)

    def decode(raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
        n = len(raw)
        if n == size:
            return (one_le if little else one_be).unpack(raw)[0]
        count, extra = divmod(n, size)
        if extra:
            raise InvalidValueError(f"{vr} value of {n} bytes is not a multiple of {size}")
        if count == 0:
            return None
        return struct.unpack(("<" if little else ">") + str(count) + fmt, raw)

    return decode


def _decode_at(raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
    count, extra = divmod(len(raw), 4)
    if extra:
        raise InvalidValueError(f"AT value of {len(raw)} bytes is not a multiple of 4")
    if count == 0:
        return None
    words = struct.unpack(("<" if little else ">") + str(2 * count) + "H", raw)
    tags = tuple(Tag((words[2 * i] << 16) | words[2 * i + 1]) for i in range(count))
    return tags[0] if count == 1 else tags


def _bytes_decoder(vr: str) -> Any:
    word = WORD_SIZES.get(vr, 1)

    def decode(raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
        if not little and word > 1:
            return swap_words(raw, word)
        return bytes(raw)

    return decode


_DECODERS: dict[str, Any] = {
    "AE": _string_decoder("AE", _identity, False, True),
    "AS": _string_decoder("AS", _identity, False, True),
    "CS": _string_decoder("CS", _identity, False, True),
    "DA": _string_decoder("DA", DA, False, True),
    "DS": _string_decoder("DS", _optional(DS), False, True),
    "DT": _string_decoder("DT", DT, False, True),
    "IS": _string_decoder("IS", _optional(IS), False, True),
    "TM": _string_decoder("TM", TM, False, True),
    "UI": _string_decoder("UI", UID, False, True),
    "LO": _string_decoder("LO", _identity, True, True),
    "SH": _string_decoder("SH", _identity, True, True),
    "UC": _string_decoder("UC", _identity, True, False),
    "PN": _string_decoder("PN", PersonName, True, False),
    "LT": _text_decoder("LT"),
    "ST": _text_decoder("ST"),
    "UT": _text_decoder("UT"),
    "UR": _text_decoder("UR"),
    "AT": _decode_at,
    **{vr: _number_decoder(vr) for vr in NUMBER_FORMATS},
    **{vr: _bytes_decoder(vr) for vr in BYTES_VRS},
}


def decode_value(vr: str, raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
    """The Python value of encoded value bytes (the VR must not be SQ)."""
    decoder = _DECODERS.get(vr)
    if decoder is None:
        raise InvalidValueError(f"no decoder for VR {vr!r}")
    return decoder(raw, little, charset)


# ---------------------------------------------------------------------------------------------------
# Normalising values assigned by users


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, str | bytes | bytearray | memoryview):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def _normalize_string_item(vr: str, item: Any) -> Any:
    if vr == "PN":
        return PersonName(item)
    if vr in ("DS", "IS"):
        if item is None or item == "":
            return None
        try:
            return DS(item) if vr == "DS" else IS(item)
        except InvalidValueError:
            if not isinstance(item, str):
                raise  # a number that cannot be written as one
            return item.strip(" \x00")  # text kept as given, as when read; the VR check reports it
    if vr == "DA":
        return DA(item)
    if vr == "TM":
        return TM(item)
    if vr == "DT":
        return DT(item)
    if vr == "UI":
        if not isinstance(item, str):
            raise InvalidValueError(f"a UI value must be a string, got {item!r}")
        return UID(item.strip(" \x00"))
    if not isinstance(item, str):
        if isinstance(item, int | float | Decimal) and not isinstance(item, bool):
            return str(item)
        raise InvalidValueError(f"a {vr} value must be a string, got {type(item).__name__}")
    return item


def normalize_value(vr: str, value: Any) -> Any:
    """Convert a value assigned by a user to the representation dicomkit keeps for ``vr``."""
    if value is None:
        return "" if vr in STRING_VRS and vr not in ("DS", "IS") else (b"" if vr in BYTES_VRS else None)
    if vr in STRING_VRS:
        if isinstance(value, str) and vr in MULTI_STRING_VRS and "\\" in value:
            value = value.split("\\")
        if isinstance(value, str) or not isinstance(value, Iterable):
            return _normalize_string_item(vr, value)
        items = [_normalize_string_item(vr, v) for v in value]
        if vr not in MULTI_STRING_VRS and len(items) > 1:
            raise InvalidValueError(f"VR {vr} holds a single value, got {len(items)}")
        if not items:
            return ""
        return items[0] if len(items) == 1 else tuple(items)
    if vr in NUMBER_FORMATS:
        if hasattr(value, "tolist") and not isinstance(value, bytes | bytearray):
            value = value.tolist()
        items = _as_sequence(value)
        out: list[int | float] = []
        for item in items:
            if vr in ("FL", "FD"):
                if isinstance(item, str | bytes) or not isinstance(item, int | float | Decimal):
                    raise InvalidValueError(f"a {vr} value must be a number, got {item!r}")
                out.append(float(item))
            else:
                if isinstance(item, bool) or not isinstance(item, int):
                    if isinstance(item, float) and item.is_integer():
                        item = int(item)
                    else:
                        raise InvalidValueError(f"a {vr} value must be an integer, got {item!r}")
                low, high = _RANGES[vr]
                if not low <= item <= high:
                    raise InvalidValueError(f"{item} is out of range for {vr} ({low}..{high})")
                out.append(int(item))
        if not out:
            return None
        return out[0] if len(out) == 1 else tuple(out)
    if vr == "AT":
        if isinstance(value, int | str) or (
            # (group, element) as two plain numbers; two Tags (or numbers past 16 bits) are two values
            isinstance(value, tuple) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, Tag) and 0 <= v <= 0xFFFF for v in value)
        ):
            return Tag(value)
        tags = [Tag(v) for v in value]
        if not tags:
            return None
        return tags[0] if len(tags) == 1 else tuple(tags)
    if vr in BYTES_VRS:
        if isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        if hasattr(value, "tobytes"):
            return value.tobytes()
        raise InvalidValueError(f"a {vr} value must be bytes, got {type(value).__name__}")
    raise InvalidValueError(f"no conversion for VR {vr!r}")


# ---------------------------------------------------------------------------------------------------
# Encoding


def _string_item_text(vr: str, item: Any) -> str:
    if item is None:
        return ""
    if vr == "DS" and isinstance(item, float | int | Decimal) and not isinstance(item, DS):
        return DS(item).original_string
    if vr == "IS" and isinstance(item, int) and not isinstance(item, IS):
        return str(item)
    return str(item)


def encode_value(vr: str, value: Any, little: bool, charset: CharacterSet) -> bytes:
    """Encoded bytes of a (normalised) value, padded to an even length (PS3.5 7.1.1)."""
    if vr in STRING_VRS:
        if isinstance(value, tuple | list):
            text = "\\".join(_string_item_text(vr, v) for v in value)
        else:
            text = _string_item_text(vr, value)
        if vr in CHARSET_VRS:
            data = charset.encode(text, vr)
        else:
            try:
                data = text.encode("ascii")
            except UnicodeEncodeError:
                raise InvalidValueError(f"{vr} values are limited to ASCII, got {text!r}") from None
        if len(data) & 1:
            data += b"\x00" if vr == "UI" else b" "
        return data
    fmt = NUMBER_FORMATS.get(vr)
    if fmt is not None:
        if value is None:
            return b""
        items = value if isinstance(value, tuple | list) else (value,)
        try:
            return struct.pack(("<" if little else ">") + str(len(items)) + fmt, *items)
        except struct.error as exc:
            raise InvalidValueError(f"cannot encode {value!r} as {vr}: {exc}") from None
    if vr == "AT":
        if value is None:
            return b""
        tags = value if isinstance(value, tuple | list) else (value,)
        words: list[int] = []
        for t in tags:
            words += (int(t) >> 16, int(t) & 0xFFFF)
        return struct.pack(("<" if little else ">") + str(len(words)) + "H", *words)
    if vr in BYTES_VRS:
        data = bytes(value) if value is not None else b""
        if not little and WORD_SIZES.get(vr, 1) > 1:
            data = swap_words(data, WORD_SIZES[vr])
        if len(data) & 1:
            data += b"\x00"
        return data
    raise InvalidValueError(f"no encoder for VR {vr!r}")


def value_multiplicity(value: Any) -> int:
    """The number of values in a decoded value (0 when empty)."""
    if value is None or value == "" or value == b"":
        return 0
    if isinstance(value, tuple | list):
        return len(value)
    return 1
