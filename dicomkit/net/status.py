"""DIMSE status codes (PS3.7 Annex C) with their category and meaning.

Service-specific meanings come from PS3.4: Storage (B.2.3) here; later services add theirs to
``SERVICE_MEANINGS`` under their own key.
"""

from __future__ import annotations

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

# PS3.4 B.2.3 (Storage): ranges by their high byte(s).
STORAGE_MEANINGS: dict[int, str] = {
    0xB000: "Warning: coercion of data elements",
    0xB006: "Warning: elements discarded",
    0xB007: "Warning: data set does not match SOP Class",
}
_STORAGE_RANGES = (
    (0xA700, 0xA7FF, "Refused: out of resources"),
    (0xA900, 0xA9FF, "Error: data set does not match SOP Class"),
    (0xC000, 0xCFFF, "Error: cannot understand"),
)

SERVICE_MEANINGS: dict[str, dict[int, str]] = {"storage": STORAGE_MEANINGS}

SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = 0xFF00
PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122
UNRECOGNIZED_OPERATION = 0x0211
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


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

    def meaning(self, service: str | None = None) -> str:
        code = int(self)
        if service is not None:
            specific = SERVICE_MEANINGS.get(service, {})
            if code in specific:
                return specific[code]
            if service == "storage":
                for low, high, text in _STORAGE_RANGES:
                    if low <= code <= high:
                        return text
        if code in GENERAL_MEANINGS:
            return GENERAL_MEANINGS[code]
        if service is None:
            for low, high, text in _STORAGE_RANGES:
                if low <= code <= high:
                    return text
        return f"{self.category}: unknown status"

    def __str__(self) -> str:
        return f"0x{int(self):04X}"

    def __repr__(self) -> str:
        return f"Status(0x{int(self):04X}: {self.meaning()})"
