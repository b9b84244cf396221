"""Compression on store: objects received with native (uncompressed) pixel data are kept in a configured
lossless transfer syntax (``storage.compression``), through :mod:`dicomkit.pixels`.

Only lossless targets are taken: a lossy one changes the pixel data, and PS3.4 (C.7.6.1.1.5, Lossy Image
Compression) then wants a new SOP Instance UID, which an archive answering for the UID it was sent cannot
give. What is already encapsulated (compressed, possibly lossy) stays as received, and so does an object
that the encoder cannot take (its reason is logged): nothing received is refused for want of compression.

Retrieving goes the other way on its own: the Storage SCU behind C-GET / C-MOVE sends each object in its
stored syntax when the peer accepted it, else transcodes it losslessly into one it accepted
(:mod:`dicomkit.services.storage.scu`). numpy and imagecodecs (``dicomkit[pixels]``) are imported only when
compression is configured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..core import uid
from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..core.uid import TRANSFER_SYNTAXES, by_keyword
from ..io.meta import part10_header
from ..io.writer import encode_dataset

log = logging.getLogger("dicomkit.server.compression")

PIXEL_DATA = 0x7FE00010
# "lossless": a good default — JPEG-LS Lossless (PS3.5 A.4.3) compresses medical images about as well as
# JPEG 2000 lossless at a fraction of the time.
DEFAULT_LOSSLESS = str(uid.JPEGLSLossless)
ALIASES = {
    "lossless": DEFAULT_LOSSLESS, "jpeg-ls": DEFAULT_LOSSLESS, "jpeg-ls-lossless": DEFAULT_LOSSLESS,
    "rle": str(uid.RLELossless), "jpeg-lossless": str(uid.JPEGLossless), "jpeg-lossless-sv1": str(uid.JPEGLosslessSV1),
    "j2k-lossless": str(uid.JPEG2000Lossless), "jpeg2000-lossless": str(uid.JPEG2000Lossless),
    "htj2k-lossless": str(uid.HTJ2KLossless), "deflate-frames": str(uid.DeflatedImageFrameCompression),
}
# what is compressed: native pixel data (PS3.5 A.1 - A.3; deflate only compresses the whole data set)
NATIVE = frozenset(str(ts) for ts in (uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian,
                                      uid.DeflatedExplicitVRLittleEndian))


class CompressionConfigError(DicomError):
    """``storage.compression`` names no lossless encapsulated transfer syntax."""


def resolve(name: str) -> str:
    """The transfer syntax UID that ``storage.compression`` names ("" when off). Raises
    :class:`CompressionConfigError` for an unknown, native, lossy or referencing syntax."""
    text = name.strip()
    if not text:
        return ""
    found = ALIASES.get(text.lower()) or (text if text in TRANSFER_SYNTAXES else None)
    if found is None:
        keyword = by_keyword(text)
        found = str(keyword) if keyword is not None and str(keyword) in TRANSFER_SYNTAXES else None
    if found is None:
        raise CompressionConfigError(f"unknown transfer syntax {name!r} (a UID, a keyword such as JPEGLSLossless, "
                                     f"or one of {', '.join(sorted(ALIASES))})")
    info = TRANSFER_SYNTAXES[found]
    if not info.encapsulated or info.referenced or found == str(uid.EncapsulatedUncompressedExplicitVRLittleEndian):
        raise CompressionConfigError(f"{name!r} does not compress pixel data")
    if not info.lossless or found == str(uid.JPEGLSNearLossless):
        raise CompressionConfigError(f"{name!r} is lossy: only lossless compression keeps the SOP Instance UID")
    return found


@dataclass(frozen=True)
class Compressed:
    """The object rewritten in the target syntax: its Part 10 bytes and where its data set starts."""

    data: bytes
    dataset_offset: int
    transfer_syntax: str


class Compression:
    """Compresses received objects into ``transfer_syntax`` (a UID from :func:`resolve`)."""

    def __init__(self, transfer_syntax: str) -> None:
        self.transfer_syntax = transfer_syntax
        from ..pixels.encode import transcode  # numpy / imagecodecs: only when compression is on

        self._transcode = transcode

    @classmethod
    def configured(cls, name: str) -> Compression | None:
        target = resolve(name)
        if not target:
            return None
        try:
            return cls(target)
        except ImportError as exc:
            raise CompressionConfigError(f"compression needs numpy and imagecodecs (pip install "
                                         f"'dicomkit[pixels]'): {exc}") from None

    def applies(self, ds: Dataset, transfer_syntax: str) -> bool:
        return transfer_syntax in NATIVE and PIXEL_DATA in ds

    def compress(self, ds: Dataset, sop_class_uid: str, sop_instance_uid: str,
                 source_ae: str | None) -> Compressed | None:
        """The object in the target syntax, or None to keep it as received (logged: the encoder cannot take
        its pixel data, e.g. float pixels or a photometric interpretation the codec has no mode for)."""
        try:
            out = self._transcode(ds, self.transfer_syntax)
            meta = part10_header(sop_class_uid, sop_instance_uid, self.transfer_syntax, source_ae or "")
            body = encode_dataset(out, self.transfer_syntax, validate=False)
        except Exception as exc:  # a codec's failure never fails the store: the object is kept as received
            log.info("%s kept as received, not in %s: %s", sop_instance_uid, self.transfer_syntax, exc)
            return None
        return Compressed(meta + body, len(meta), self.transfer_syntax)


__all__ = ["ALIASES", "DEFAULT_LOSSLESS", "Compressed", "Compression", "CompressionConfigError", "resolve"]
