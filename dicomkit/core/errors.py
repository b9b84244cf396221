"""The one exception hierarchy of dicomkit: everything raised for bad input derives from DicomError."""

from __future__ import annotations


class DicomError(Exception):
    """Base of every error dicomkit raises for bad input, bad data or a failed exchange."""


class InvalidValueError(DicomError, ValueError):
    """A value cannot be represented in (or decoded from) its Value Representation."""


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
