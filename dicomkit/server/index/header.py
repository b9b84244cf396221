"""What is kept of each instance at ingest so that metadata and frames never re-read the file.

- The **header**: the DICOM JSON Model (PS3.18 F, :mod:`dicomkit.io.json_model`) of the data set with its
  bulk data left out — top-level binary values (OB, OD, OF, OL, OV, OW, UN) of 1 KiB or more and Pixel Data
  become ``{"vr": ..., "BulkDataURI": "bulk/GGGGEEEE"}``, a URI relative to the instance (the web layer
  prefixes it with the instance's WADO-RS URL) — stored zlib-compressed.
- The **bulk map**: where each of those values lies in the blob (``{"GGGGEEEE": [offset, length]}``, file
  offsets), and the **frames** of Pixel Data: ``{"native": [offset, frame_length, count]}`` for native data
  (frame *i* starts at ``offset + i * frame_length``), or ``{"fragments": [[[offset, length], ...], ...]}``
  (the fragments of each frame, PS3.5 A.4) for encapsulated data. Objects whose data set is deflated have
  no byte ranges (their bytes are compressed); the web layer reads those whole.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from ...core.dataset import Dataset
from ...core.element import DataElement
from ...core.errors import DicomError
from ...core.fragments import iter_fragment_spans
from ...io.encapsulation import encapsulated_frames
from ...io.json_model import to_json_with_values
from ...io.raw import UNDEFINED_LENGTH, Layout, element_header, skip_encapsulated, skip_sequence

PIXEL_DATA = 0x7FE00010
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
BULK_THRESHOLD = 1024


@dataclass(frozen=True)
class Header:
    header: bytes  # zlib-compressed DICOM JSON
    bulk: dict[str, Any] | None  # {"elements": {tag: [offset, length]}, "frames": {...}} or None

    def bulk_json(self) -> str | None:
        return json.dumps(self.bulk, separators=(",", ":")) if self.bulk is not None else None


def deflate(data: bytes) -> bytes:
    """``data`` as a zlib stream (RFC 1950), what :func:`zlib.decompress` reads: level 1 (a third of the time
    of the default, a few percent larger) with a window no larger than the data needs — a header is a few
    hundred bytes to a few KB, and the default 32 KiB window costs more to set up (its 256 KiB of state) than
    compressing a small header does (~100 µs against ~10 µs for 1 KB here)."""
    bits = min(15, max(9, len(data).bit_length()))
    c = zlib.compressobj(1, zlib.DEFLATED, bits, min(8, max(1, bits - 6)))
    return c.compress(data) + c.flush()


def compress_json(obj: Any) -> bytes:
    return deflate(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())


def decompress_json(data: bytes | memoryview) -> Any:
    return json.loads(zlib.decompress(bytes(data)))


# what the bulk map's frames need (Number of Frames, Rows, Columns, Samples per Pixel, Bits Allocated)
FRAME_TAGS = frozenset({0x00280008, 0x00280010, 0x00280011, 0x00280002, 0x00280100})


def build_header(ds: Dataset, buf: bytes | memoryview | None, dataset_offset: int, transfer_syntax: str) -> Header:
    """The header and bulk map of ``ds`` read from ``buf`` (the whole Part 10 file; None: no byte ranges)."""
    return build_header_with_values(ds, buf, dataset_offset, transfer_syntax, FRAME_TAGS)[0]


def build_header_with_values(ds: Dataset, buf: bytes | memoryview | None, dataset_offset: int, transfer_syntax: str,
                             wanted: frozenset[int]) -> tuple[Header, dict[int, Any]]:
    """:func:`build_header`, and the values of the top-level elements of ``ds`` whose tags are in ``wanted``
    (``ds[tag].value``; absent ones left out), read in the same pass over the data set
    (:func:`~dicomkit.io.json_model.to_json_with_values`)."""
    bulk_tags: list[int] = []
    indexed = _indexed_spans(ds, buf, dataset_offset, transfer_syntax)

    def handler(elem: DataElement) -> str | None:
        tag = int(elem.tag)
        if ds.get(tag) is not elem:
            return None  # nested: kept inline
        if tag != PIXEL_DATA and str(elem.vr) not in BINARY_VRS:
            return None
        bulk_tags.append(tag)
        return f"bulk/{tag:08X}"

    # to_json keeps the DICOM text of IS/DS numbers (2.50 stays 2.50), which json.dumps of the dict would not
    if not wanted >= FRAME_TAGS:
        wanted = wanted | FRAME_TAGS
    text, values = to_json_with_values(ds, wanted, bulk_data_handler=handler,
                                       bulk_data_threshold=BULK_THRESHOLD)
    header = deflate(text.encode())
    layout = Layout.of(transfer_syntax)
    if buf is None or layout is None or not bulk_tags:
        return Header(header, None), values
    try:
        spans = {t: indexed[t] for t in bulk_tags if t in indexed}
        if len(spans) < len(bulk_tags):
            spans.update(_top_level_spans(buf, dataset_offset, layout, set(bulk_tags) - spans.keys()))
    except DicomError:
        return Header(header, None), values
    bulk: dict[str, Any] = {"elements": {f"{t:08X}": [o, n] for t, (o, n, _u) in spans.items() if not _u}}
    if PIXEL_DATA in spans:
        frames = _frames(ds, values, buf, *spans[PIXEL_DATA])
        if frames is not None:
            bulk["frames"] = frames
    return Header(header, bulk), values


def _indexed_spans(ds: Dataset, buf: bytes | memoryview | None, dataset_offset: int,
                   transfer_syntax: str) -> dict[int, tuple[int, int, bool]]:
    """(value offset, value length, False) of Pixel Data when the reader indexed it in ``buf`` and nothing
    has decoded it yet: where it lies without walking the data set again (:func:`_top_level_spans` finds
    the other bulk data). Only for a data set read in ``transfer_syntax`` from ``buf`` itself or from the part
    of it after the File Meta Information (``buf[dataset_offset:]``, what the check of a C-STORE reads: the
    reader's index holds offsets into the buffer it read, which then start at ``dataset_offset`` of the file)."""
    entry = ds._elements.get(PIXEL_DATA)
    if entry.__class__ is not tuple or buf is None:
        return {}
    source = ds._buf
    if source is None or ds.read_transfer_syntax != transfer_syntax:
        return {}
    if source.obj is not buf and source.obj is not getattr(buf, "obj", None):
        return {}
    shift = len(buf) - len(source)  # 0, or the data set alone was read: after the meta
    if shift and (shift != dataset_offset or ds.file_meta is not None):
        return {}
    return {PIXEL_DATA: (entry[1] + shift, entry[2], False)}


def _top_level_spans(buf: bytes | memoryview, pos: int, layout: Layout,
                     wanted: set[int]) -> dict[int, tuple[int, int, bool]]:
    """(value offset, value length, undefined length) of the top-level elements in ``wanted``; for an
    undefined length the span runs to the start of the Sequence Delimitation Item."""
    found: dict[int, tuple[int, int, bool]] = {}
    end = len(buf)
    while pos < end and len(found) < len(wanted):
        tag, vr, length, value = element_header(buf, pos, end, layout)
        if length == UNDEFINED_LENGTH:
            if tag == PIXEL_DATA or vr in (b"OB", b"OW"):
                after = skip_encapsulated(buf, value, end)
                if after is None:
                    break
                if tag in wanted:
                    found[tag] = (value, after - 8 - value, True)
            else:
                little, implicit = (True, True) if vr == b"UN" else (layout.little, layout.implicit)
                seq_end = skip_sequence(buf, value, end, little, implicit)
                if seq_end is None:
                    break
                after = seq_end + 8
            pos = after
            continue
        if tag in wanted:
            found[tag] = (value, length, False)
        pos = value + length
    return found


def _frames(ds: Dataset, values: dict[int, Any], buf: bytes | memoryview, offset: int, length: int,
            undefined: bool) -> dict[str, Any] | None:
    """The frames of Pixel Data; ``values``: those of :data:`FRAME_TAGS` that ``ds`` has."""
    value = values.get
    frames = _int(value(0x00280008)) or 1
    if not undefined:
        rows, cols = _int(value(0x00280010)), _int(value(0x00280011))
        samples, bits = _int(value(0x00280002)) or 1, _int(value(0x00280100))
        if not rows or not cols or not bits:
            return None
        frame_bits = rows * cols * samples * bits
        if frame_bits % 8:
            return None  # 1-bit frames that do not end on a byte: read whole
        frame_length = frame_bits // 8
        if frame_length * frames > length:
            return None
        return {"native": [offset, frame_length, frames]}
    try:
        fragments = [(offset + start, n) for start, n in iter_fragment_spans(memoryview(buf)[offset:offset + length])]
        per_frame = encapsulated_frames(ds)
    except DicomError:
        return None
    # the frames take the fragments in order (PS3.5 A.4): match them up, checking every length
    out: list[list[list[int]]] = []
    index = 1  # fragment 0 is the Basic Offset Table
    for frame in per_frame:
        spans = []
        for piece in frame:
            if index >= len(fragments) or fragments[index][1] != len(piece):
                return None
            spans.append([fragments[index][0], fragments[index][1]])
            index += 1
        out.append(spans)
    return {"fragments": out}


def _int(value: Any) -> int | None:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


__all__ = ["BULK_THRESHOLD", "FRAME_TAGS", "Header", "build_header", "build_header_with_values", "compress_json",
           "decompress_json"]
