"""JPEG 2000 (ISO/IEC 15444-1, PS3.5 A.4.4) through OpenJPEG and High-Throughput JPEG 2000
(ISO/IEC 15444-15, PS3.5 A.4.x) encoded through OpenJPH; both decoded by OpenJPEG (imagecodecs).

Colour (PS3.5 8.2.4): with the multi-component transform the Photometric Interpretation is YBR_RCT
(reversible) or YBR_ICT (irreversible); the decoder reverses it, so decoded samples are RGB.
HTJ2K with RPCL options (PS3.5 10.18): RPCL progression, enough decompositions for a base resolution
of at most 64 rows and columns, and Tile-part Length (TLM) markers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...core.errors import PixelDataError
from .._deps import imagecodecs
from ..description import PixelDescription
from ..photometric import ycbcr_to_rgb
from .base import EncodeOptions, conform_frame

_J2K_SOC = b"\xff\x4f\xff\x51"
# OpenJPEG's own threads pay for codestreams of about this size (~10 ms of decoding); it starts its threads
# for each frame, which costs from 0.2 ms on an idle machine to several ms on a loaded one.
THREADED_CODESTREAM_BYTES = 64 * 1024
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def codestream_precision(data: bytes | memoryview) -> tuple[int, bool] | None:
    """(bit depth, signed) of the first component from the SIZ marker (ISO/IEC 15444-1 A.5.1)."""
    head = bytes(data[:64])
    if head[:4] != _J2K_SOC or len(head) < 43:
        return None
    ssiz = head[42]
    return (ssiz & 0x7F) + 1, bool(ssiz & 0x80)


def _ends_with_eoc(data: bytes) -> bool:
    end = data.rstrip(b"\x00")
    return end.endswith(b"\xff\xd9")


def is_reversible(data: bytes) -> bool:
    """Whether the COD marker of the main header names the reversible 5-3 wavelet (ISO/IEC 15444-1 A.6.1)."""
    cod = data.find(b"\xff\x52", 0, 4096)
    return cod >= 0 and len(data) > cod + 13 and data[cod + 13] == 1


def _conform(arr: NDArray[Any], desc: PixelDescription, data: bytes) -> NDArray[Any]:
    if desc.bits_allocated == 1 and arr.dtype != desc.dtype:
        return conform_frame(arr, desc, 1).astype(np.uint8)
    info = codestream_precision(data) if desc.is_signed and arr.dtype.kind == "u" else None
    return conform_frame(arr, desc, info[0] if info else desc.bits_stored)


def _decompositions(rows: int, columns: int) -> int:
    """Enough wavelet levels for the lowest resolution to be at most 64 x 64 (PS3.5 10.18)."""
    size = max(rows, columns)
    return max(0, math.ceil(math.log2(size / 64))) if size > 64 else 0


class JPEG2000Codec:
    """JPEG 2000 Part 1 (``ht=False``) or HTJ2K (``ht=True``); ``mode`` is lossless, rpcl or any."""

    def __init__(self, ht: bool, mode: str) -> None:
        self.ht = ht
        self.mode = mode  # "lossless": lossless only; "rpcl": HTJ2K RPCL lossless; "any": lossy allowed
        family = "HTJ2K" if ht else "JPEG 2000"
        self.name = {"lossless": f"{family} Lossless", "rpcl": f"{family} Lossless RPCL",
                     "any": family}[mode]
        self.lossy_method = "ISO_15444_15" if ht else "ISO_15444_1"
        self.concurrent_frames = True  # OpenJPEG and OpenJPH run without the GIL

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        frame = self._decode(data, desc, threads)
        return ycbcr_to_rgb(frame, desc) if rgb else frame

    def _decode(self, data: bytes, desc: PixelDescription, threads: int) -> NDArray[Any]:
        ic = imagecodecs(self.name)
        if data[:4] != _J2K_SOC and data[:12] != _JP2_SIGNATURE:
            raise PixelDataError(f"{self.name} frame does not start with a JPEG 2000 codestream (SOC/SIZ)")
        if self.ht and is_reversible(data) and _ends_with_eoc(data):
            # OpenJPH decodes reversible HTJ2K about twice as fast as OpenJPEG, exactly; it does not notice
            # truncation, so only complete codestreams (ending with EOC) go to it. Irreversible frames and
            # codestreams it cannot read go to OpenJPEG, which also clips lossy output and refuses truncation.
            try:
                return _conform(ic.htj2k_decode(data), desc, data)
            except Exception:
                pass
        big = len(data) >= THREADED_CODESTREAM_BYTES
        try:
            arr = ic.jpeg2k_decode(data, numthreads=threads if big else 1)
        except Exception as exc:
            raise PixelDataError(f"{self.name} frame cannot be decoded: {exc}") from None
        return _conform(arr, desc, data)

    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        if desc.is_float:
            raise PixelDataError(f"{self.name} cannot encode float pixel data")
        if desc.bits_allocated > 16:
            raise PixelDataError(f"{self.name} encodes at most 16-bit samples here, not {desc.bits_allocated}")
        if desc.bits_allocated == 1 and self.ht:
            raise PixelDataError("HTJ2K cannot encode 1-bit samples with OpenJPH; use JPEG 2000 or RLE")

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        if desc.samples_per_pixel == 3 and decoded_pi == "RGB" and options.colour_transform:
            return "YBR_ICT" if self.is_lossy(options) else "YBR_RCT"
        return decoded_pi

    def is_lossy(self, options: EncodeOptions) -> bool:
        return self.mode == "any" and not options.lossless

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        ic = imagecodecs(self.name)
        self.check_encodable(desc, options)
        arr = frame[:, :, 0] if desc.samples_per_pixel == 1 else frame
        lossy = self.is_lossy(options)
        mct = desc.samples_per_pixel == 3 and decoded_pi == "RGB" and options.colour_transform
        bits = max(1, desc.bits_stored)
        if desc.bits_allocated == 1:
            arr = arr.astype(np.uint8)
        elif desc.is_signed:
            arr = arr.astype(np.int8 if bits <= 8 else np.int16)
        else:
            arr = arr.astype(np.uint8 if bits <= 8 else np.uint16, copy=False)
        arr = np.ascontiguousarray(arr)
        levels = _decompositions(desc.rows, desc.columns)
        try:
            if self.ht:
                kwargs: dict[str, Any] = {"reversible": not lossy, "resolutions": levels + 1}
                if desc.samples_per_pixel == 3:
                    kwargs["rgb"] = mct
                if lossy:
                    # OpenJPH codes the container's bit depth: scale the step to the Bits Stored range.
                    container = arr.dtype.itemsize * 8
                    kwargs["level"] = options.qstep * 2.0 ** (min(bits, container) - container)
                if self.mode == "rpcl":
                    kwargs["tlm"] = True
                return _check_rpcl(bytes(ic.htj2k_encode(arr, **kwargs))) if self.mode == "rpcl" else \
                    bytes(ic.htj2k_encode(arr, **kwargs))
            kwargs = {"codecformat": "J2K", "reversible": not lossy, "bitspersample": bits,
                      "resolutions": min(levels, 5) + 1, "mct": mct}
            if lossy:
                kwargs["level"] = options.psnr
            return bytes(ic.jpeg2k_encode(arr, **kwargs))
        except PixelDataError:
            raise
        except Exception as exc:
            raise PixelDataError(f"{self.name} encoding failed: {exc}") from None


def _check_rpcl(codestream: bytes) -> bytes:
    """Confirm the RPCL progression and TLM markers that PS3.5 10.18 requires (guards the library)."""
    cod = codestream.find(b"\xff\x52")
    if cod < 0 or codestream[cod + 5] != 2:
        raise PixelDataError("HTJ2K encoder did not produce RPCL progression order")
    if codestream.find(b"\xff\x55", 0, codestream.find(b"\xff\x90")) < 0:
        raise PixelDataError("HTJ2K encoder did not produce TLM markers")
    return codestream
