"""Building data elements from the DICOM JSON Model (PS3.18 F) and the Native DICOM Model (PS3.19 A).

Both models carry an attribute as a list of values, a base64 Value Field (InlineBinary) or a reference to
bulk data. This module turns those into DataElements the same way for both, keeps what cannot be parsed
rather than losing it, and records every adjustment as a :class:`~dicomkit.Correction`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.charset import CharacterSet
from ..core.dataset import Correction
from ..core.dictionary import vr_for_tag
from ..core.element import DataElement, SourceEncoding
from ..core.errors import DicomError, InvalidFileError, InvalidValueError
from ..core.tag import PIXEL_DATA, Tag, tag_str
from ..core.uid import TRANSFER_SYNTAXES, by_keyword
from ..core.values import decode_value, swap_words
from ..core.valuetypes import format_ds
from ..core.vr import BYTES_VRS, VR, WORD_SIZES
from .encapsulation import EncapsulatedPixelData

# Gets (tag, VR, URI) and returns the Value Field the URI refers to, little endian.
BulkDataReader = Callable[[Tag, VR, str], bytes]
# Gets an element whose value is at least the threshold long; returns its bulk data URI, or None to inline.
BulkDataHandler = Callable[[DataElement], "str | None"]

# PS3.18 F.2.2 (and PS3.19 A.1.5): the VRs whose Value Field may be sent as bulk data.
BULK_DATA_VRS = frozenset({"DS", "FL", "FD", "IS", "LT", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "ST",
                           "SV", "UC", "UL", "UN", "US", "UT", "UV"})
MAX_DEPTH = 64  # nesting of sequences, as for binary input

VR_BY_NAME = {v.value: v for v in VR}

# Padding and insignificant spaces (PS3.5 Table 6.2-1), removed as the file reader removes them.
_STRIP_BOTH = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "LO", "SH"})
_KEEP_LEADING = frozenset({"LT", "ST", "UT", "UC", "PN", "UR"})


class ModelError(Exception):
    """A problem with one attribute; the reader adds where it is in the document."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def strip_padding(vr: str, text: str) -> str:
    """A value as the binary reader would give it: without padding or insignificant spaces."""
    if vr in _STRIP_BOTH:
        return text.strip(" ")
    if vr == "UI":
        return text.strip(" \x00")
    if vr in _KEEP_LEADING:
        return text.rstrip(" ")
    return text


def vr_of(tag: int, vr_name: Any) -> VR:
    """The VR given in the document, or the dictionary's when none is given and the dictionary can tell."""
    if vr_name is None:
        known = vr_for_tag(tag)
        if known is None or known not in VR_BY_NAME:
            raise ModelError(f"no vr for {tag_str(tag)} and the dictionary cannot tell it")
        return VR_BY_NAME[known]
    if not isinstance(vr_name, str) or vr_name not in VR_BY_NAME:
        raise ModelError(f"vr must be one of the two-letter Value Representations, got {vr_name!r}")
    return VR_BY_NAME[vr_name]


def is_encapsulated_syntax(ts: Any) -> bool:
    """True for an encapsulated transfer syntax, given by UID or keyword (as the writer takes it)."""
    if not ts:
        return False
    text = str(ts).strip("\x00 ")
    info = TRANSFER_SYNTAXES.get(text)
    if info is None:
        named = by_keyword(text)
        info = TRANSFER_SYNTAXES.get(str(named)) if named is not None else None
    return bool(info and info.encapsulated)


class ElementBuilder:
    """Makes DataElements from parsed model values; collects corrections and missing bulk data."""

    def __init__(self, bulk_data_reader: BulkDataReader | None, *, encapsulated: bool,
                 big_endian_binary: bool = False, model: str = "DICOM JSON", validate: bool = False) -> None:
        self.bulk_data_reader = bulk_data_reader
        self.encapsulated = encapsulated
        # values of a model document are taken as a file's are (written back as they came), unless the
        # caller asks for them to be checked as values assigned through the API (PS3.5 6.2)
        self.validate = validate
        self.big_endian_binary = big_endian_binary
        self.model = model
        self.corrections: list[Correction] = []
        self.missing_bulk_data = False

    def note(self, message: str) -> None:
        self.corrections.append(Correction(None, f"{self.model}: {message}"))

    def values(self, tag: int, vr: VR, items: list[Any]) -> DataElement:
        """An element from its values (text for string VRs, numbers, Tags); None is an empty value."""
        name = vr.value
        if name == "DS":
            items = [self._ds_text(tag, item) for item in items]
        value: Any = items[0] if len(items) == 1 else tuple(items)
        try:
            elem = DataElement(tag, vr, value, validate=self.validate)
        except InvalidValueError as exc:
            raise ModelError(str(exc)) from None
        kept = elem._value if isinstance(elem._value, tuple) else (elem._value,)
        if name in ("DS", "IS") and any(type(v) is str for v in kept):
            # Text that is not a valid number is kept as it is (as when read from a file), not lost.
            text = "\\".join(v or "" for v in items)
            self.note(f"{tag_str(tag)} {name} value {text!r} is not a valid number; kept as text")
        return elem

    def _ds_text(self, tag: int, item: Any) -> Any:
        if isinstance(item, str) and len(item) > 16:
            try:
                shorter = format_ds(float(item))
            except (InvalidValueError, ValueError):
                return item
            self.note(f"{tag_str(tag)} DS value {item} has more than 16 characters (PS3.5 6.2); "
                      f"written as {shorter}")
            return shorter
        return item

    def from_bytes(self, tag: int, vr: VR, data: bytes, charset: CharacterSet, top: bool) -> DataElement:
        """An element from its Value Field (InlineBinary or bulk data), little endian unless told."""
        name = vr.value
        if name == "SQ":
            raise ModelError("a sequence cannot be given as a Value Field (InlineBinary or bulk data)")
        size = WORD_SIZES.get(name, 1)
        if name in BYTES_VRS:
            if len(data) % size:
                self.note(f"{tag_str(tag)} {name} value of {len(data)} bytes is not a multiple of {size}")
            if self.big_endian_binary and size > 1:
                data = swap_words(data, size)
            if top and tag == PIXEL_DATA and self.encapsulated and data:
                try:
                    EncapsulatedPixelData.parse(data)  # PS3.5 A.4: items, the offset table first
                except InvalidFileError as exc:
                    raise ModelError(f"encapsulated Pixel Data: {exc.detail}") from None
                return DataElement(tag, VR.OB, data, undefined_length=True)
            return DataElement(tag, vr, data)
        if not data:
            return DataElement(tag, vr, None)
        little = not self.big_endian_binary
        try:
            decode_value(name, data, little, charset)  # fails here, with where, rather than on access
        except InvalidValueError as exc:
            raise ModelError(str(exc)) from None
        return DataElement.from_raw(tag, vr, data, SourceEncoding(little, False, charset))

    def from_bulk_data(self, tag: int, vr: VR, uri: str, charset: CharacterSet, top: bool) -> DataElement:
        if vr.value == "SQ":
            raise ModelError("a sequence cannot be given as bulk data")
        if self.bulk_data_reader is None:
            self.missing_bulk_data = True
            self.note(f"{tag_str(tag)} refers to bulk data {uri}; not fetched (no bulk_data_reader), "
                      "value left empty")
            return DataElement(tag, vr, None)
        try:
            data = self.bulk_data_reader(Tag(tag), vr, uri)
        except DicomError as exc:
            raise ModelError(f"bulk data {uri}: {exc}") from None
        except Exception as exc:  # the caller's reader; report it with where it happened
            raise ModelError(f"bulk data reader failed for {uri}: {exc!r}") from exc
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ModelError(f"bulk data reader returned {type(data).__name__} for {uri}, not bytes")
        return self.from_bytes(tag, vr, bytes(data), charset, top)


def bulk_data_uri(handler: BulkDataHandler | None, threshold: int, elem: DataElement) -> str | None:
    """The URI the handler gives for ``elem``, when it is eligible (PS3.18 F.2.6)."""
    if handler is None or elem._vr.value not in BULK_DATA_VRS or elem.length < threshold:
        return None
    uri = handler(elem)
    return None if uri is None else str(uri)
