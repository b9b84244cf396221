"""check_received with the meta the receiver built (``transfer_syntax=``, ``meta_length=``): only the data set is
read, and every answer — refusal, reason, corrections with their offsets, the elements read — is the one a read
of the whole object gives, on the corpus and on data sets built to be refused or corrected."""

from __future__ import annotations

import struct

import pytest

import dicomkit
from dicomkit.io.meta import part10_header
from dicomkit.io.raw import LONG_VR_BYTES, meta_end
from dicomkit.services.storage.scp import Checked, _plainly_accepted, check_received

from ..conftest import corpus_params

ELE, ILE, EBE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
DEFLATED = "1.2.840.10008.1.2.1.99"
CT = "1.2.840.10008.5.1.4.1.1.2"


def uid_element(elem: int, uid: str) -> bytes:
    value = uid.encode().ljust(len(uid) + (len(uid) & 1), b"\x00")
    return struct.pack("<HH2sH", 0x0008, elem, b"UI", len(value)) + value


def both(data: bytes, ts: str, sop_class: str = CT, sop_instance: str = "1.2.3.4") -> tuple[Checked, Checked]:
    """The check of the whole object, and the check given the meta it was built with; the check without the
    data set (``dataset=False``, which may walk the headers only) gives the same answer."""
    meta = part10_header(sop_class, sop_instance, ts, "STORESCU")
    whole = check_received(memoryview(meta + data), sop_class, sop_instance)
    known = check_received(memoryview(meta + data), sop_class, sop_instance, transfer_syntax=ts,
                           meta_length=len(meta))
    assert known.refusal == whole.refusal
    assert known.corrections == whole.corrections
    assert (known.dataset is None) == (whole.dataset is None)
    quick = check_received(memoryview(meta + data), sop_class, sop_instance, transfer_syntax=ts,
                           meta_length=len(meta), dataset=False)
    assert (quick.refusal, quick.corrections, quick.dataset) == (whole.refusal, whole.corrections, None)
    if whole.dataset is not None:
        assert known.dataset is not None
        assert known.dataset.tags() == whole.dataset.tags()
        for tag in whole.dataset.tags():
            a, b = whole.dataset[tag], known.dataset[tag]
            assert (a.vr, a.raw if a.vr != "SQ" else len(a.value)) == (b.vr, b.raw if b.vr != "SQ" else len(b.value))
        assert known.dataset.read_transfer_syntax == whole.dataset.read_transfer_syntax
        assert [str(c) for c in known.dataset.read_corrections] == [str(c) for c in whole.dataset.read_corrections]
    return whole, known


def _has_a_readable_meta(path):
    """A file with a readable File Meta Information (a C-STORE carries what follows it)."""
    try:
        dicomkit.read(path, stop_before_pixels=True)
        meta_end(path.read_bytes())
    except dicomkit.DicomError:
        return False
    return True


@pytest.mark.parametrize("path", corpus_params(where=_has_a_readable_meta))
def test_the_corpus_is_checked_alike(path):
    """Every corpus file's data set, as a C-STORE would carry it in its own transfer syntax."""
    raw = path.read_bytes()
    ds = dicomkit.read(path, stop_before_pixels=True)
    offset = meta_end(raw)
    ts = str(ds.file_meta.value(0x00020010) or ELE) if ds.file_meta is not None else ELE
    sop_class = str(ds.get("SOPClassUID") or CT)
    sop_instance = str(ds.get("SOPInstanceUID") or "1.2.3.4")
    both(raw[offset:], ts, sop_class, sop_instance)


def test_the_meta_is_not_read_again_where_the_data_set_is_plain_explicit_little_endian():
    data = uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4") + struct.pack("<HH2sH", 0x0010, 0x0010,
                                                                                   b"PN", 4) + b"A^B "
    for ts in (ELE, JPEG_LOSSLESS):
        whole, known = both(data, ts)
        assert whole.refusal is None and whole.dataset is not None and whole.dataset.file_meta is not None
        assert known.dataset is not None and known.dataset.file_meta is None  # read after the meta


def test_a_data_set_not_encoded_as_its_transfer_syntax_says_is_still_found():
    """Implicit VR data under an explicit VR context: read as encoded, with the correction a whole read
    reports (the encoding check stays)."""
    ds = dicomkit.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.PatientName = CT, "1.2.3.4", "Test^Patient"
    implicit = ds.to_bytes(transfer_syntax=ILE)
    whole, known = both(implicit, ELE)
    assert whole.refusal is None
    assert any("encoded as Implicit VR Little Endian" in c for c in known.corrections)
    assert known.dataset is not None and known.dataset.read_transfer_syntax == ILE
    # and the other way round: explicit data under an implicit context, big endian under little endian
    explicit = ds.to_bytes(transfer_syntax=ELE)
    whole, known = both(explicit, ILE)
    assert any("encoded as Explicit VR Little Endian" in c for c in known.corrections)
    big = ds.to_bytes(transfer_syntax=EBE)
    whole, known = both(big, ELE)
    assert any("Big Endian" in c for c in known.corrections)


@pytest.mark.parametrize("name,data,ts,expect", [
    ("truncated value", uid_element(0x0016, CT) + struct.pack("<HH2sH", 0x0008, 0x0018, b"UI", 40) + b"1.2",
     ELE, 0xC000),
    ("garbage", b"\x08\x00\x16\x00UI\xff\x00" + b"x" * 10, ELE, 0xC000),
    ("wrong instance", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.999"), ELE, 0xA900),
    ("wrong class", uid_element(0x0016, "1.2.3") + uid_element(0x0018, "1.2.3.4"), ELE, 0xA900),
    ("no UIDs", struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 4) + b"A^B ", ELE, 0xC000),
    ("odd length corrected", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4")
     + struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 3) + b"ABC", ELE, None),
    ("zero padding corrected", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4") + bytes(16), ELE, None),
    ("too short", b"\x08\x00\x16", ELE, 0xC000),
    ("empty", b"", ELE, 0xC000),
    ("group 0000 first", struct.pack("<HH2sH", 0x0000, 0x0902, b"LO", 2) + b"ab" + uid_element(0x0016, CT)
     + uid_element(0x0018, "1.2.3.4"), ELE, None),
    ("group 0002 first (continues the meta)", struct.pack("<HH2sH", 0x0002, 0x0010, b"UI", 18)
     + b"1.2.840.10008.1.2\x00" + uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4"), ELE, None),
    ("an item first", struct.pack("<HHI", 0xFFFE, 0xE000, 0) + uid_element(0x0016, CT), ELE, 0xC000),
    ("DICM at 128", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4") + struct.pack(
        "<HH2sH", 0x0010, 0x0010, b"PN", 104) + b"A" * 70 + b"DICM" + b"B" * 30, ELE, None),
    ("deflated context", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4"), DEFLATED, 0xC000),
    ("unknown transfer syntax", uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4"), "1.2.3.4.5.6", None),
])
def test_refusals_and_corrections_are_those_of_a_whole_read(name, data, ts, expect):
    _, known = both(data, ts)
    if expect is None:
        assert known.refusal is None, known.refusal
    else:
        assert known.refusal is not None and known.refusal.status == expect, known.refusal


def test_a_defect_inside_a_sequence_item_is_refused_with_the_same_reason():
    inner = struct.pack("<HH2sH", 0x0008, 0x1150, b"UI", 40) + b"1.2.3"  # declares 40 bytes, the item has 5
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
    data = (uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4")
            + struct.pack("<HH2s2xI", 0x0008, 0x1115, b"SQ", len(item)) + item)
    _, known = both(data, ELE)
    assert known.refusal is not None and known.refusal.status == 0xC000 and known.refusal.comment


def test_correction_offsets_count_from_the_start_of_the_object():
    data = (uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4")
            + struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 3) + b"ABC")
    meta = part10_header(CT, "1.2.3.4", ELE, "STORESCU")
    _, known = both(data, ELE)
    [text] = known.corrections
    odd_at = len(meta) + data.index(b"\x10\x00\x10\x00PN")
    assert text.startswith(f"offset {odd_at}: ") and "odd length" in text


def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in LONG_VR_BYTES:
        return struct.pack("<HH2s2xI", group, elem, vr, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


# plain elements of every kind the walk steps over: short and long headers, the character set, the UIDs, a
# private element, Pixel Data last
PLAIN = (element(0x0008, 0x0005, b"CS", b"ISO_IR 100") + uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4")
         + element(0x0008, 0x0020, b"DA", b"20240115") + element(0x0010, 0x0010, b"PN", b"CT^PATIENT")
         + element(0x0010, 0x4000, b"LT", b"") + element(0x0018, 0x0050, b"DS", b"1.25")
         + element(0x0020, 0x4000, b"UT", b"a long text ") + element(0x0028, 0x0010, b"US", b"\x00\x01")
         + element(0x0029, 0x0010, b"LO", b"ACME 1.0") + element(0x0029, 0x1001, b"US", b"\x01\x00")
         + element(0x7FE0, 0x0010, b"OW", bytes(range(64))))


def quick(data: bytes, ts: str = ELE, sop_instance: str = "1.2.3.4") -> bool:
    """Whether the check without the data set accepts ``data`` from its headers alone (not read)."""
    return _plainly_accepted(memoryview(data), ts, CT, sop_instance)


def test_a_plain_data_set_is_accepted_from_its_headers():
    assert quick(PLAIN)
    assert not quick(PLAIN, JPEG_LOSSLESS)  # an encapsulated syntax: its images are never plain, not walked
    both(PLAIN, JPEG_LOSSLESS)
    whole, _ = both(PLAIN, ELE)
    assert whole.refusal is None and whole.corrections == ()
    assert quick(uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4"))
    # UIDs padded with NUL or space, at the end or both ends, are those UIDs for the reader too
    for padded in (b"1.2.3.4\x00\x00", b"1.2.3.4 ", b" 1.2.3.4", b"\x001.2.3.4\x00 "):
        data = uid_element(0x0016, CT) + element(0x0008, 0x0018, b"UI", padded.ljust(len(padded) + (len(padded) & 1)))
        assert quick(data)
        assert both(data, ELE)[0].refusal is None


@pytest.mark.parametrize("name,data,ts,sop_instance", [
    ("implicit VR context", PLAIN, ILE, "1.2.3.4"),
    ("big endian context", PLAIN, EBE, "1.2.3.4"),
    ("deflated context", PLAIN, DEFLATED, "1.2.3.4"),
    ("unknown context", PLAIN, "1.2.3.4.5.6", "1.2.3.4"),
    ("a sequence delimitation of length 4", PLAIN.replace(element(0x0018, 0x0050, b"DS", b"1.25"), struct.pack(
        "<HH2s2xI", 0x0018, 0x0050, b"SQ", 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 4) + bytes(4)), ELE,
     "1.2.3.4"),
    ("UN", PLAIN + element(0x7FE1, 0x0010, b"UN", b"ab"), ELE, "1.2.3.4"),
    ("a group length the reader compares", element(0x0008, 0x0000, b"UL", b"\x00\x00\x00\x00") + PLAIN, ELE,
     "1.2.3.4"),
    ("unknown character set", element(0x0008, 0x0005, b"CS", b"ISO_IR 999") + PLAIN[18:], ELE, "1.2.3.4"),
    ("odd length", PLAIN + element(0x7FE1, 0x0010, b"LO", b"abc"), ELE, "1.2.3.4"),
    ("out of order", PLAIN + element(0x0010, 0x0020, b"LO", b"ab"), ELE, "1.2.3.4"),
    ("twice", PLAIN + element(0x7FE0, 0x0010, b"OW", b"ab"), ELE, "1.2.3.4"),
    ("zero padding", PLAIN + bytes(16), ELE, "1.2.3.4"),
    ("trailing bytes", PLAIN + b"\x01\x02", ELE, "1.2.3.4"),
    ("a value past the end", PLAIN[:-2], ELE, "1.2.3.4"),
    ("a long header cut short", PLAIN + b"\xe1\x7f\x10\x00OB\x00\x00", ELE, "1.2.3.4"),
    ("undefined length", PLAIN + struct.pack("<HH2s2xI", 0x7FE1, 0x0010, b"OB", 0xFFFFFFFF), ELE, "1.2.3.4"),
    ("an item", PLAIN + struct.pack("<HHI", 0xFFFE, 0xE000, 0x4955), ELE, "1.2.3.4"),
    ("invalid VR", PLAIN + b"\xe1\x7f\x10\x00XX\x02\x00ab", ELE, "1.2.3.4"),
    ("no SOP Instance UID", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), b""), ELE, "1.2.3.4"),
    ("another SOP Instance UID", PLAIN, ELE, "1.2.3.5"),
    ("a UID in another VR", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), element(0x0008, 0x0018, b"LO",
                                                                                    b"1.2.3.4 ")), ELE, "1.2.3.4"),
    ("two values", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), element(0x0008, 0x0018, b"UI", b"1.2.3.4\\5\x00")),
     ELE, "1.2.3.4\\5"),
    ("an announced UID with a leading space", PLAIN.replace(uid_element(0x0018, "1.2.3.4"),
                                                             element(0x0008, 0x0018, b"UI", b" 1.2.3.4")), ELE,
     " 1.2.3.4"),
    ("not ASCII", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), element(0x0008, 0x0018, b"UI", b"1.2.3.\xe9")),
     ELE, "1.2.3.\xe9"),
    ("an announced UID that is no text", PLAIN, ELE, "1.2.3.\udce9"),
    ("empty UIDs, announced empty", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), element(0x0008, 0x0018, b"UI", b"")),
     ELE, ""),
    ("padding only, announced empty", PLAIN.replace(uid_element(0x0018, "1.2.3.4"), element(0x0008, 0x0018, b"UI",
                                                                                         b"\x00\x00")), ELE, ""),
    ("DICM at 128", PLAIN[:128] + b"DICM" + PLAIN[132:], ELE, "1.2.3.4"),
    ("group 0002 first", element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2\x00") + PLAIN, ELE, "1.2.3.4"),
])
def test_what_the_headers_cannot_settle_is_read(name, data, ts, sop_instance):
    """Each of these is read (the walk declines it), and answered as a read of the whole answers it."""
    assert not quick(data, ts, sop_instance)
    both(data, ts, CT, sop_instance)


def item(*elements: bytes, length: int | None = None) -> bytes:
    body = b"".join(elements)
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body) if length is None else length) + body


def sequence(group: int, elem: int, *items: bytes, length: int | None = None) -> bytes:
    body = b"".join(items)
    return struct.pack("<HH2s2xI", group, elem, b"SQ", len(body) if length is None else length) + body


def plain_with(references: bytes, contrast: bytes) -> bytes:
    """PLAIN with a Referenced Image Sequence (0008,1140) and a Contrast/Bolus Agent Sequence (0018,0012) in
    their places in tag order."""
    at = PLAIN.index(element(0x0010, 0x0010, b"PN", b"CT^PATIENT"))
    data = PLAIN[:at] + references + PLAIN[at:]
    at = data.index(element(0x0018, 0x0050, b"DS", b"1.25"))
    return data[:at] + contrast + data[at:]


def with_sequences(*inner: bytes, last_item: bytes | None = None, empty: bytes | None = None) -> bytes:
    """PLAIN with a Referenced Image Sequence of three items — the second holding a nested sequence and ``inner``
    at its end, the last ``last_item`` (empty) — and the sequence ``empty`` (an empty one): all of defined
    length unless given otherwise."""
    nested = sequence(0x0040, 0xA170, item(element(0x0008, 0x0100, b"SH", b"T1")))
    references = sequence(0x0008, 0x1140, item(uid_element(0x1150, CT), uid_element(0x1155, "1.2.3.3")),
                          item(uid_element(0x1150, CT), nested, *inner), item() if last_item is None else last_item)
    return plain_with(references, sequence(0x0018, 0x0012) if empty is None else empty)


PLAIN_SQ = with_sequences()


def accepted_alike(data: bytes, references: int) -> None:
    """``data`` is accepted from its headers, and a whole read accepts it without a correction, with its
    Referenced Image Sequence of ``references`` items."""
    assert quick(data)
    whole, _ = both(data, ELE)
    assert whole.refusal is None and whole.corrections == ()
    assert whole.dataset is not None and len(whole.dataset.ReferencedImageSequence) == references


def test_a_data_set_with_plain_sequences_is_accepted_from_its_headers():
    accepted_alike(PLAIN_SQ, 3)
    assert quick(_nested(8))  # eight levels of sequences: still plain


def _nested(levels: int) -> bytes:
    deep = item(element(0x0008, 0x0100, b"SH", b"T1"))
    for _ in range(levels - 1):
        deep = item(sequence(0x0040, 0xA170, deep))
    return uid_element(0x0016, CT) + uid_element(0x0018, "1.2.3.4") + sequence(0x0040, 0xA170, deep)


@pytest.mark.parametrize("name,data", [
    ("an undefined-length item", with_sequences(last_item=struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
                                                + struct.pack("<HHI", 0xFFFE, 0xE00D, 0))),
    ("an item of odd length", with_sequences(last_item=item(b"\x00"))),
    ("an item not filling its sequence", with_sequences(empty=sequence(0x0018, 0x0012, b"\x00" * 8))),
    ("an item past its sequence", with_sequences(empty=sequence(0x0018, 0x0012, item(
        element(0x0008, 0x0100, b"SH", b"T1")), length=8))),
    ("an item's own character set", with_sequences(last_item=item(element(0x0008, 0x0005, b"CS", b"ISO_IR 100"),
                                                                  uid_element(0x1150, CT)))),
    ("out of order in an item", with_sequences(element(0x0008, 0x0100, b"SH", b"T2"))),
    ("UN in an item", with_sequences(element(0x0041, 0x1010, b"UN", b"ab"))),
    ("odd length in an item", with_sequences(element(0x0041, 0x1010, b"LO", b"abc"))),
    ("an item delimitation in an item", with_sequences(struct.pack("<HHI", 0xFFFE, 0xE00D, 0))),
    ("a sequence delimitation in a sequence", with_sequences(empty=sequence(
        0x0018, 0x0012, struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)))),
    ("an element header cut by its item's end", with_sequences(b"\x41\x00\x10\x10LO")),
    ("nested nine deep", _nested(9)),
])
def test_what_a_sequence_leaves_unsettled_is_read(name, data):
    """Each of these is read (the walk declines it), and answered as a read of the whole answers it."""
    assert not quick(data)
    both(data, ELE)


UNDEFINED = 0xFFFFFFFF
SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)


def open_item(*elements: bytes, end: bytes = ITEM_END) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED) + b"".join(elements) + end


def open_sequence(group: int, elem: int, *items: bytes, end: bytes = SEQ_END) -> bytes:
    return struct.pack("<HH2s2xI", group, elem, b"SQ", UNDEFINED) + b"".join(items) + end


def with_open_sequences(*inner: bytes, seq_end: bytes = SEQ_END, item_end: bytes = ITEM_END,
                        extra_item: bytes = b"") -> bytes:
    """PLAIN with undefined-length sequences as pydicom and many modalities write them: a Referenced Image
    Sequence of an undefined-length item (holding a nested undefined-length sequence and ``inner``), a
    defined-length item and ``extra_item``, and an empty undefined-length sequence."""
    nested = open_sequence(0x0040, 0xA170, open_item(element(0x0008, 0x0100, b"SH", b"T1")))
    references = open_sequence(0x0008, 0x1140, open_item(uid_element(0x1150, CT), nested, *inner, end=item_end),
                               item(uid_element(0x1150, CT), uid_element(0x1155, "1.2.3.3")), extra_item,
                               end=seq_end)
    return plain_with(references, open_sequence(0x0018, 0x0012))


PLAIN_OPEN = with_open_sequences()


def test_undefined_length_sequences_and_items_are_accepted_from_their_headers():
    accepted_alike(PLAIN_OPEN, 2)


@pytest.mark.parametrize("name,data", [
    ("a sequence delimitation of length 2", with_open_sequences(seq_end=struct.pack("<HHI", 0xFFFE, 0xE0DD, 2)
                                                                + b"\x00\x00")),
    ("an item delimitation of length 2", with_open_sequences(item_end=struct.pack("<HHI", 0xFFFE, 0xE00D, 2)
                                                             + b"\x00\x00")),
    ("no sequence delimitation", with_open_sequences(seq_end=b"")),
    ("no item delimitation", with_open_sequences(item_end=b"")),
    ("a sequence delimitation ending an item", with_open_sequences(item_end=SEQ_END)),
    ("an undefined-length item in a defined-length sequence", with_sequences(last_item=open_item())),
    ("an item's own character set", with_open_sequences(extra_item=open_item(
        element(0x0008, 0x0005, b"CS", b"ISO_IR 100")))),
    ("out of order in an undefined-length item", with_open_sequences(element(0x0008, 0x0100, b"SH", b"T2"))),
    ("something else than an item", with_open_sequences(extra_item=element(0x0008, 0x1150, b"UI", b"1.2\x00"))),
])
def test_what_an_undefined_length_sequence_leaves_unsettled_is_read(name, data):
    assert not quick(data)
    both(data, ELE)


def test_every_change_of_a_header_byte_in_undefined_length_sequences_is_answered_as_a_whole_read_answers_it():
    assert _every_header_byte_changed(PLAIN_OPEN)


def _header_bytes(data: bytes, start: int, end: int, top: bool) -> list[int]:
    """The offsets of every element, item and delimiter header byte in ``data[start:end]`` (and, at the top, of
    the character set's and the SOP UIDs' values)."""
    return _headers(data, start, end, top)[0]


def _headers(data: bytes, pos: int, end: int, top: bool) -> tuple[list[int], int]:
    """(header byte offsets, offset after) of the elements from ``pos``: to ``end``, or to after the Item
    Delimitation Item that ends an undefined-length item."""
    out: list[int] = []
    while pos < end:
        group, elem, vr, length = struct.unpack_from("<HH2sH", data, pos)
        if group == 0xFFFE:  # the item's delimiter
            out.extend(range(pos, pos + 8))
            return out, pos + 8
        size = 12 if vr in LONG_VR_BYTES else 8
        if size == 12:
            length = struct.unpack_from("<I", data, pos + 8)[0]
        out.extend(range(pos, pos + size))
        if top and (group, elem) in ((0x0008, 0x0005), (0x0008, 0x0016), (0x0008, 0x0018)):
            out.extend(range(pos + size, pos + size + length))
        if vr == b"SQ":
            p = pos + size
            seq_end = p + length if length != UNDEFINED else end
            while p < seq_end:
                item_tag, item_length = struct.unpack_from("<II", data, p)
                out.extend(range(p, p + 8))
                if item_tag == 0xE0DDFFFE:  # the sequence's delimiter
                    p += 8
                    break
                if item_length == UNDEFINED:
                    inner, p = _headers(data, p + 8, end, False)
                else:
                    inner, _ = _headers(data, p + 8, p + 8 + item_length, False)
                    p += 8 + item_length
                out.extend(inner)
            pos = p
        else:
            pos += size + length
    return out, pos


def _every_header_byte_changed(data: bytes) -> int:
    meta = part10_header(CT, "1.2.3.4", ELE, "STORESCU")
    taken = 0
    for at in _header_bytes(data, 0, len(data), True):
        for byte in (0x00, 0x01, 0x02, 0x03, 0x20, 0x5C, 0x41, 0x4F, 0x53, 0x55, 0xFE, 0xFF, data[at] ^ 0x01):
            changed = bytearray(data)
            changed[at] = byte
            whole = check_received(memoryview(meta + changed), CT, "1.2.3.4")
            fast = check_received(memoryview(meta + changed), CT, "1.2.3.4", transfer_syntax=ELE,
                                  meta_length=len(meta), dataset=False)
            assert (fast.refusal, fast.corrections) == (whole.refusal, whole.corrections), (at, byte)
            taken += quick(bytes(changed))
    return taken


def test_every_change_of_a_header_byte_in_sequences_is_answered_as_a_whole_read_answers_it():
    """As below, for the headers of PLAIN_SQ's sequences, items and the elements in them too."""
    assert _every_header_byte_changed(PLAIN_SQ)


def test_every_change_of_a_header_byte_is_answered_as_a_whole_read_answers_it():
    """Each byte of each element header (and of the character set and UIDs) of PLAIN set to values that
    matter there (0, 1, odd and even lengths, VR letters, FE FF): the check without the data set answers what
    the whole read answers, whichever way the walk goes."""
    assert _every_header_byte_changed(PLAIN)  # some changes are still plain (another even length, VR, tag)


def test_a_data_set_with_the_headers_of_one_found_plain_is_not_walked_again(monkeypatch):
    """The objects of a series repeat a layout: one with the same header bytes at the same offsets as one the walk
    found plain is accepted without a walk — its values (UIDs, character set) are still looked at, and a header
    that differs in one byte is walked (and declined or accepted as the walk says)."""
    from dicomkit.services.storage import scp

    walks = []
    real = scp.plain_elements
    monkeypatch.setattr(scp, "plain_elements", lambda data, watch: walks.append(1) or real(data, watch))
    scp._PLAIN_LAYOUTS.clear()
    assert quick(PLAIN) and len(walks) == 1
    other = PLAIN.replace(b"1.2.3.4", b"1.2.3.5").replace(b"CT^PATIENT", b"XY^PATIENT")
    assert quick(other, sop_instance="1.2.3.5") and len(walks) == 1  # the same headers: not walked
    assert not quick(other) and len(walks) == 1  # another SOP Instance UID than announced: read, and refused
    assert both(other, ELE, CT, "1.2.3.4")[0].refusal.status == 0xA900
    unknown = PLAIN.replace(b"ISO_IR 100", b"ISO_IR 999")
    assert not quick(unknown) and len(walks) == 1  # same headers, a character set the reader does not know
    assert both(unknown, ELE)[0].corrections
    odd = bytearray(PLAIN)
    odd[PLAIN.index(b"DA\x08\x00") + 2] = 7  # (0008,0020) of length 7: another header, walked, not plain
    walks.clear()
    assert not quick(bytes(odd)) and len(walks) == 1
    assert quick(PLAIN) and len(walks) == 1  # the layout of PLAIN is still known
    walks.clear()
    assert quick(PLAIN_SQ) and len(walks) == 1
    assert quick(PLAIN_SQ.replace(b"1.2.3.3", b"1.2.3.9")) and len(walks) == 1  # a value in an item: not walked
    relabelled = PLAIN_SQ.replace(b"SH\x02\x00T1", b"LO\x02\x00T1")  # a header in a nested item: walked
    assert quick(relabelled) and len(walks) == 2
