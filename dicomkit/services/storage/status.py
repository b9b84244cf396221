"""Storage Service Class statuses (PS3.4 B.2.3), and the ones dicomkit chose in the range left to
implementations."""

from __future__ import annotations

from ...net.status import StatusTable

OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources (A7xx)
DATA_SET_DOES_NOT_MATCH = 0xA900  # Error: Data Set does not match SOP Class (A9xx)
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot understand (Cxxx)
# dicomkit's own code in the Cxxx range (PS3.4 B.2.3 leaves it to implementations): the SOP Instance UID is
# already stored with a different data set, and the stored one is kept (the offered one is quarantined).
# 0x0111 is PS3.7's "Duplicate SOP Instance"; C111 echoes it in the range a Storage SCP may use.
DUPLICATE_DIFFERENT = 0xC111
# its Error Comment: LO, 64 characters at most (PS3.7 C.4, PS3.5 6.2); logs say it in full
DUPLICATE_COMMENT = "duplicate SOP Instance UID, different content; stored one kept"
COERCION_OF_DATA_ELEMENTS = 0xB000
ELEMENTS_DISCARDED = 0xB006
DATA_SET_DOES_NOT_MATCH_WARNING = 0xB007

STORAGE = StatusTable(
    "storage",
    codes={
        COERCION_OF_DATA_ELEMENTS: "Warning: coercion of data elements",
        ELEMENTS_DISCARDED: "Warning: elements discarded",
        DATA_SET_DOES_NOT_MATCH_WARNING: "Warning: data set does not match SOP Class",
        DUPLICATE_DIFFERENT: "Error: duplicate SOP Instance UID with different content",
    },
    ranges=(
        (0xA700, 0xA7FF, "Refused: out of resources"),
        (0xA900, 0xA9FF, "Error: data set does not match SOP Class"),
        (0xC000, 0xCFFF, "Error: cannot understand"),
    ),
)
