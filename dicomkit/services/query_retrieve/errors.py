"""The one error of query planning: a bad Identifier (or QIDO-RS query) with its DIMSE status.

PS3.4 gives two failure statuses for a request the SCP cannot take, alike for C-FIND (C.4.1.1.4,
Table C.4-1), C-MOVE (C.4.2.1.5, Table C.4-2), C-GET (C.4.3.1.4, Table C.4-3) and Modality Worklist FIND
(K.4.1.1.4, Table K.4-1), each with Offending Element (0000,0901) and Error Comment (0000,0902):

- A900 "Identifier does not match SOP Class": the Identifier breaks the information model (no or an
  unknown Query/Retrieve Level, a key at a level where it is not allowed, a missing unique key, a
  sequence key with several items). DCMTK's dcmqrscp and dcm4che answer these cases with A900 too.
- C000-CFFF "Unable to process", values assigned by the implementation: a key value that cannot be read
  (a malformed date/time or range, an invalid UID, a value its VR cannot hold). dicomkit uses C001-C003
  (:data:`REASONS`) so that a log line tells them apart; an SCU need only know the range.

The same error reaches DICOMweb (PS3.18 8.3.4): :attr:`QueryError.http_status` is 400 and
:attr:`QueryError.parameter` names the offending query parameter.
"""

from __future__ import annotations

from enum import Enum

from ...core.errors import DicomError

IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000


class Reason(str, Enum):
    """Why an Identifier was refused."""

    LEVEL_MISSING = "level-missing"
    LEVEL_UNKNOWN = "level-unknown"
    KEY_AT_WRONG_LEVEL = "key-at-wrong-level"
    UNIQUE_KEY_MISSING = "unique-key-missing"
    UNIQUE_KEY_NOT_SINGLE = "unique-key-not-single"
    SEQUENCE_ITEMS = "sequence-items"
    INVALID_DATE_TIME = "invalid-date-time"
    INVALID_UID = "invalid-uid"
    INVALID_VALUE = "invalid-value"
    INVALID_PARAMETER = "invalid-parameter"  # QIDO-RS only: not an attribute, bad limit/offset/flag


# Reason -> DIMSE status (see the module docstring for the tables they come from).
REASONS: dict[Reason, int] = {
    Reason.LEVEL_MISSING: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.LEVEL_UNKNOWN: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.KEY_AT_WRONG_LEVEL: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.UNIQUE_KEY_MISSING: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.UNIQUE_KEY_NOT_SINGLE: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.SEQUENCE_ITEMS: IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
    Reason.INVALID_DATE_TIME: 0xC001,
    Reason.INVALID_UID: 0xC002,
    Reason.INVALID_VALUE: 0xC003,
    Reason.INVALID_PARAMETER: UNABLE_TO_PROCESS,
}

ERROR_COMMENT_LENGTH = 64  # Error Comment is LO (PS3.5 6.2), Default Character Repertoire only (PS3.7 C.4)


class QueryError(DicomError, ValueError):
    """An Identifier or query that cannot be planned.

    ``status`` is the DIMSE status to answer, ``error_comment`` the text for Error Comment (0000,0902)
    (at most 64 characters of the Default Character Repertoire), ``offending`` the tags for Offending
    Element (0000,0901), ``parameter`` the QIDO-RS query parameter (or the keyword of the key) at fault.
    ``str(error)`` is the full message.
    """

    http_status = 400

    def __init__(self, reason: Reason, message: str, *, tags: tuple[int, ...] = (),
                 parameter: str | None = None, comment: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = REASONS[reason]
        self.offending = tags
        self.parameter = parameter
        self._comment = comment

    @property
    def error_comment(self) -> str:
        text = self._comment if self._comment is not None else str(self)
        text = text.encode("ascii", "replace").decode("ascii").replace("\\", "/")
        return text if len(text) <= ERROR_COMMENT_LENGTH else text[: ERROR_COMMENT_LENGTH - 3] + "..."

    def __repr__(self) -> str:
        return f"QueryError({self.reason.value}, 0x{self.status:04X}, {str(self)!r})"
