"""Value Representations (PS3.5 6.2, Table 6.2-1) and their encoding properties."""

from __future__ import annotations

from enum import Enum


class VR(str, Enum):
    """The 34 Value Representations of PS3.5 Table 6.2-1 (plus the item pseudo-VR used internally)."""

    AE = "AE"
    AS = "AS"
    AT = "AT"
    CS = "CS"
    DA = "DA"
    DS = "DS"
    DT = "DT"
    FD = "FD"
    FL = "FL"
    IS = "IS"
    LO = "LO"
    LT = "LT"
    OB = "OB"
    OD = "OD"
    OF = "OF"
    OL = "OL"
    OV = "OV"
    OW = "OW"
    PN = "PN"
    SH = "SH"
    SL = "SL"
    SQ = "SQ"
    SS = "SS"
    ST = "ST"
    SV = "SV"
    TM = "TM"
    UC = "UC"
    UI = "UI"
    UL = "UL"
    UN = "UN"
    UR = "UR"
    US = "US"
    UT = "UT"
    UV = "UV"

    def __str__(self) -> str:
        return self.value

    @property
    def long_header(self) -> bool:
        """Explicit VR encodings use 2 reserved bytes and a 32-bit length for these (PS3.5 7.1.2)."""
        return self.value in LONG_HEADER_VRS

    @property
    def is_string(self) -> bool:
        return self.value in STRING_VRS

    @property
    def is_binary(self) -> bool:
        return self.value in BYTES_VRS

    @property
    def uses_charset(self) -> bool:
        """Values are encoded with the Specific Character Set (PS3.5 6.1.2.3)."""
        return self.value in CHARSET_VRS

    @property
    def max_length(self) -> int | None:
        """Maximum value length in bytes (characters for text) per value, where the standard sets one."""
        return MAX_LENGTH.get(self.value)


VRS: frozenset[str] = frozenset(v.value for v in VR)

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


VR_FROM_BYTES: dict[bytes, VR] = {v.value.encode("ascii"): v for v in VR}
