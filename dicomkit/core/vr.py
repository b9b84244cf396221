"""Value Representations (PS3.5 6.2, Table 6.2-1) and their encoding properties."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar


class _VRType(type):
    def __iter__(cls) -> Iterator[VR]:
        return iter(_ALL)

    def __len__(cls) -> int:
        return len(_ALL)


class VR(str, metaclass=_VRType):
    """One of the 34 Value Representations of PS3.5 Table 6.2-1.

    A VR is a ``str`` (``VR.PN == "PN"``), interned so that ``VR("PN") is VR.PN``; it hashes and compares
    at the speed of a plain string, which the reader's inner loop relies on.
    """

    __slots__ = ()

    AE: ClassVar[VR]
    AS: ClassVar[VR]
    AT: ClassVar[VR]
    CS: ClassVar[VR]
    DA: ClassVar[VR]
    DS: ClassVar[VR]
    DT: ClassVar[VR]
    FD: ClassVar[VR]
    FL: ClassVar[VR]
    IS: ClassVar[VR]
    LO: ClassVar[VR]
    LT: ClassVar[VR]
    OB: ClassVar[VR]
    OD: ClassVar[VR]
    OF: ClassVar[VR]
    OL: ClassVar[VR]
    OV: ClassVar[VR]
    OW: ClassVar[VR]
    PN: ClassVar[VR]
    SH: ClassVar[VR]
    SL: ClassVar[VR]
    SQ: ClassVar[VR]
    SS: ClassVar[VR]
    ST: ClassVar[VR]
    SV: ClassVar[VR]
    TM: ClassVar[VR]
    UC: ClassVar[VR]
    UI: ClassVar[VR]
    UL: ClassVar[VR]
    UN: ClassVar[VR]
    UR: ClassVar[VR]
    US: ClassVar[VR]
    UT: ClassVar[VR]
    UV: ClassVar[VR]

    def __new__(cls, value: str) -> VR:
        vr = _BY_NAME.get(str(value))
        if vr is None:
            from .errors import InvalidValueError

            raise InvalidValueError(f"unknown VR {value!r}")
        return vr

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"VR.{str.__str__(self)}"

    def __str__(self) -> str:
        return str.__str__(self)

    def __reduce__(self) -> tuple[object, ...]:
        return (VR, (str.__str__(self),))

    @property
    def long_header(self) -> bool:
        """Explicit VR encodings use 2 reserved bytes and a 32-bit length for these (PS3.5 7.1.2)."""
        return self in LONG_HEADER_VRS

    @property
    def is_string(self) -> bool:
        return self in STRING_VRS

    @property
    def is_binary(self) -> bool:
        return self in BYTES_VRS

    @property
    def uses_charset(self) -> bool:
        """Values are encoded with the Specific Character Set (PS3.5 6.1.2.3)."""
        return self in CHARSET_VRS

    @property
    def max_length(self) -> int | None:
        """Maximum value length in bytes (characters for text) per value, where the standard sets one."""
        return MAX_LENGTH.get(self)


_BY_NAME: dict[str, VR] = {}
_NAMES = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL",
          "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US",
          "UT", "UV")
for _name in _NAMES:
    _vr = str.__new__(VR, _name)
    _BY_NAME[_name] = _vr
    setattr(VR, _name, _vr)
_ALL: tuple[VR, ...] = tuple(_BY_NAME.values())


VRS: frozenset[str] = frozenset(_BY_NAME)

# PS3.5 7.1.2: VRs whose explicit-VR header has a 4-byte length field.
LONG_HEADER_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})

# Character string VRs.
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
                        "UI", "UR", "UT"})
# PS3.5 6.1.2.3: the VRs affected by Specific Character Set.
CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "PN", "UC", "UT"})
# String VRs whose value may hold several values separated by backslash (PS3.5 6.4); the others
# (LT, ST, UT, UR) are always single-valued and may contain a backslash.
MULTI_STRING_VRS = STRING_VRS - {"LT", "ST", "UT", "UR"}
# Text VRs where leading spaces are significant and only trailing ones are padding.
TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})

# Binary numbers: struct format character per value.
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
NUMBER_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "SV": 8, "UV": 8, "AT": 4}
# Values whose bytes are the same in either byte order (text, and byte streams).
ENDIAN_NEUTRAL_VRS = STRING_VRS | {"OB", "UN"}
# "Other" VRs kept as bytes; the word size tells how they are byte-swapped between endiannesses.
BYTES_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
WORD_SIZES = {"OB": 1, "UN": 1, "OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}

MAX_LENGTH = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240,
              "PN": 64, "SH": 16, "ST": 1024, "TM": 14, "UI": 64}

# PS3.5 6.2: padding byte to reach an even length.
def padding_byte(vr: str) -> bytes:
    if vr == "UI" or vr in BYTES_VRS:
        return b"\x00"
    return b" " if vr in STRING_VRS else b"\x00"


VR_FROM_BYTES: dict[bytes, VR] = {name.encode("ascii"): vr for name, vr in _BY_NAME.items()}
