"""JPEG (ISO/IEC 10918-1) for PS3.5 A.4.1: Baseline (Process 1), Extended (Processes 2 & 4) and Lossless
(Processes 14 and 14 SV1), through libjpeg-turbo as bundled by imagecodecs.

Colour (PS3.5 8.2.1): lossy colour frames are encoded as YCbCr with 4:2:2 subsampling and recorded as
YBR_FULL_422; decoded YBR frames are returned as YBR_FULL (upsampled) and converted to RGB only on request.
Lossless frames are never colour transformed. Signed samples are coded as their Bits Stored bit patterns.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...core.errors import PixelDataError
from .._deps import imagecodecs
from ..description import PixelDescription
from ..photometric import ycbcr_to_rgb
from .base import EncodeOptions, conform_frame

_SOF = {0xC0: 1, 0xC1: 2, 0xC2: 10, 0xC3: 14, 0xC5: 0, 0xC6: 0, 0xC7: 0, 0xC9: 3, 0xCA: 11, 0xCB: 15, 0xF7: 55}


@dataclass(frozen=True)
class JPEGHeader:
    """What the markers before the first scan say (ISO/IEC 10918-1 B.2)."""

    sof: int  # marker code: 0xC0 baseline, 0xC1 extended, 0xC3 lossless, 0xF7 JPEG-LS, ...
    precision: int
    rows: int
    columns: int
    component_ids: tuple[int, ...]
    jfif: bool
    adobe_transform: int | None  # APP14 "Adobe" transform flag: 0 none (RGB), 1 YCbCr


def parse_header(data: bytes | memoryview) -> JPEGHeader:
    """Read the frame header of a JPEG or JPEG-LS codestream; raises PixelDataError when malformed."""
    buf = bytes(data[:65536]) if len(data) > 65536 else bytes(data)
    if buf[:2] != b"\xff\xd8":
        raise PixelDataError("not a JPEG codestream: it does not start with an SOI marker")
    pos = 2
    jfif = False
    adobe: int | None = None
    n = len(buf)
    while pos + 4 <= n:
        if buf[pos] != 0xFF:
            raise PixelDataError(f"JPEG codestream: expected a marker at byte {pos}")
        marker = buf[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = struct.unpack_from(">H", buf, pos + 2)[0]
        body = buf[pos + 4:pos + 2 + length]
        if marker == 0xE0 and body[:5] == b"JFIF\x00":
            jfif = True
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12:
            adobe = body[11]
        elif marker in _SOF:
            if len(body) < 6:
                raise PixelDataError("JPEG frame header is truncated")
            precision, rows, columns, count = struct.unpack_from(">BHHB", body, 0)
            ids = tuple(body[6 + 3 * i] for i in range(count) if 6 + 3 * i < len(body))
            return JPEGHeader(marker, precision, rows, columns, ids, jfif, adobe)
        elif marker == 0xDA:
            break
        pos += 2 + length
    raise PixelDataError("JPEG codestream has no frame header (SOF marker)")


def check_complete(data: bytes, what: str) -> None:
    """A JPEG or JPEG-LS frame must end with EOI (after optional padding); libjpeg would silently fill
    the missing part of a truncated frame, so truncation is refused here."""
    end = data.rstrip(b"\x00")
    # PS3.5 A.4: a fragment may end with one padding byte, which some writers set to FF.
    if not (end.endswith(b"\xff\xd9") or end[-3:-1] == b"\xff\xd9"):
        raise PixelDataError(f"{what} frame is truncated: it does not end with an EOI marker")


def _codec_error(exc: Exception, what: str) -> PixelDataError:
    return PixelDataError(f"{what} frame cannot be decoded: {exc}")


class JPEGCodec:
    """Processes 1, 2 & 4, 14 and 14 SV1 (``process`` selects the encoder)."""

    lossy_method = "ISO_10918_1"
    concurrent_frames = True  # libjpeg-turbo runs without the GIL

    def __init__(self, process: str) -> None:
        self.process = process  # "baseline", "extended", "lossless", "sv1"
        self.name = {"baseline": "JPEG Baseline (Process 1)", "extended": "JPEG Extended (Process 2 & 4)",
                     "lossless": "JPEG Lossless (Process 14)", "sv1": "JPEG Lossless SV1 (Process 14 SV1)"}[process]

    # -- decoding ------------------------------------------------------------------------------------
    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        ic = imagecodecs(self.name)
        header = parse_header(data)
        check_complete(data, self.name)
        lossless = header.sof in (0xC3, 0xC7, 0xCB)
        kwargs: dict[str, Any] = {}
        converted = False
        if len(header.component_ids) == 3:
            if lossless:
                kwargs = {"colorspace": "RGB", "outcolorspace": "RGB"}  # no colour transform
            elif rgb and desc.photometric_interpretation in ("YBR_FULL", "YBR_FULL_422"):
                # libjpeg's converter: the JFIF equations are those of YBR_FULL (PS3.3 C.7.6.3.1.2)
                kwargs = {"colorspace": "YCbCr", "outcolorspace": "RGB"}
                converted = True
            elif desc.photometric_interpretation.startswith("YBR"):
                kwargs = {"colorspace": "YCbCr", "outcolorspace": "YCbCr"}  # keep YBR (upsampled)
            elif header.jfif or header.adobe_transform == 1:
                kwargs = {"colorspace": "YCbCr", "outcolorspace": "RGB"}  # the markers say YCbCr: to RGB
            else:
                kwargs = {"colorspace": "RGB", "outcolorspace": "RGB"}  # PI RGB: no transform (PS3.5 8.2.1)
        try:
            arr = ic.jpeg8_decode(data, **kwargs)
        except Exception as exc:
            if not lossless:
                raise _codec_error(exc, self.name) from None
            # Some lossless streams decode only with the independent SOF3 decoder.
            try:
                arr = ic.jpegsof3_decode(data)
            except Exception:
                raise _codec_error(exc, self.name) from None
        frame = conform_frame(arr, desc, header.precision)
        return ycbcr_to_rgb(frame, desc) if rgb and not converted else frame

    # -- encoding ------------------------------------------------------------------------------------
    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        if desc.is_float or desc.bits_allocated == 1:
            raise PixelDataError(f"{self.name} cannot encode {desc.bits_allocated}-bit or float pixel data")
        if desc.bits_allocated > 16:
            raise PixelDataError(f"{self.name} encodes at most 16 bits per sample, not {desc.bits_allocated}")
        if self.process == "baseline" and desc.bits_stored > 8:
            raise PixelDataError(f"JPEG Baseline holds 8-bit samples; Bits Stored is {desc.bits_stored} "
                                 "(use JPEG Extended for up to 12 bits, or a lossless syntax)")
        if self.process == "extended" and desc.bits_stored > 12:
            raise PixelDataError(f"JPEG Extended holds at most 12-bit samples; Bits Stored is {desc.bits_stored}")
        if self.process in ("baseline", "extended") and desc.is_signed:
            raise PixelDataError(f"{self.name} cannot encode signed samples (lossy JPEG has no sign)")
        if self.process == "lossless" and not 1 <= options.predictor <= 7:
            raise PixelDataError(f"JPEG lossless predictor must be 1..7, not {options.predictor}")
        if self.process in ("baseline", "extended") and not 1 <= options.quality <= 100:
            raise PixelDataError(f"JPEG quality must be 1..100, not {options.quality}")

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        if desc.samples_per_pixel == 3 and self.process in ("baseline", "extended"):
            return "YBR_FULL_422"
        return decoded_pi

    def is_lossy(self, options: EncodeOptions) -> bool:
        return self.process in ("baseline", "extended")

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        ic = imagecodecs(self.name)
        self.check_encodable(desc, options)
        arr = frame[:, :, 0] if desc.samples_per_pixel == 1 else frame
        if self.process in ("baseline", "extended"):
            bits = 8 if self.process == "baseline" or desc.bits_stored <= 8 else 12
            arr = arr.astype(np.uint8 if bits == 8 else np.uint16, copy=False)
            kwargs: dict[str, Any] = {}
            if desc.samples_per_pixel == 3:
                source = "YCbCr" if decoded_pi.startswith("YBR") else "RGB"
                kwargs = {"colorspace": source, "outcolorspace": "YCbCr", "subsampling": "422"}
            try:
                return bytes(ic.jpeg8_encode(arr, level=options.quality, bitspersample=bits, **kwargs))
            except Exception as exc:
                raise PixelDataError(f"{self.name} encoding failed: {exc}") from None
        precision = max(2, desc.bits_stored)
        dtype = np.uint8 if precision <= 8 else np.uint16
        if desc.is_signed:
            arr = (arr.astype(np.int64) & ((1 << desc.bits_stored) - 1)).astype(dtype)
        else:
            arr = arr.astype(dtype, copy=False)
        predictor = 1 if self.process == "sv1" else options.predictor
        kwargs = {"colorspace": "RGB", "outcolorspace": "RGB"} if desc.samples_per_pixel == 3 else {}
        try:
            return bytes(ic.jpeg8_encode(arr, lossless=True, predictor=predictor, bitspersample=precision,
                                         **kwargs))
        except Exception as exc:
            raise PixelDataError(f"{self.name} encoding failed: {exc}") from None
