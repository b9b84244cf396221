"""Writing data sets and Part 10 files (PS3.10 7, PS3.5 7).

Elements that still hold the bytes they were read with are copied through unchanged when the target
encoding allows (same byte order for binary VRs, same character set for text), so an unchanged file
written back is byte-identical for canonical input; everything else is encoded from its value.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from ..core.charset import CharacterSet, character_set
from ..core.dataset import Dataset
from ..core.element import _UNSET, DataElement
from ..core.errors import InvalidValueError, UnsupportedTransferSyntaxError
from ..core.sequence import Sequence
from ..core.tag import (
    PIXEL_DATA,
    SPECIFIC_CHARACTER_SET,
    tag_str,
)
from ..core.uid import (
    TRANSFER_SYNTAXES,
    UID,
    ExplicitVRLittleEndian,
    TransferSyntaxInfo,
)
from ..core.vr import CHARSET_VRS, ENDIAN_NEUTRAL_VRS, LONG_HEADER_VRS, VR
from .meta import build_file_meta, encode_file_meta

if TYPE_CHECKING:
    from pathlib import Path

SequenceLength = Literal["preserve", "defined", "undefined"]
Chunk = bytes | memoryview

_UNDEFINED = 0xFFFFFFFF
_LONG = frozenset(VR(v) for v in LONG_HEADER_VRS)


@dataclass(frozen=True)
class _Encoding:
    little: bool
    implicit: bool
    charset: CharacterSet
    sequence_length: SequenceLength
    encapsulated: bool
    validate: bool = True

    def with_charset(self, charset: CharacterSet) -> _Encoding:
        return _Encoding(self.little, self.implicit, charset, self.sequence_length, self.encapsulated,
                         self.validate)


class _RefusedValue(InvalidValueError):
    """An element whose assigned value breaks its VR, refused by the writer; ``where`` is the path of
    sequence items that lead to it, outermost first."""

    def __init__(self, problem: str, where: tuple[str, ...] = ()) -> None:
        self.problem = problem
        self.where = where
        path = "".join(f"{step} > " for step in where)
        super().__init__(f"{path}{problem}: not written (write with validate=False to write it as it is)")


def refuse_invalid(elements: Iterable[DataElement]) -> None:
    """Raise InvalidValueError for the first element whose assigned value breaks its VR (see DataElement)."""
    for elem in elements:
        if elem._invalid is not None:
            raise InvalidValueError(str(_RefusedValue(elem._invalid)))


def _transfer_syntax(ts: str | None, ds: Dataset) -> UID:
    if ts is None:
        ts = ds.transfer_syntax or ds.read_transfer_syntax or ExplicitVRLittleEndian
    uid = UID(str(ts))
    if str(uid) not in TRANSFER_SYNTAXES:
        from ..core.uid import by_keyword

        named = by_keyword(str(ts))
        if named is None or str(named) not in TRANSFER_SYNTAXES:
            raise UnsupportedTransferSyntaxError(f"unknown transfer syntax {ts!r}")
        uid = named
    return uid


def _charset_of(ds: Dataset, inherited: CharacterSet) -> CharacterSet:
    if SPECIFIC_CHARACTER_SET not in ds._elements:
        return inherited
    return character_set(ds.character_set)


class _Writer:
    def __init__(self, enc: _Encoding) -> None:
        self.enc = enc
        little = enc.little
        self.implicit_header = struct.Struct("<HHI" if little else ">HHI")
        self.short_header = struct.Struct("<HH2sH" if little else ">HH2sH")
        self.long_header = struct.Struct("<HH2s2xI" if little else ">HH2s2xI")
        self.item_header = struct.Struct("<HHI" if little else ">HHI")

    def header(self, tag: int, vr: VR, length: int) -> bytes:
        group, elem = tag >> 16, tag & 0xFFFF
        if self.enc.implicit:
            return self.implicit_header.pack(group, elem, length)
        if vr in _LONG:
            return self.long_header.pack(group, elem, vr.encode(), length)
        return self.short_header.pack(group, elem, vr.encode(), length)

    def dataset(self, ds: Dataset, enc: _Encoding, top: bool = False) -> list[Chunk]:
        """Encoded chunks of every element of ``ds`` (group lengths recomputed where present)."""
        enc = enc.with_charset(_charset_of(ds, enc.charset)) if SPECIFIC_CHARACTER_SET in ds._elements else enc
        chunks: list[Chunk] = []
        tags = ds.tags()
        group_lengths = {t >> 16 for t in tags if t & 0xFFFF == 0 and t >> 16 not in (0x0000, 0x0002)}
        if not group_lengths:
            for tag in tags:
                self.element(ds, tag, enc, chunks, top)
            return chunks
        i = 0
        while i < len(tags):
            group = tags[i] >> 16
            j = i
            while j < len(tags) and tags[j] >> 16 == group:
                j += 1
            if group in group_lengths:
                body: list[Chunk] = []
                for tag in tags[i:j]:
                    if tag & 0xFFFF:
                        self.element(ds, tag, enc, body, top)
                length = sum(len(c) for c in body)
                value = struct.pack("<I" if enc.little else ">I", length)
                chunks += (self.header(group << 16, VR.UL, 4), value)
                chunks += body
            else:
                for tag in tags[i:j]:
                    self.element(ds, tag, enc, chunks, top)
            i = j
        return chunks

    def element(self, ds: Dataset, tag: int, enc: _Encoding, out: list[Chunk], top: bool) -> None:
        entry = ds._elements[tag]
        if entry.__class__ is not DataElement:
            vr, offset, length = entry
            if vr is not VR.SQ and (enc.little == ds._src.little_endian or vr in ENDIAN_NEUTRAL_VRS) and (  # type: ignore[union-attr]
                vr not in CHARSET_VRS or ds._src.charset is enc.charset  # type: ignore[union-attr]
            ) and not length & 1:
                out.append(self.header(tag, vr, length))
                if length:
                    out.append(ds._buf[offset:offset + length])  # type: ignore[index]
                return
            entry = ds._materialize(tag, entry)
        elem: DataElement = entry
        if elem._invalid is not None and enc.validate:
            raise _RefusedValue(elem._invalid)
        vr = elem._vr
        if vr is VR.SQ:
            self.sequence(elem, enc, out)
            return
        if elem.is_undefined_length and vr in (VR.OB, VR.OW, VR.UN):
            if top and tag == PIXEL_DATA and not enc.encapsulated:
                raise UnsupportedTransferSyntaxError(
                    "Pixel Data is encapsulated (compressed); writing it to a native transfer syntax needs "
                    "decompression (dicomkit convert / dicomkit.pixels)"
                )
            data = elem.raw if elem.raw is not None else elem.value
            out.append(self.header(tag, VR.OB, _UNDEFINED))
            out.append(data)
            out.append(self.item_header.pack(0xFFFE, 0xE0DD, 0))
            return
        if top and tag == PIXEL_DATA and enc.encapsulated:
            raise UnsupportedTransferSyntaxError(
                "Pixel Data is native (uncompressed); an encapsulated transfer syntax needs encoding "
                "(dicomkit convert / dicomkit.pixels)"
            )
        data = elem.encoded(enc.little, enc.charset)
        length = len(data)
        if not enc.implicit and vr not in _LONG and length > 0xFFFE:
            # PS3.5 6.2.2 Note: a value too long for a 16-bit length field is sent as UN.
            vr = VR.UN
        out.append(self.header(tag, vr, length))
        if length:
            out.append(data)

    def sequence(self, elem: DataElement, enc: _Encoding, out: list[Chunk]) -> None:
        tag = elem._tag
        src = elem._src
        raw = elem._raw
        if (raw is not None and elem._value is _UNSET and src is not None and src.little_endian == enc.little
                and src.implicit_vr == enc.implicit and src.charset is enc.charset
                and enc.sequence_length == "preserve"):
            # never touched: its items go out as they came, delimiters and all
            if elem.is_undefined_length:
                out += (self.header(tag, VR.SQ, _UNDEFINED), raw, self.item_header.pack(0xFFFE, 0xE0DD, 0))
            else:
                out.append(self.header(tag, VR.SQ, len(raw)))
                if len(raw):
                    out.append(raw)
            return
        seq: Sequence = elem.value
        policy = enc.sequence_length
        undefined = seq.is_undefined_length if policy == "preserve" else policy == "undefined"
        body: list[Chunk] = []
        for index, item in enumerate(seq):
            try:
                item_chunks = self.dataset(item, enc)
            except _RefusedValue as exc:
                keyword = elem.keyword
                step = f"{tag_str(tag)}{' ' + keyword if keyword else ''} item {index + 1}"
                raise _RefusedValue(exc.problem, (step, *exc.where)) from None
            item_undefined = item.is_undefined_length_item if policy == "preserve" else policy == "undefined"
            if item_undefined:
                body.append(self.item_header.pack(0xFFFE, 0xE000, _UNDEFINED))
                body += item_chunks
                body.append(self.item_header.pack(0xFFFE, 0xE00D, 0))
            else:
                body.append(self.item_header.pack(0xFFFE, 0xE000, sum(len(c) for c in item_chunks)))
                body += item_chunks
        if undefined:
            out.append(self.header(tag, VR.SQ, _UNDEFINED))
            out += body
            out.append(self.item_header.pack(0xFFFE, 0xE0DD, 0))
        else:
            out.append(self.header(tag, VR.SQ, sum(len(c) for c in body)))
            out += body




def _encoding_for(uid: UID, ds: Dataset, sequence_length: SequenceLength,
                  validate: bool = True) -> tuple[_Encoding, TransferSyntaxInfo]:
    info = TRANSFER_SYNTAXES[str(uid)]
    if info.referenced and PIXEL_DATA in ds._elements:
        raise UnsupportedTransferSyntaxError(f"{uid.name} references pixel data; it cannot carry Pixel Data")
    enc = _Encoding(info.little_endian, info.implicit_vr, character_set(ds.character_set), sequence_length,
                    info.encapsulated, validate)
    return enc, info


def iter_dataset_chunks(ds: Dataset, transfer_syntax: str | None = None, *,
                        sequence_length: SequenceLength = "preserve",
                        validate: bool = True) -> tuple[list[Chunk], bool]:
    """The encoded data set as chunks, and whether they still need deflating (``validate``: see write)."""
    uid = _transfer_syntax(transfer_syntax, ds)
    enc, info = _encoding_for(uid, ds, sequence_length, validate)
    try:
        chunks = _Writer(enc).dataset(ds, enc, top=True)
    except _RefusedValue as exc:
        raise InvalidValueError(str(exc)) from None  # the writer's own type stays inside
    return chunks, info.deflated


def _check_complete(ds: Dataset, allow_partial: bool) -> None:
    if ds.is_partial and not allow_partial:
        raise InvalidValueError(
            "this data set was read with stop_before_pixels and lacks Pixel Data and what follows; "
            "read it whole, or pass allow_partial=True to write it without them"
        )


def encode_dataset(ds: Dataset, transfer_syntax: str | None = None, *,
                   sequence_length: SequenceLength = "preserve", allow_partial: bool = False,
                   validate: bool = True) -> bytes:
    """The data set encoded in ``transfer_syntax`` (deflated where it says so), without meta information."""
    _check_complete(ds, allow_partial)
    chunks, deflated = iter_dataset_chunks(ds, transfer_syntax, sequence_length=sequence_length,
                                           validate=validate)
    data = b"".join(chunks)
    if deflated:
        data = deflate(data)
    return data


def deflate(data: bytes, level: int = 6) -> bytes:
    """Raw RFC 1951 deflate as PS3.5 A.5 requires (no zlib header)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush()
    return out + b"\x00" if len(out) & 1 else out


def write(
    ds: Dataset,
    target: str | os.PathLike[str] | BinaryIO,
    *,
    transfer_syntax: str | None = None,
    sequence_length: SequenceLength = "preserve",
    file_meta: bool = True,
    allow_partial: bool = False,
    validate: bool = True,
) -> None:
    """Write ``ds`` as a DICOM Part 10 file.

    - ``transfer_syntax``: UID or keyword; default: the file's own (its meta), else Explicit VR Little Endian.
      Uncompressed syntaxes and deflate are written directly; changing Pixel Data between native and
      encapsulated needs the pixels module (``dicomkit convert``).
    - ``sequence_length``: ``"preserve"`` keeps how each sequence and item was read (new ones are
      defined-length), ``"defined"`` or ``"undefined"`` force one form.
    - ``file_meta=False`` writes the bare data set (no preamble, no meta), as found on the network.
    - ``allow_partial``: a data set read with ``stop_before_pixels`` lacks its Pixel Data; writing it would
      silently lose the pixels (and overwrite a good file), so it is refused unless this is True.
    - ``validate``: an element whose value was assigned through the API and breaks its VR (PS3.5 6.2; it
      warned with InvalidValueWarning then) raises InvalidValueError naming it and the rule, and nothing is
      written; ``validate=False`` writes it as it is. Values read from a file are never checked or refused.
    """
    _check_complete(ds, allow_partial)
    uid = _transfer_syntax(transfer_syntax, ds)
    chunks, deflated = iter_dataset_chunks(ds, str(uid), sequence_length=sequence_length, validate=validate)
    head: list[Chunk] = []
    if file_meta:
        meta = build_file_meta(ds, uid)
        if validate:
            refuse_invalid(meta)
        preamble = ds.preamble if ds.preamble is not None and len(ds.preamble) == 128 else b"\x00" * 128
        head = [preamble, b"DICM", encode_file_meta(meta)]
    if deflated:
        chunks = [deflate(b"".join(chunks))]
    _write_chunks(target, [*head, *chunks])


def write_atomic(ds: Dataset, path: str | os.PathLike[str], **options: Any) -> None:
    """Write a Part 10 file so that ``path`` is either untouched or complete: a temporary file beside it
    is written, flushed to disk (fsync) and renamed over ``path``. The file gets the permissions a newly
    created file would (the umask applies), not the private ones of a temporary file."""
    from pathlib import Path  # here: reading and the network need not import it

    _replace_atomically(Path(path), lambda f: write(ds, f, **options))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, parents: bool = True) -> Path:
    """Write ``data`` to ``path`` as :func:`write_atomic` writes a data set (PNG, PDF, JSON beside DICOM files);
    ``parents=False``: a missing folder is an error (FileNotFoundError) instead of being made."""
    from pathlib import Path

    target = Path(path)
    _replace_atomically(target, lambda f: f.write(data), parents=parents)
    return target


def _replace_atomically(target: Path, fill: Callable[[BinaryIO], object], *, parents: bool = True) -> None:
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # here, not at the top: reading and the network need not import it

    fd, tmp = tempfile.mkstemp(prefix=".dicomkit-", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_chunks(target: str | os.PathLike[str] | BinaryIO, chunks: Iterable[Chunk]) -> None:
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as f:
            f.writelines(chunks)
    else:
        target.writelines(chunks)


def to_bytes(ds: Dataset, **options: Any) -> bytes:
    """The Part 10 file as bytes (see :func:`write`)."""
    buf = io.BytesIO()
    write(ds, buf, **options)
    return buf.getvalue()


def save(ds: Dataset, path: str | Path, **options: Any) -> None:
    write(ds, path, **options)


__all__ = ["build_file_meta", "encode_dataset", "encode_file_meta", "refuse_invalid", "to_bytes", "write",
           "write_atomic", "write_bytes_atomic"]

