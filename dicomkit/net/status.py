"""DIMSE status codes (PS3.7 Annex C) with their category and meaning.

The meanings here are the general ones of PS3.7 C.1-C.5. Each service class of PS3.4 names its own codes
in a :class:`StatusTable` kept in its module in ``dicomkit.services`` (``status.meaning(STORAGE)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# PS3.7 C.1-C.5: the general statuses.
GENERAL_MEANINGS: dict[int, str] = {
    0x0000: "Success",
    0x0001: "Warning: requested optional attributes are not supported",
    0x0105: "Failure: no such attribute",
    0x0106: "Failure: invalid attribute value",
    0x0107: "Warning: attribute list error",
    0x0110: "Failure: processing failure",
    0x0111: "Failure: duplicate SOP Instance",
    0x0112: "Failure: no such SOP Instance",
    0x0113: "Failure: no such event type",
    0x0114: "Failure: no such argument",
    0x0115: "Failure: invalid argument value",
    0x0116: "Warning: attribute value out of range",
    0x0117: "Failure: invalid SOP Instance",
    0x0118: "Failure: no such SOP Class",
    0x0119: "Failure: class-instance conflict",
    0x0120: "Failure: missing attribute",
    0x0121: "Failure: missing attribute value",
    0x0122: "Failure: refused: SOP Class not supported",
    0x0123: "Failure: no such action",
    0x0124: "Failure: refused: not authorized",
    0x0210: "Failure: duplicate invocation",
    0x0211: "Failure: unrecognized operation",
    0x0212: "Failure: mistyped argument",
    0x0213: "Failure: resource limitation",
    0xFE00: "Cancel",
    0xFF00: "Pending",
    0xFF01: "Pending: optional keys not supported",
}

SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = 0xFF00
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
UNRECOGNIZED_OPERATION = 0x0211


@dataclass(frozen=True)
class StatusTable:
    """The status codes of one service class (PS3.4): exact codes, then ranges, then the general meanings."""

    service: str
    codes: dict[int, str] = field(default_factory=dict)
    ranges: tuple[tuple[int, int, str], ...] = ()

    def meaning(self, code: int) -> str | None:
        if code in self.codes:
            return self.codes[code]
        for low, high, text in self.ranges:
            if low <= code <= high:
                return text
        return None


def category(code: int) -> str:
    """Success, Warning, Failure, Cancel or Pending (PS3.7 C.1-C.5)."""
    if code == 0x0000:
        return "Success"
    if code in (0xFF00, 0xFF01):
        return "Pending"
    if code == 0xFE00:
        return "Cancel"
    if code in (0x0001, 0x0107, 0x0116) or 0xB000 <= code <= 0xBFFF:
        return "Warning"
    if 0xA000 <= code <= 0xAFFF or 0xC000 <= code <= 0xCFFF or 0x0100 <= code <= 0x02FF:
        return "Failure"
    return "Unknown"


class Status(int):
    """A DIMSE status: an int with its category and meaning."""

    __slots__ = ()

    @property
    def category(self) -> str:
        return category(self)

    @property
    def is_success(self) -> bool:
        return self == 0

    @property
    def is_warning(self) -> bool:
        return self.category == "Warning"

    @property
    def is_failure(self) -> bool:
        return self.category in ("Failure", "Unknown")

    @property
    def is_pending(self) -> bool:
        return self.category == "Pending"

    def meaning(self, table: StatusTable | None = None) -> str:
        """What the code means: in ``table`` (a service's codes) if given and listed there, else in general."""
        code = int(self)
        specific = table.meaning(code) if table is not None else None
        if specific is not None:
            return specific
        if code in GENERAL_MEANINGS:
            return GENERAL_MEANINGS[code]
        return f"{self.category}: {'unknown status' if table is None else f'not a {table.service} status'}"

    def __str__(self) -> str:
        return f"0x{int(self):04X}"

    def __repr__(self) -> str:
        return f"Status(0x{int(self):04X}: {self.meaning()})"
