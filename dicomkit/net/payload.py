"""Data sets to send in DIMSE messages: from memory, from a Dataset, or straight from a Part 10 file.

A :class:`Payload` yields the encoded data set in fragments of at most a given size; a file is read in
pieces, so sending a large object keeps memory flat. Which payload a C-STORE sends (the file as it is, a
re-encoding, a decompression) is storage policy, decided in ``dicomkit.services.storage``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..io.writer import deflate, iter_dataset_chunks

# Files up to this size are read with one call; larger ones are streamed in pieces.
WHOLE_FILE_LIMIT = 1 << 23
READ_PIECE = 1 << 20


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

    def __init__(self, ds: Dataset, transfer_syntax: str, *, validate: bool = True) -> None:
        """``validate=False`` sends values assigned through the API even when they break their VR (a C-FIND
        Identifier goes as the user wrote it: the SCP judges it and answers with a status)."""
        self.transfer_syntax = str(transfer_syntax)
        if ds.is_partial:
            raise DicomError("this data set was read with stop_before_pixels; it cannot be sent without its "
                             "Pixel Data")
        chunks, deflated = iter_dataset_chunks(ds, self.transfer_syntax, validate=validate)
        if deflated:
            chunks = [deflate(b"".join(chunks))]
        self._chunks = chunks
        self._nbytes = sum(len(c) for c in chunks)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def fragments(self, size: int) -> Iterator[bytes | memoryview]:
        if self._nbytes <= size:  # the usual identifier or attribute list: one piece
            yield b"".join(self._chunks)
            return
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
