"""What a Storage SCU sends: an object to store (a Part 10 file or a Dataset), checked, and encoded for the
presentation context the association accepted (PS3.4 B.4.1).

:class:`StoreSource` looks at a file without parsing its data set — the Part 10 header probe of
``io.raw`` — and checks the declared lengths of its elements against the file's size, so a truncated file
fails here with its reason instead of reaching the peer. :func:`choose_context` picks, per object, the
accepted context of its SOP Class, in this order:

1. the object's own transfer syntax: its bytes go out as they are, no copy;
2. an uncompressed syntax: re-encoded, or — compressed pixel data — decompressed (lossless: the pixels are
   those the codestream holds);
3. a lossless compressed syntax (:data:`LOSSLESS_SYNTAXES`): compressed, or recompressed (decoded, then
   encoded reversibly), e.g. JPEG-LS to a peer that takes only JPEG 2000 Lossless;
4. a lossy syntax (:data:`LOSSY_SYNTAXES`), only with ``allow_lossy`` (the object gets a new SOP Instance UID
   and the Lossy Image Compression attributes, PS3.3 C.7.6.1.1.5).

Else that one object fails with a reason naming what the peer accepted. Pixel work is done by
``dicomkit.pixels`` (the ``codecs`` extra); an encoder that cannot take the pixel data (RLE of 32-bit
samples, ...) moves the choice on to the next accepted syntax.
"""

from __future__ import annotations

import functools
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from ...core.dataset import Dataset
from ...core.errors import (
    DicomError,
    DimseError,
    InvalidFileError,
    MissingDependencyError,
    UnsupportedTransferSyntaxError,
)
from ...core.tag import MEDIA_STORAGE_SOP_CLASS_UID, MEDIA_STORAGE_SOP_INSTANCE_UID, SOP_CLASS_UID, SOP_INSTANCE_UID
from ...core.uid import NATIVE_TRANSFER_SYNTAXES, TRANSFER_SYNTAXES, UID, ExplicitVRLittleEndian
from ...io.raw import Layout, check_lengths, meta_end, probe_part10
from ...io.reader import read
from ...net.negotiation import AssociationInfo, NegotiatedContext
from ...net.payload import BytesPayload, DatasetPayload, FilePayload, Payload

# Files up to this size are read with one call; larger ones are mapped and streamed in pieces.
WHOLE_FILE_LIMIT = 1 << 23
NATIVE_SYNTAXES = tuple(str(ts) for ts in NATIVE_TRANSFER_SYNTAXES)

# Encapsulated syntaxes dicomkit encodes reversibly, in the order a recompression prefers them (PS3.5 A.4):
# JPEG 2000 Lossless, JPEG-LS Lossless, JPEG Lossless SV1 and Process 14, RLE, HTJ2K Lossless (and RPCL),
# JPEG 2000 and HTJ2K "lossless or lossy" (encoded reversibly), Deflated Image Frame Compression.
LOSSLESS_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.8.1",
)
# The lossless syntaxes an SCU proposes as alternatives for compressed objects (one context per SOP Class)
LOSSLESS_ALTERNATIVES: tuple[str, ...] = LOSSLESS_SYNTAXES[:6]
# ... and those that lose information: JPEG Baseline / Extended, JPEG-LS Near-Lossless, JPEG 2000 / HTJ2K lossy
LOSSY_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.203",
)
_REVERSIBLE_CAPABLE = frozenset({"1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"})  # lossless when asked


@functools.cache
def can_transcode() -> bool:
    """Whether pixel data can be decoded and encoded here (numpy and the codec library are installed)."""
    import importlib.util

    return importlib.util.find_spec("numpy") is not None and importlib.util.find_spec("imagecodecs") is not None


@dataclass
class StoreSource:
    """What is to be stored: SOP Class/Instance UIDs, transfer syntax, and how to produce the payload."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    path: str | None = None
    data_offset: int | None = None  # where the data set starts in the file (raw pass-through possible)
    dataset: Dataset | None = None  # parsed header (or the data set given)
    file_bytes: bytes | None = None  # the whole file when small enough to have been read at once
    size: int = 0

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> StoreSource:
        """Probe and check a Part 10 file (or a raw data set). Raises InvalidFileError / TruncatedError,
        naming the element, when a declared length runs past the end of the file."""
        path = os.fspath(path)
        data: bytes | None = None
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= WHOLE_FILE_LIMIT:
                data = f.read()
                probe = probe_part10(data)
                if probe is not None:
                    _check(data, probe.data_offset, probe.transfer_syntax, path)
            else:
                probe = probe_part10(f.read(1 << 16))
                if probe is not None:
                    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                        view = memoryview(mapped)
                        try:
                            _check(view, probe.data_offset, probe.transfer_syntax, path)
                        finally:
                            view.release()  # before the map closes, also when the check raised
        if probe is not None:
            # the common case: meta and data set start are plain; the bytes go out as they are
            return cls(probe.sop_class_uid, probe.sop_instance_uid, probe.transfer_syntax, path, probe.data_offset,
                       None, data, size)
        return cls._from_reader(path, data, size)

    @classmethod
    def _from_reader(cls, path: str, data: bytes | None, size: int) -> StoreSource:
        """What the full reader makes of a file the probe found unusual (no meta, an odd header, ...)."""
        ds = read(data if data is not None else path, force=True)  # all of it: the reader checks every length
        meta = ds.file_meta
        meta_ts = str(meta.value(0x00020010, "") or "").strip("\x00 ") if meta is not None else ""
        read_ts = str(ds.read_transfer_syntax or "")
        sop_class = ds.value(SOP_CLASS_UID) or (meta.value(MEDIA_STORAGE_SOP_CLASS_UID) if meta is not None else None)
        sop_instance = ds.value(SOP_INSTANCE_UID) or (
            meta.value(MEDIA_STORAGE_SOP_INSTANCE_UID) if meta is not None else None)
        if not sop_class or not sop_instance:
            raise InvalidFileError("no SOP Class UID or SOP Instance UID: not a storable DICOM object", source=path)
        offset: int | None = None
        ts = meta_ts or read_ts
        if meta is not None and meta_ts == read_ts and meta_ts in TRANSFER_SYNTAXES:
            # The data set is encoded as its meta says: its bytes can go out unchanged.
            if data is not None:
                offset = meta_end(data) if data[128:132] == b"DICM" else meta_end(data, 0)
            else:
                with open(path, "rb") as f:
                    head = f.read(1 << 16)
                offset = meta_end(head) if head[128:132] == b"DICM" else meta_end(head, 0)
                if offset >= len(head):
                    offset = None  # meta larger than 64 KiB: re-encode rather than guess
        elif not ts or ts not in TRANSFER_SYNTAXES:
            ts = read_ts
        return cls(str(sop_class).strip("\x00 "), str(sop_instance).strip("\x00 "), ts, path, offset, ds, data, size)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StoreSource:
        sop_class = ds.value(SOP_CLASS_UID)
        sop_instance = ds.value(SOP_INSTANCE_UID)
        if not sop_class or not sop_instance:
            raise DicomError("the data set has no SOP Class UID (0008,0016) or SOP Instance UID (0008,0018)")
        return cls(str(sop_class), str(sop_instance), str(ds.transfer_syntax or ExplicitVRLittleEndian), dataset=ds)

    @classmethod
    def from_item(cls, item: Dataset | str | os.PathLike[str]) -> StoreSource:
        if isinstance(item, Dataset):
            return cls.from_dataset(item)
        if isinstance(item, str | Path | os.PathLike):
            return cls.from_path(item)
        raise DicomError(f"cannot store a {type(item).__name__}: give a Dataset or a path")

    @classmethod
    def from_bytes(cls, data: bytes, label: str | None = None) -> StoreSource:
        """A Part 10 object held in memory (a stream a retrieval source opened)."""
        probe = probe_part10(data)
        if probe is not None:
            _check(data, probe.data_offset, probe.transfer_syntax, label or "object")
            return cls(probe.sop_class_uid, probe.sop_instance_uid, probe.transfer_syntax, None, probe.data_offset,
                       None, data, len(data))
        source = cls._from_reader(label or "object", data, len(data))
        source.path = None
        return source

    @property
    def is_native(self) -> bool:
        """True when the data set can be re-encoded into any uncompressed syntax by the core writer."""
        return self.transfer_syntax in NATIVE_SYNTAXES or not UID(self.transfer_syntax).is_encapsulated

    def candidate_syntaxes(self, *, allow_lossy: bool = False) -> list[str]:
        """Transfer syntaxes this source can be sent in, best first (see the module documentation): its own,
        the uncompressed ones, the lossless compressed ones, and with ``allow_lossy`` the lossy ones."""
        own = [self.transfer_syntax] if self.transfer_syntax in TRANSFER_SYNTAXES else []
        out = own + [ts for ts in NATIVE_SYNTAXES if ts not in own]
        out += [ts for ts in LOSSLESS_SYNTAXES if ts not in out]
        if allow_lossy:
            out += [ts for ts in LOSSY_SYNTAXES if ts not in out]
        return out

    def conversion(self, transfer_syntax: str) -> str | None:
        """How the object is changed to go out in ``transfer_syntax`` ("decompressed from ...", "re-encoded
        from ...", "recompressed losslessly from ..."), or None when it goes out as it is."""
        ts = str(transfer_syntax)
        if ts == self.transfer_syntax:
            return None
        if ts in NATIVE_SYNTAXES:
            verb = "re-encoded" if self.is_native else "decompressed"
        elif ts in LOSSY_SYNTAXES and ts not in _REVERSIBLE_CAPABLE:
            verb = "compressed lossily" if self.is_native else "recompressed lossily"
        else:
            verb = "compressed losslessly" if self.is_native else "recompressed losslessly"
        return f"{verb} from {UID(self.transfer_syntax).name} to {UID(ts).name}"

    def payload(self, transfer_syntax: str, *, allow_lossy: bool = False) -> Payload:
        """The data set encoded in ``transfer_syntax`` (see :meth:`prepare`)."""
        return self.prepare(transfer_syntax, allow_lossy=allow_lossy)[0]

    def prepare(self, transfer_syntax: str, *, allow_lossy: bool = False) -> tuple[Payload, str]:
        """The data set encoded in ``transfer_syntax`` and the SOP Instance UID it goes out with (a new one
        after lossy compression). Raises UnsupportedTransferSyntaxError when that needs lossy compression and
        ``allow_lossy`` is False, PixelDataError when the encoder cannot take the pixel data."""
        ts = str(transfer_syntax)
        if ts == self.transfer_syntax and self.data_offset is not None:
            if self.path is not None:
                return FilePayload(self.path, self.data_offset, ts, self.file_bytes), self.sop_instance_uid
            if self.file_bytes is not None:
                return BytesPayload(memoryview(self.file_bytes)[self.data_offset:], ts), self.sop_instance_uid
        ds = self.dataset
        if ds is None or ds.is_partial:
            source: bytes | str | None = self.file_bytes if self.file_bytes is not None else self.path
            if source is None:
                raise DicomError(f"{self.sop_instance_uid}: nothing to read the data set from")
            ds = read(source, force=True)
        if ts == self.transfer_syntax or (self.is_native and ts in NATIVE_SYNTAXES):
            return DatasetPayload(ds, ts), self.sop_instance_uid
        if ts in NATIVE_SYNTAXES:
            return DatasetPayload(_transcoded(ds, ts, lossless=True), ts), self.sop_instance_uid
        if ts not in TRANSFER_SYNTAXES or not UID(ts).is_encapsulated:
            raise UnsupportedTransferSyntaxError(f"cannot encode {UID(self.transfer_syntax).name} data as {ts}")
        reversible = ts in LOSSLESS_SYNTAXES
        if not reversible and not allow_lossy:
            raise UnsupportedTransferSyntaxError(
                f"sending {UID(self.transfer_syntax).name} data as {UID(ts).name} would be lossy compression; "
                "it is done only when allowed (allow_lossy / --allow-lossy)")
        out = _transcoded(ds, ts, lossless=reversible)
        return DatasetPayload(out, ts), str(out.value(SOP_INSTANCE_UID) or self.sop_instance_uid)


def _check(data: bytes | memoryview, offset: int, transfer_syntax: str, path: str) -> None:
    layout = Layout.of(transfer_syntax)
    if layout is not None:  # a deflated data set is checked when it is inflated
        check_lengths(data, offset, len(data), layout, source=path)


def choose_context(info: AssociationInfo, source: StoreSource, *, allow_lossy: bool = False,
                   exclude: frozenset[str] = frozenset()) -> NegotiatedContext:
    """The accepted context to send ``source`` on, by the order of the module documentation (transfer
    syntaxes in ``exclude`` passed over: an encoder that failed). Raises DimseError naming what is missing."""
    transcoding = can_transcode()
    for ts in source.candidate_syntaxes(allow_lossy=allow_lossy):
        if ts in exclude:
            continue
        needs_pixels = ts != source.transfer_syntax and not (source.is_native and ts in NATIVE_SYNTAXES)
        if needs_pixels and not transcoding:
            continue
        ctx = info.find_context(source.sop_class_uid, ts)
        if ctx is not None:
            return ctx
    offered = [c for c in info.contexts.values() if c.abstract_syntax == source.sop_class_uid]
    accepted = [UID(c.transfer_syntax).name for c in offered if c.accepted]
    if not offered:
        why = "it was not proposed"
    elif accepted:
        why = f"the peer accepted it only in {', '.join(accepted)}"
        if not transcoding and not source.is_native:
            why += " (transcoding needs the codecs extra: pip install 'dicomkit[codecs]')"
        elif any(c.transfer_syntax in LOSSY_SYNTAXES for c in offered if c.accepted) and not allow_lossy:
            why += "; lossy compression was not allowed"
    else:
        why = f"the peer rejected it ({', '.join(sorted({c.result_text for c in offered}))})"
    raise DimseError(f"cannot send {UID(source.sop_class_uid).name} in {UID(source.transfer_syntax).name}: {why}")


def _transcoded(ds: Dataset, transfer_syntax: str, *, lossless: bool) -> Dataset:
    """The data set with its pixel data in ``transfer_syntax`` (reversibly when ``lossless``)."""
    try:
        from ...pixels import EncodeOptions, transcode
    except ImportError as exc:  # numpy missing: the pixels package itself cannot load
        raise MissingDependencyError(
            "sending pixel data in another compressed or uncompressed form needs the codecs extra: "
            "pip install 'dicomkit[codecs]'") from exc
    return transcode(ds, transfer_syntax, options=EncodeOptions(lossless=lossless))


__all__ = ["LOSSLESS_ALTERNATIVES", "LOSSLESS_SYNTAXES", "LOSSY_SYNTAXES", "NATIVE_SYNTAXES", "StoreSource",
           "can_transcode", "choose_context"]
