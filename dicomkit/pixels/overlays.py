"""Overlay planes (PS3.3 C.9.2): the groups 6000-601E as boolean masks.

Overlay Data (60xx,3000) holds one bit per overlay pixel, frames one after another, first pixel in the
least significant bit (like 1-bit Pixel Data). Retired embedded overlays keep their bit in the unused high
bits of Pixel Data (Overlay Bits Allocated > 1, Overlay Bit Position); both are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.errors import PixelDataError


@dataclass(frozen=True)
class Overlay:
    group: int
    rows: int
    columns: int
    origin: tuple[int, int]  # (row, column) of the top left overlay pixel, 1-based (C.9.2.1.2)
    type: str  # "G" graphics or "R" region of interest
    frames: int
    first_frame: int  # Image Frame Origin, 1-based
    description: str
    label: str


def overlay_groups(ds: Dataset) -> list[int]:
    """The overlay groups present (0x6000, 0x6002, ... 0x601E)."""
    return [g for g in range(0x6000, 0x6020, 2) if ((g << 16) | 0x0010) in ds]


def overlay_info(ds: Dataset, group: int = 0x6000) -> Overlay:
    if group not in range(0x6000, 0x6020, 2):
        raise PixelDataError(f"{group:04X} is not an overlay group (6000-601E, even)")

    def get(element: int, default: Any = None) -> Any:
        elem = ds.get((group << 16) | element)
        return default if elem is None else elem.value

    rows, columns = get(0x0010), get(0x0011)
    if not rows or not columns:
        raise PixelDataError(f"overlay group {group:04X} has no Overlay Rows/Columns")
    origin = get(0x0050, (1, 1))
    if not isinstance(origin, tuple) or len(origin) != 2:
        origin = (1, 1)
    return Overlay(group, int(rows), int(columns), (int(origin[0]), int(origin[1])),
                   str(get(0x0040, "G") or "G").strip(), int(get(0x0015, 1) or 1), int(get(0x0051, 1) or 1),
                   str(get(0x0022, "") or ""), str(get(0x1500, "") or ""))


def overlay_array(ds: Dataset, group: int = 0x6000, *, stored: NDArray[Any] | None = None) -> NDArray[np.bool_]:
    """The overlay as booleans shaped (frames, overlay rows, overlay columns).

    For an embedded overlay (no Overlay Data), ``stored`` may pass the raw stored pixel values (frames,
    rows, columns[, 1]) before masking; without it they are read from Pixel Data.
    """
    info = overlay_info(ds, group)
    data_elem = ds.get((group << 16) | 0x3000)
    count = info.rows * info.columns
    if data_elem is not None:
        raw = data_elem.value
        if not isinstance(raw, bytes | bytearray):
            raise PixelDataError(f"Overlay Data {group:04X},3000 is not a byte value")
        need = (count * info.frames + 7) // 8
        if len(raw) < need:
            raise PixelDataError(f"Overlay Data holds {len(raw)} bytes; {info.frames} frame(s) of "
                                 f"{info.rows}x{info.columns} need {need}")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:count * info.frames]
        return bits.reshape(info.frames, info.rows, info.columns).astype(bool)
    position = ds.get((group << 16) | 0x0102)
    if position is None or position.value is None:
        raise PixelDataError(f"overlay group {group:04X} has neither Overlay Data nor an Overlay Bit Position")
    bit = int(position.value)
    if stored is None:
        stored = _stored_words(ds)
    values = stored[..., 0] if stored.ndim == 4 else stored
    if values.shape[-2:] != (info.rows, info.columns):
        raise PixelDataError("an embedded overlay must have the size of the image")
    return ((values.astype(np.uint64) >> np.uint64(bit)) & np.uint64(1)).astype(bool)


def overlay_on_frame(ds: Dataset, group: int, frame: int) -> NDArray[np.bool_] | None:
    """Overlay ``group`` where it lies on image frame ``frame`` (0-based): booleans shaped like the image
    (rows, columns), the overlay placed at its Overlay Origin and cut to the image; None when the overlay
    has no frame for that image frame.

    Overlay frames apply one to one to image frames from Image Frame Origin on (PS3.3 C.9.3.1.1); an
    overlay of one frame without Image Frame Origin applies to every frame of a multi-frame image.
    """
    info = overlay_info(ds, group)
    rows, columns = _image_size(ds)
    if info.frames == 1 and ((group << 16) | 0x0051) not in ds:
        k = 0
    else:
        k = frame - (info.first_frame - 1)
        if not 0 <= k < info.frames:
            return None
    plane = _overlay_frame(ds, info, k, frame)
    out = np.zeros((rows, columns), dtype=bool)
    top, left = info.origin[0] - 1, info.origin[1] - 1  # C.9.2.1.2: 1\1 is the image's first pixel
    src_r, src_c = max(0, -top), max(0, -left)
    dst_r, dst_c = max(0, top), max(0, left)
    height = min(plane.shape[0] - src_r, rows - dst_r)
    width = min(plane.shape[1] - src_c, columns - dst_c)
    if height > 0 and width > 0:
        out[dst_r:dst_r + height, dst_c:dst_c + width] = plane[src_r:src_r + height, src_c:src_c + width]
    return out


def _image_size(ds: Dataset) -> tuple[int, int]:
    from .frames import describe

    desc = describe(ds)
    return desc.rows, desc.columns


def _overlay_frame(ds: Dataset, info: Overlay, k: int, image_frame: int) -> NDArray[np.bool_]:
    """Overlay frame ``k`` as (overlay rows, overlay columns), reading only its bits."""
    data_elem = ds.get((info.group << 16) | 0x3000)
    count = info.rows * info.columns
    if data_elem is not None:
        raw = data_elem.value
        if not isinstance(raw, bytes | bytearray):
            raise PixelDataError(f"Overlay Data {info.group:04X},3000 is not a byte value")
        start, end = k * count, (k + 1) * count  # in bits; frames follow each other without padding
        if len(raw) * 8 < end:
            raise PixelDataError(f"Overlay Data holds {len(raw)} bytes; frame {k + 1} of {info.rows}x"
                                 f"{info.columns} needs {(end + 7) // 8}")
        packed = np.frombuffer(raw, dtype=np.uint8, count=(end + 7) // 8 - start // 8, offset=start // 8)
        bits = np.unpackbits(packed, bitorder="little")[start % 8:start % 8 + count]
        return bits.reshape(info.rows, info.columns).astype(bool)
    from .frames import pixel_source

    source = pixel_source(ds)
    desc = source.desc.with_(bits_stored=source.desc.bits_allocated, high_bit=source.desc.bits_allocated - 1,
                             pixel_representation=0)
    embedded: NDArray[np.bool_] = overlay_array(ds, info.group, stored=source.decode(image_frame, desc)[None])[0]
    return embedded


def _stored_words(ds: Dataset) -> NDArray[Any]:
    """Native pixel words with every bit kept (for embedded overlays)."""
    from .frames import pixel_source

    source = pixel_source(ds)
    desc = source.desc.with_(bits_stored=source.desc.bits_allocated, high_bit=source.desc.bits_allocated - 1,
                             pixel_representation=0)
    return source.decode_all(desc)
