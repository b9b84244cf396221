"""A minimal PNG encoder (ISO/IEC 15948): 8-bit grayscale or RGB, one IDAT, no filtering."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.errors import PixelDataError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode_png(image: NDArray[Any], level: int = 6) -> bytes:
    """PNG bytes of a uint8 image shaped (rows, columns) or (rows, columns, 1 or 3)."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise PixelDataError(f"PNG output needs uint8 (rows, columns[, 3]) data, got {arr.dtype} {arr.shape}")
    rows, columns = arr.shape[:2]
    colour_type = 0 if arr.ndim == 2 else 2
    header = struct.pack(">IIBBBBB", columns, rows, 8, colour_type, 0, 0, 0)
    # Each scanline starts with its filter type byte (0, none).
    lines = np.zeros((rows, 1 + columns * (1 if arr.ndim == 2 else 3)), dtype=np.uint8)
    lines[:, 1:] = arr.reshape(rows, -1)
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(lines.tobytes(), level))
            + _chunk(b"IEND", b""))
