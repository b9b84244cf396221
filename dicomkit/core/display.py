"""The text of elements and data sets (what ``repr`` and ``dicomkit dump`` show): a dcmdump-like listing of
tag, VR, value, length, VM and keyword, sequences indented."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .charset import DEFAULT, CharacterSet, character_set
from .dictionary import lookup, private_lookup
from .errors import DicomError
from .fragments import iter_fragment_spans
from .tag import SPECIFIC_CHARACTER_SET, Tag, is_private_group
from .uid import UID
from .vr import VR

if TYPE_CHECKING:
    from .dataset import Dataset
    from .element import DataElement

VALUE_WIDTH = 40  # the value column, as dcmdump lays it out
DEFAULT_CUT = 64  # characters of a value shown unless show_all


def _keyword(tag: int, ds: Dataset | None = None) -> str:
    entry = lookup(tag)
    if entry is not None and entry.keyword:
        return entry.keyword
    if is_private_group(tag >> 16):
        elem = tag & 0xFFFF
        if 0x10 <= elem <= 0xFF:
            return "PrivateCreator"
        if ds is not None and elem >= 0x1000:
            name = private_name(ds, tag)
            if name:
                return name
        return "PrivateTagData"
    return "UnknownTag"


def private_name(ds: Dataset, tag: int) -> str | None:
    """The vendor dictionary's name of private data element ``tag`` of ``ds``, found through the creator
    that reserved its block in ``ds`` (PS3.5 7.8.1); None when either is unknown."""
    creator = ds.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
    if creator is None:
        return None
    try:
        value = creator.value
    except DicomError:
        return None
    if isinstance(value, bytes):  # written as UN
        value = value.decode("latin_1")
    if not isinstance(value, str) or not value:
        return None
    entry = private_lookup(value, tag >> 16, tag & 0xFFFF)
    return entry.name if entry is not None else None


_WORD = {"OB": 1, "UN": 1, "OW": 2, "OL": 4, "OV": 8}
_NUMBER_SIZE = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "SV": 8, "UV": 8, "AT": 4}


def _cut_values(parts: Iterator[str], count: int, size: int, cut: int | None) -> str:
    """Values joined by backslashes. With ``cut``, as many whole values as fit in ``cut`` characters and how
    many bytes were left out (``...(+N bytes)``); values whose rest is shorter than saying so are shown whole.
    ``count`` values of ``size`` bytes each; ``parts`` needs to yield only as many as are shown."""
    if cut is None:
        return "\\".join(parts)
    shown: list[str] = []
    length = -1
    pending: str | None = None
    for part in parts:
        if shown and length + 1 + len(part) > cut:
            pending = part
            break
        shown.append(part)
        length += 1 + len(part)
    if pending is None:
        return "\\".join(shown)
    suffix = f"...(+{(count - len(shown)) * size} bytes)"
    rest, extra = [pending], 1 + len(pending)
    for part in parts:
        if extra > len(suffix):
            break
        rest.append(part)
        extra += 1 + len(part)
    if extra <= len(suffix) and len(shown) + len(rest) == count:
        return "\\".join(shown + rest)  # the rest is shorter than saying how long it is
    return "\\".join(shown) + suffix


def _hex_words(data: bytes, word: int) -> Iterator[str]:
    if word == 1:
        return (f"{b:02x}" for b in data)
    usable = len(data) - len(data) % word
    fmt = {2: "H", 4: "I", 8: "Q"}[word]
    return (f"{w:0{2 * word}x}" for w in struct.unpack(f"<{usable // word}{fmt}", data[:usable]))


def _needed(cut: int | None, per_value: int, size: int) -> int | None:
    """Bytes of a binary value to look at to show ``cut`` characters of values at least ``per_value``
    characters wide (and to tell whether the rest is short enough to show too)."""
    if cut is None:
        return None
    return ((cut + 48) // (per_value + 1) + 2) * size


def _cut_text(text: str, cut: int | None) -> tuple[str, str]:
    """Text cut to ``cut`` characters: (shown, suffix naming how many characters were left out)."""
    if cut is None or len(text) <= cut:
        return text, ""
    suffix = f"...(+{len(text) - cut} characters)"
    if len(text) - cut <= len(suffix):
        return text, ""
    return text[:cut], suffix


def format_value(elem: DataElement, *, cut: int | None = DEFAULT_CUT) -> str:
    """The value as dcmdump shows it: [text], numbers, hex bytes; ``(no value available)`` when empty.

    With ``cut``, a value whose text is longer than ``cut`` characters is cut and says how much is left out
    (``...(+N bytes)`` for binary and numeric values, ``...(+N characters)`` for text); UIDs are never cut.
    """
    vr = elem.vr.value
    try:
        if vr in ("OB", "UN", "OW", "OF", "OD", "OL", "OV"):
            raw = elem.raw
            word = _WORD.get(vr)
            size = word or (4 if vr == "OF" else 8)
            if raw is not None and elem.source is not None and (elem.source.little_endian or vr in ("OB", "UN")):
                total = len(raw)
                needed = _needed(cut, 2 * size if word else 3, size)
                data = bytes(raw if needed is None else raw[:needed])
            else:
                data = bytes(elem.value or b"")
                total = len(data)
            if not total:
                return "(no value available)"
            if word is None:
                n = len(data) // size
                values = struct.unpack(f"<{n}{'f' if vr == 'OF' else 'd'}", data[: n * size])
                return _cut_values((repr(v) for v in values), total // size, size, cut)
            return _cut_values(_hex_words(data, word), total // word, word, cut)
        value = elem.value
        if value is None or value == "":
            return "(no value available)"
        items = value if isinstance(value, tuple) else (value,)
        if vr == "UI":
            if len(items) == 1 and UID(str(items[0])).keyword:
                return "=" + UID(str(items[0])).keyword
            return "[" + "\\".join(str(v) for v in items) + "]"  # UIDs are never cut
        if vr == "AT":
            return _cut_values((str(Tag(v)).lower() for v in items), len(items), 4, cut)
        if vr in _NUMBER_SIZE:
            return _cut_values((repr(v) for v in items), len(items), _NUMBER_SIZE[vr], cut)
        shown, suffix = _cut_text("\\".join(str(v) for v in items), cut)
    except DicomError as exc:
        return f"(invalid value: {exc})"
    return f"[{shown}]" if not suffix else f"[{shown}{suffix}"


def _line(indent: str, tag: int, vr: str, value: str, length: str, vm: int, keyword: str) -> str:
    head = f"{indent}({tag >> 16:04x},{tag & 0xFFFF:04x}) {vr} {value}"
    return f"{head.ljust(VALUE_WIDTH + 15)} # {length:>3}, {vm} {keyword}"


def _length(elem: DataElement, charset: CharacterSet) -> str:
    """The value length as read, or as encoded with the data set's character set (PS3.5 6.1.2.3)."""
    if elem.raw is not None:
        return str(len(elem.raw))
    try:
        return str(len(elem.encoded(True, charset)))
    except DicomError:
        return "?"  # the value cannot be encoded in this character set; the listing still shows it


def _element_lines(elem: DataElement, *, cut: int | None, depth: int, charset: CharacterSet,
                   ds: Dataset | None = None) -> Iterator[str]:
    """The line of one element of ``ds`` (its items and their elements after it, for a sequence)."""
    indent = "  " * depth
    tag = elem._tag
    keyword = _keyword(tag, ds)
    if elem.vr is VR.SQ:
        seq = elem.value
        form = "undefined" if seq.is_undefined_length else "explicit"
        length = "u/l" if seq.is_undefined_length else str(len(elem.raw) if elem.raw is not None else "")
        yield _line(indent, tag, "SQ", f"(Sequence with {form} length #={len(seq)})", length or "-", 1, keyword)
        for item in seq:
            item_form = "undefined" if item.is_undefined_length_item else "explicit"
            yield _line(indent + "  ", 0xFFFEE000, "na", f"(Item with {item_form} length #={len(item)})",
                        "u/l" if item.is_undefined_length_item else "-", 1, "Item")
            yield from dataset_lines(item, cut=cut, depth=depth + 2, charset=charset)
            if item.is_undefined_length_item:
                yield _line(indent + "  ", 0xFFFEE00D, "na", "(ItemDelimitationItem)", "0", 0,
                            "ItemDelimitationItem")
        if seq.is_undefined_length:
            yield _line(indent, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", "0", 0, "SequenceDelimitationItem")
        return
    if elem.is_undefined_length and elem.raw is not None:
        raw = elem.raw
        spans = list(iter_fragment_spans(raw))
        yield _line(indent, tag, elem.vr.value, f"(PixelSequence #={len(spans)})", "u/l", 1, keyword)
        for start, frag_len in spans:
            needed = _needed(cut, 2, 1)
            data = bytes(raw[start:start + (frag_len if needed is None else min(frag_len, needed))])
            shown = "(no value available)" if not frag_len else _cut_values(_hex_words(data, 1), frag_len, 1, cut)
            yield _line(indent + "  ", 0xFFFEE000, "pi", shown, str(frag_len), 1, "Item")
        yield _line(indent, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", "0", 0, "SequenceDelimitationItem")
        return
    try:
        vm = elem.VM
    except DicomError:
        vm = 0
    yield _line(indent, tag, elem.vr.value, format_value(elem, cut=cut), _length(elem, charset), vm, keyword)


def _charset_of(ds: Dataset, inherited: CharacterSet | None) -> CharacterSet:
    if SPECIFIC_CHARACTER_SET in ds:
        return character_set(ds.character_set)
    return inherited if inherited is not None else DEFAULT


def dataset_lines(ds: Dataset, *, cut: int | None = DEFAULT_CUT, depth: int = 0,
                  charset: CharacterSet | None = None) -> Iterator[str]:
    charset = _charset_of(ds, charset)
    for elem in ds:
        yield from _element_lines(elem, cut=cut, depth=depth, charset=charset, ds=ds)


def search_lines(ds: Dataset, tags: Iterable[int], *, cut: int | None = DEFAULT_CUT,
                 meta: bool = True) -> Iterator[str]:
    """The lines of the elements with the given tags, wherever they are: for each tag in turn, every match
    depth first (the File Meta Information first), as ``dcmdump +P TAG +p`` shows them — a nested match is
    prefixed with the path of sequences that leads to it, ``(gggg,eeee).(gggg,eeee).``."""
    for tag in tags:
        if meta and ds.file_meta is not None:
            yield from _search(ds.file_meta, tag, "", None, cut)
        yield from _search(ds, tag, "", None, cut)


def _search(ds: Dataset, tag: int, path: str, charset: CharacterSet | None, cut: int | None) -> Iterator[str]:
    charset = _charset_of(ds, charset)
    for elem in ds:
        if elem._tag == tag:
            lines = _element_lines(elem, cut=cut, depth=0, charset=charset, ds=ds)
            yield path + next(lines)
            yield from lines
        if elem.vr is VR.SQ:
            step = f"{path}({elem._tag >> 16:04x},{elem._tag & 0xFFFF:04x})."
            for item in elem.value:
                yield from _search(item, tag, step, charset, cut)


def dump_lines(ds: Dataset, *, cut: int | None = DEFAULT_CUT, meta: bool = True,
               dataset: bool = True) -> Iterator[str]:
    """The whole dcmdump-like listing, with the meta information header first."""
    if meta and ds.file_meta is not None:
        yield "# Dicom-File-Format"
        yield ""
        yield "# Dicom-Meta-Information-Header"
        yield "# Used TransferSyntax: Little Endian Explicit"
        yield from dataset_lines(ds.file_meta, cut=cut)
        yield ""
    if dataset:
        ts: Any = ds.read_transfer_syntax or ds.transfer_syntax
        yield "# Dicom-Data-Set"
        if ts is not None:
            yield f"# Used TransferSyntax: {UID(str(ts)).name}"
        yield from dataset_lines(ds, cut=cut)


def element_summary(elem: DataElement) -> str:
    keyword = _keyword(elem._tag)
    if elem.vr is VR.SQ:
        value = f"<Sequence of {len(elem.value)} item(s)>"
    else:
        value = format_value(elem)
    return f"{elem.tag} {elem.vr.value} {value}  # {keyword}"
