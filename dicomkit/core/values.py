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
    TEXT_VRS,
    WORD_SIZES,
)

# Leading spaces are insignificant for these (PS3.5 Table 6.2-1); trailing spaces for all.
_STRIP_BOTH = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "LO", "SH"})

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


def _convert_string(vr: str, text: str) -> Any:
    if vr == "PN":
        return PersonName(text)
    if vr == "UI":
        return UID(text)
    if vr == "DS":
        if not text:
            return None
        try:
            return DS(text)
        except InvalidValueError:
            return text  # keep what the file holds; validation reports it
    if vr == "IS":
        if not text:
            return None
        try:
            return IS(text)
        except InvalidValueError:
            return text
    if vr == "DA":
        return DA(text)
    if vr == "TM":
        return TM(text)
    if vr == "DT":
        return DT(text)
    return text


def _strip(vr: str, text: str) -> str:
    if vr == "UI":
        return text.rstrip("\x00 ").lstrip(" ")
    if vr in _STRIP_BOTH:
        return text.strip(" \x00")
    return text.rstrip(" \x00")


def decode_text(vr: str, raw: bytes, charset: CharacterSet) -> str:
    if vr in CHARSET_VRS:
        return charset.decode(raw, vr)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("latin_1")


def decode_value(vr: str, raw: bytes | memoryview, little: bool, charset: CharacterSet) -> Any:
    """The Python value of encoded value bytes (the VR must not be SQ)."""
    if vr in STRING_VRS:
        text = decode_text(vr, bytes(raw), charset)
        if vr in TEXT_VRS:
            return text.rstrip(" \x00") if vr != "UR" else text.strip(" ")
        if vr in MULTI_STRING_VRS and "\\" in text:
            return tuple(_convert_string(vr, _strip(vr, part)) for part in text.split("\\"))
        return _convert_string(vr, _strip(vr, text))
    fmt = NUMBER_FORMATS.get(vr)
    if fmt is not None:
        size = NUMBER_SIZES[vr]
        count, extra = divmod(len(raw), size)
        if extra:
            raise InvalidValueError(f"{vr} value of {len(raw)} bytes is not a multiple of {size}")
        if count == 0:
            return None
        values = struct.unpack(("<" if little else ">") + str(count) + fmt, raw)
        return values[0] if count == 1 else values
    if vr == "AT":
        count, extra = divmod(len(raw), 4)
        if extra:
            raise InvalidValueError(f"AT value of {len(raw)} bytes is not a multiple of 4")
        if count == 0:
            return None
        words = struct.unpack(("<" if little else ">") + str(2 * count) + "H", raw)
        tags = tuple(Tag((words[2 * i] << 16) | words[2 * i + 1]) for i in range(count))
        return tags[0] if count == 1 else tags
    if vr in BYTES_VRS:
        if not little and WORD_SIZES.get(vr, 1) > 1:
            return swap_words(raw, WORD_SIZES[vr])
        return bytes(raw)
    raise InvalidValueError(f"no decoder for VR {vr!r}")


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
    if vr == "DS":
        if item is None or item == "":
            return None
        return DS(item)
    if vr == "IS":
        if item is None or item == "":
            return None
        return IS(item)
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
