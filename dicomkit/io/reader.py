"""Reading DICOM Part 10 files and raw data sets (PS3.10 7, PS3.5 7).

The reader indexes elements over a memoryview of the input (an mmap for large files): each element of a
data set becomes an index entry ``(vr, offset, length)``; values are decoded on first access, and
defined-length sequences are parsed into items only when touched. Pixel Data is never copied to read
metadata.
"""

from __future__ import annotations

import functools
import mmap
import operator
import os
import struct
import zlib
from bisect import bisect_left
from typing import TYPE_CHECKING, Any, BinaryIO

from ..core.ambiguous import resolve_vr
from ..core.charset import DEFAULT as DEFAULT_CHARSET
from ..core.charset import CharacterSet, character_set
from ..core.dataset import Correction, Dataset
from ..core.dictionary import VR_OF, lookup, private_lookup
from ..core.element import DataElement, SourceEncoding
from ..core.errors import DicomError, InvalidFileError, TruncatedError, UnsupportedTransferSyntaxError
from ..core.sequence import Sequence
from ..core.tag import (
    DOUBLE_FLOAT_PIXEL_DATA,
    FLOAT_PIXEL_DATA,
    ITEM,
    ITEM_DELIMITATION,
    PIXEL_DATA,
    PIXEL_REPRESENTATION,
    SEQUENCE_DELIMITATION,
    SPECIFIC_CHARACTER_SET,
    is_private_group,
    tag_str,
)
from ..core.uid import (
    TRANSFER_SYNTAXES,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from ..core.vr import LONG_HEADER_VRS, NUMBER_SIZES, VR, VR_FROM_BYTES, VRS, WORD_SIZES
from .raw import (
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_BE,
    IMPLICIT_LE,
    ITEM_HEADER_BE,
    ITEM_HEADER_LE,
    ITEM_TAG_LE,
    ITEM_WORD_BE,
    ITEM_WORD_LE,
    MAX_DEPTH,
    UL_BE,
    UL_LE,
    UNDEFINED_LENGTH,
    defined_sequence_end,
    is_zero_padding,
    skip_sequence,
)

if TYPE_CHECKING:
    from pathlib import Path

MMAP_THRESHOLD = 1 << 20  # files larger than this are mapped rather than read

_UNDEFINED = UNDEFINED_LENGTH
# Enum attribute access and hashing are slow in CPython; the hot loop uses these plain names and maps
# explicit VR bytes straight to (VR, has a 4-byte length).
_UN, _SQ, _OB, _OW, _LO, _UL = VR.UN, VR.SQ, VR.OB, VR.OW, VR.LO, VR.UL
_LONG_NAMES = LONG_HEADER_VRS
_EXPLICIT_VR: dict[bytes, tuple[VR, bool]] = {k: (v, v in _LONG_NAMES) for k, v in VR_FROM_BYTES.items()}
_SHORT_VR: dict[bytes, VR] = {k: v for k, v in VR_FROM_BYTES.items() if v not in _LONG_NAMES}
# UN needs a closer look (it may be a known VR or a sequence), so the fast loop leaves it alone.
_LONG_VR: dict[bytes, VR] = {k: v for k, v in VR_FROM_BYTES.items() if v in _LONG_NAMES and v is not VR.UN}
# Dictionary VRs that need no context (not "US or SS" and the like), for implicit VR data.
_IMPLICIT_VR: dict[int, VR] = {tag: VR(vr) for tag, vr in VR_OF.items() if vr in VRS and vr != "UN"}
# Value sizes of the binary VRs: a private value whose length is no multiple of its dictionary VR's size
# stays UN rather than being decoded wrongly.
_VALUE_SIZES: dict[str, int] = {**NUMBER_SIZES, **WORD_SIZES}
# (private creator, tag) -> (VR, value size) as the private dictionary gives it (UN when it does not):
# files of one vendor repeat the same private elements, so each is looked up once. Bounded, as creators
# are data.
_PRIVATE_VRS: dict[tuple[str, int], tuple[VR, int]] = {}
_PRIVATE_VRS_MAX = 1 << 16


def _private_dictionary_vr(creator: str, tag: int) -> tuple[VR, int]:
    entry = private_lookup(creator, tag >> 16, tag & 0xFFFF)
    if entry is None:
        return _UN, 1
    name = entry.vr
    if " or " in name:
        name = resolve_vr(tag, name, None)
    if name == "SQ":
        return _UN, 1  # see _Parser.private_vr
    return _VR_BY_NAME.get(name, _UN), _VALUE_SIZES.get(name, 1)


def _pixel_representation(buf: memoryview, elements: dict[int, Any], little: bool) -> int | None:
    """Pixel Representation (0028,0103) of the data set indexed so far: it chooses US or SS (PS3.5 A.1)."""
    entry = elements.get(PIXEL_REPRESENTATION)
    if entry is None or entry.__class__ is not tuple or entry[2] < 2:
        return None
    value: int = struct.unpack_from("<H" if little else ">H", buf, entry[1])[0]
    return value


def _fast_explicit(buf: memoryview, pos: int, end: int, elements: dict[int, Any], last_tag: int,
                   unpack: Any, unpack_ul: Any, stop_tag: int, unpack_item: Any, item_word: int) -> tuple[int, int]:
    """Index plain explicit-VR elements until one needs the general loop; return (pos, last tag).

    Plain means: in ascending order and below ``stop_tag``, a known VR other than UN, a defined even
    length within ``end``, and for a sequence, defined-length items that fill it exactly (their headers
    are walked, their contents left for later). Everything else (items, delimiters, undefined lengths, odd
    lengths, Pixel Data with stop_before_pixels, ...) is left to :meth:`_Parser.parse_dataset`.
    """
    short = _SHORT_VR
    longv = _LONG_VR
    sq = _SQ
    limit = end - 12
    while pos <= limit:
        group, elem, vr_bytes, length = unpack(buf, pos)
        tag = (group << 16) | elem
        if tag <= last_tag or tag >= stop_tag:
            break
        vr = short.get(vr_bytes)
        if vr is None:
            vr = longv.get(vr_bytes)
            if vr is None:
                break
            length = unpack_ul(buf, pos + 8)[0]
            value_pos = pos + 12
            next_pos = value_pos + length
            if vr is sq and next_pos <= end:
                p = value_pos
                while p + 8 <= next_pos:
                    word, n = unpack_item(buf, p)
                    if word != item_word:
                        break
                    p += 8 + n  # an undefined length (FFFFFFFFH) jumps far past next_pos
                if p != next_pos:
                    break
        else:
            value_pos = pos + 8
            next_pos = value_pos + length
        if next_pos > end or length & 1:
            break
        elements[tag] = (vr, value_pos, length)
        last_tag = tag
        pos = next_pos
    return pos, last_tag


def _fast_implicit(buf: memoryview, pos: int, end: int, elements: dict[int, Any], last_tag: int,
                   unpack: Any, stop_tag: int, unpack_item: Any, item_word: int) -> tuple[int, int]:
    """The implicit-VR counterpart of :func:`_fast_explicit` (standard tags with a plain VR only)."""
    vr_of = _IMPLICIT_VR
    sq = _SQ
    limit = end - 8
    while pos <= limit:
        group, elem, length = unpack(buf, pos)
        tag = (group << 16) | elem
        if tag <= last_tag or tag >= stop_tag:
            break
        vr = vr_of.get(tag)
        if vr is None:
            break
        next_pos = pos + 8 + length
        if next_pos > end or length & 1:
            break
        if vr is sq:
            p = pos + 8
            while p + 8 <= next_pos:
                word, n = unpack_item(buf, p)
                if word != item_word:
                    break
                p += 8 + n
            if p != next_pos:
                break
        elements[tag] = (vr, pos + 8, length)
        last_tag = tag
        pos = next_pos
    return pos, last_tag


# With stop_before_pixels the fast loops leave everything from Float Pixel Data on to the general one.
_STOP_AT_PIXELS = FLOAT_PIXEL_DATA
_NO_STOP = 1 << 32
_PIXEL_TAGS = frozenset({PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA})
_VR_BY_NAME: dict[str, VR] = {str(v): v for v in VR}
_ITEM_TAG_LE = ITEM_TAG_LE
_EXPLICIT_LE, _EXPLICIT_BE, _IMPLICIT_LE, _IMPLICIT_BE = EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE, IMPLICIT_BE
_UL_LE, _UL_BE = UL_LE, UL_BE

IMPLICIT_LE_TS = str(ImplicitVRLittleEndian)
EXPLICIT_LE_TS = str(ExplicitVRLittleEndian)
EXPLICIT_BE_TS = str(ExplicitVRBigEndian)


def charset_of(value: bytes | memoryview) -> CharacterSet:
    """The character set that a Specific Character Set (0008,0005) value names (PS3.5 6.1.2.5.3): its terms,
    blanks and NULs around each stripped; an empty value is the default repertoire. Terms it does not know
    are in ``.unknown`` (the reader then decodes as ASCII, with a correction)."""
    terms = tuple(t.strip(" \x00") for t in bytes(value).decode("latin_1").split("\\"))
    return character_set(() if terms == ("",) else terms)


class _Parser:
    """Parses the elements of one input buffer; collects corrections made on the way.

    ``data_end`` is the offset where the input itself ends (the end of ``buf`` for a whole input; -1 for
    the value of one sequence parsed on access, whose end is that of the sequence, not of the data): a
    sequence or item still open there was cut short, which is refused (PS3.5 7.5), not corrected.
    With ``strict`` every correction is raised as an error instead.
    """

    def __init__(self, buf: memoryview, *, lenient: bool, stop_before_pixels: bool, source: str | None,
                 strict: bool = False, data_end: int | None = None, within: int | None = None) -> None:
        self.buf = buf
        self.lenient = lenient
        self.strict = strict
        self.stop_before_pixels = stop_before_pixels
        self.source = source
        self.data_end = len(buf) if data_end is None else data_end
        # the tag of the sequence whose value ``buf`` is (parsed on access): offsets are within that value
        self.within = within
        self.corrections: list[Correction] = []
        self.stopped = False  # set when stop_before_pixels ended the top-level data set

    # -- reporting ---------------------------------------------------------------------------------------
    def note(self, offset: int | None, message: str, *, asked: bool = False) -> None:
        """Record a correction; with ``strict`` raise it, unless the caller ``asked`` for it (force=True)."""
        if self.within is not None:
            message, offset = f"in the value of {tag_str(self.within)} at {offset}: {message}", None
        if self.strict and not asked:
            raise InvalidFileError(f"{message} (refused: strict=True)", offset=offset, source=self.source)
        self.corrections.append(Correction(offset, message))

    def fail(self, offset: int, message: str, truncated: bool = False) -> InvalidFileError:
        cls = TruncatedError if truncated else InvalidFileError
        if self.within is not None:
            return cls(f"in the value of {tag_str(self.within)} at {offset}: {message}", source=self.source)
        return cls(message, offset=offset, source=self.source)

    def sequence_parser(self) -> Any:
        """The callable given to SourceEncoding to parse a raw defined-length sequence on access."""
        lenient = self.lenient
        strict = self.strict
        source = self.source

        corrections = self.corrections

        def parse_sequence(raw: memoryview, src: SourceEncoding, tag: int) -> Sequence:
            sub = _Parser(raw, lenient=lenient, stop_before_pixels=False, source=source, strict=strict,
                          data_end=-1, within=tag)
            sub.corrections = corrections  # found later, still reported with the data set
            seq, _ = sub.parse_sequence(0, len(raw), src, undefined=False, depth=1)
            return seq

        return parse_sequence

    # -- data sets ---------------------------------------------------------------------------------------
    def parse_dataset(self, ds: Dataset, pos: int, end: int, src: SourceEncoding, *, depth: int,
                      in_item: bool, top: bool = False, in_defined: bool = False) -> int:
        """Index the elements of ``ds`` from ``pos``; return the offset after the data set.

        ``end`` bounds the data set (a defined-length item or the buffer). Within an undefined-length item
        the Item Delimitation Item ends it; ``in_defined`` says that the item's sequence has a defined
        length, which may end the item instead (read with a correction, as DCMTK and pydicom do).
        """
        buf = self.buf
        elements = ds._elements
        little = src.little_endian
        implicit = src.implicit_vr
        header = (_IMPLICIT_LE if little else _IMPLICIT_BE) if implicit else (
            _EXPLICIT_LE if little else _EXPLICIT_BE)
        unpack_header = header.unpack_from
        unpack_ul = (_UL_LE if little else _UL_BE).unpack_from
        unpack_item = (ITEM_HEADER_LE if little else ITEM_HEADER_BE).unpack_from
        item_word = ITEM_WORD_LE if little else ITEM_WORD_BE
        explicit_vr = _EXPLICIT_VR
        vr_of = VR_OF
        vr_by_name = _VR_BY_NAME
        UN = _UN
        stop_pixels = self.stop_before_pixels and top
        stop_tag = _STOP_AT_PIXELS if stop_pixels else _NO_STOP
        charset_seen = False  # Specific Character Set applied to src (the fast loops only index it)
        last_tag = -1

        while pos < end:
            if implicit:
                if little:
                    pos, last_tag = _fast_implicit(buf, pos, end, elements, last_tag, unpack_header, stop_tag,
                                                   unpack_item, item_word)
            else:
                pos, last_tag = _fast_explicit(buf, pos, end, elements, last_tag, unpack_header, unpack_ul,
                                               stop_tag, unpack_item, item_word)
            if not charset_seen and SPECIFIC_CHARACTER_SET in elements:
                # before any nested item is parsed with src (PS3.5 7.5.3: items inherit the character set)
                charset_seen = True
                _, cs_pos, cs_len = elements[SPECIFIC_CHARACTER_SET]
                src = self.charset_source(src, cs_pos, cs_len)
                ds.__dict__["_src"] = src
            if pos >= end:
                break
            if top and buf[pos] == 0 and is_zero_padding(buf, pos, end):
                # DCMTK and pydicom read zero bytes after the data set as empty (0000,0000) elements
                self.note(pos, f"{end - pos} zero bytes after the last element (padding) ignored")
                return end
            if pos + 8 > end:
                if self.lenient:
                    self.note(pos, "item ends inside an element header; stopped there")
                    return end
                raise self.fail(pos, f"element header needs 8 bytes, only {end - pos} left", truncated=True)
            if implicit:
                group, elem, length = unpack_header(buf, pos)
                tag = (group << 16) | elem
                value_pos = pos + 8
                vr_name = vr_of.get(tag)
                if vr_name is None and group & 1 and elem >= 0x1000 and 0x0007 < group < 0xFFFF:
                    vr = self.private_vr(tag, length, elements)  # a private data element (PS3.5 7.8.1)
                elif vr_name is None or " or " in vr_name:
                    vr = self.implicit_vr(tag, vr_name, _pixel_representation(buf, elements, little))
                else:
                    vr = vr_by_name.get(vr_name, UN)
            else:
                group, elem, vr_bytes, length = unpack_header(buf, pos)
                tag = (group << 16) | elem
                info = explicit_vr.get(vr_bytes)
                if info is not None and group != 0xFFFE:
                    vr = info[0]
                    if info[1]:
                        if pos + 12 > end:
                            raise self.fail(pos, f"{tag_str(tag)}: header of a {vr.value} element needs 12 "
                                                 "bytes", truncated=True)
                        length = unpack_ul(buf, pos + 8)[0]
                        value_pos = pos + 12
                    else:
                        value_pos = pos + 8
                elif group == 0xFFFE:
                    vr = UN  # item tags carry no VR; handled below
                    length = unpack_ul(buf, pos + 4)[0]
                    value_pos = pos + 8
                else:
                    vr, length, value_pos = self.bad_vr(pos, tag, vr_bytes, unpack_ul,
                                                        _pixel_representation(buf, elements, little))

            if group == 0xFFFE:
                if tag == ITEM_DELIMITATION:
                    if length:
                        self.note(pos, f"Item Delimitation Item has length {length}; read as 0 (PS3.5 7.5.2)")
                    if in_item:
                        return pos + 8
                    # DCMTK and pydicom read it too (ending the data set there); the elements after it are kept
                    self.note(pos, "stray Item Delimitation Item skipped")
                    pos += 8
                    continue
                if tag == SEQUENCE_DELIMITATION:
                    if not self.lenient:
                        what = "an undefined-length item lacks its Item Delimitation Item" if in_item else (
                            "a Sequence Delimitation Item where a data element was expected")
                        raise self.fail(pos, f"{what} (lenient=True reads it)")
                    if in_item:
                        self.note(pos, "undefined-length item ended by a Sequence Delimitation Item")
                        return pos
                    self.note(pos, "stray Sequence Delimitation Item skipped")
                    pos += 8
                    continue
                if tag == ITEM:
                    if not self.lenient or length == _UNDEFINED:
                        raise self.fail(pos, "an Item (FFFE,E000) where a data element was expected")
                    self.note(pos, "item outside a sequence skipped")
                    pos = value_pos + length
                    continue

            if tag <= last_tag:
                if tag == last_tag:
                    self.note(pos, f"{tag_str(tag)} occurs twice; the later one is kept")
                else:
                    self.note(pos, f"{tag_str(tag)} is out of ascending tag order")
            last_tag = tag

            if stop_pixels and (tag == PIXEL_DATA or tag == FLOAT_PIXEL_DATA or tag == DOUBLE_FLOAT_PIXEL_DATA):  # noqa: SIM109
                self.stopped = True
                return pos

            if length == _UNDEFINED:
                pos = self.undefined_length(ds, tag, vr, value_pos, end, src, depth, implicit)
                continue

            next_pos = value_pos + length
            if next_pos > end:
                if not self.lenient:
                    raise self.fail(pos, f"{tag_str(tag)} declares {length} bytes but only {end - value_pos} "
                                         "remain", truncated=True)
                self.note(pos, f"{tag_str(tag)} declares {length} bytes, only {end - value_pos} remain; "
                               "value truncated")
                length = end - value_pos
                next_pos = end
            if length & 1:
                self.note(pos, f"{tag_str(tag)} has odd length {length}")

            if vr is _SQ:
                pos = self.defined_sequence(ds, tag, pos, value_pos, length, end, src, depth)
                continue
            if vr is UN:
                vr = self.unknown_vr(tag, value_pos, length, src, implicit, ds)
                if vr is _SQ and ds._elements.get(tag).__class__ is DataElement:
                    pos = next_pos
                    continue

            elements[tag] = (vr, value_pos, length)
            if tag == SPECIFIC_CHARACTER_SET and not charset_seen:
                charset_seen = True
                src = self.charset_source(src, value_pos, length)
                ds.__dict__["_src"] = src
            pos = next_pos

        if in_item and not top:
            # An undefined-length item must end with an Item Delimitation Item (PS3.5 7.5.2).
            if self.lenient:
                self.note(pos, "missing Item Delimitation Item: the undefined-length item ends where what holds "
                               "it ends")
                return pos
            if in_defined and end != self.data_end:
                self.note(pos, "undefined-length item ended by the end of its defined-length sequence, without "
                               "an Item Delimitation Item")
                return pos
            raise self.fail(pos, "undefined-length item not terminated: the data ends before its Item "
                                 "Delimitation Item (lenient=True reads it)", truncated=True)
        return pos

    def defined_sequence(self, ds: Dataset, tag: int, pos: int, value_pos: int, length: int, end: int,
                         src: SourceEncoding, depth: int) -> int:
        """Index a defined-length sequence whose value is within ``end``; return the offset after it.

        Its items are parsed when first accessed when their headers fill it exactly, or when only its last
        item runs past its end (read whole, and the sequence with it, as DCMTK does). Anything else is
        parsed now, so that what is wrong is reported or refused at read time.
        """
        seq_end = value_pos + length
        after = defined_sequence_end(self.buf, value_pos, seq_end, end, src.little_endian, src.implicit_vr,
                                     depth + 1)
        if after == seq_end:
            ds._elements[tag] = (_SQ, value_pos, length)
            return seq_end
        if after is not None:
            self.note(pos, f"the last item of {tag_str(tag)} runs {after - seq_end} bytes past the end of the "
                           f"sequence ({length} bytes); read whole, the sequence ends with it")
            ds._elements[tag] = (_SQ, value_pos, after - value_pos)
            return after
        seq, next_pos = self.parse_sequence(value_pos, seq_end, src, undefined=False, depth=depth + 1, limit=end)
        elem = DataElement.from_raw(tag, _SQ, self.buf[value_pos:value_pos], src)
        elem._value = seq
        elem._raw = None  # written again from its items
        ds._elements[tag] = elem
        return next_pos

    def implicit_vr(self, tag: int, vr_name: str | None, pixel_rep: int | None) -> VR:
        if vr_name is None:
            group = tag >> 16
            elem = tag & 0xFFFF
            if is_private_group(group):
                if 0x10 <= elem <= 0xFF:
                    return _LO  # Private Creator (PS3.5 7.8.1)
                return _UL if elem == 0 else _UN
            entry = lookup(tag)
            if entry is None:
                return _UN
            vr_name = entry.vr
            if " or " not in vr_name:
                return _VR_BY_NAME.get(vr_name, _UN)
        return _VR_BY_NAME[resolve_vr(tag, vr_name, pixel_rep)]

    def private_vr(self, tag: int, length: int, elements: dict[int, Any]) -> VR:
        """The vendor dictionary's VR of private data element ``tag`` whose block's creator is in ``elements``
        (the data set indexed so far), or UN when the creator or the element is unknown.

        SQ is left UN, and so is a value of undefined length: :meth:`unknown_vr` and :meth:`undefined_length`
        make it SQ when the value is an item sequence (PS3.5 6.2.2). A value whose length cannot hold whole
        values of the VR (e.g. 3 bytes of US) stays UN as well, rather than being decoded wrongly.
        """
        creator = elements.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
        if creator is None or length == _UNDEFINED:
            return _UN
        if creator.__class__ is DataElement:
            value = creator.value
            text = value.decode("latin_1") if isinstance(value, bytes) else str(value)
        else:
            text = str(self.buf[creator[1]:creator[1] + creator[2]], "latin_1")
        key = (text, tag)
        found = _PRIVATE_VRS.get(key)
        if found is None:
            found = _private_dictionary_vr(text, tag)
            if len(_PRIVATE_VRS) < _PRIVATE_VRS_MAX:
                _PRIVATE_VRS[key] = found
        vr, size = found
        return _UN if length % size else vr

    def bad_vr(self, pos: int, tag: int, vr_bytes: bytes, unpack_ul: Any,
               pixel_rep: int | None) -> tuple[VR, int, int]:
        """An explicit VR that is not one of the 34: read it as implicit (lenient) or fail."""
        if not self.lenient:
            raise self.fail(pos, f"{tag_str(tag)} has invalid VR {vr_bytes!r}; lenient=True reads it as "
                                 "implicit VR")
        length = unpack_ul(self.buf, pos + 4)[0]
        vr = self.implicit_vr(tag, VR_OF.get(tag), pixel_rep)
        self.note(pos, f"{tag_str(tag)} has invalid VR {vr_bytes!r}; read as implicit VR {vr.value}")
        return vr, length, pos + 8

    def unknown_vr(self, tag: int, value_pos: int, length: int, src: SourceEncoding, implicit: bool,
                   ds: Dataset) -> VR:
        """Refine UN: a known tag gets its dictionary VR; a value that is a valid item sequence is SQ."""
        buf = self.buf
        known = VR_OF.get(tag)
        if not implicit and known is None and is_private_group(tag >> 16):
            elem = tag & 0xFFFF
            if 0x10 <= elem <= 0xFF:
                return _LO  # a Private Creator written as UN is LO all the same (PS3.5 7.8.1)
            if elem >= 0x1000 and src.little_endian:
                vr = self.private_vr(tag, length, ds._elements)  # as for standard tags: PS3.5 6.2.2
                if vr is not _UN:
                    return vr
        if not implicit and known and known != "UN" and " or " not in known and src.little_endian:
            vr = _VR_BY_NAME.get(known, _UN)
            if vr is _SQ:
                self.un_sequence(ds, tag, value_pos, value_pos + length, src)
            return vr
        if length >= 8 and bytes(buf[value_pos:value_pos + 4]) == _ITEM_TAG_LE and (src.little_endian or implicit):
            # PS3.5 6.2.2: a UN sequence is encoded in Implicit VR Little Endian; try it.
            try:
                self.un_sequence(ds, tag, value_pos, value_pos + length, src)
            except InvalidFileError:
                return _UN
            return _SQ
        return _UN

    def un_sequence(self, ds: Dataset, tag: int, start: int, end: int, src: SourceEncoding) -> None:
        sub_src = SourceEncoding(True, True, src.charset, src.parse_sequence)
        trial = _Parser(self.buf, lenient=False, stop_before_pixels=False, source=self.source)
        seq, _ = trial.parse_sequence(start, end, sub_src, undefined=False, depth=1)
        elem = DataElement.from_raw(tag, _SQ, self.buf[start:end], sub_src)
        elem._value = seq
        elem._raw = None  # written again from its items, in the target encoding
        ds._elements[tag] = elem

    def charset_source(self, src: SourceEncoding, value_pos: int, length: int) -> SourceEncoding:
        cs = charset_of(self.buf[value_pos:value_pos + length])
        if cs.unknown:
            self.note(value_pos, f"unknown Specific Character Set term(s) {cs.unknown}; decoded as ASCII")
        return src.with_charset(cs)

    def undefined_length(self, ds: Dataset, tag: int, vr: VR, value_pos: int, end: int,
                         src: SourceEncoding, depth: int, implicit: bool) -> int:
        if vr is _SQ or (vr is _UN and tag not in _PIXEL_TAGS):
            seq_src = src
            if vr is _UN:
                # PS3.5 6.2.2: undefined-length UN is a sequence in Implicit VR Little Endian.
                seq_src = SourceEncoding(True, True, src.charset, src.parse_sequence)
            items_end = skip_sequence(self.buf, value_pos, end, seq_src.little_endian, seq_src.implicit_vr,
                                       depth + 1)
            if items_end is not None:
                delimiter_length = (_UL_LE if seq_src.little_endian else _UL_BE).unpack_from(self.buf, items_end + 4)[0]
                if delimiter_length:
                    self.note(items_end, f"Sequence Delimitation Item has length {delimiter_length}; read as 0 "
                                         "(PS3.5 7.5.2)")
                # well formed: the items are parsed when first accessed, like a defined-length sequence
                ds._elements[tag] = DataElement.from_raw(tag, _SQ, self.buf[value_pos:items_end], seq_src,
                                                         undefined_length=True)
                return items_end + 8
            seq, next_pos = self.parse_sequence(value_pos, end, seq_src, undefined=True, depth=depth + 1)
            elem = DataElement.from_raw(tag, _SQ, self.buf[value_pos:value_pos], seq_src, undefined_length=True)
            elem._value = seq
            elem._raw = None
            ds._elements[tag] = elem
            return next_pos
        if vr in (_OB, _OW) or tag in _PIXEL_TAGS:
            stream_end, next_pos = self.encapsulated(value_pos, end)
            if vr is not _OB:
                self.note(value_pos, f"encapsulated {tag_str(tag)} has VR {vr.value}; read as OB")
            ds._elements[tag] = DataElement.from_raw(tag, _OB, self.buf[value_pos:stream_end], src,
                                                     undefined_length=True)
            return next_pos
        if not self.lenient:
            raise self.fail(value_pos - 8, f"{tag_str(tag)} ({vr.value}) has undefined length")
        self.note(value_pos, f"{tag_str(tag)} ({vr.value}) has undefined length; read as a sequence")
        seq, next_pos = self.parse_sequence(value_pos, end, src, undefined=True, depth=depth + 1)
        elem = DataElement(tag, _SQ, seq, undefined_length=True)
        ds._elements[tag] = elem
        return next_pos

    def encapsulated(self, pos: int, end: int) -> tuple[int, int]:
        """Walk the items of encapsulated Pixel Data (PS3.5 A.4): (end of the items, offset after)."""
        buf = self.buf
        while pos + 8 <= end:
            group, elem, length = _IMPLICIT_LE.unpack_from(buf, pos)
            tag = (group << 16) | elem
            if tag == SEQUENCE_DELIMITATION:
                if length:
                    self.note(pos, f"Sequence Delimitation Item has length {length}; read as 0 (PS3.5 7.5.2)")
                return pos, pos + 8
            if tag != ITEM:
                if not self.lenient:
                    raise self.fail(pos, f"expected an Item in encapsulated Pixel Data, found {tag_str(tag)}")
                self.note(pos, f"found {tag_str(tag)} in encapsulated Pixel Data; fragments end here")
                return pos, end
            if length == _UNDEFINED:
                raise self.fail(pos, "a Pixel Data fragment has undefined length")
            if pos + 8 + length > end:
                if not self.lenient:
                    raise self.fail(pos, f"fragment of {length} bytes runs past the end ({end - pos - 8} left)",
                                    truncated=True)
                self.note(pos, "last fragment truncated")
                return end, end
            if length & 1:
                self.note(pos, f"Pixel Data fragment of odd length {length}")
            pos += 8 + length
        if pos != end:
            if not self.lenient:
                raise self.fail(pos, "encapsulated Pixel Data ends inside an item header", truncated=True)
            self.note(pos, "encapsulated Pixel Data ends inside an item header")
            return pos, end
        # Every fragment is whole, but the data (or the item holding it) may have been cut at a fragment
        # boundary: DCMTK refuses it (and pydicom reads nothing), so only lenient reads it.
        if not self.lenient:
            where = "the data ends" if end == self.data_end else "the item that holds it ends"
            raise self.fail(pos, f"encapsulated Pixel Data not terminated: {where} after a fragment, before the "
                                 "Sequence Delimitation Item (lenient=True reads the fragments there are)",
                            truncated=True)
        self.note(pos, "Sequence Delimitation Item missing after the last Pixel Data fragment")
        return pos, pos

    # -- sequences ---------------------------------------------------------------------------------------
    def parse_sequence(self, pos: int, end: int, src: SourceEncoding, *, undefined: bool,
                       depth: int, limit: int | None = None) -> tuple[Sequence, int]:
        """Parse the items of a sequence (PS3.5 7.5) from ``pos``; return it and the offset after it.

        A defined-length sequence ends at ``end``; an item running past ``end`` but within ``limit`` (the
        end of what holds the sequence) is read whole and ends the sequence, as DCMTK reads it. An
        undefined-length sequence ends with its Sequence Delimitation Item, before ``end``.
        """
        if depth > MAX_DEPTH:
            raise self.fail(pos, f"sequences nested deeper than {MAX_DEPTH} levels")
        if limit is None:
            limit = end
        buf = self.buf
        unpack = (_IMPLICIT_LE if src.little_endian else _IMPLICIT_BE).unpack_from
        seq = Sequence(undefined_length=undefined)
        items = seq
        while pos < end:
            if pos + 8 > end:
                if self.lenient:
                    self.note(pos, "sequence ends inside an item header")
                    return seq, end
                raise self.fail(pos, "sequence ends inside an item header", truncated=True)
            group, elem, length = unpack(buf, pos)
            tag = (group << 16) | elem
            if tag == SEQUENCE_DELIMITATION:
                if length:
                    self.note(pos, f"Sequence Delimitation Item has length {length}; read as 0 (PS3.5 7.5.2)")
                if not undefined:
                    self.note(pos, "Sequence Delimitation Item in a defined-length sequence; the sequence ends at "
                                   "its defined length")
                    return seq, max(pos + 8, end)
                return seq, pos + 8
            if tag != ITEM:
                if self.lenient:
                    self.note(pos, f"expected an Item, found {tag_str(tag)}; sequence ends here")
                    return seq, pos
                raise self.fail(pos, f"expected an Item (FFFE,E000) in a sequence, found {tag_str(tag)}")
            item = Dataset._lazy(buf, src)
            if length == _UNDEFINED:
                item.__dict__["is_undefined_length_item"] = True
                pos = self.parse_dataset(item, pos + 8, end, src, depth=depth, in_item=True, in_defined=not undefined)
            else:
                if length & 1:
                    self.note(pos, f"item of odd length {length}")
                item_end = pos + 8 + length
                if item_end > end:
                    if item_end <= limit and not undefined:
                        self.note(pos, f"item of {length} bytes runs {item_end - end} bytes past the end of its "
                                       "sequence; read whole, the sequence ends with it")
                    elif not self.lenient:
                        where = "the data" if end == self.data_end else "its sequence"
                        raise self.fail(pos, f"item of {length} bytes runs past the end of {where}",
                                        truncated=True)
                    else:
                        self.note(pos, "item runs past the end of its sequence; truncated")
                        item_end = end
                self.parse_dataset(item, pos + 8, item_end, src, depth=depth, in_item=False)
                pos = item_end
            list.append(items, item)
        if undefined:
            # An undefined-length sequence must end with a Sequence Delimitation Item (PS3.5 7.5.2).
            if self.lenient:
                self.note(pos, "Sequence Delimitation Item missing: the undefined-length sequence ends where what "
                               "holds it ends")
                return seq, pos
            where = "the data ends" if end == self.data_end else "the item that holds it ends"
            raise self.fail(pos, f"undefined-length sequence not terminated: {where} before its Sequence "
                                 "Delimitation Item (lenient=True reads it)", truncated=end == self.data_end)
        return seq, pos


# ---------------------------------------------------------------------------------------------------
# Public API


def _open_buffer(source: Any) -> tuple[memoryview, str | None]:
    if isinstance(source, bytes | bytearray):
        return memoryview(source), None
    if isinstance(source, memoryview):
        return source.cast("B") if source.format != "B" else source, None
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return memoryview(source.read()), str(name) if isinstance(name, str) else None
    raise InvalidFileError(f"cannot read DICOM from a {type(source).__name__}")


def read(
    source: str | os.PathLike[str] | BinaryIO | bytes | bytearray | memoryview,
    *,
    stop_before_pixels: bool = False,
    force: bool = False,
    lenient: bool = False,
    strict: bool = False,
    transfer_syntax: str | None = None,
) -> Dataset:
    """Read a DICOM Part 10 file (or, with ``force``, a raw data set) into a lazily decoded Dataset.

    - ``stop_before_pixels``: stop at Pixel Data (and Float/Double Float Pixel Data) of the top level;
      the pixel data of a file is then not even read from disk.
    - ``force``: accept input without the 128-byte preamble and ``DICM`` prefix, guessing its encoding.
    - ``lenient``: also read common defects (invalid VRs, truncated values, undefined lengths where not
      allowed, sequences and items not terminated) and record each fix in ``ds.read_corrections``; implies
      ``force``.
    - ``strict``: refuse every deviation that the default reads with a correction (raising
      InvalidFileError naming it); every sequence is then parsed at once, not on access.
    - ``transfer_syntax``: with ``force``, the encoding of a raw data set known from elsewhere (a DIMSE
      message's presentation context): used instead of a guess, which the first element cannot always
      settle (group 2000H in Explicit VR Little Endian looks like group 0020H in Big Endian).

    By default what DCMTK and pydicom both read is read, each deviation listed in ``ds.read_corrections``
    (odd lengths, a wrong group length, an item running past the end of its sequence, zero padding after
    the data set, ...); what they refuse is refused. Input that cannot be read raises a
    :class:`~dicomkit.DicomError` subclass naming the offset. See docs/core.md, "Reading rules".
    """
    if strict and lenient:
        raise ValueError("strict=True and lenient=True contradict each other")
    asked_force = force
    force = force or lenient
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size >= MMAP_THRESHOLD:
                buf = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            elif stop_before_pixels and size > HEADER_PREFIX and not strict:
                # Most headers fit in the first 64 KiB: parse those and read the rest only if needed.
                head = f.read(HEADER_PREFIX)
                ds = _try_prefix(memoryview(head), path, force=force, lenient=lenient)
                if ds is not None:
                    return ds
                buf = memoryview(head + f.read())
            else:
                buf = memoryview(f.read())
        name: str | None = path
    else:
        buf, name = _open_buffer(source)
    ds = read_buffer(buf, stop_before_pixels=stop_before_pixels, force=force, lenient=lenient, source=name,
                     strict=strict, forced=asked_force, transfer_syntax=transfer_syntax)
    ds.__dict__["filename"] = name
    return ds


HEADER_PREFIX = 1 << 16


def _try_prefix(head: memoryview, path: str, *, force: bool, lenient: bool) -> Dataset | None:
    """Parse the start of a file with stop_before_pixels; None unless Pixel Data was reached in it."""
    try:
        ds = read_buffer(head, stop_before_pixels=True, force=force, lenient=lenient, source=path, prefix=True)
    except DicomError:
        return None  # the answer may lie beyond the prefix: read it all
    if ds is not None:
        ds.__dict__["filename"] = path
    return ds


def read_buffer(buf: memoryview, *, stop_before_pixels: bool = False, force: bool = False,
                lenient: bool = False, source: str | None = None, prefix: bool = False, strict: bool = False,
                forced: bool | None = None, transfer_syntax: str | None = None) -> Dataset:
    """Parse a whole input held in ``buf`` (see :func:`read`).

    With ``prefix`` the buffer is only the start of the input: the result is None unless Pixel Data was
    reached within it. ``forced`` says that the caller asked for ``force`` itself (not through
    ``lenient``): what force accepts is then no deviation for ``strict``.
    """
    if forced is None:
        forced = force
    parser = _Parser(buf, lenient=lenient, stop_before_pixels=stop_before_pixels, source=source, strict=strict)
    n = len(buf)
    pos = 0
    preamble: bytes | None = None
    file_meta: Dataset | None = None
    if n >= 132 and bytes(buf[128:132]) == b"DICM":
        preamble = bytes(buf[:128])
        file_meta, pos = _read_meta(parser, 132)
    elif n >= 8 and bytes(buf[0:2]) == b"\x02\x00" and bytes(buf[4:6]) in VR_FROM_BYTES:
        parser.note(0, "no preamble and DICM prefix; File Meta Information starts the data", asked=forced)
        file_meta, pos = _read_meta(parser, 0)
    elif not force:
        if n < 132:
            raise InvalidFileError(f"too short for a DICOM file ({n} bytes) and no meta information; "
                                   "use force=True for a raw data set", offset=0, source=source)
        raise InvalidFileError("no 'DICM' prefix: not a DICOM Part 10 file "
                               "(use force=True to read a raw data set)", offset=128, source=source)
    elif transfer_syntax is None:
        parser.note(0, "no File Meta Information; transfer syntax guessed from the data", asked=forced)

    ts_uid: str | None = transfer_syntax if file_meta is None else None
    if file_meta is not None:
        entry = file_meta._elements.get(0x00020010)
        if entry is not None:  # read straight from the index: this runs for every file
            ts_uid = str(buf[entry[1]:entry[1] + entry[2]], "latin_1").strip(" \x00") or None
    if ts_uid is None:
        ts_uid = _guess_transfer_syntax(buf, pos)
        if file_meta is not None:
            parser.note(pos, f"no Transfer Syntax UID in the meta information; guessed {UID(ts_uid).name}")
    info = TRANSFER_SYNTAXES.get(ts_uid)
    if info is None:
        guessed = _guess_transfer_syntax(buf, pos)
        if not force and not UID(ts_uid).is_valid:
            raise UnsupportedTransferSyntaxError(f"{source or 'input'}: invalid Transfer Syntax UID {ts_uid!r}")
        parser.note(pos, f"unknown transfer syntax {ts_uid}; data read as {UID(guessed).name}")
        info = TRANSFER_SYNTAXES[guessed]

    if info.deflated:
        corrections = parser.corrections
        buf = _inflate(buf, pos, source)
        parser = _Parser(buf, lenient=lenient, stop_before_pixels=stop_before_pixels, source=source, strict=strict)
        parser.corrections = corrections
        pos = 0
    little, implicit = info.little_endian, info.implicit_vr
    if transfer_syntax is None and pos + 8 <= len(buf) and not (little and not implicit and buf[pos + 1] == 0
                                    and bytes(buf[pos + 4:pos + 6]) in VR_FROM_BYTES):
        # anything but the plain explicit-little-endian start is checked against what the bytes say
        actual = TRANSFER_SYNTAXES[_guess_transfer_syntax(buf, pos)]
        if (actual.little_endian, actual.implicit_vr) != (little, implicit):
            parser.note(pos, f"data set is encoded as {_ts_name(actual.little_endian, actual.implicit_vr)}, "
                             f"not as its transfer syntax {UID(ts_uid).name} says; read as encoded")
            little, implicit = actual.little_endian, actual.implicit_vr

    src = SourceEncoding(little, implicit, DEFAULT_CHARSET, parser.sequence_parser())
    ds = Dataset._lazy(buf, src)
    if file_meta is None:
        _check_plausible_start(buf, pos, little, source)
    data_end = parser.parse_dataset(ds, pos, len(buf), src, depth=0, in_item=False, top=True)
    if prefix and not parser.stopped:
        return None  # type: ignore[return-value]
    if not ds._elements.keys().isdisjoint(_GROUP_LENGTH_TAGS):  # the shorter side is walked: the five tags
        _check_group_lengths(parser, ds, data_end, implicit)
    d = ds.__dict__
    d["file_meta"] = file_meta
    d["preamble"] = preamble
    d["read_corrections"] = parser.corrections
    if parser.stopped:
        d["is_partial"] = True  # elements from Pixel Data on were not read; the writer refuses it
    if strict:
        parse_sequences(ds)
    d["read_transfer_syntax"] = _read_transfer_syntax(ts_uid, little, implicit)
    return ds


@functools.lru_cache(maxsize=64)  # bounded: the UID comes from the input
def _read_transfer_syntax(ts_uid: str, little: bool, implicit: bool) -> UID:
    """The transfer syntax a data set was read in: the one it named, unless its bytes said otherwise."""
    info = TRANSFER_SYNTAXES.get(ts_uid)
    if info is not None and (info.little_endian, info.implicit_vr) == (little, implicit):
        return UID(ts_uid)
    return UID(_ts_for(little, implicit))


# Group lengths (gggg,0000) are retired (PS3.5 7.2) and written by old tools for every group: a data set with
# the group length of group 0008, 0010, 0018, 0020 or 0028 (read_buffer looks) has all of its top level's
# checked.
CHECKED_GROUP_LENGTHS = (0x00080000, 0x00100000, 0x00180000, 0x00200000, 0x00280000)  # read_buffer's test
_GROUP_LENGTH_TAGS = frozenset(CHECKED_GROUP_LENGTHS)


def _check_group_lengths(parser: _Parser, ds: Dataset, end: int, implicit: bool) -> None:
    """Note each top-level group length that differs from the bytes of its group (DCMTK and pydicom say
    nothing and use the elements as they are, as the reader does; the writer recomputes group lengths)."""
    elements = ds._elements
    tags = sorted(elements)
    count = len(tags)
    buf = parser.buf
    unpack = (_UL_LE if ds._src is None or ds._src.little_endian else _UL_BE).unpack_from
    i = 0
    while i < count:  # group by group: the first element of each, then a jump to the next group
        tag = tags[i]
        group = tag >> 16
        j = bisect_left(tags, (group + 1) << 16, i + 1)
        entry = elements[tag]
        if tag & 0xFFFF or group in (0x0000, 0x0002) or entry.__class__ is not tuple or entry[2] != 4:
            i = j
            continue
        if j == count:
            if parser.stopped:
                break  # the group runs on past where reading stopped
            group_end = end
        else:
            start = elements[tags[j]]
            if start.__class__ is not tuple:
                i = j
                continue  # a sequence parsed at read time: where it started is not kept
            group_end = start[1] - (8 if implicit or start[0] not in _LONG_NAMES else 12)
        declared = unpack(buf, entry[1])[0]
        actual = group_end - (entry[1] + 4)
        if declared != actual:
            parser.note(entry[1] - 8, f"{tag_str(tag)} Group Length says {declared}, the group has {actual} bytes; "
                                      "the elements are read as they are (and the writer recomputes it)")
        i = j


_FIRST = operator.itemgetter(0)


def parse_sequences(ds: Dataset) -> None:
    """Parse every sequence of ``ds`` now, recursively; the reader parses them on first access otherwise.

    What is wrong inside an item (an element running past it, a delimiter where an element belongs, ...) is
    then raised now, and what is corrected there is listed in ``ds.read_corrections`` now: a check that must
    see everything the default reader refuses or corrects (strict reading, the storage SCP's check of what
    it received) calls this after :func:`read`.
    """
    values = ds._elements.values()
    if DataElement not in set(map(type, values)) and _SQ not in set(map(_FIRST, values)):
        return  # only index entries (VR, offset, length), none of a sequence: nothing to parse (no loop per element)
    # the same order as a walk of every element (ds.iterall), without making an element of each one: an
    # index entry is (vr, offset, length) or the DataElement
    sequences = [tag for tag, entry in ds._elements.items()
                 if (entry[0] if entry.__class__ is tuple else entry._vr) is _SQ]
    for tag in sorted(sequences):
        for item in ds[tag].value:  # parsing is the point
            parse_sequences(item)


def _check_plausible_start(buf: memoryview, pos: int, little: bool, source: str | None) -> None:
    """A raw data set read with force must at least start like one: a data element of group >= 0002."""
    if pos + 8 > len(buf):
        raise InvalidFileError("too short for a data set", offset=pos, source=source)
    group = struct.unpack_from("<H" if little else ">H", buf, pos)[0]
    if group < 0x0002 or group == 0xFFFE:
        raise InvalidFileError(f"does not start with a data element (group {group:04X})", offset=pos,
                               source=source)


def _ts_name(little: bool, implicit: bool) -> str:
    return UID(_ts_for(little, implicit)).name


def _ts_for(little: bool, implicit: bool) -> str:
    if implicit:
        return IMPLICIT_LE_TS
    return EXPLICIT_LE_TS if little else EXPLICIT_BE_TS


def _read_meta(parser: _Parser, pos: int) -> tuple[Dataset, int]:
    """File Meta Information (PS3.10 7.1): group 0002, always Explicit VR Little Endian.

    The group ends where the first element of another group starts; a wrong group length (common in
    the wild) is reported, not trusted.
    """
    buf = parser.buf
    n = len(buf)
    implicit = pos + 6 <= n and bytes(buf[pos + 4:pos + 6]) not in VR_FROM_BYTES
    if implicit:
        parser.note(pos, "File Meta Information is encoded in implicit VR")
    src = SourceEncoding(True, implicit, character_set(()), None)  # group 0002 holds no sequences
    meta = Dataset._lazy(buf, src)
    elements = meta._elements
    start = pos
    first_value_end = None
    unpack, unpack_ul, explicit_vr = _EXPLICIT_LE.unpack_from, _UL_LE.unpack_from, _EXPLICIT_VR  # this runs per file
    while pos + 8 <= n:
        group, elem, vr_bytes, length = unpack(buf, pos)
        if group != 0x0002:
            break
        tag = 0x00020000 | elem
        if implicit:
            length = unpack_ul(buf, pos + 4)[0]
            vr = parser.implicit_vr(tag, VR_OF.get(tag), None)
            value_pos = pos + 8
        else:
            info = explicit_vr.get(vr_bytes)
            if info is None:
                raise InvalidFileError(f"invalid VR {vr_bytes!r} in the File Meta Information", offset=pos,
                                       source=parser.source)
            vr = info[0]
            if info[1]:
                if pos + 12 > n:
                    raise TruncatedError("File Meta Information truncated", offset=pos, source=parser.source)
                length = unpack_ul(buf, pos + 8)[0]
                value_pos = pos + 12
            else:
                value_pos = pos + 8
        if length == 0xFFFFFFFF:
            raise InvalidFileError("undefined length in the File Meta Information", offset=pos,
                                   source=parser.source)
        if value_pos + length > n:
            raise TruncatedError(f"{tag_str(tag)} in the File Meta Information runs past the end of the data",
                                 offset=pos, source=parser.source)
        elements[tag] = (vr, value_pos, length)
        pos = value_pos + length
        if first_value_end is None:
            first_value_end = pos
    if pos == start:
        raise InvalidFileError("File Meta Information (group 0002) is missing", offset=start,
                               source=parser.source)
    meta.__dict__["read_corrections"] = parser.corrections
    group_length = elements.get(0x00020000)
    if group_length is not None and first_value_end is not None and group_length[2] == 4:
        declared = _UL_LE.unpack_from(buf, group_length[1])[0]
        if declared != pos - first_value_end:
            parser.note(start, f"File Meta Information Group Length says {declared}, the group has "
                               f"{pos - first_value_end} bytes")
    return meta, pos


def _guess_transfer_syntax(buf: memoryview, pos: int) -> str:
    """Guess how a data set is encoded from its first element header."""
    if pos + 8 > len(buf):
        return EXPLICIT_LE_TS
    vr_bytes = bytes(buf[pos + 4:pos + 6])
    group_le = struct.unpack_from("<H", buf, pos)[0]
    group_be = struct.unpack_from(">H", buf, pos)[0]
    explicit = vr_bytes in VR_FROM_BYTES
    if group_le > 0x00FF and group_be <= 0x00FF and group_be != 0:
        return EXPLICIT_BE_TS if explicit else IMPLICIT_LE_TS
    if explicit:
        return EXPLICIT_LE_TS
    return IMPLICIT_LE_TS


def _inflate(buf: memoryview, pos: int, source: str | None) -> memoryview:
    """Deflated Explicit VR Little Endian (PS3.5 A.5): the data set is a raw RFC 1951 stream."""
    data = bytes(buf[pos:])
    for wbits in (-15, 15):
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(data)
            out += inflater.flush()
            return memoryview(out)
        except zlib.error:
            continue
    raise InvalidFileError("Deflated data set cannot be inflated", offset=pos, source=source)


def read_file_meta(source: str | Path | bytes | memoryview) -> Dataset:
    """Only the File Meta Information of a Part 10 file, or of its bytes."""
    if isinstance(source, bytes | memoryview):
        buf = memoryview(source)
        name = "<buffer>"
        if len(buf) < 132 or bytes(buf[128:132]) != b"DICM":
            raise InvalidFileError("no 'DICM' prefix at offset 128", offset=128, source=name)
    else:
        name = str(source)
        with open(source, "rb") as f:
            head = f.read(132)
            if len(head) < 132 or head[128:132] != b"DICM":
                raise InvalidFileError("no 'DICM' prefix at offset 128", offset=128, source=name)
            rest = f.read(1 << 16)
        buf = memoryview(head + rest)
    parser = _Parser(buf, lenient=False, stop_before_pixels=False, source=name)
    meta, _ = _read_meta(parser, 132)
    return meta
