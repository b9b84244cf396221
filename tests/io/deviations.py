"""Fixture bytes for the reading deviations of tests/io/test_read_defaults.py: each case is a small Part 10
file built by hand with one structural defect, and a record of what DCMTK's dcmdump 3.6.7 and pydicom 3.0
do with it by default (found by running both; test_read_defaults checks the record against them).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

UNDEFINED = 0xFFFFFFFF
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
SC = "1.2.840.10008.5.1.4.1.1.7"


def even(text: str | bytes, pad: bytes = b" ") -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return data + pad if len(data) % 2 else data


def el(tag: int, vr: str, value: bytes, length: int | None = None) -> bytes:
    """An Explicit VR Little Endian element; ``length`` overrides the declared length."""
    n = len(value) if length is None else length
    if vr in LONG_VRS:
        return struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, vr.encode(), n) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), n) + value


def iel(tag: int, value: bytes, length: int | None = None) -> bytes:
    """An Implicit VR Little Endian element."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value) if length is None else length) + value


def sq_undefined(tag: int, body: bytes) -> bytes:
    return struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, b"SQ", UNDEFINED) + body


def item(body: bytes, length: int | None = None) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body) if length is None else length) + body


def item_undefined(body: bytes, delimiter: bool = True) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED) + body + (ITEM_END if delimiter else b"")


ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def meta(ts: str = EXPLICIT_LE) -> bytes:
    body = (el(0x00020001, "OB", b"\x00\x01") + el(0x00020002, "UI", even(SC, b"\0"))
            + el(0x00020003, "UI", even("1.2.3.4", b"\0")) + el(0x00020010, "UI", even(ts, b"\0")))
    return b"\0" * 128 + b"DICM" + el(0x00020000, "UL", struct.pack("<I", len(body))) + body


HEAD = el(0x00080016, "UI", even(SC, b"\0")) + el(0x00080018, "UI", even("1.2.3.4", b"\0"))
TAIL = el(0x00100010, "PN", even("Doe^John")) + el(0x00200010, "SH", even("STUDY1"))
REFS = 0x00081140  # Referenced Image Sequence: the sequence of every case
NESTED = 0x00400560  # Specimen Description Sequence: a sequence inside its items


def code(value: str, meaning: str = "") -> bytes:
    body = el(0x00080100, "SH", even(value)) + el(0x00080102, "SH", even("DCM"))
    return body + (el(0x00080104, "LO", even(meaning)) if meaning else b"")


ITEM1 = item(code("1"))  # 30 bytes
ITEM2 = item(code("2", "meaning two"))  # 50 bytes, its last element (0008,0104) 20 bytes
TWO_ITEMS = ITEM1 + ITEM2


def part10(body: bytes, tail: bool = True) -> bytes:
    return meta() + HEAD + body + (TAIL if tail else b"")


def implicit_part10(body: bytes) -> bytes:
    head = iel(0x00080016, even(SC, b"\0")) + iel(0x00080018, even("1.2.3.4", b"\0"))
    return meta(IMPLICIT_LE) + head + body + iel(0x00100010, even("Doe^John"))


def icode(value: str, meaning: str = "") -> bytes:
    body = iel(0x00080100, even(value)) + iel(0x00080102, even("DCM"))
    return body + (iel(0x00080104, even(meaning)) if meaning else b"")


_IMAGE = (el(0x00280002, "US", struct.pack("<H", 1)) + el(0x00280004, "CS", even("MONOCHROME2"))
          + el(0x00280010, "US", struct.pack("<H", 2)) + el(0x00280011, "US", struct.pack("<H", 2))
          + el(0x00280100, "US", struct.pack("<H", 8)) + el(0x00280101, "US", struct.pack("<H", 8))
          + el(0x00280102, "US", struct.pack("<H", 7)) + el(0x00280103, "US", struct.pack("<H", 0)))


def jpeg_file(fragments: list[bytes], *, vr: str = "OB", delimiter: bool = True, cut: int = 0) -> bytes:
    data = meta(JPEG_BASELINE) + HEAD + el(0x00100010, "PN", even("Doe^John")) + _IMAGE
    data += struct.pack("<HH2s2xI", 0x7FE0, 0x0010, vr.encode(), UNDEFINED) + item(b"")
    for fragment in fragments:
        data += item(fragment)
    data += SEQ_END if delimiter else b""
    return data[:len(data) - cut]


@dataclass(frozen=True)
class Case:
    """One deviation: its bytes, what dcmdump and pydicom do by default, and what dicomkit does.

    ``dcmdump``/``pydicom``: "reads" or "refuses" (pydicom reading an empty data set counts as refusing);
    ``how`` says how they read it where that matters. ``ours``: "reads" (with ``correction`` in
    read_corrections, None for input that is valid) or "refuses" (with ``error`` in the message).
    ``items`` is the number of items of (0008,1140) when read; ``top`` keywords that must be at the top level.
    ``on_access``: the defect lies inside an item whose length is right, so the default reader (which
    parses sequences on first access) refuses it then, not at read time; strict=True and
    dicomkit.io.reader.parse_sequences refuse it at read time.
    """

    name: str
    build: Callable[[], bytes]
    dcmdump: str
    pydicom: str
    ours: str
    correction: str | None = None
    error: str | None = None
    how: str = ""
    items: int | None = None
    top: tuple[str, ...] = ()
    canonical_after_write: bool = False
    on_access: bool = False


def _last_item_overrun(short_by: int, tail: bool = True) -> Callable[[], bytes]:
    return lambda: part10(el(REFS, "SQ", TWO_ITEMS, length=len(TWO_ITEMS) - short_by), tail=tail)


def _nested_last_item_overrun() -> bytes:
    inner = item(code("9"))
    body = code("1") + el(NESTED, "SQ", inner, length=len(inner) - 10)
    return part10(el(REFS, "SQ", item(body)))


def _element_overruns_item() -> bytes:
    body = code("2", "meaning two")
    short = item(body, length=len(body) - 6)
    return part10(el(REFS, "SQ", ITEM1 + short))  # the sequence's length covers the real bytes


def _nested_sequence_overruns_item() -> bytes:
    body = code("1") + el(NESTED, "SQ", item(code("9")))
    return part10(el(REFS, "SQ", item(body, length=len(body) - 10)))


def _odd_item() -> bytes:
    body = el(0x00080100, "SH", b"1") + el(0x00080102, "SH", b"DCM ")
    return part10(el(REFS, "SQ", item(body)))


def _undefined_sequence_in_short_item() -> bytes:
    body = code("1") + sq_undefined(NESTED, ITEM1 + SEQ_END)
    return part10(el(REFS, "SQ", item(body, length=len(body) - 8), length=len(body)))


def _undefined_sequence_ended_by_item() -> bytes:
    return part10(el(REFS, "SQ", item(code("1") + sq_undefined(NESTED, ITEM1))))


def _group_length_lies() -> bytes:
    group = el(0x00100010, "PN", even("Doe^John")) + el(0x00100020, "LO", even("ID1"))
    return meta() + HEAD + el(0x00100000, "UL", struct.pack("<I", 1000)) + group


def _meta_group_length_lies() -> bytes:
    data = bytearray(part10(b""))
    struct.pack_into("<I", data, 140, 20)
    return bytes(data)


def _implicit_last_item_overrun() -> bytes:
    items = item(icode("1")) + item(icode("2", "meaning two"))
    return implicit_part10(iel(REFS, items, length=len(items) - 20))


def _implicit_sequence_not_terminated() -> bytes:
    items = item(icode("1")) + item(icode("2", "meaning two"))
    head = iel(0x00080016, even(SC, b"\0")) + iel(0x00080018, even("1.2.3.4", b"\0"))
    return meta(IMPLICIT_LE) + head + iel(REFS, items, length=UNDEFINED)


CASES: list[Case] = [
    # -- a defined-length sequence and its items
    Case("last item runs past its sequence, which ends the data set (the DICOMDIR case)",
         _last_item_overrun(20, tail=False), "reads", "reads", "reads", correction="runs 20 bytes past",
         how="dcmdump reads the item whole; pydicom cuts it at the sequence's end and reads the rest as "
             "top-level elements", items=2, canonical_after_write=True),
    Case("last item runs past its sequence, elements follow", _last_item_overrun(20), "reads", "reads", "reads",
         correction="runs 20 bytes past", how="as above", items=2, top=("PatientName", "StudyID"),
         canonical_after_write=True),
    Case("last item runs past its sequence, which ends inside an element", _last_item_overrun(6), "reads",
         "reads", "reads", correction="runs 6 bytes past",
         how="pydicom cuts (0008,0104) and reads the rest as a private element", items=2,
         top=("PatientName", "StudyID"), canonical_after_write=True),
    Case("first of two items runs past its sequence",
         lambda: part10(el(REFS, "SQ", TWO_ITEMS, length=len(ITEM1) - 6)), "refuses", "refuses", "refuses",
         error="an Item (FFFE,E000) where a data element was expected"),
    Case("sequence length covers elements after its items",
         lambda: part10(el(REFS, "SQ", TWO_ITEMS, length=len(TWO_ITEMS) + 16)), "refuses", "reads", "refuses",
         error="expected an Item", how="pydicom reads a third item of garbage"),
    Case("nested sequence's last item runs past it, inside its item", _nested_last_item_overrun, "reads",
         "reads", "reads", correction="runs 10 bytes past", how="pydicom reads garbage in the item", items=1,
         top=("PatientName",)),
    Case("defined-length item whose last element runs past it", _element_overruns_item, "refuses", "reads",
         "refuses", error="declares 12 bytes but only 6 remain", how="pydicom reads the element whole"),
    Case("nested defined-length sequence runs past its item", _nested_sequence_overruns_item, "refuses",
         "reads", "refuses", error="declares 30 bytes but only 20 remain"),
    Case("item of odd length", _odd_item, "reads", "reads", "reads", correction="odd length",
         items=1, top=("PatientName",)),
    Case("item length one more than its elements",
         lambda: part10(el(REFS, "SQ", item(code("1") + b"\0", length=len(code("1")) + 1))), "refuses", "reads",
         "refuses", error="element header needs 8 bytes", on_access=True),
    Case("zero-length item", lambda: part10(el(REFS, "SQ", item(b"") + ITEM1)), "reads", "reads", "reads",
         items=2),
    Case("zero-length sequence", lambda: part10(el(REFS, "SQ", b"")), "reads", "reads", "reads", items=0),
    Case("Sequence Delimitation Item in a defined-length sequence",
         lambda: part10(el(REFS, "SQ", ITEM1 + SEQ_END)), "reads", "reads", "reads",
         correction="Sequence Delimitation Item in a defined-length sequence", items=1, top=("PatientName",)),
    Case("Item Delimitation Item after a defined-length item",
         lambda: part10(el(REFS, "SQ", ITEM1 + ITEM_END)), "refuses", "reads", "refuses",
         error="expected an Item", how="pydicom reads an empty second item"),
    Case("Item Delimitation Item inside a defined-length item",
         lambda: part10(el(REFS, "SQ", item(code("1") + ITEM_END))), "reads", "reads", "reads",
         correction="stray Item Delimitation Item", items=1),
    Case("Sequence Delimitation Item inside a defined-length item",
         lambda: part10(el(REFS, "SQ", item(code("1") + SEQ_END))), "refuses", "refuses", "refuses",
         error="a Sequence Delimitation Item where a data element was expected", on_access=True),
    Case("undefined-length item in a defined-length sequence",
         lambda: part10(el(REFS, "SQ", item_undefined(code("1")))), "reads", "reads", "reads", items=1),
    Case("undefined-length item without delimiter, ended by its defined-length sequence",
         lambda: part10(el(REFS, "SQ", item_undefined(code("1"), delimiter=False))), "reads", "reads", "reads",
         correction="ended by the end of its defined-length sequence", items=1, top=("PatientName",),
         how="dcmdump reads the rest of the data set into the item; pydicom ends it with the sequence"),
    Case("undefined-length last item runs past its defined-length sequence",
         lambda: part10(el(REFS, "SQ", ITEM1 + item_undefined(code("2")), length=len(ITEM1) + 12)),
         "reads", "reads", "reads", correction="runs 26 bytes past", how="pydicom reads garbage", items=2,
         top=("PatientName",), canonical_after_write=True),
    Case("undefined-length sequence in an item too short for it", _undefined_sequence_in_short_item, "reads",
         "refuses", "refuses", error="a Sequence Delimitation Item where a data element was expected"),
    Case("undefined-length sequence ended by its item, without delimiter", _undefined_sequence_ended_by_item,
         "refuses", "refuses", "refuses", error="the item that holds it ends before its Sequence Delimitation",
         on_access=True),
    # -- delimiters
    Case("Sequence Delimitation Item missing at the end of the data",
         lambda: part10(sq_undefined(REFS, ITEM1), tail=False), "refuses", "refuses", "refuses",
         error="the data ends before its Sequence Delimitation Item"),
    Case("Item and Sequence Delimitation Items missing at the end of the data",
         lambda: part10(sq_undefined(REFS, item_undefined(code("1"), delimiter=False)), tail=False), "refuses",
         "refuses", "refuses", error="the data ends before its Item Delimitation Item"),
    Case("Sequence Delimitation Item missing after an undefined-length item at the end of the data",
         lambda: part10(sq_undefined(REFS, item_undefined(code("1"))), tail=False), "refuses", "refuses",
         "refuses", error="the data ends before its Sequence Delimitation Item"),
    Case("Sequence Delimitation Item missing before the next element",
         lambda: part10(sq_undefined(REFS, ITEM1)), "refuses", "refuses", "refuses", error="expected an Item"),
    Case("Item Delimitation Item missing before the Sequence Delimitation Item",
         lambda: part10(sq_undefined(REFS, item_undefined(code("1"), delimiter=False) + SEQ_END)), "refuses",
         "refuses", "refuses", error="an undefined-length item lacks its Item Delimitation Item"),
    Case("Sequence Delimitation Item with a length",
         lambda: part10(sq_undefined(REFS, ITEM1 + struct.pack("<HHI", 0xFFFE, 0xE0DD, 4))), "reads", "reads",
         "reads", correction="Sequence Delimitation Item has length 4", items=1, top=("PatientName",)),
    Case("Item Delimitation Item with a length",
         lambda: part10(sq_undefined(REFS, item_undefined(code("1"), delimiter=False)
                                     + struct.pack("<HHI", 0xFFFE, 0xE00D, 4) + SEQ_END)),
         "reads", "reads", "reads", correction="Item Delimitation Item has length 4", items=1,
         top=("PatientName",)),
    Case("stray Item Delimitation Item at the top level", lambda: meta() + HEAD + ITEM_END + TAIL, "reads",
         "reads", "reads", correction="stray Item Delimitation Item skipped", top=("PatientName", "StudyID"),
         how="both end the data set there, dropping what follows; dicomkit keeps it"),
    Case("stray Sequence Delimitation Item at the top level", lambda: meta() + HEAD + SEQ_END + TAIL,
         "refuses", "refuses", "refuses", error="a Sequence Delimitation Item where a data element was expected"),
    Case("Item at the top level", lambda: meta() + HEAD + ITEM1 + TAIL, "refuses", "refuses", "refuses",
         error="an Item (FFFE,E000) where a data element was expected"),
    Case("undefined length on a UC element",
         lambda: part10(el(0x00080119, "UC", b"", length=UNDEFINED) + b"AB"), "refuses", "refuses", "refuses",
         error="has undefined length", how="pydicom reads an empty data set with a warning"),
    # -- lengths and what follows the data set
    Case("odd value length", lambda: meta() + HEAD + el(0x00100010, "PN", b"Doe") + el(0x00100020, "LO", b"ID"),
         "reads", "reads", "reads", correction="odd length 3", top=("PatientName", "PatientID")),
    Case("a group length that lies", _group_length_lies, "reads", "reads", "reads", top=("PatientID",),
         correction="(0010,0000) Group Length says 1000, the group has 28 bytes",
         how="neither says anything; the writer recomputes group lengths"),
    Case("File Meta Information Group Length that lies", _meta_group_length_lies, "reads", "reads", "reads",
         correction="File Meta Information Group Length says 20", top=("PatientName",)),
    Case("16 zero bytes after the data set", lambda: part10(b"") + bytes(16), "reads", "reads", "reads",
         correction="16 zero bytes after the last element", top=("PatientName", "StudyID"),
         how="both read (0000,0000) elements of length 0"),
    Case("8 zero bytes after the data set", lambda: part10(b"") + bytes(8), "reads", "reads", "reads",
         correction="8 zero bytes after the last element", top=("StudyID",)),
    Case("3 zero bytes after the data set", lambda: part10(b"") + bytes(3), "refuses", "reads", "refuses",
         error="element header needs 8 bytes"),
    Case("text after the data set", lambda: part10(b"") + b"garbage after the data set!\n", "refuses", "reads",
         "refuses", error="invalid VR", how="pydicom reads a private element"),
    Case("FF bytes after the data set", lambda: part10(b"") + b"\xff" * 10, "refuses", "refuses", "refuses",
         error="invalid VR"),
    Case("Data Set Trailing Padding element", lambda: part10(b"") + el(0xFFFCFFFC, "OB", bytes(10)), "reads",
         "reads", "reads", top=("DataSetTrailingPadding",)),
    # -- the end of the data
    Case("value running past the end of the data", lambda: part10(b"")[:-2], "refuses", "reads", "refuses",
         error="declares 6 bytes but only 4 remain", how="pydicom keeps the value cut short"),
    Case("item running past the end of the data", lambda: meta() + HEAD + el(REFS, "SQ", ITEM1)[:-4],
         "refuses", "reads", "refuses", error="declares 30 bytes but only 26 remain"),
    Case("element header cut short", lambda: part10(b"") + b"\x20\x00\x11\x00IS", "refuses", "reads",
         "refuses", error="element header needs 8 bytes"),
    # -- encapsulated Pixel Data
    Case("encapsulated Pixel Data not terminated at the end of the data",
         lambda: jpeg_file([b"\xff\xd8\xff\xd9"], delimiter=False), "refuses", "refuses", "refuses",
         error="encapsulated Pixel Data not terminated", how="pydicom reads an empty data set with a warning"),
    Case("last Pixel Data fragment cut short", lambda: jpeg_file([b"\xff\xd8\0\0\xff\xd9"], delimiter=False, cut=2),
         "refuses", "refuses", "refuses", error="fragment of 6 bytes runs past the end"),
    Case("Pixel Data item header cut short",
         lambda: jpeg_file([b"\xff\xd8\xff\xd9"], delimiter=False) + b"\xfe\xff\x00", "refuses", "refuses",
         "refuses", error="ends inside an item header"),
    Case("encapsulated Pixel Data with VR OW", lambda: jpeg_file([b"\xff\xd8\xff\xd9"], vr="OW"), "reads",
         "reads", "reads", correction="has VR OW; read as OB", top=("PixelData",)),
    Case("Pixel Data fragment of odd length", lambda: jpeg_file([b"\xff\xd8\xff\xd9\0"]), "reads", "reads",
         "reads", correction="fragment of odd length 5", top=("PixelData",)),
    # -- Implicit VR Little Endian
    Case("Implicit VR: last item runs past its sequence", _implicit_last_item_overrun, "reads", "reads", "reads",
         correction="runs 20 bytes past", items=2, top=("PatientName",), canonical_after_write=True),
    Case("Implicit VR: sequence not terminated at the end of the data", _implicit_sequence_not_terminated,
         "refuses", "refuses", "refuses", error="the data ends before its Sequence Delimitation Item"),
]
