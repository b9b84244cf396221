"""The raw element walker: element headers, sequences skipped whole, the end of the File Meta Information,
and a quick look at a Part 10 file's start — all without building a Dataset.

This is the one place that knows the byte layout of element headers (PS3.5 7.1.1-7.1.3): the reader's
lazy sequence skipping, the DICOMDIR record scan, the storage path's probe of files to send, and the check
of objects received or sent (their declared lengths against the bytes there are) all walk with it.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..core.dictionary import VR_OF
from ..core.errors import InvalidFileError, TruncatedError
from ..core.tag import (
    ITEM_DELIMITATION,
    PIXEL_DATA,
    SEQUENCE_DELIMITATION,
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    SPECIFIC_CHARACTER_SET,
    TRANSFER_SYNTAX_UID,
    tag_str,
)
from ..core.uid import TRANSFER_SYNTAXES
from ..core.vr import LONG_HEADER_VRS, VR_FROM_BYTES

UNDEFINED_LENGTH = 0xFFFFFFFF
MAX_DEPTH = 64  # nesting of sequences; deeper input is treated as malicious

# PS3.5 7.1.2: the VRs whose explicit header has two reserved bytes and a 32-bit length.
LONG_VR_BYTES = frozenset(vr.encode() for vr in LONG_HEADER_VRS)
VR_BYTES = frozenset(VR_FROM_BYTES)

IMPLICIT_LE = struct.Struct("<HHI")
IMPLICIT_BE = struct.Struct(">HHI")
EXPLICIT_LE = struct.Struct("<HH2sH")
EXPLICIT_BE = struct.Struct(">HH2sH")
UL_LE = struct.Struct("<I")
UL_BE = struct.Struct(">I")
ITEM_TAG_LE = b"\xfe\xff\x00\xe0"
# An item header read as two 32-bit words: the tag (group and element swapped in little endian) and length.
ITEM_HEADER_LE = struct.Struct("<II")
ITEM_HEADER_BE = struct.Struct(">II")
ITEM_WORD_LE = 0xE000FFFE  # (FFFE,E000) as the first word of ITEM_HEADER_LE
ITEM_WORD_BE = 0xFFFEE000


@dataclass(frozen=True)
class Layout:
    """How element headers are laid out: byte order and explicit or implicit VR."""

    little: bool
    implicit: bool

    @classmethod
    def of(cls, transfer_syntax: str) -> Layout | None:
        """The layout of a transfer syntax's data set; None for one unknown or deflated."""
        info = TRANSFER_SYNTAXES.get(str(transfer_syntax))
        if info is None or info.deflated:
            return None
        return _LAYOUTS[info.little_endian, info.implicit_vr]  # one of the few there are: nothing made per call


EXPLICIT_LITTLE = Layout(True, False)
IMPLICIT_LITTLE = Layout(True, True)
_LAYOUTS = {(True, False): EXPLICIT_LITTLE, (True, True): IMPLICIT_LITTLE,
            (False, False): Layout(False, False), (False, True): Layout(False, True)}


def element_header(buf: bytes | bytearray | memoryview, pos: int, end: int, layout: Layout,
                   source: str | None = None) -> tuple[int, bytes, int, int]:
    """``(tag, VR bytes, value length, value offset)`` of the element header at ``pos``.

    Item and delimitation tags (group FFFE) and implicit-VR elements have no VR (``b""``). Raises
    TruncatedError when the header does not fit before ``end``, InvalidFileError for an invalid VR.
    """
    if pos + 8 > end:
        raise TruncatedError(f"element header needs 8 bytes, only {max(end - pos, 0)} left", offset=pos,
                             source=source)
    little = layout.little
    if layout.implicit:
        group, elem, length = (IMPLICIT_LE if little else IMPLICIT_BE).unpack_from(buf, pos)
        return (group << 16) | elem, b"", length, pos + 8
    group, elem, vr, length = (EXPLICIT_LE if little else EXPLICIT_BE).unpack_from(buf, pos)
    tag = (group << 16) | elem
    if group == 0xFFFE:
        return tag, b"", (UL_LE if little else UL_BE).unpack_from(buf, pos + 4)[0], pos + 8
    if vr in LONG_VR_BYTES:
        if pos + 12 > end:
            raise TruncatedError(f"{tag_str(tag)}: the header of a {vr.decode()} element needs 12 bytes",
                                 offset=pos, source=source)
        return tag, vr, (UL_LE if little else UL_BE).unpack_from(buf, pos + 8)[0], pos + 12
    if vr not in VR_BYTES:
        raise InvalidFileError(f"{tag_str(tag)} has invalid VR {vr!r}", offset=pos, source=source)
    return tag, vr, length, pos + 8


def defined_sequence_end(buf: bytes | bytearray | memoryview, pos: int, seq_end: int, limit: int, little: bool,
                         implicit: bool, depth: int = 1) -> int | None:
    """Where the items of the defined-length sequence whose value is ``buf[pos:seq_end]`` really end (PS3.5
    7.5.1): ``seq_end`` when they fill it exactly; beyond it when an item runs past the sequence's end — that
    item is read whole and the sequence ends with it, as DCMTK reads it (a known writer's defect: the last
    DICOMDIR record running past its sequence); None when anything else is irregular (a tag other than an
    Item, a header cut short, an item running past ``limit`` — the end of the enclosing item or of the data —
    or an undefined-length item without its delimiter), so that the caller parses it in full and reports or
    refuses what it finds.
    """
    unpack = (ITEM_HEADER_LE if little else ITEM_HEADER_BE).unpack_from
    item_word = ITEM_WORD_LE if little else ITEM_WORD_BE
    while pos < seq_end:
        if pos + 8 > limit:
            return None
        word, length = unpack(buf, pos)
        if word != item_word:
            return None
        if length == UNDEFINED_LENGTH:
            after = skip_item(buf, pos + 8, limit, little, implicit, depth)
            if after is None:
                return None
            pos = after
        else:
            pos += 8 + length
    return pos if pos <= limit else None


def skip_sequence(buf: bytes | bytearray | memoryview, pos: int, end: int, little: bool, implicit: bool,
                  depth: int = 1) -> int | None:
    """The offset of the Sequence Delimitation Item that ends the undefined-length sequence whose items start
    at ``pos``; defined-length items are jumped over whole. None when anything is irregular (the caller then
    parses it in full, reporting or refusing what it finds). PS3.5 7.5.
    """
    if depth > MAX_DEPTH:
        return None
    unpack = (IMPLICIT_LE if little else IMPLICIT_BE).unpack_from
    while pos + 8 <= end:
        group, elem, length = unpack(buf, pos)
        if group != 0xFFFE:
            return None
        if elem == 0xE0DD:
            return pos  # its length should be 0 (PS3.5 7.5.2); DCMTK and pydicom ignore it, as the reader does
        if elem != 0xE000:
            return None
        if length != UNDEFINED_LENGTH:
            pos += 8 + length
            if pos > end:
                return None
            continue
        after = skip_item(buf, pos + 8, end, little, implicit, depth)
        if after is None:
            return None
        pos = after
    return None


def skip_item(buf: bytes | bytearray | memoryview, pos: int, end: int, little: bool, implicit: bool,
              depth: int) -> int | None:
    """The offset after the Item Delimitation Item of the undefined-length item whose elements start at
    ``pos``, or None if irregular."""
    unpack = ((IMPLICIT_LE if little else IMPLICIT_BE) if implicit else (EXPLICIT_LE if little else EXPLICIT_BE)
              ).unpack_from
    unpack_ul = (UL_LE if little else UL_BE).unpack_from
    while pos + 8 <= end:
        if implicit:
            group, elem, length = unpack(buf, pos)
            value_pos = pos + 8
            vr_bytes = b""
        else:
            group, elem, vr_bytes, length = unpack(buf, pos)
            if group == 0xFFFE:
                length = unpack_ul(buf, pos + 4)[0]
                value_pos = pos + 8
            elif vr_bytes in LONG_VR_BYTES:
                if pos + 12 > end:
                    return None
                length = unpack_ul(buf, pos + 8)[0]
                value_pos = pos + 12
            elif vr_bytes in VR_BYTES:
                value_pos = pos + 8
            else:
                return None
        if group == 0xFFFE:
            return pos + 8 if elem == 0xE00D else None  # a length of the delimiter is ignored (see skip_sequence)
        if length == UNDEFINED_LENGTH:
            if vr_bytes == b"UN":  # PS3.5 6.2.2: a sequence in Implicit VR Little Endian
                inner = skip_sequence(buf, value_pos, end, True, True, depth + 1)
            elif implicit or vr_bytes == b"SQ":
                inner = skip_sequence(buf, value_pos, end, little, implicit, depth + 1)
            else:
                return None  # encapsulated data inside an item: leave it to the full parser
            if inner is None:
                return None
            pos = inner + 8
            continue
        pos = value_pos + length
        if pos > end:
            return None
    return None


def skip_encapsulated(buf: bytes | bytearray | memoryview, pos: int, end: int) -> int | None:
    """The offset after the Sequence Delimitation Item of encapsulated Pixel Data whose items start at
    ``pos`` (PS3.5 A.4: items are always little endian), or None when an item runs past ``end``."""
    while pos + 8 <= end:
        group, elem, length = IMPLICIT_LE.unpack_from(buf, pos)
        if group != 0xFFFE:
            return None
        if elem == 0xE0DD:
            return pos + 8
        if elem != 0xE000 or length == UNDEFINED_LENGTH:
            return None
        pos += 8 + length
        if pos > end:
            return None
    return None


def meta_end(buf: bytes | bytearray | memoryview, start: int = 132) -> int:
    """The offset where the data set starts after the File Meta Information (group 0002, Explicit VR Little
    Endian, PS3.10 7.1) that begins at ``start``."""
    pos, n = start, len(buf)
    while pos + 8 <= n:
        if UL_LE.unpack_from(buf, pos)[0] & 0xFFFF != 0x0002:
            return pos
        _tag, _vr, length, value_pos = element_header(buf, pos, n, EXPLICIT_LITTLE)
        pos = value_pos + length
    if pos <= n:
        return pos
    raise InvalidFileError("File Meta Information runs past the end of the file", offset=start)


def is_zero_padding(buf: bytes | bytearray | memoryview, pos: int, end: int) -> bool:
    """True when ``buf[pos:end]`` is zero bytes in whole element headers (a multiple of 8): padding after
    a data set that DCMTK and pydicom both read (as empty (0000,0000) elements) and the reader skips with a
    correction. Other trailing bytes are refused, as DCMTK refuses them."""
    n = end - pos
    if n <= 0 or n % 8 or bytes(buf[pos:pos + 8]) != _ZERO_HEADER:
        return False
    return not bytes(buf[pos:end]).strip(b"\x00")


_ZERO_HEADER = bytes(8)


def _skip_plain(buf: bytes | bytearray | memoryview, pos: int, end: int, layout: Layout) -> int:
    """The offset of the first element from ``pos`` that is not plain, for :func:`check_lengths`: plain
    elements — a valid little endian header whose defined length fits before ``end``, not a sequence, not
    group FFFE — are stepped over with one unpack each; the general walk takes the others."""
    if not layout.little:
        return pos
    if layout.implicit:
        unpack_implicit = IMPLICIT_LE.unpack_from
        while pos + 8 <= end:
            group, elem, length = unpack_implicit(buf, pos)
            if (group == 0xFFFE or length == UNDEFINED_LENGTH or pos + 8 + length > end
                    or VR_OF.get((group << 16) | elem) == "SQ"):
                return pos
            pos += 8 + length
        return pos
    unpack, unpack_ul = EXPLICIT_LE.unpack_from, UL_LE.unpack_from
    while pos + 12 <= end:
        group, _elem, vr, length = unpack(buf, pos)
        if group == 0xFFFE or vr == b"SQ":
            return pos
        if vr in LONG_VR_BYTES:
            length = unpack_ul(buf, pos + 8)[0]
            if length == UNDEFINED_LENGTH or pos + 12 + length > end:
                return pos
            pos += 12 + length
        elif vr in VR_BYTES and pos + 8 + length <= end:
            pos += 8 + length
        else:
            return pos
    return pos


def check_lengths(buf: bytes | bytearray | memoryview, pos: int, end: int, layout: Layout,
                  source: str | None = None) -> None:
    """Walk the top-level elements of a data set from ``pos`` and check that every declared length fits in
    the ``end - pos`` bytes there are (undefined-length sequences and encapsulated Pixel Data walked to their
    delimiters, defined-length sequences through their item headers). What the default reader refuses at the
    top level — a value or an item running past the end, a header cut short, an undefined-length value not
    terminated, an Item or Sequence Delimitation Item where an element belongs, trailing bytes other than
    zero padding — raises InvalidFileError (TruncatedError for what runs past the end) naming the element;
    what it reads with a correction (a stray Item Delimitation Item, zero padding, a last item running past
    its sequence) passes. Nothing inside items is decoded.
    """
    while pos < end:
        pos = _skip_plain(buf, pos, end, layout)
        if pos >= end:
            return
        if buf[pos] == 0 and is_zero_padding(buf, pos, end):
            return
        tag, vr, length, value_pos = element_header(buf, pos, end, layout, source)
        if tag >> 16 == 0xFFFE:
            if tag == ITEM_DELIMITATION:  # stray: the reader skips it
                pos = value_pos
                continue
            what = "a Sequence Delimitation Item" if tag == SEQUENCE_DELIMITATION else "an Item"
            raise InvalidFileError(f"{what} {tag_str(tag)} where a data element was expected", offset=pos,
                                   source=source)
        if length == UNDEFINED_LENGTH:
            if tag == PIXEL_DATA or vr in (b"OB", b"OW"):
                after = skip_encapsulated(buf, value_pos, end)
                what = "encapsulated Pixel Data"
            else:
                little, implicit = (True, True) if vr == b"UN" else (layout.little, layout.implicit)
                seq_end = skip_sequence(buf, value_pos, end, little, implicit)
                after = None if seq_end is None else seq_end + 8
                what = f"the undefined-length sequence {tag_str(tag)}"
            if after is None:
                raise TruncatedError(f"{what} is not terminated within the data ({end - value_pos} bytes from "
                                     "its start)", offset=pos, source=source)
            pos = after
            continue
        next_pos = value_pos + length
        if next_pos > end:
            raise TruncatedError(f"{tag_str(tag)} declares {length} bytes but only {end - value_pos} remain",
                                 offset=pos, source=source)
        if vr == b"SQ" or (not vr and VR_OF.get(tag) == "SQ"):
            # the reader continues after a last item that runs past its sequence (defined_sequence_end)
            after = defined_sequence_end(buf, value_pos, next_pos, end, layout.little, layout.implicit)
            if after is not None:
                next_pos = after
        pos = next_pos


_SHORT_VR_BYTES = VR_BYTES - LONG_VR_BYTES
# PS3.5 7.1.2: the long-header VRs whose value is plain bytes (a sequence has items, UN may be one)
_LONG_PLAIN_VR_BYTES = LONG_VR_BYTES - {b"SQ", b"UN"}
_ITEM_GROUP_START = 0xFFFE0000


def plain_elements(buf: bytes | bytearray | memoryview, watch: dict[int, bool]) -> PlainElements | None:
    """The elements of ``watch`` whose entry is True, and where every element and item header is, found by a
    walk of the Explicit VR Little Endian data set that is ``buf`` — or None unless every element there is
    *plain*: tags strictly ascending below group FFFE, a known VR other than UN, a defined even length, the
    last value ending exactly at the end, and no tag of ``watch`` whose entry is False; a sequence (SQ) is
    plain when its items are (:func:`_plain_sequence`). Such a data set is one the reader indexes without a
    correction, and whose sequences it parses without one; anything else (None) is the reader's to judge.
    Nothing is decoded."""
    unpack, unpack_ul = EXPLICIT_LE.unpack_from, UL_LE.unpack_from
    short, long_plain, end = _SHORT_VR_BYTES, _LONG_PLAIN_VR_BYTES, len(buf)
    found: dict[int, tuple[bytes, int, int]] = {}
    shorts: list[int] = []
    longs: list[int] = []
    short_at, long_at = shorts.append, longs.append
    pos = 0
    last = -1
    odd = 0
    try:
        while pos < end:
            group, elem, vr, length = unpack(buf, pos)  # struct.error: a header cut short
            tag = (group << 16) | elem
            if tag <= last:
                return None
            if vr in short:
                short_at(pos)
                pos = pos + 8 + length  # past the end: the next header does not unpack, or the loop ends there
            elif vr in long_plain:
                long_at(pos)
                length = unpack_ul(buf, pos + 8)[0]  # struct.error: a long header cut short
                pos = pos + 12 + length
            elif vr == b"SQ":
                long_at(pos)
                pos = _plain_sequence(buf, pos + 12, unpack_ul(buf, pos + 8)[0], end, short_at, long_at, 1)
                if pos < 0:
                    return None
                length = 0  # even: what counts is the items' lengths, which _plain_sequence checked
            else:
                return None
            odd |= length
            if tag in watch:
                if not watch[tag]:
                    return None
                found[tag] = (vr, pos - length, length)
            last = tag
    except struct.error:
        return None
    if pos != end or odd & 1 or last >= _ITEM_GROUP_START:  # ascending: the last tag is the largest
        return None
    return PlainElements(buf, found, shorts, longs)


# sequences nested deeper than this are left to the reader (which refuses beyond MAX_DEPTH)
_PLAIN_DEPTH = 8
_SEQUENCE_DELIMITATION_WORD = 0xE0DDFFFE  # (FFFE,E0DD) as the first word of ITEM_HEADER_LE


def _plain_sequence(buf: bytes | bytearray | memoryview, pos: int, length: int, end: int,
                    short_at: Callable[[int], None], long_at: Callable[[int], None], depth: int) -> int:
    """The offset after a sequence whose value of ``length`` bytes starts at ``pos`` if it is plain, else -1.

    A defined-length sequence must lie within ``end`` (the end of what holds it), and items of defined even
    lengths fill it exactly. An undefined-length one ends with its Sequence Delimitation Item of length 0
    within ``end``, and its items have a defined even length or end with an Item Delimitation Item of
    length 0 (PS3.5 7.5). Each item holds plain elements (:func:`_plain_item`), nested at most
    :data:`_PLAIN_DEPTH` deep. Every item and delimiter header is recorded as an element header is."""
    undefined = length == UNDEFINED_LENGTH
    if not undefined:
        if pos + length > end:
            return -1
        end = pos + length
    if depth > _PLAIN_DEPTH:
        return -1
    unpack_item = ITEM_HEADER_LE.unpack_from
    while pos + 8 <= end:
        word, length = unpack_item(buf, pos)
        if word == _SEQUENCE_DELIMITATION_WORD:
            if not undefined or length:
                return -1
            short_at(pos)
            return pos + 8
        if word != ITEM_WORD_LE:
            return -1
        short_at(pos)
        if length == UNDEFINED_LENGTH:
            if not undefined:
                return -1  # an undefined-length item in a defined-length sequence: the reader's to judge
            pos = _plain_item(buf, pos + 8, end, True, short_at, long_at, depth)
            if pos < 0:
                return -1
            continue
        item_end = pos + 8 + length
        if length & 1 or item_end > end or _plain_item(buf, pos + 8, item_end, False, short_at, long_at,
                                                       depth) != item_end:
            return -1
        pos = item_end
    return -1 if undefined or pos != end else pos


def _plain_item(buf: bytes | bytearray | memoryview, pos: int, end: int, undefined: bool,
                short_at: Callable[[int], None], long_at: Callable[[int], None], depth: int) -> int:
    """The offset after the elements of an item that start at ``pos`` — at ``end`` for a defined-length item,
    after its Item Delimitation Item (within ``end``) for an undefined-length one — if they are plain as
    :func:`plain_elements` says, with no Specific Character Set of the item's own (which the reader would apply
    to it, PS3.5 7.5.3); else -1."""
    unpack, unpack_ul = EXPLICIT_LE.unpack_from, UL_LE.unpack_from
    short, long_plain = _SHORT_VR_BYTES, _LONG_PLAIN_VR_BYTES
    last = -1
    while pos < end:
        if pos + 8 > end:
            return -1
        group, elem, vr, length = unpack(buf, pos)
        tag = (group << 16) | elem
        if tag >= _ITEM_GROUP_START:
            if undefined and tag == ITEM_DELIMITATION and not unpack_ul(buf, pos + 4)[0]:
                short_at(pos)
                return pos + 8
            return -1
        if tag <= last or tag == SPECIFIC_CHARACTER_SET:
            return -1
        if vr in short:
            short_at(pos)
            pos += 8 + length
        elif vr in long_plain or vr == b"SQ":
            if pos + 12 > end:
                return -1
            long_at(pos)
            length = unpack_ul(buf, pos + 8)[0]
            if vr == b"SQ":
                pos = _plain_sequence(buf, pos + 12, length, end, short_at, long_at, depth + 1)
                if pos < 0:
                    return -1
                length = 0
            else:
                pos += 12 + length
                if pos > end:
                    return -1
        else:
            return -1
        if length & 1:
            return -1
        last = tag
    return -1 if undefined or pos != end else pos


class PlainElements:
    """What :func:`plain_elements` found in a data set: ``found`` (tag -> (VR bytes, value offset, value
    length)), and the bytes of its element headers where they are, for :meth:`same_headers`."""

    __slots__ = ("_expected", "_headers", "found", "length")

    def __init__(self, buf: bytes | bytearray | memoryview, found: dict[int, tuple[bytes, int, int]],
                 shorts: list[int], longs: list[int]) -> None:
        self.found = found
        self.length = len(buf)
        # PS3.5 7.1.2: 8 bytes of header (tag, VR, 16-bit length), 12 for the VRs with a 32-bit length
        where = [slice(p, p + 8) for p in shorts] + [slice(p, p + 12) for p in longs]
        if len(where) < 2:
            where += (slice(0, 0), slice(0, 0))  # itemgetter gives a tuple from two on
        self._headers = operator.itemgetter(*where)
        self._expected = b"".join(self._headers(buf))

    def same_headers(self, buf: bytes | bytearray | memoryview) -> bool:
        """Whether ``buf`` has this data set's length and the same header bytes at the same offsets: then
        :func:`plain_elements` walks it through the same headers to the same end, and finds what it found here
        (at the same offsets; the values there may differ). One comparison, no walk."""
        return len(buf) == self.length and b"".join(self._headers(buf)) == self._expected


def sop_uids(data: bytes | bytearray | memoryview, transfer_syntax: str, start: int = 0) -> tuple[str, str] | None:
    """SOP Class and Instance UIDs (0008,0016/0018) from the start of a data set, walking its first element
    headers; None when the start is anything but plain elements in this encoding (the caller then asks the
    full reader)."""
    layout = Layout.of(transfer_syntax)
    if layout is None:
        return None
    found: dict[int, str] = {}
    pos, n = start, len(data)
    last = -1
    while pos + 8 <= n:
        if layout.implicit and bytes(data[pos + 4:pos + 6]) in VR_BYTES:
            return None  # looks explicit: not what the transfer syntax says
        try:
            tag, _vr, length, value = element_header(data, pos, n, layout)
        except (InvalidFileError, TruncatedError):
            return None
        if tag <= last or tag > SOP_INSTANCE_UID or length == UNDEFINED_LENGTH or value + length > n:
            break
        last = tag
        if tag in (SOP_CLASS_UID, SOP_INSTANCE_UID):
            found[tag] = bytes(data[value:value + length]).decode("ascii", "replace").rstrip("\x00 ")
        pos = value + length
    if SOP_CLASS_UID in found and SOP_INSTANCE_UID in found:
        return found[SOP_CLASS_UID], found[SOP_INSTANCE_UID]
    return None


@dataclass(frozen=True)
class Part10Probe:
    """What the start of a Part 10 file says, found without parsing the data set."""

    transfer_syntax: str
    data_offset: int
    sop_class_uid: str
    sop_instance_uid: str


def probe_part10(head: bytes | bytearray | memoryview) -> Part10Probe | None:
    """Transfer syntax (from the meta), data set offset and SOP UIDs (from the data set) of a Part 10 file's
    first bytes; None for anything unusual, where the full reader decides."""
    if len(head) < 144 or bytes(head[128:132]) != b"DICM":
        return None
    ts = ""
    pos, n = 132, len(head)
    while pos + 8 <= n:
        if UL_LE.unpack_from(head, pos)[0] & 0xFFFF != 0x0002:
            break
        try:
            tag, vr, length, value = element_header(head, pos, n, EXPLICIT_LITTLE)
        except (InvalidFileError, TruncatedError):
            return None
        if not vr:
            return None  # implicit VR meta and other oddities
        if tag == TRANSFER_SYNTAX_UID:
            ts = bytes(head[value:value + length]).decode("ascii", "replace").rstrip("\x00 ")
        pos = value + length
    if pos > n or ts not in TRANSFER_SYNTAXES:
        return None
    uids = sop_uids(head, ts, pos)
    if uids is None:
        return None
    return Part10Probe(ts, pos, uids[0], uids[1])


__all__ = [
    "EXPLICIT_LITTLE",
    "IMPLICIT_LITTLE",
    "LONG_VR_BYTES",
    "UNDEFINED_LENGTH",
    "Layout",
    "Part10Probe",
    "PlainElements",
    "check_lengths",
    "defined_sequence_end",
    "element_header",
    "is_zero_padding",
    "meta_end",
    "plain_elements",
    "probe_part10",
    "skip_encapsulated",
    "skip_item",
    "skip_sequence",
    "sop_uids",
]
