"""The interface every codec adapter implements, and what an encoder reports about its output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from numpy.typing import NDArray

from ...core.errors import PixelDataError
from ..description import PixelDescription


@dataclass(frozen=True)
class EncodeOptions:
    """Options for encoders; each codec reads the ones that concern it.

    - ``quality``: JPEG lossy quality 1..100 (default 90).
    - ``predictor``: JPEG lossless predictor 1..7 for Process 14 (SV1 always uses 1).
    - ``near``: JPEG-LS NEAR parameter for near-lossless (default 2).
    - ``psnr``: JPEG 2000 lossy target peak signal-to-noise ratio in dB (default 70).
    - ``qstep``: HTJ2K lossy quantization step (default 0.002, relative to the Bits Stored range).
    - ``deflate_level``: zlib level for Deflated Image Frame Compression (default 6).
    - ``lossless``: JPEG 2000 / HTJ2K (lossy-capable syntaxes .91 and .203): encode reversibly.
    - ``colour_transform``: JPEG 2000/HTJ2K: use the multi-component transform for RGB (default True;
      the Photometric Interpretation becomes YBR_RCT / YBR_ICT, PS3.5 8.2.4).
    """

    quality: int = 90
    predictor: int = 1
    near: int = 2
    psnr: float = 70.0
    qstep: float = 0.002
    deflate_level: int = 6
    colour_transform: bool = True
    lossless: bool = False


class Codec(Protocol):
    """Decodes and encodes one frame of one transfer syntax family."""

    name: str
    #: PS3.3 C.7.6.1.1.5.1 Lossy Image Compression Method, for lossy output.
    lossy_method: str
    #: Whether the codec library releases the GIL while it decodes, so that frames are worth decoding on
    #: several threads at once.
    concurrent_frames: bool

    def decode(self, data: bytes, desc: PixelDescription, *, threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        """One frame as (rows, columns, samples) in the decoded photometric interpretation, or with ``rgb``
        its YCbCr samples as RGB (converted by the codec library where it can); ``threads`` is how many
        threads the codec library may use for it (where it can; others ignore it)."""

    def encode(self, frame: NDArray[Any], desc: PixelDescription, options: EncodeOptions,
               decoded_pi: str = "RGB") -> bytes:
        """One decoded frame (rows, columns, samples) whose samples are in ``decoded_pi``."""

    def check_encodable(self, desc: PixelDescription, options: EncodeOptions) -> None:
        """Raise PixelDataError if this codec cannot encode such pixel data."""

    def encoded_photometric(self, decoded_pi: str, desc: PixelDescription, options: EncodeOptions) -> str:
        """The Photometric Interpretation to record for frames encoded from ``decoded_pi`` samples."""

    def is_lossy(self, options: EncodeOptions) -> bool:
        """Whether encoding with ``options`` loses information."""


def conform_frame(arr: NDArray[Any], desc: PixelDescription, precision: int) -> NDArray[Any]:
    """A decoded frame shaped (rows, columns, samples) in the data set's dtype. Signed samples coded as
    unsigned bit patterns of ``precision`` bits are sign-extended (PS3.5 8.2.1, 8.2.3, 8.2.4); an unsigned
    data set keeps the bit patterns of a signed codestream."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape != desc.frame_shape:
        raise PixelDataError(f"decoded frame has shape {arr.shape}, the data set says {desc.frame_shape}")
    target = desc.dtype
    if arr.dtype == target:
        return arr
    if desc.is_signed and arr.dtype.kind == "u":
        out = arr.astype(target)
        left = target.itemsize * 8 - min(precision, desc.bits_stored)
        if left > 0:
            out <<= left
            out >>= left
        return out
    return arr.astype(target)
