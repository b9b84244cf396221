"""What a Storage SCU sends: an object to store (a Part 10 file or a Dataset), checked, and encoded for the
presentation context the association accepted (PS3.4 B.4.1).

:class:`StoreSource` looks at a file without parsing its data set — the Part 10 header probe of
``io.raw`` — and checks the declared lengths of its elements against the file's size, so a truncated file
fails here with its reason instead of reaching the peer. :func:`choose_context` picks the accepted context:
the file's own transfer syntax (its bytes then go out as they are, no copy), else an uncompressed one it can
be re-encoded into, else — for compressed pixel data the peer only takes uncompressed — a decompression
(lossless: the pixels are those the codestream holds), by ``dicomkit.pixels`` (the ``codecs`` extra).
"""

from __future__ import annotations

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
from ...net.payload import DatasetPayload, FilePayload, Payload

# Files up to this size are read with one call; larger ones are mapped and streamed in pieces.
WHOLE_FILE_LIMIT = 1 << 23
NATIVE_SYNTAXES = tuple(str(ts) for ts in NATIVE_TRANSFER_SYNTAXES)


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

    @property
    def is_native(self) -> bool:
        """True when the data set can be re-encoded into any uncompressed syntax by the core writer."""
        return self.transfer_syntax in NATIVE_SYNTAXES or not UID(self.transfer_syntax).is_encapsulated

    def candidate_syntaxes(self) -> list[str]:
        """Transfer syntaxes this source can be sent in, best first (its own first); compressed data can
        also go out decompressed, in any uncompressed syntax."""
        if not self.is_native:
            return [self.transfer_syntax, *NATIVE_SYNTAXES]
        own = [self.transfer_syntax] if self.transfer_syntax in NATIVE_SYNTAXES else []
        return own + [ts for ts in NATIVE_SYNTAXES if ts not in own]

    def conversion(self, transfer_syntax: str) -> str | None:
        """How the object is changed to go out in ``transfer_syntax`` ("decompressed from ...", "re-encoded
        from ..."), or None when it goes out as it is."""
        ts = str(transfer_syntax)
        if ts == self.transfer_syntax:
            return None
        verb = "re-encoded" if self.is_native else "decompressed"
        return f"{verb} from {UID(self.transfer_syntax).name} to {UID(ts).name}"

    def payload(self, transfer_syntax: str) -> Payload:
        """The data set encoded in ``transfer_syntax``."""
        ts = str(transfer_syntax)
        if ts == self.transfer_syntax and self.path is not None and self.data_offset is not None:
            return FilePayload(self.path, self.data_offset, ts, self.file_bytes)
        ds = self.dataset
        if ds is None or ds.is_partial:
            assert self.path is not None
            ds = read(self.file_bytes if self.file_bytes is not None else self.path, force=True)
        if ts != self.transfer_syntax and not (self.is_native and ts in NATIVE_SYNTAXES):
            if self.is_native or ts not in NATIVE_SYNTAXES:
                raise UnsupportedTransferSyntaxError(
                    f"sending {UID(self.transfer_syntax).name} data as {UID(ts).name} would need compression; "
                    "only decompression is done on the fly (use dicomkit convert first)")
            ds = _decompressed(ds, ts)
        return DatasetPayload(ds, ts)


def _check(data: bytes | memoryview, offset: int, transfer_syntax: str, path: str) -> None:
    layout = Layout.of(transfer_syntax)
    if layout is not None:  # a deflated data set is checked when it is inflated
        check_lengths(data, offset, len(data), layout, source=path)


def choose_context(info: AssociationInfo, source: StoreSource) -> NegotiatedContext:
    """The accepted context to send ``source`` on: its own transfer syntax if accepted, else one it can be
    re-encoded or decompressed into. Raises DimseError naming what is missing."""
    for ts in source.candidate_syntaxes():
        ctx = info.find_context(source.sop_class_uid, ts)
        if ctx is not None:
            return ctx
    offered = [c for c in info.contexts.values() if c.abstract_syntax == source.sop_class_uid]
    accepted = [UID(c.transfer_syntax).name for c in offered if c.accepted]
    if not offered:
        why = "it was not proposed"
    elif accepted:
        why = f"the peer accepted it only in {', '.join(accepted)}"
    else:
        why = f"the peer rejected it ({', '.join(sorted({c.result_text for c in offered}))})"
    raise DimseError(f"cannot send {UID(source.sop_class_uid).name} in {UID(source.transfer_syntax).name}: {why}")


def _decompressed(ds: Dataset, transfer_syntax: str) -> Dataset:
    """The data set with native pixel data, for a peer that does not accept its compressed syntax."""
    try:
        from ...pixels import transcode
    except ImportError as exc:  # numpy missing: the pixels package itself cannot load
        raise MissingDependencyError(
            "sending compressed pixel data decompressed needs the codecs extra: pip install 'dicomkit[codecs]'"
        ) from exc
    return transcode(ds, transfer_syntax)


__all__ = ["NATIVE_SYNTAXES", "StoreSource", "choose_context"]
