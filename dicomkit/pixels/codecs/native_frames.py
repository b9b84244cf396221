"""Encapsulated frames that hold native samples: Deflated Image Frame Compression and Encapsulated
Uncompressed Explicit VR Little Endian (PS3.5 A.4.11 and 10.x). Each frame is byte-aligned on its own.
"""

from __future__ import annotations

import zlib
from typing import Any

from numpy.typing import NDArray

from ...core.errors import PixelDataError
from ..description import PixelDescription
from ..native import decode_native, encode_native
from ..photometric import ycbcr_to_rgb
from .base import EncodeOptions


def _single(desc: PixelDescription) -> PixelDescription:
    return desc.with_(number_of_frames=1)


class UncompressedFrameCodec:
    name = "Encapsulated Uncompressed"
    lossy_method = ""
    concurrent_frames = False  # copying and inflating frames is quicker than handing them to threads

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        frames: NDArray[Any] = decode_native(data, _single(desc), 0, 1)
        frame: NDArray[Any] = frames[0]
        return ycbcr_to_rgb(frame, desc) if rgb else frame

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        return encode_native(frame[None], _single(desc))

    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        return None

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        return decoded_pi

    def is_lossy(self, options: EncodeOptions) -> bool:
        return False


class DeflateFrameCodec(UncompressedFrameCodec):
    """Deflated Image Frame Compression: each frame's native bytes deflated (RFC 1951, no zlib header)."""

    name = "Deflated Image Frame Compression"

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        inflater = zlib.decompressobj(-15)
        try:
            raw = inflater.decompress(data, desc.frame_bytes + 1)
        except zlib.error as exc:
            raise PixelDataError(f"deflated frame cannot be inflated: {exc}") from None
        if len(raw) < desc.frame_bytes:
            raise PixelDataError(f"deflated frame inflates to {len(raw)} bytes, {desc.frame_bytes} expected")
        return super().decode(raw, desc, rgb=rgb)

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        compressor = zlib.compressobj(options.deflate_level, zlib.DEFLATED, -15)
        raw = super().encode(frame, desc, options, decoded_pi)
        return compressor.compress(raw) + compressor.flush()
