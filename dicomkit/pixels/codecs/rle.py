"""RLE Lossless (PS3.5 Annex G): the header, one segment per byte plane, PackBits-coded rows.

The framing is done here; the PackBits inner loop uses imagecodecs when installed and otherwise a
pure-Python implementation of the same scheme (G.3).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...core.errors import PixelDataError
from ..description import PixelDescription
from ..native import mask_samples
from ..photometric import ycbcr_to_rgb
from .base import EncodeOptions

_HEADER = struct.Struct("<16I")
MAX_SEGMENTS = 15


def _packbits_module() -> Any:
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def packbits_decode(data: bytes | memoryview, expected: int) -> bytes:
    """Decode a PackBits segment (PS3.5 G.3.2) to ``expected`` bytes; extra output (padding) is dropped."""
    module = _packbits_module()
    if module is not None:
        try:
            out = bytes(module.packbits_decode(bytes(data)))
        except Exception as exc:  # the library raises its own error types
            raise PixelDataError(f"RLE segment cannot be decoded: {exc}") from None
    else:
        out = _packbits_decode_py(bytes(data), expected)
    if len(out) < expected:
        raise PixelDataError(f"RLE segment decodes to {len(out)} bytes, {expected} expected (truncated?)")
    return out[:expected]


def _packbits_decode_py(data: bytes, expected: int) -> bytes:
    out = bytearray()
    pos, n = 0, len(data)
    while pos < n and len(out) < expected:
        header = data[pos]
        pos += 1
        if header < 128:  # copy the next header+1 bytes literally
            count = header + 1
            out += data[pos:pos + count]
            pos += count
        elif header > 128:  # repeat the next byte 257-header times
            if pos >= n:
                break
            out += data[pos:pos + 1] * (257 - header)
            pos += 1
        # header == 128 (-128): no operation
    return bytes(out)


def packbits_encode_row(row: bytes) -> bytes:
    """PackBits of one row (PS3.5 G.3.1: runs never cross a row)."""
    out = bytearray()
    n = len(row)
    i = 0
    while i < n:
        # a replicate run of at least 2 equal bytes
        j = i + 1
        while j < n and j - i < 128 and row[j] == row[i]:
            j += 1
        if j - i >= 2:
            out.append(257 - (j - i))
            out.append(row[i])
            i = j
            continue
        # a literal run up to the next pair of equal bytes
        j = i + 1
        while j < n and j - i < 128 and not (j + 1 < n and row[j] == row[j + 1]):
            j += 1
        out.append(j - i - 1)
        out += row[i:j]
        i = j
    return bytes(out)


def segment_count(desc: PixelDescription) -> int:
    return 1 if desc.bits_allocated == 1 else desc.samples_per_pixel * desc.bits_allocated // 8


class RLECodec:
    name = "RLE Lossless"
    lossy_method = ""
    concurrent_frames = False  # the framing is Python (the GIL is held)

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        frame = self._decode(data, desc)
        return ycbcr_to_rgb(frame, desc) if rgb else frame

    def _decode(self, data: bytes, desc: PixelDescription) -> NDArray[Any]:
        if len(data) < 64:
            raise PixelDataError(f"RLE frame of {len(data)} bytes is shorter than its 64-byte header")
        header = _HEADER.unpack_from(data, 0)
        n = header[0]
        expected = segment_count(desc)
        if n != expected:
            raise PixelDataError(f"RLE header lists {n} segments; {desc.samples_per_pixel} samples of "
                                 f"{desc.bits_allocated} bits need {expected} (PS3.5 G.2)")
        offsets = [*header[1:1 + n], len(data)]
        for k in range(n):
            if not 64 <= offsets[k] <= offsets[k + 1] <= len(data):
                raise PixelDataError(f"RLE segment {k + 1} offset {offsets[k]} is outside the frame")
        if desc.bits_allocated == 1:
            plane = packbits_decode(memoryview(data)[offsets[0]:offsets[1]], desc.frame_bytes)
            bits = np.unpackbits(np.frombuffer(plane, np.uint8), bitorder="little")[:desc.pixels_per_frame]
            return bits.reshape(desc.frame_shape)
        pixels = desc.pixels_per_frame
        size = desc.bits_allocated // 8
        spp = desc.samples_per_pixel
        # PS3.5 G.2: segments are byte planes, most significant byte first, sample after sample.
        view = memoryview(data)
        segments = [packbits_decode(view[offsets[k]:offsets[k + 1]], pixels) for k in range(n)]
        planes = np.empty((pixels, spp, size), dtype=np.uint8)  # allocated once the data proved its size
        for k, segment in enumerate(segments):
            sample, byte = divmod(k, size)
            planes[:, sample, byte] = np.frombuffer(segment, np.uint8)
        big = planes.view(np.dtype(f">u{size}") if size > 1 else np.uint8).reshape(desc.frame_shape)
        return mask_samples(big, desc)

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        self.check_encodable(desc, options)
        module = _packbits_module()
        if desc.bits_allocated == 1:
            packed = np.packbits(frame.reshape(-1) & 1, bitorder="little")
            rows = [packed.tobytes()]
            segments = [self._segment(rows, module)]
        else:
            size = desc.bits_allocated // 8
            big = np.ascontiguousarray(frame, dtype=np.dtype(f">u{size}") if size > 1 else np.uint8)
            planes = big.view(np.uint8).reshape(desc.rows, desc.columns, desc.samples_per_pixel, size)
            segments = []
            for sample in range(desc.samples_per_pixel):
                for byte in range(size):
                    plane = np.ascontiguousarray(planes[:, :, sample, byte])
                    segments.append(self._segment([r.tobytes() for r in plane], module))
        offsets = []
        pos = 64
        for seg in segments:
            offsets.append(pos)
            pos += len(seg)
        header = _HEADER.pack(len(segments), *offsets, *([0] * (15 - len(offsets))))
        return header + b"".join(segments)

    @staticmethod
    def _segment(rows: list[bytes], module: Any) -> bytes:
        if module is not None:
            body = b"".join(bytes(module.packbits_encode(r)) for r in rows)
        else:
            body = b"".join(packbits_encode_row(r) for r in rows)
        return body + b"\x00" if len(body) & 1 else body  # PS3.5 G.5: segments have even lengths

    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        if desc.is_float:
            raise PixelDataError("RLE Lossless cannot encode float pixel data")
        if segment_count(desc) > MAX_SEGMENTS:
            raise PixelDataError(f"RLE Lossless allows at most 15 segments; {desc.samples_per_pixel} samples of "
                                 f"{desc.bits_allocated} bits need {segment_count(desc)}")

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        return decoded_pi

    def is_lossy(self, options: EncodeOptions) -> bool:
        return False
