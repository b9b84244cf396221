"""The text of elements and data sets (what ``repr`` and ``dicomkit dump`` show): a dcmdump-like listing of
tag, VR, value, length, VM and keyword, sequences indented."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .charset import DEFAULT, CharacterSet, character_set
from .dictionary import lookup
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


def _keyword(tag: int) -> str:
    entry = lookup(tag)
    if entry is not None and entry.keyword:
        return entry.keyword
    if is_private_group(tag >> 16):
        elem = tag & 0xFFFF
        if 0x10 <= elem <= 0xFF:
            return "PrivateCreator"
        return "PrivateTagData"
    return "UnknownTag"


def _hex_bytes(data: bytes, word: int) -> str:
    if word == 1:
        return "\\".join(f"{b:02x}" for b in data)
    usable = len(data) - len(data) % word
    fmt = {2: "H", 4: "I", 8: "Q"}[word]
    words = struct.unpack(f"<{usable // word}{fmt}", data[:usable])
    return "\\".join(f"{w:0{2 * word}x}" for w in words)


def format_value(elem: DataElement, *, cut: int | None = DEFAULT_CUT) -> str:
    """The value as dcmdump shows it: [text], numbers, hex bytes; ``(no value available)`` when empty."""
    vr = elem.vr.value
    try:
        if vr in ("OB", "UN", "OW", "OF", "OD", "OL", "OV"):
            raw = elem.raw
            data = bytes(raw[: (cut or 1 << 30) + 8]) if raw is not None and elem.source is not None and (
                elem.source.little_endian or vr in ("OB", "UN")) else elem.value or b""
            if not data:
                return "(no value available)"
            word = {"OB": 1, "UN": 1, "OW": 2, "OL": 4, "OV": 8}.get(vr)
            if word is None:
                fmt = "f" if vr == "OF" else "d"
                size = 4 if vr == "OF" else 8
                n = len(data) // size
                text = "\\".join(repr(v) for v in struct.unpack(f"<{n}{fmt}", data[: n * size]))
            else:
                text = _hex_bytes(data, word)
        else:
            value = elem.value
            if value is None or value == "":
                return "(no value available)"
            items = value if isinstance(value, tuple) else (value,)
            if vr == "UI":
                if len(items) == 1 and UID(str(items[0])).keyword:
                    return "=" + UID(str(items[0])).keyword
                text = "[" + "\\".join(str(v) for v in items) + "]"
            elif vr == "AT":
                text = "\\".join(str(Tag(v)).lower() for v in items)
            elif vr in ("US", "SS", "UL", "SL", "SV", "UV", "FL", "FD"):
                text = "\\".join(repr(v) for v in items)
            else:
                text = "[" + "\\".join(str(v) for v in items) + "]"
    except DicomError as exc:
        return f"(invalid value: {exc})"
    if cut is not None and len(text) > cut:
        text = text[:cut] + "..."
    return text


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


def dataset_lines(ds: Dataset, *, cut: int | None = DEFAULT_CUT, depth: int = 0,
                  charset: CharacterSet | None = None) -> Iterator[str]:
    indent = "  " * depth
    if SPECIFIC_CHARACTER_SET in ds:
        charset = character_set(ds.character_set)
    elif charset is None:
        charset = DEFAULT
    for elem in ds:
        tag = elem._tag
        keyword = _keyword(tag)
        if elem.vr is VR.SQ:
            seq = elem.value
            form = "undefined" if seq.is_undefined_length else "explicit"
            length = "u/l" if seq.is_undefined_length else str(len(elem.raw) if elem.raw is not None else "")
            yield _line(indent, tag, "SQ", f"(Sequence with {form} length #={len(seq)})", length or "-", 1,
                        keyword)
            for item in seq:
                item_form = "undefined" if item.is_undefined_length_item else "explicit"
                yield _line(indent + "  ", 0xFFFEE000, "na", f"(Item with {item_form} length #={len(item)})",
                            "u/l" if item.is_undefined_length_item else "-", 1, "Item")
                yield from dataset_lines(item, cut=cut, depth=depth + 2, charset=charset)
                if item.is_undefined_length_item:
                    yield _line(indent + "  ", 0xFFFEE00D, "na", "(ItemDelimitationItem)", "0", 0,
                                "ItemDelimitationItem")
            if seq.is_undefined_length:
                yield _line(indent, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", "0", 0,
                            "SequenceDelimitationItem")
            continue
        if elem.is_undefined_length and elem.raw is not None:
            raw = elem.raw
            spans = list(iter_fragment_spans(raw))
            yield _line(indent, tag, elem.vr.value, f"(PixelSequence #={len(spans)})", "u/l", 1, keyword)
            for start, frag_len in spans:
                data = bytes(raw[start:start + min(frag_len, (cut or frag_len) + 8)])
                shown = "(no value available)" if not frag_len else _hex_bytes(data, 1)
                if cut is not None and len(shown) > cut:
                    shown = shown[:cut] + "..."
                yield _line(indent + "  ", 0xFFFEE000, "pi", shown, str(frag_len), 1, "Item")
            yield _line(indent, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", "0", 0, "SequenceDelimitationItem")
            continue
        try:
            vm = elem.VM
        except DicomError:
            vm = 0
        yield _line(indent, tag, elem.vr.value, format_value(elem, cut=cut), _length(elem, charset), vm, keyword)


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
