"""Data sets to send in DIMSE messages: from memory, from a Dataset, or straight from a Part 10 file.

A :class:`Payload` yields the encoded data set in fragments of at most a given size; a file is read in
pieces, so sending a large object keeps memory flat. :class:`StoreSource` looks at what is to be stored
(a path or a Dataset) and produces the payload for the transfer syntax an association accepted: the
file's own bytes when it matches (no parsing of the data set, no copy), else a re-encoding into another
uncompressed syntax. Compressed pixel data that the peer will not take in its own syntax is decompressed
(lossless: the pixels are those the codestream holds) by dicomkit.pixels, which needs the ``codecs`` extra.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core.dataset import Dataset
from ..core.errors import DicomError, InvalidFileError, MissingDependencyError, UnsupportedTransferSyntaxError
from ..core.uid import TRANSFER_SYNTAXES, UID
from ..io.reader import read
from ..io.writer import deflate, iter_dataset_chunks

# Files up to this size are read with one call; larger ones are streamed in pieces.
WHOLE_FILE_LIMIT = 1 << 23
READ_PIECE = 1 << 20

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
# Syntaxes that differ only in how elements are encoded, not in how pixels are: the core writer converts
# between them (PS3.5 A.1-A.5).
NATIVE_SYNTAXES = (EXPLICIT_LE, IMPLICIT_LE, DEFLATED_LE, EXPLICIT_BE)


class Payload(Protocol):
    """A data set ready to send: its transfer syntax and its bytes in fragments."""

    transfer_syntax: str

    def fragments(self, size: int) -> Iterator[bytes | memoryview]:
        """The encoded data set in pieces of at most ``size`` bytes (at least one piece)."""

    @property
    def nbytes(self) -> int:
        """Total encoded length."""


class BytesPayload:
    """An encoded data set held in memory."""

    def __init__(self, data: bytes | bytearray | memoryview, transfer_syntax: str) -> None:
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        self.transfer_syntax = str(transfer_syntax)

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def fragments(self, size: int) -> Iterator[memoryview]:
        data = self.data
        if len(data) <= size:
            yield data
            return
        for start in range(0, len(data), size):
            yield data[start:start + size]


class FilePayload:
    """The data set of a Part 10 file, sent from ``offset`` to the end of the file as it is."""

    def __init__(self, path: str | os.PathLike[str], offset: int, transfer_syntax: str,
                 head: bytes | None = None) -> None:
        self.path = os.fspath(path)
        self.offset = offset
        self.transfer_syntax = str(transfer_syntax)
        self._head = head  # the whole file when it was already read
        self._size = len(head) if head is not None else os.stat(self.path).st_size

    @property
    def nbytes(self) -> int:
        return self._size - self.offset

    def fragments(self, size: int) -> Iterator[bytes | memoryview]:
        if self._head is not None:
            yield from BytesPayload(memoryview(self._head)[self.offset:], self.transfer_syntax).fragments(size)
            return
        piece = max(size, (READ_PIECE // size) * size) if size < READ_PIECE else size
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            sent = False
            while True:
                block = f.read(piece)
                if not block:
                    break
                sent = True
                if len(block) <= size:
                    yield block
                else:
                    mv = memoryview(block)
                    for start in range(0, len(mv), size):
                        yield mv[start:start + size]
            if not sent:
                yield b""


class DatasetPayload:
    """A Dataset encoded on the fly by the core writer (element bytes read from a file are not copied)."""

    def __init__(self, ds: Dataset, transfer_syntax: str) -> None:
        self.transfer_syntax = str(transfer_syntax)
        if ds.is_partial:
            raise DicomError("this data set was read with stop_before_pixels; it cannot be sent without its "
                             "Pixel Data")
        chunks, deflated = iter_dataset_chunks(ds, self.transfer_syntax)
        if deflated:
            chunks = [deflate(b"".join(chunks))]
        self._chunks = chunks
        self._nbytes = sum(len(c) for c in chunks)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def fragments(self, size: int) -> Iterator[bytes | memoryview]:
        pending: list[bytes | memoryview] = []
        pending_len = 0
        for chunk in self._chunks:
            mv = memoryview(chunk).cast("B")
            while mv:
                take = min(len(mv), size - pending_len)
                pending.append(mv[:take])
                pending_len += take
                mv = mv[take:]
                if pending_len == size:
                    yield b"".join(pending)
                    pending, pending_len = [], 0
        if pending or not self._nbytes:
            yield b"".join(pending)


def meta_end(buf: bytes | memoryview, start: int = 132) -> int:
    """Offset where the data set starts after the File Meta Information (group 0002, explicit VR LE)."""
    pos = start
    n = len(buf)
    while pos + 8 <= n:
        group, _elem, vr = struct.unpack_from("<HH2s", buf, pos)
        if group != 0x0002:
            return pos
        if vr in (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"):
            if pos + 12 > n:
                break
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            pos += 12 + length
        else:
            (length,) = struct.unpack_from("<H", buf, pos + 6)
            pos += 8 + length
    if pos <= n:
        return pos
    raise InvalidFileError("File Meta Information runs past the end of the file", offset=start)


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
        path = os.fspath(path)
        data: bytes | None = None
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= WHOLE_FILE_LIMIT:
                data = f.read()
                head: bytes = data
            else:
                head = f.read(1 << 16)
        probe = probe_part10(head)
        if probe is not None:
            # the common case: meta and data set start are plain; the bytes go out as they are
            return cls(probe.sop_class_uid, probe.sop_instance_uid, probe.transfer_syntax, path, probe.data_offset,
                       None, data, size)
        if data is not None:
            ds = read(data, stop_before_pixels=True, force=True)
        else:
            ds = read(path, stop_before_pixels=True, force=True)
        meta = ds.file_meta
        meta_ts = str(meta.value(0x00020010, "") or "").strip("\x00 ") if meta is not None else ""
        read_ts = str(ds.__dict__.get("read_transfer_syntax") or "")
        sop_class = ds.value(0x00080016) or (meta.value(0x00020002) if meta is not None else None)
        sop_instance = ds.value(0x00080018) or (meta.value(0x00020003) if meta is not None else None)
        if not sop_class or not sop_instance:
            raise InvalidFileError("no SOP Class UID or SOP Instance UID: not a storable DICOM object",
                                   source=path)
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
        return cls(str(sop_class).strip("\x00 "), str(sop_instance).strip("\x00 "), ts, path, offset, ds, data,
                   size)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StoreSource:
        sop_class = ds.value(0x00080016)
        sop_instance = ds.value(0x00080018)
        if not sop_class or not sop_instance:
            raise DicomError("the data set has no SOP Class UID (0008,0016) or SOP Instance UID (0008,0018)")
        ts = ds.transfer_syntax or ds.__dict__.get("read_transfer_syntax") or EXPLICIT_LE
        return cls(str(sop_class), str(sop_instance), str(ts), dataset=ds)

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
        return own + [ts for ts in (EXPLICIT_LE, IMPLICIT_LE, DEFLATED_LE, EXPLICIT_BE) if ts not in own]

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


def _decompressed(ds: Dataset, transfer_syntax: str) -> Dataset:
    """The data set with native pixel data, for a peer that does not accept its compressed syntax."""
    try:
        from ..pixels import transcode
    except ImportError as exc:  # numpy missing: the pixels package itself cannot load
        raise MissingDependencyError(
            "sending compressed pixel data decompressed needs the codecs extra: pip install 'dicomkit[codecs]'"
        ) from exc
    return transcode(ds, transfer_syntax)


# -- a quick look at a data set's start ---------------------------------------------------------------------

_LONG_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"))
_SHORT_VRS = frozenset((b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN",
                        b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"))
_SOP_CLASS, _SOP_INSTANCE = 0x00080016, 0x00080018


def sop_uids(data: bytes | bytearray | memoryview, transfer_syntax: str,
             start: int = 0) -> tuple[str, str] | None:
    """SOP Class and Instance UIDs (0008,0016/0018) from the start of a data set, by walking its first
    element headers; None when the start is anything but plain elements in this encoding (the caller
    then asks the full reader)."""
    if transfer_syntax == IMPLICIT_LE:
        implicit, little = True, True
    elif transfer_syntax in TRANSFER_SYNTAXES and not TRANSFER_SYNTAXES[transfer_syntax].deflated:
        info = TRANSFER_SYNTAXES[transfer_syntax]
        implicit, little = info.implicit_vr, info.little_endian
    else:
        return None
    header = struct.Struct("<HHI" if implicit else "<HH2sH") if little else struct.Struct(">HH2sH")
    long_length = struct.Struct("<I" if little else ">I")
    found: dict[int, str] = {}
    pos, n = start, len(data)
    last = -1
    while pos + 8 <= n:
        if implicit:
            group, elem, length = header.unpack_from(data, pos)
            if bytes(data[pos + 4:pos + 6]) in _SHORT_VRS or bytes(data[pos + 4:pos + 6]) in _LONG_VRS:
                return None  # looks explicit: not what the transfer syntax says
            value = pos + 8
        else:
            group, elem, vr, length = header.unpack_from(data, pos)
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    return None
                length = long_length.unpack_from(data, pos + 8)[0]
                value = pos + 12
            elif vr in _SHORT_VRS:
                value = pos + 8
            else:
                return None
        tag = (group << 16) | elem
        if tag <= last or tag > _SOP_INSTANCE or length == 0xFFFFFFFF or value + length > n:
            break
        last = tag
        if tag in (_SOP_CLASS, _SOP_INSTANCE):
            found[tag] = bytes(data[value:value + length]).decode("ascii", "replace").rstrip("\x00 ")
        pos = value + length
    if _SOP_CLASS in found and _SOP_INSTANCE in found:
        return found[_SOP_CLASS], found[_SOP_INSTANCE]
    return None


@dataclass
class Part10Probe:
    """What the start of a Part 10 file says, found without parsing the data set."""

    transfer_syntax: str
    data_offset: int
    sop_class_uid: str
    sop_instance_uid: str


def probe_part10(head: bytes | memoryview) -> Part10Probe | None:
    """Transfer syntax (from the meta), data set offset and SOP UIDs (from the data set) of a Part 10
    file's first bytes; None for anything unusual, where the full reader decides."""
    if len(head) < 144 or bytes(head[128:132]) != b"DICM":
        return None
    ts = ""
    pos, n = 132, len(head)
    while pos + 8 <= n:
        group, elem, vr = struct.unpack_from("<HH2s", head, pos)
        if group != 0x0002:
            break
        if vr in _LONG_VRS:
            if pos + 12 > n:
                return None
            (length,) = struct.unpack_from("<I", head, pos + 8)
            value = pos + 12
        elif vr in _SHORT_VRS:
            (length,) = struct.unpack_from("<H", head, pos + 6)
            value = pos + 8
        else:
            return None  # implicit VR meta and other oddities
        if elem == 0x0010:
            ts = bytes(head[value:value + length]).decode("ascii", "replace").rstrip("\x00 ")
        pos = value + length
    if pos > n or ts not in TRANSFER_SYNTAXES:
        return None
    uids = sop_uids(head, ts, pos)
    if uids is None:
        return None
    return Part10Probe(ts, pos, uids[0], uids[1])
