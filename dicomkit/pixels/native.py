"""Native (uncompressed) Pixel Data: samples as stored, per PS3.5 8.1 and PS3.3 C.7.6.3.

Frames follow each other without padding; 1-bit frames need not start on a byte boundary (PS3.5 8.1.1,
first pixel in the least significant bit). Samples hold Bits Stored bits ending at High Bit; the other bits
of Bits Allocated are masked off and signed samples are sign-extended from Bits Stored (PS3.5 8.1.1,
PS3.3 C.7.6.3.1.1). Multi-byte samples follow the transfer syntax's byte order; in Explicit VR Big Endian
8-bit samples in an OW value are swapped in pairs with the 16-bit words (PS3.5 A.3, retired).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.errors import PixelDataError
from .description import PixelDescription


def _window(data: bytes | memoryview, start: int, length: int, swap_pairs: bool) -> NDArray[np.uint8]:
    """``length`` bytes from ``start`` as uint8 (a view unless the bytes must be swapped in pairs)."""
    if not swap_pairs:
        return np.frombuffer(data, dtype=np.uint8, count=length, offset=start)
    lo = start & ~1
    hi = min(len(data), (start + length + 1) & ~1)
    words = np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo)
    if len(words) & 1:
        words = np.append(words, np.uint8(0))
    swapped = words.reshape(-1, 2)[:, ::-1].reshape(-1)
    return swapped[start - lo:start - lo + length]


def _check_length(data: bytes | memoryview, desc: PixelDescription, end_bit: int, first: int, count: int) -> None:
    need = (end_bit + 7) // 8
    if len(data) < need:
        raise PixelDataError(
            f"Pixel Data holds {len(data)} bytes; frames {first}..{first + count - 1} of "
            f"{desc.rows}x{desc.columns}x{desc.samples_per_pixel} samples of {desc.bits_allocated} bits need "
            f"{need} (truncated or wrong image attributes)"
        )


def decode_native(data: bytes | memoryview, desc: PixelDescription, first: int = 0, count: int = 1, *,
                  little_endian: bool = True, swap_pairs: bool = False) -> NDArray[Any]:
    """Frames ``first``..``first+count-1`` of native pixel data, shaped (count, rows, columns, samples).

    The result is a new, writeable array in native byte order with :attr:`PixelDescription.dtype`;
    it does not refer to ``data``. ``swap_pairs`` undoes the word swap of 8-bit (or 1-bit) samples held
    in an OW value of a big endian transfer syntax.
    """
    if count < 1:
        raise PixelDataError("no frames requested")
    start_bit = first * desc.frame_bits
    end_bit = start_bit + count * desc.frame_bits
    _check_length(data, desc, end_bit, first, count)
    shape = (count, *desc.frame_shape)
    if desc.bits_allocated == 1:
        return _decode_bits(data, desc, start_bit, end_bit, swap_pairs).reshape(shape)
    start = start_bit // 8
    length = (end_bit - start_bit) // 8
    size = desc.bits_allocated // 8
    if desc.is_float:
        src = np.dtype(f"{'<' if little_endian else '>'}f{size}")
    else:
        src = np.dtype(f"{'<' if little_endian else '>'}u{size}") if size > 1 else np.dtype(np.uint8)
    if size == 1:
        raw = _window(data, start, length, swap_pairs)
    else:
        raw = np.frombuffer(data, dtype=src, count=length // size, offset=start)
    if desc.is_subsampled:
        return _upsample_422(raw.reshape(count, desc.rows, desc.columns // 2, 4), desc)
    if desc.samples_per_pixel > 1 and desc.planar_configuration == 1:
        # PS3.3 C.7.6.3.1.3: all samples of the first plane, then the second, ... per frame.
        view = raw.reshape(count, desc.samples_per_pixel, desc.rows, desc.columns).transpose(0, 2, 3, 1)
    else:
        view = raw.reshape(shape)
    if desc.is_float:
        out = np.empty(shape, dtype=desc.dtype)
        np.copyto(out, view)
        return out
    return mask_samples(view, desc)


def mask_samples(view: NDArray[Any], desc: PixelDescription) -> NDArray[Any]:
    """A native-order copy of integer samples keeping bits ``high_bit-bits_stored+1..high_bit``, sign-extended."""
    bits = desc.bits_allocated
    unsigned = np.dtype(f"u{bits // 8}")
    out = np.empty(view.shape, dtype=unsigned)
    np.copyto(out, view, casting="unsafe")
    shift = desc.high_bit + 1 - desc.bits_stored
    full = desc.bits_stored == bits
    if desc.is_signed:
        signed = out.view(desc.dtype)
        if not full:
            # Left-align the stored bits, then an arithmetic shift brings them back with their sign.
            left = bits - 1 - desc.high_bit
            if left:
                signed <<= left
            signed >>= bits - desc.bits_stored
        return signed
    if shift:
        out >>= shift
    if not full:
        out &= unsigned.type((1 << desc.bits_stored) - 1)
    return out


def _decode_bits(data: bytes | memoryview, desc: PixelDescription, start_bit: int, end_bit: int,
                 swap_pairs: bool) -> NDArray[np.uint8]:
    first_byte = start_bit // 8
    last_byte = (end_bit + 7) // 8
    packed = _window(data, first_byte, last_byte - first_byte, swap_pairs)
    bits = np.unpackbits(packed, bitorder="little")
    offset = start_bit - first_byte * 8
    return bits[offset:offset + end_bit - start_bit]


def _upsample_422(pairs: NDArray[Any], desc: PixelDescription) -> NDArray[Any]:
    """Y1 Y2 Cb Cr per pair of pixels (PS3.3 C.7.6.3.1.2) to full-resolution Y Cb Cr."""
    count = pairs.shape[0]
    out = np.empty((count, desc.rows, desc.columns, 3), dtype=np.dtype(f"u{desc.bits_allocated // 8}"))
    out[:, :, 0::2, 0] = pairs[..., 0]
    out[:, :, 1::2, 0] = pairs[..., 1]
    out[:, :, 0::2, 1] = pairs[..., 2]
    out[:, :, 1::2, 1] = pairs[..., 2]
    out[:, :, 0::2, 2] = pairs[..., 3]
    out[:, :, 1::2, 2] = pairs[..., 3]
    if desc.bits_stored < desc.bits_allocated or desc.high_bit != desc.bits_stored - 1:
        return mask_samples(out, desc)
    return out


def encode_native(frames: NDArray[Any], desc: PixelDescription) -> bytes:
    """Native little endian Pixel Data bytes of ``frames`` (count, rows, columns, samples), without padding.

    Samples are written with Planar Configuration ``desc.planar_configuration``; 1-bit frames are packed
    continuously (PS3.5 8.1.1); integer samples keep only their Bits Stored bits.
    """
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[np.newaxis]
    if arr.shape[1:] != desc.frame_shape:
        raise PixelDataError(f"frames of shape {arr.shape[1:]} do not match {desc.frame_shape}")
    if desc.bits_allocated == 1:
        return np.packbits(arr.reshape(-1) & 1, bitorder="little").tobytes()
    if desc.is_float:
        return np.ascontiguousarray(arr, dtype=desc.dtype.newbyteorder("<")).tobytes()
    if desc.samples_per_pixel > 1 and desc.planar_configuration == 1:
        arr = arr.transpose(0, 3, 1, 2)
    unsigned = np.dtype(f"<u{desc.bits_allocated // 8}")
    out = np.ascontiguousarray(arr).astype(unsigned, casting="unsafe")
    if desc.bits_stored < desc.bits_allocated:
        out &= unsigned.type((1 << desc.bits_stored) - 1)
        shift = desc.high_bit + 1 - desc.bits_stored
        if shift:
            out <<= shift
    return out.tobytes()
