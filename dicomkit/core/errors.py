"""The one exception hierarchy of dicomkit: everything raised for bad input derives from DicomError."""

from __future__ import annotations


class DicomError(Exception):
    """Base of every error dicomkit raises for bad input, bad data or a failed exchange."""


class InvalidValueError(DicomError, ValueError):
    """A value cannot be represented in (or decoded from) its Value Representation."""


class InvalidValueWarning(UserWarning):
    """A value assigned through the API breaks a rule of its Value Representation (PS3.5 6.2): an AS of 13
    characters, a DA that is no date, a UI with letters, a CS in lower case, a value longer than its VR allows.

    The value is kept, and writing the element fails (InvalidValueError) unless the write passes
    ``validate=False``. Values read from files are never checked: they are written back as read.
    """


class InvalidTagError(DicomError, ValueError):
    """A tag, keyword or tag string is malformed or unknown."""


class InvalidFileError(DicomError):
    """Input is not a readable DICOM file or data set.

    ``offset`` is the byte offset in the (inflated) stream where the problem was seen, when known.
    """

    def __init__(self, message: str, *, offset: int | None = None, source: str | None = None) -> None:
        self.offset = offset
        self.source = source
        where = []
        if source:
            where.append(str(source))
        if offset is not None:
            where.append(f"offset {offset} (0x{offset:X})")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.detail = message


class TruncatedError(InvalidFileError):
    """The data ended before an element, item or sequence it announced."""


class UnsupportedTransferSyntaxError(DicomError):
    """The transfer syntax is unknown or cannot be used for the requested operation."""


class MissingDependencyError(DicomError, ImportError):
    """An optional dependency (an extra such as ``dicomkit[codecs]``) is needed and missing."""


class PixelDataError(DicomError):
    """Pixel Data cannot be decoded or encoded: inconsistent image attributes, wrong lengths, or a corrupt,
    truncated or unsupported codestream."""


class NetworkError(DicomError):
    """A DICOM network exchange failed (PS3.8 upper layer, PS3.7 DIMSE)."""


class PDUError(NetworkError):
    """A received PDU is malformed or not allowed here (PS3.8 9.3).

    ``reason`` is the A-ABORT reason to send (PS3.8 Table 9-26): 1 unrecognized PDU, 2 unexpected PDU,
    4 unrecognized PDU parameter, 5 unexpected PDU parameter, 6 invalid PDU parameter value.
    """

    def __init__(self, message: str, *, reason: int = 6) -> None:
        super().__init__(message)
        self.reason = reason


class AssociationRejected(NetworkError):
    """The peer answered A-ASSOCIATE-RJ (PS3.8 9.3.4, Table 9-21): ``result``, ``source`` and ``reason``."""

    def __init__(self, message: str, *, result: int, source: int, reason: int) -> None:
        super().__init__(message)
        self.result = result
        self.source = source
        self.reason = reason


class AssociationAborted(NetworkError):
    """The association ended by A-ABORT or A-P-ABORT; ``source``/``reason`` as in PS3.8 Table 9-26 when known."""

    def __init__(self, message: str, *, source: int | None = None, reason: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.reason = reason


class AssociationReleased(NetworkError):
    """The association was released in order (A-RELEASE, PS3.8 7.2) while something still needed it."""


class DimseError(NetworkError):
    """A DIMSE message is malformed, unexpected, or cannot be sent on this association (PS3.7)."""


class NetworkTimeout(NetworkError, TimeoutError):
    """A network operation did not complete in time (connect, ACSE, DIMSE or idle network timeout)."""
