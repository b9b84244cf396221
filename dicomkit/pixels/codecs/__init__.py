"""One registry of codec adapters, keyed by transfer syntax UID (PS3.5 Annex A.4).

``codec_for(uid)`` gives the adapter that decodes and encodes frames of that transfer syntax. Adapters
import the codec library (imagecodecs, the ``codecs`` extra) only when they run; a missing library raises
one MissingDependencyError naming the extra.
"""

from __future__ import annotations

from ...core.errors import UnsupportedTransferSyntaxError
from ...core.uid import UID
from .base import Codec, EncodeOptions
from .jpeg import JPEGCodec
from .jpeg2000 import JPEG2000Codec
from .jpegls import JPEGLSCodec
from .native_frames import DeflateFrameCodec, UncompressedFrameCodec
from .rle import RLECodec

CODECS: dict[str, Codec] = {
    "1.2.840.10008.1.2.1.98": UncompressedFrameCodec(),
    "1.2.840.10008.1.2.5": RLECodec(),
    "1.2.840.10008.1.2.8.1": DeflateFrameCodec(),
    "1.2.840.10008.1.2.4.50": JPEGCodec("baseline"),
    "1.2.840.10008.1.2.4.51": JPEGCodec("extended"),
    "1.2.840.10008.1.2.4.57": JPEGCodec("lossless"),
    "1.2.840.10008.1.2.4.70": JPEGCodec("sv1"),
    "1.2.840.10008.1.2.4.80": JPEGLSCodec(near_lossless=False),
    "1.2.840.10008.1.2.4.81": JPEGLSCodec(near_lossless=True),
    "1.2.840.10008.1.2.4.90": JPEG2000Codec(ht=False, mode="lossless"),
    "1.2.840.10008.1.2.4.91": JPEG2000Codec(ht=False, mode="any"),
    "1.2.840.10008.1.2.4.201": JPEG2000Codec(ht=True, mode="lossless"),
    "1.2.840.10008.1.2.4.202": JPEG2000Codec(ht=True, mode="rpcl"),
    "1.2.840.10008.1.2.4.203": JPEG2000Codec(ht=True, mode="any"),
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
