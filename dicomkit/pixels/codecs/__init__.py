"""One registry of codec adapters, keyed by transfer syntax UID (PS3.5 Annex A.4).

``codec_for(uid)`` gives the adapter that decodes and encodes frames of that transfer syntax. Adapters
import the codec library (imagecodecs, the ``codecs`` extra) only when they run; a missing library raises
one MissingDependencyError naming the extra.
"""

from __future__ import annotations

from ...core import uid
from ...core.errors import UnsupportedTransferSyntaxError
from ...core.uid import UID
from .base import Codec, EncodeOptions
from .jpeg import JPEGCodec
from .jpeg2000 import JPEG2000Codec
from .jpegls import JPEGLSCodec
from .native_frames import DeflateFrameCodec, UncompressedFrameCodec
from .rle import RLECodec

CODECS: dict[str, Codec] = {
    uid.EncapsulatedUncompressedExplicitVRLittleEndian: UncompressedFrameCodec(),
    uid.RLELossless: RLECodec(),
    uid.DeflatedImageFrameCompression: DeflateFrameCodec(),
    uid.JPEGBaseline8Bit: JPEGCodec("baseline"),
    uid.JPEGExtended12Bit: JPEGCodec("extended"),
    uid.JPEGLossless: JPEGCodec("lossless"),
    uid.JPEGLosslessSV1: JPEGCodec("sv1"),
    uid.JPEGLSLossless: JPEGLSCodec(near_lossless=False),
    uid.JPEGLSNearLossless: JPEGLSCodec(near_lossless=True),
    uid.JPEG2000Lossless: JPEG2000Codec(ht=False, mode="lossless"),
    uid.JPEG2000: JPEG2000Codec(ht=False, mode="any"),
    uid.HTJ2KLossless: JPEG2000Codec(ht=True, mode="lossless"),
    uid.HTJ2KLosslessRPCL: JPEG2000Codec(ht=True, mode="rpcl"),
    uid.HTJ2K: JPEG2000Codec(ht=True, mode="any"),
}


def codec_for(transfer_syntax: str) -> Codec:
    codec = CODECS.get(str(transfer_syntax))
    if codec is None:
        name = UID(str(transfer_syntax)).name or "unknown"
        raise UnsupportedTransferSyntaxError(
            f"no codec for transfer syntax {transfer_syntax} ({name}); supported: "
            + ", ".join(UID(u).keyword or u for u in CODECS)
        )
    return codec


__all__ = ["CODECS", "Codec", "EncodeOptions", "codec_for"]
