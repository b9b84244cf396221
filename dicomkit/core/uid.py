"""Unique Identifiers (PS3.5 9), the PS3.6 UID registry and transfer syntax properties (PS3.5 10, A).

Every registered UID is available by keyword: ``uid.CTImageStorage``, ``uid.ExplicitVRLittleEndian``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from ._uid_data import UIDS
from .errors import DicomError, InvalidValueError

# PS3.5 9.1: components of digits separated by '.', no leading zeros, at most 64 characters.
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")

# A UUID-derived root (PS3.5 B.2) that belongs to dicomkit: no registration needed, no clash possible.
DICOMKIT_ROOT = "2.25.55964253777470661989799688368756053636."
"""dicomkit's own UID root; the Implementation Class UID sits under it."""
IMPLEMENTATION_CLASS_UID = DICOMKIT_ROOT + "1"
IMPLEMENTATION_VERSION_NAME = "DICOMKIT_010"


class RegistryEntry(NamedTuple):
    name: str
    type: str
    info: str
    retired: bool
    keyword: str


@dataclass(frozen=True, slots=True)
class TransferSyntaxInfo:
    """Encoding properties of a transfer syntax (PS3.5 Section 10 and Annex A)."""

    little_endian: bool
    implicit_vr: bool
    deflated: bool = False
    encapsulated: bool = False
    lossless: bool = True
    # Pixel Data is referenced (JPIP, PS3.5 A.6) rather than carried.
    referenced: bool = False


_NATIVE_LE = TransferSyntaxInfo(little_endian=True, implicit_vr=False)
_LOSSLESS = TransferSyntaxInfo(little_endian=True, implicit_vr=False, encapsulated=True, lossless=True)
_LOSSY = TransferSyntaxInfo(little_endian=True, implicit_vr=False, encapsulated=True, lossless=False)

_ENCAPSULATED_UNCOMPRESSED = "1.2.840.10008.1.2.1.98"
TRANSFER_SYNTAXES: dict[str, TransferSyntaxInfo] = {
    "1.2.840.10008.1.2": TransferSyntaxInfo(little_endian=True, implicit_vr=True),
    "1.2.840.10008.1.2.1": _NATIVE_LE,
    _ENCAPSULATED_UNCOMPRESSED: _LOSSLESS,  # PS3.5 A.4.11 Encapsulated Uncompressed
    "1.2.840.10008.1.2.1.99": TransferSyntaxInfo(little_endian=True, implicit_vr=False, deflated=True),
    "1.2.840.10008.1.2.2": TransferSyntaxInfo(little_endian=False, implicit_vr=False),
    "1.2.840.10008.1.2.5": _LOSSLESS,  # RLE, PS3.5 A.4.2
    "1.2.840.10008.1.2.8.1": _LOSSLESS,  # Deflated Image Frame Compression
    "1.2.840.10008.1.2.4.57": _LOSSLESS,
    "1.2.840.10008.1.2.4.58": _LOSSLESS,
    "1.2.840.10008.1.2.4.65": _LOSSLESS,
    "1.2.840.10008.1.2.4.66": _LOSSLESS,
    "1.2.840.10008.1.2.4.70": _LOSSLESS,
    "1.2.840.10008.1.2.4.80": _LOSSLESS,
    "1.2.840.10008.1.2.4.81": _LOSSY,
    "1.2.840.10008.1.2.4.90": _LOSSLESS,
    "1.2.840.10008.1.2.4.91": _LOSSY,
    "1.2.840.10008.1.2.4.92": _LOSSLESS,
    "1.2.840.10008.1.2.4.93": _LOSSY,
    "1.2.840.10008.1.2.4.94": TransferSyntaxInfo(little_endian=True, implicit_vr=False, referenced=True),
    "1.2.840.10008.1.2.4.95": TransferSyntaxInfo(little_endian=True, implicit_vr=False, deflated=True,
                                                 referenced=True),
    "1.2.840.10008.1.2.4.201": _LOSSLESS,
    "1.2.840.10008.1.2.4.202": _LOSSLESS,
    "1.2.840.10008.1.2.4.203": _LOSSY,
    "1.2.840.10008.1.2.4.204": TransferSyntaxInfo(little_endian=True, implicit_vr=False, referenced=True),
    "1.2.840.10008.1.2.4.205": TransferSyntaxInfo(little_endian=True, implicit_vr=False, deflated=True,
                                                  referenced=True),
    "1.2.840.10008.1.2.4.110": _LOSSLESS,
    "1.2.840.10008.1.2.4.111": _LOSSY,  # JPEG recompression: exact w.r.t. a lossy JPEG original
    "1.2.840.10008.1.2.4.112": _LOSSY,
    "1.2.840.10008.1.2.7.1": _NATIVE_LE,  # SMPTE ST 2110: pixel data not carried in the data set
    "1.2.840.10008.1.2.7.2": _NATIVE_LE,
    "1.2.840.10008.1.2.7.3": _NATIVE_LE,
    "1.2.840.10008.1.20": TransferSyntaxInfo(little_endian=True, implicit_vr=True),  # Papyrus 3 (retired)
}
# PS3.5 A.4.1 and A.4.5: the remaining JPEG processes and the MPEG/HEVC families are lossy encapsulated.
for _uid in ["1.2.840.10008.1.2.4." + n for n in
             ("50", "51", "52", "53", "54", "55", "56", "59", "60", "61", "62", "63", "64")]:
    TRANSFER_SYNTAXES[_uid] = _LOSSY
for _uid, _entry in UIDS.items():
    if _entry[1] == "Transfer Syntax" and _uid not in TRANSFER_SYNTAXES and (
        _uid.startswith("1.2.840.10008.1.2.4.10")
    ):
        TRANSFER_SYNTAXES[_uid] = _LOSSY  # MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265 (PS3.5 A.4.5-A.4.8)


class UID(str):
    """A UID string with its registry information and, for transfer syntaxes, encoding properties."""

    __slots__ = ()

    @property
    def entry(self) -> RegistryEntry | None:
        e = UIDS.get(str(self))
        return RegistryEntry(*e) if e else None

    @property
    def name(self) -> str:
        e = UIDS.get(str(self))
        return e[0] if e else str(self)

    @property
    def keyword(self) -> str:
        e = UIDS.get(str(self))
        return e[4] if e else ""

    @property
    def type(self) -> str:
        e = UIDS.get(str(self))
        return e[1] if e else ""

    @property
    def is_retired(self) -> bool:
        e = UIDS.get(str(self))
        return bool(e and e[3])

    @property
    def is_valid(self) -> bool:
        return len(self) <= 64 and bool(_UID_RE.match(self))

    @property
    def is_transfer_syntax(self) -> bool:
        return str(self) in TRANSFER_SYNTAXES

    @property
    def transfer_syntax(self) -> TransferSyntaxInfo:
        info = TRANSFER_SYNTAXES.get(str(self))
        if info is None:
            from .errors import UnsupportedTransferSyntaxError

            raise UnsupportedTransferSyntaxError(f"{self} is not a known transfer syntax")
        return info

    @property
    def is_little_endian(self) -> bool:
        return self.transfer_syntax.little_endian

    @property
    def is_implicit_VR(self) -> bool:
        return self.transfer_syntax.implicit_vr

    is_implicit_vr = is_implicit_VR

    @property
    def is_deflated(self) -> bool:
        return self.transfer_syntax.deflated

    @property
    def is_encapsulated(self) -> bool:
        return self.transfer_syntax.encapsulated

    @property
    def is_compressed(self) -> bool:
        return self.transfer_syntax.encapsulated and str(self) != _ENCAPSULATED_UNCOMPRESSED

    @property
    def is_lossless(self) -> bool:
        return self.transfer_syntax.lossless

    @property
    def is_storage_sop_class(self) -> bool:
        e = UIDS.get(str(self))
        return e is not None and _is_storage_entry(e[1], e[4])

    def __repr__(self) -> str:
        kw = self.keyword
        return f"UID({str(self)!r})" + (f"  # {kw}" if kw else "")


_BY_KEYWORD: dict[str, str] = {e[4]: uid for uid, e in UIDS.items() if e[4]}


def by_keyword(keyword: str) -> UID | None:
    uid = _BY_KEYWORD.get(keyword)
    return UID(uid) if uid is not None else None


def registered(keyword: str) -> UID:
    """The UID of a registry keyword, for module constants: a keyword the registry lost fails at import, not
    on the wire (DicomError)."""
    uid = by_keyword(keyword)
    if uid is None:
        raise DicomError(f"no UID with keyword {keyword!r} in the registry")
    return uid


def __getattr__(name: str) -> UID:
    # PEP 562: uid.CTImageStorage, uid.ExplicitVRLittleEndian, ...
    uid = _BY_KEYWORD.get(name)
    if uid is None:
        raise AttributeError(f"module 'dicomkit.uid' has no UID keyword {name!r}")
    return UID(uid)


def registry() -> dict[str, RegistryEntry]:
    return {uid: RegistryEntry(*e) for uid, e in UIDS.items()}


_STORAGE_KEYWORD_SUFFIXES = ("Retired", "Trial", "ForPresentation", "ForProcessing")


def _is_storage_entry(uid_type: str, keyword: str) -> bool:
    """A Storage Service Class SOP Class (PS3.4 Annex B): "... Storage", also "... Storage - For Presentation",
    "- For Processing", "- Trial" and retired ones; not the DICOMDIR's Media Storage Directory Storage."""
    if uid_type != "SOP Class" or keyword == "MediaStorageDirectoryStorage":
        return False
    stem = keyword
    for suffix in _STORAGE_KEYWORD_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem.endswith("Storage")


def storage_sop_classes(*, include_retired: bool = True) -> list[UID]:
    """Every Storage SOP Class in the registry (derived from it, never typed by hand)."""
    return [UID(uid) for uid, e in UIDS.items() if _is_storage_entry(e[1], e[4]) and (include_retired or not e[3])]


def transfer_syntaxes() -> list[UID]:
    return [UID(uid) for uid in TRANSFER_SYNTAXES]


def generate_uid(prefix: str | None = None, *, entropy: str | bytes | None = None) -> UID:
    """A new UID.

    Without ``prefix``: ``2.25.<128-bit integer>`` from a random UUID (PS3.5 B.2). With a prefix (ending
    in '.'), the remaining characters up to 64 are filled with random decimal digits. ``entropy`` makes the
    result deterministic (the same input gives the same UID), as de-identification needs.
    """
    if prefix is None:
        import uuid  # here, not at the top: it imports platform, which start-up need not pay for

        if entropy is not None:
            value = uuid.uuid5(uuid.NAMESPACE_OID, _text(entropy)).int
        else:
            value = uuid.uuid4().int
        return UID(f"2.25.{value}")
    if not prefix.endswith("."):
        raise InvalidValueError(f"UID prefix must end with '.': {prefix!r}")
    if not _UID_RE.match(prefix[:-1]) or len(prefix) > 60:
        raise InvalidValueError(f"invalid UID prefix {prefix!r}")
    room = 64 - len(prefix)
    if entropy is not None:
        import hashlib

        number = int.from_bytes(hashlib.sha512(_text(entropy).encode()).digest(), "big")
    else:
        number = int.from_bytes(os.urandom(32), "big")
    digits = str(number)[:room].lstrip("0") or "1"
    return UID(prefix + digits)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# The handful that the rest of the package names directly (typed for mypy).
ImplicitVRLittleEndian = UID("1.2.840.10008.1.2")
ExplicitVRLittleEndian = UID("1.2.840.10008.1.2.1")
DeflatedExplicitVRLittleEndian = UID("1.2.840.10008.1.2.1.99")
ExplicitVRBigEndian = UID("1.2.840.10008.1.2.2")
RLELossless = UID("1.2.840.10008.1.2.5")
JPEGBaseline8Bit = UID("1.2.840.10008.1.2.4.50")
JPEGExtended12Bit = UID("1.2.840.10008.1.2.4.51")
JPEGLossless = UID("1.2.840.10008.1.2.4.57")
JPEGLosslessSV1 = UID("1.2.840.10008.1.2.4.70")
JPEGLSLossless = UID("1.2.840.10008.1.2.4.80")
JPEGLSNearLossless = UID("1.2.840.10008.1.2.4.81")
JPEG2000Lossless = UID("1.2.840.10008.1.2.4.90")
JPEG2000 = UID("1.2.840.10008.1.2.4.91")
HTJ2KLossless = UID("1.2.840.10008.1.2.4.201")
HTJ2KLosslessRPCL = UID("1.2.840.10008.1.2.4.202")
HTJ2K = UID("1.2.840.10008.1.2.4.203")
DeflatedImageFrameCompression = UID("1.2.840.10008.1.2.8.1")
EncapsulatedUncompressedExplicitVRLittleEndian = UID("1.2.840.10008.1.2.1.98")
Verification = UID("1.2.840.10008.1.1")
MediaStorageDirectoryStorage = UID("1.2.840.10008.1.3.10")

# The uncompressed syntaxes that differ only in how elements are encoded, not in how pixels are: the writer
# converts between them (PS3.5 A.1-A.5). In the order a sender prefers them.
NATIVE_TRANSFER_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                            ExplicitVRBigEndian)
