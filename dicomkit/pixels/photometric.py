"""Photometric Interpretation (PS3.3 C.7.6.3.1.2) and Palette Color Lookup Tables (C.7.6.3.1.5-6, C.7.9).

Decoders return frames in the colour space they were stored in; ``pixel_array`` converts YCbCr to RGB
(its ``as_rgb``, True by default, as pydicom 3 does) and :func:`apply_palette` maps PALETTE COLOR indices
when asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.errors import PixelDataError
from .description import YCBCR, PixelDescription, decoded_photometric

# PS3.3 C.7.6.3.1.2 YBR_FULL: Y = .2990R + .5870G + .1140B; CB = -.1687R - .3313G + .5000B + 2^(n-1);
# CR = +.5000R - .4187G - .0813B + 2^(n-1). The inverse below is the exact inverse of that matrix.
_RGB_TO_YBR = np.array([[0.299, 0.587, 0.114],
                        [-0.299 / 1.772, -0.587 / 1.772, 0.886 / 1.772],
                        [0.701 / 1.402, -0.587 / 1.402, -0.114 / 1.402]])
_YBR_TO_RGB = np.linalg.inv(_RGB_TO_YBR)


def _max_value(arr: NDArray[Any], bits: int | None) -> int:
    if bits is None:
        bits = arr.dtype.itemsize * 8
    return (1 << bits) - 1


def ybr_full_to_rgb(arr: NDArray[Any], bits: int | None = None) -> NDArray[Any]:
    """YBR_FULL (or decoded YBR_FULL_422) samples to RGB, same dtype, rounded and clipped."""
    top = _max_value(arr, bits)
    offset = (top + 1) / 2
    work = arr.astype(np.float32)
    work[..., 1:] -= offset
    rgb = work @ _YBR_TO_RGB.T.astype(np.float32)
    np.rint(rgb, out=rgb)
    np.clip(rgb, 0, top, out=rgb)
    return rgb.astype(arr.dtype)


def rgb_to_ybr_full(arr: NDArray[Any], bits: int | None = None) -> NDArray[Any]:
    top = _max_value(arr, bits)
    offset = (top + 1) / 2
    ybr = arr.astype(np.float32) @ _RGB_TO_YBR.T.astype(np.float32)
    ybr[..., 1:] += offset
    np.rint(ybr, out=ybr)
    np.clip(ybr, 0, top, out=ybr)
    return ybr.astype(arr.dtype)


def ybr_partial_to_rgb(arr: NDArray[Any]) -> NDArray[Any]:
    """YBR_PARTIAL (8-bit, PS3.3 C.7.6.3.1.2): Y in 16..235 and Cb/Cr in 16..240 to full-range RGB."""
    work = arr.astype(np.float32)
    work[..., 0] = (work[..., 0] - 16.0) * (255.0 / 219.0)
    work[..., 1:] = (work[..., 1:] - 128.0) * (255.0 / 224.0) + 128.0
    return ybr_full_to_rgb(np.clip(np.rint(work), 0, 255).astype(np.uint8), 8).astype(arr.dtype)


def to_rgb(arr: NDArray[Any], photometric: str, ds: Dataset | None = None, *,
           bits_stored: int | None = None) -> NDArray[Any]:
    """Frames (..., rows, columns, samples) of decoded ``photometric`` samples as RGB.

    MONOCHROME data is returned unchanged; PALETTE COLOR needs the data set for its tables.
    """
    pi = photometric
    if pi == "RGB" or pi.startswith("MONOCHROME"):
        return arr
    if pi in ("YBR_FULL", "YBR_FULL_422"):
        return ybr_full_to_rgb(arr, bits_stored)
    if pi in ("YBR_PARTIAL", "YBR_PARTIAL_422", "YBR_PARTIAL_420"):
        return ybr_partial_to_rgb(arr)
    if pi == "PALETTE COLOR":
        if ds is None:
            raise PixelDataError("PALETTE COLOR needs the data set's palette tables to give RGB")
        return apply_palette(arr, ds)
    raise PixelDataError(f"conversion from {pi} to RGB is not supported")


def ycbcr_to_rgb(arr: NDArray[Any], desc: PixelDescription) -> NDArray[Any]:
    """Decoded frames of ``desc`` as RGB when their samples are YCbCr (PS3.3 C.7.6.3.1.2); others unchanged."""
    pi = decoded_photometric(desc)
    return to_rgb(arr, pi, bits_stored=desc.bits_stored) if pi in YCBCR else arr


# ---------------------------------------------------------------------------------------------------
# Palette Color Lookup Tables

_DESCRIPTORS = (0x00281101, 0x00281102, 0x00281103)
_DATA = (0x00281201, 0x00281202, 0x00281203)
_SEGMENTED = (0x00281221, 0x00281222, 0x00281223)


def lut_descriptor(ds: Dataset, tag: int) -> tuple[int, int, int]:
    """(entries, first mapped value, bits per entry) of a LUT Descriptor (PS3.3 C.7.6.3.1.5).

    The first value 0 means 65536 entries; the second is read as unsigned or signed as the VR says.
    """
    elem = ds.get(tag)
    if elem is None:
        raise PixelDataError(f"LUT Descriptor {tag >> 16:04X},{tag & 0xFFFF:04X} is missing")
    value = elem.value
    if not isinstance(value, tuple) or len(value) != 3:
        raise PixelDataError(f"LUT Descriptor has {value!r}; three values are required")
    entries, first, bits = (int(v) for v in value)
    return entries or 65536, first, bits


def _words(ds: Dataset, tag: int) -> NDArray[np.uint16]:
    elem = ds.get(tag)
    if elem is None:
        raise PixelDataError(f"LUT Data {tag >> 16:04X},{tag & 0xFFFF:04X} is missing")
    value = elem.value
    if isinstance(value, bytes | bytearray):
        if len(value) % 2:
            value = value[:-1]
        return np.frombuffer(value, dtype="<u2").astype(np.uint16)
    if isinstance(value, int):
        value = (value,)
    return np.asarray(value, dtype=np.int64).astype(np.uint16)


def lut_data(ds: Dataset, tag: int, entries: int, bits: int) -> NDArray[Any]:
    """LUT entries as uint16 (or uint8 where the table holds one byte per entry)."""
    elem = ds.get(tag)
    value = None if elem is None else elem.value
    if bits == 8 and isinstance(value, bytes) and len(value) in (entries, entries + 1) and len(value) != 2 * entries:
        return np.frombuffer(value[:entries], dtype=np.uint8).copy()
    words = _words(ds, tag)
    if len(words) < entries:
        raise PixelDataError(f"LUT Data holds {len(words)} entries, the descriptor says {entries}")
    return words[:entries]


def expand_segmented(words: NDArray[Any], entries: int) -> NDArray[np.uint16]:
    """Expand Segmented Palette Color LUT Data (PS3.3 C.7.9.2): discrete, linear and indirect segments."""
    out: list[float] = []
    data = [int(w) for w in words]
    _expand_into(data, out, depth=0)
    if len(out) < entries:
        raise PixelDataError(f"segmented LUT expands to {len(out)} entries, the descriptor says {entries}")
    return np.rint(np.asarray(out[:entries], dtype=np.float64)).astype(np.uint16)


def _expand_into(data: list[int], out: list[float], depth: int) -> None:
    if depth > 2:
        raise PixelDataError("segmented LUT indirect segments nest too deeply")
    pos = 0
    n = len(data)
    while pos < n:
        if pos + 1 >= n:
            raise PixelDataError("segmented LUT ends inside a segment header")
        opcode, length = data[pos], data[pos + 1]
        pos += 2
        if opcode == 0:  # discrete segment: length values
            if pos + length > n:
                raise PixelDataError("segmented LUT discrete segment runs past the data")
            out.extend(data[pos:pos + length])
            pos += length
        elif opcode == 1:  # linear segment: from the previous value to y1 in length steps
            if not out or pos >= n:
                raise PixelDataError("segmented LUT linear segment without a previous value")
            y0, y1 = out[-1], data[pos]
            pos += 1
            step = (y1 - y0) / length if length else 0.0
            out.extend(y0 + step * (i + 1) for i in range(length))
        elif opcode == 2:  # indirect segment: copy `length` segments starting at a byte offset
            if pos + 2 > n:
                raise PixelDataError("segmented LUT indirect segment is truncated")
            offset = data[pos] | (data[pos + 1] << 16)
            pos += 2
            start = offset // 2 if offset % 2 == 0 else -1
            if not 0 <= start < n:
                raise PixelDataError(f"segmented LUT indirect offset {offset} is outside the data")
            sub: list[int] = []
            p = start
            for _ in range(length):
                if p + 1 >= n:
                    raise PixelDataError("segmented LUT indirect segment refers past the data")
                op, ln = data[p], data[p + 1]
                size = 2 + (ln if op == 0 else 1 if op == 1 else 2)
                sub.extend(data[p:p + size])
                p += size
            _expand_into(sub, out, depth + 1)
        else:
            raise PixelDataError(f"segmented LUT has an unknown segment opcode {opcode}")


def palette_tables(ds: Dataset) -> tuple[NDArray[Any], int, int]:
    """The red, green and blue tables stacked as (entries, 3), the first mapped value and bits per entry."""
    tables = []
    firsts = set()
    bits_set = set()
    for desc_tag, data_tag, seg_tag in zip(_DESCRIPTORS, _DATA, _SEGMENTED):
        entries, first, bits = lut_descriptor(ds, desc_tag)
        if seg_tag in ds and data_tag not in ds:
            table = expand_segmented(_words(ds, seg_tag), entries)
        else:
            table = lut_data(ds, data_tag, entries, bits)
        tables.append(table.astype(np.uint16))
        firsts.add(first)
        bits_set.add(bits)
    if len(firsts) != 1 or len({len(t) for t in tables}) != 1:
        raise PixelDataError("the red, green and blue palette descriptors disagree")
    bits = max(bits_set)
    stacked = np.stack(tables, axis=-1)
    if bits == 8 and stacked.max(initial=0) > 255:
        # Some writers put 8-bit entries in the high byte of each word.
        stacked = (stacked >> 8).astype(np.uint16)
    return stacked, firsts.pop(), bits


def apply_palette(arr: NDArray[Any], ds: Dataset) -> NDArray[Any]:
    """Map PALETTE COLOR indices (..., rows, columns, 1) to RGB (..., rows, columns, 3).

    Indices below the first mapped value take the first entry, above the table the last (C.7.6.3.1.5).
    The result is uint8 for 8-bit tables and uint16 otherwise.
    """
    table, first, bits = palette_tables(ds)
    index = arr[..., 0] if arr.shape[-1] == 1 else arr
    idx = np.clip(index.astype(np.int64) - first, 0, len(table) - 1)
    rgb = table[idx]
    return rgb.astype(np.uint8) if bits <= 8 else rgb


