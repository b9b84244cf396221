"""JPEG-LS (ISO/IEC 14495-1) lossless and near-lossless for PS3.5 A.4.3, through CharLS (imagecodecs).

Signed samples are coded as their Bits Stored bit patterns and sign-extended on decoding (PS3.5 8.2.3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...core.errors import PixelDataError
from .._deps import imagecodecs
from ..description import PixelDescription
from ..photometric import ycbcr_to_rgb
from .base import EncodeOptions, conform_frame
from .jpeg import check_complete, parse_header


class JPEGLSCodec:
    lossy_method = "ISO_14495_1"
    concurrent_frames = True  # CharLS runs without the GIL

    def __init__(self, near_lossless: bool) -> None:
        self.near_lossless = near_lossless
        self.name = "JPEG-LS Near-Lossless" if near_lossless else "JPEG-LS Lossless"

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        ic = imagecodecs(self.name)
        header = parse_header(data)
        check_complete(data, self.name)
        try:
            arr = ic.jpegls_decode(data)
        except Exception as exc:
            raise PixelDataError(f"{self.name} frame cannot be decoded: {exc}") from None
        frame = conform_frame(arr, desc, header.precision)
        return ycbcr_to_rgb(frame, desc) if rgb else frame

    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        if desc.is_float or desc.bits_allocated == 1 or desc.bits_allocated > 16:
            raise PixelDataError(f"JPEG-LS encodes 2..16-bit integer samples, not {desc.bits_allocated}-bit "
                                 f"{'float' if desc.is_float else 'integer'} samples")
        if self.near_lossless and not 0 <= options.near <= 255:
            raise PixelDataError(f"JPEG-LS NEAR must be 0..255, not {options.near}")

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        return decoded_pi

    def is_lossy(self, options: EncodeOptions) -> bool:
        return self.near_lossless and options.near > 0

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        ic = imagecodecs(self.name)
        self.check_encodable(desc, options)
        arr = frame[:, :, 0] if desc.samples_per_pixel == 1 else frame
        dtype = np.uint8 if desc.bits_stored <= 8 else np.uint16
        if desc.is_signed:
            arr = (arr.astype(np.int64) & ((1 << desc.bits_stored) - 1)).astype(dtype)
        else:
            arr = np.ascontiguousarray(arr, dtype=dtype)
        near = options.near if self.near_lossless else 0
        try:
            return bytes(ic.jpegls_encode(arr, level=near))
        except Exception as exc:
            raise PixelDataError(f"{self.name} encoding failed: {exc}") from None
