"""Data Elements (PS3.5 7.1): a tag, a VR and a value that is decoded from its bytes on first access."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .charset import DEFAULT, CharacterSet
from .dictionary import lookup, name_for_tag
from .errors import InvalidValueError, InvalidValueWarning
from .tag import Tag, tag_str
from .values import _DECODERS, decode_value, encode_value, normalize_value, value_multiplicity
from .vr import CHARSET_VRS, ENDIAN_NEUTRAL_VRS, VR
from .vr_rules import check_value

if TYPE_CHECKING:
    from .sequence import Sequence


class SourceEncoding:
    """How the raw bytes of elements were encoded where they were read from.

    ``parse_sequence`` is supplied by the reader (io layer) to turn the raw bytes of a sequence into a
    Sequence when first accessed (given the bytes, this encoding and the sequence's tag, which its
    corrections and errors name); core itself knows nothing of files.
    """

    __slots__ = ("charset", "implicit_vr", "little_endian", "parse_sequence")

    def __init__(
        self,
        little_endian: bool = True,
        implicit_vr: bool = False,
        charset: CharacterSet = DEFAULT,
        parse_sequence: Callable[[memoryview, SourceEncoding, int], Sequence] | None = None,
    ) -> None:
        self.little_endian = little_endian
        self.implicit_vr = implicit_vr
        self.charset = charset
        self.parse_sequence = parse_sequence

    def with_charset(self, charset: CharacterSet) -> SourceEncoding:
        return SourceEncoding(self.little_endian, self.implicit_vr, charset, self.parse_sequence)

    def __repr__(self) -> str:
        return (f"SourceEncoding(little_endian={self.little_endian}, implicit_vr={self.implicit_vr}, "
                f"charset={self.charset!r})")


_UNSET: Any = object()
_SQ = VR.SQ
_VR_BY_NAME = {str(v): v for v in VR}


class DataElement:
    """One element of a data set: ``tag``, ``vr``, ``value`` (decoded lazily), ``keyword``, ``name``.

    A value given to the constructor or assigned to ``value`` is checked against the rules of its VR
    (PS3.5 6.2, dicomkit.core.vr_rules): one that breaks them is kept, warns with InvalidValueWarning and
    is named in ``value_problem``; the writer refuses such an element unless it writes with
    ``validate=False``. ``validate=False`` here skips the check, for values taken from elsewhere as they
    are (a file, DICOM JSON): those are written back as they came, like values read from a file.
    """

    __slots__ = ("_invalid", "_raw", "_src", "_tag", "_value", "_vr", "is_undefined_length")

    def __init__(self, tag: int | str | Tag, vr: str | VR, value: Any = None, *,
                 undefined_length: bool = False, validate: bool = True) -> None:
        # a plain int in range is the common case (readers, sources): no Tag object made for it
        self._tag = tag if type(tag) is int and 0 <= tag <= 0xFFFFFFFF else int(Tag(tag))
        vr_member = _VR_BY_NAME.get(vr) if type(vr) is str else _VR_BY_NAME.get(str(vr))
        if vr_member is None:
            raise InvalidValueError(f"unknown VR {vr!r} for {tag_str(self._tag)}")
        self._vr = vr_member
        self._raw: bytes | memoryview | None = None
        self._src: SourceEncoding | None = None
        self.is_undefined_length = undefined_length
        self._value = self._normalize(value)
        self._invalid: str | None = self._check() if validate else None

    @classmethod
    def from_raw(cls, tag: int, vr: VR, raw: bytes | memoryview, src: SourceEncoding,
                 undefined_length: bool = False) -> DataElement:
        """An element whose value is decoded from ``raw`` (encoded per ``src``) on first access."""
        self = cls.__new__(cls)
        self._tag = tag
        self._vr = vr
        self._raw = raw
        self._src = src
        self._value = _UNSET
        self._invalid = None
        self.is_undefined_length = undefined_length
        return self

    def _check(self) -> str | None:
        """The VR rule the value breaks (PS3.5 6.2), warned about; None when it keeps them."""
        problem = check_value(self._vr, self._value)
        if problem is None:
            return None
        keyword = self.keyword
        message = f"{tag_str(self._tag)}{' ' + keyword if keyword else ''}: {problem}"
        warnings.warn(f"{message}; writing it fails unless validate=False", InvalidValueWarning,
                      stacklevel=_caller_level())
        return message

    @property
    def value_problem(self) -> str | None:
        """Why the value assigned through the API breaks its VR (PS3.5 6.2), or None; the writer refuses the
        element while this is set, unless it writes with ``validate=False``. Never set for values read."""
        return self._invalid

    def _normalize(self, value: Any) -> Any:
        if self._vr is VR.SQ:
            from .sequence import Sequence

            if isinstance(value, Sequence):
                return value
            return Sequence(value or [])
        try:
            return normalize_value(self._vr, value)
        except InvalidValueError as exc:
            raise InvalidValueError(f"{tag_str(self._tag)} {self.keyword or ''}: {exc}") from None

    # -- identity ------------------------------------------------------------------------------------
    @property
    def tag(self) -> Tag:
        return Tag(self._tag)

    @property
    def vr(self) -> VR:
        return self._vr

    @property
    def VR(self) -> VR:
        return self._vr

    @property
    def keyword(self) -> str:
        entry = lookup(self._tag)
        return entry.keyword if entry else ""

    @property
    def name(self) -> str:
        return name_for_tag(self._tag)

    @property
    def is_private(self) -> bool:
        return Tag(self._tag).is_private

    @property
    def is_retired(self) -> bool:
        entry = lookup(self._tag)
        return bool(entry and entry.retired)

    # -- value ---------------------------------------------------------------------------------------
    @property
    def value(self) -> Any:
        value = self._value
        if value is _UNSET:
            value = self._decode()
            self._value = value
        return value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = self._normalize(value)
        self._raw = None
        self._src = None
        self._invalid = self._check()

    def _decode(self) -> Any:
        raw, src = self._raw, self._src
        assert raw is not None and src is not None
        decoder = _DECODERS.get(self._vr)
        try:
            if decoder is not None:
                return decoder(raw, src.little_endian, src.charset)
            if self._vr is _SQ:
                if src.parse_sequence is None:
                    raise InvalidValueError("no parser for the raw sequence")
                seq = src.parse_sequence(memoryview(raw), src, self._tag)
                seq.is_undefined_length = self.is_undefined_length
                return seq
            return decode_value(self._vr, raw, src.little_endian, src.charset)
        except InvalidValueError as exc:
            raise InvalidValueError(f"{tag_str(self._tag)} {self.keyword}: {exc}") from None

    @property
    def raw(self) -> bytes | memoryview | None:
        """The value bytes as read (in the source encoding), or None once the value was assigned."""
        return self._raw

    @property
    def source(self) -> SourceEncoding | None:
        return self._src

    @property
    def is_raw(self) -> bool:
        """True while the element still holds its bytes as read (the value was never assigned)."""
        return self._raw is not None

    @property
    def VM(self) -> int:
        if self._vr is VR.SQ:
            return 1
        if self._vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN", "UT", "UR", "LT", "ST"):
            return 0 if self.length == 0 else 1
        return value_multiplicity(self.value)

    vm = VM

    @property
    def length(self) -> int:
        """Value length in bytes as read, or as it would be encoded (even, little endian)."""
        if self._raw is not None and self._vr is not VR.SQ:
            return len(self._raw)
        if self._vr is VR.SQ:
            return len(self._raw) if self._raw is not None else 0
        return len(self.encoded(True, DEFAULT if self._src is None else self._src.charset))

    def encoded(self, little_endian: bool, charset: CharacterSet) -> bytes:
        """The value bytes for a target encoding (not for SQ)."""
        if self._vr is VR.SQ:
            raise InvalidValueError("sequences are encoded by the writer")
        raw, src = self._raw, self._src
        if raw is not None and src is not None and (
            src.little_endian == little_endian or self._vr in ENDIAN_NEUTRAL_VRS
        ) and (src.charset is charset or self._vr not in CHARSET_VRS):
            data = bytes(raw)
            if len(data) & 1:
                data += b"\x00" if self._vr in ("UI", "OB", "UN") else (
                    b" " if self._vr.is_string else b"\x00")
            return data
        return encode_value(self._vr, self.value, little_endian, charset)

    # -- comparisons and display ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataElement):
            return NotImplemented
        if self._tag != other._tag or self._vr is not other._vr:
            return False
        if (self._raw is not None and other._raw is not None and self._src is not None
                and other._src is not None and self._vr is not VR.SQ
                and self._src.little_endian == other._src.little_endian
                and self._src.charset is other._src.charset and self._raw == other._raw):
            return True
        return bool(self.value == other.value)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        from .display import element_summary

        return element_summary(self)

    def copy(self) -> DataElement:
        """A copy that shares raw bytes but not sequences (items are copied)."""
        new = DataElement.__new__(DataElement)
        new._tag, new._vr, new._raw, new._src = self._tag, self._vr, self._raw, self._src
        new.is_undefined_length = self.is_undefined_length
        new._invalid = self._invalid
        value = self._value
        if self._vr is VR.SQ and value is not _UNSET:
            value = value.copy()
        new._value = value
        return new




def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside dicomkit, so that a warning names the user's line."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("dicomkit."):
        frame = frame.f_back
        level += 1
    return level
