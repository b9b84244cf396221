"""``multipart/related`` (RFC 2387, PS3.18 8.6.1.2) written as it is sent and read as it arrives.

:func:`write_parts` turns an async iterator of :class:`Part` (headers, then the body as an async iterator of
byte chunks) into the chunks of the whole message: nothing is built whole in memory. :class:`MultipartReader`
is the receiving side, sans I/O: :meth:`~MultipartReader.feed` takes chunks of any size and returns events —
:class:`PartStart` (the part's headers), bytes (its body, in pieces), :class:`PartEnd` — so a STOW-RS body
of any size goes to disk part by part with memory bounded by the chunk size.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .media import MULTIPART_RELATED

MAX_HEADER_BYTES = 16 * 1024  # the header block of one part


class MultipartError(Exception):
    """A body that is not a well-formed multipart message (HTTP 400)."""


def new_boundary() -> str:
    return "dicomkit-" + secrets.token_hex(16)


def content_type(part_type: str, boundary: str, *, transfer_syntax: str | None = None) -> str:
    """``multipart/related; type="application/dicom"; boundary=...`` (type quoted as RFC 2387 writes it)."""
    extra = f"; transfer-syntax={transfer_syntax}" if transfer_syntax else ""
    return f'{MULTIPART_RELATED}; type="{part_type}"; boundary={boundary}{extra}'


@dataclass
class Part:
    headers: dict[str, str]
    body: AsyncIterator[bytes]


async def write_parts(parts: AsyncIterator[Part], boundary: str) -> AsyncIterator[bytes]:
    """The chunks of a multipart body: each part's delimiter and headers, then its body as it comes."""
    async for part in parts:
        head = [f"--{boundary}"] + [f"{k}: {v}" for k, v in part.headers.items()]
        yield ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        async for chunk in part.body:
            if chunk:
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("latin-1")


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass(frozen=True)
class PartStart:
    headers: dict[str, str]  # names in lower case

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartEnd | bytes


class MultipartReader:
    """The parts of a multipart body fed in chunks (see the module documentation).

    States: the preamble (before the first delimiter), a part's headers, its body, the epilogue. The
    body's delimiter is ``CRLF--boundary``; a tail shorter than it is held back between chunks so that a
    delimiter split across two chunks is still found.
    """

    def __init__(self, boundary: str) -> None:
        if not boundary or len(boundary) > 200:
            raise MultipartError("the multipart boundary is missing or longer than RFC 2046 allows")
        self.delimiter = b"\r\n--" + boundary.encode("latin-1")
        self._buf = bytearray(b"\r\n")  # the first delimiter may start the body without a CRLF
        self._state = "preamble"
        self.parts = 0

    @property
    def done(self) -> bool:
        return self._state == "epilogue"

    def feed(self, chunk: bytes) -> list[Event]:
        self._buf += chunk
        events: list[Event] = []
        while True:
            if self._state == "preamble":
                i = self._buf.find(self.delimiter)
                if i < 0:
                    del self._buf[:max(0, len(self._buf) - len(self.delimiter))]
                    return events
                del self._buf[:i + len(self.delimiter)]
                self._state = "after-delimiter"
            if self._state == "after-delimiter":
                if len(self._buf) < 2:
                    return events
                if self._buf[:2] == b"--":
                    self._state = "epilogue"
                    self._buf.clear()
                    return events
                eol = self._buf.find(b"\r\n")
                if eol < 0:
                    if len(self._buf) > 1024:
                        raise MultipartError("no line end after a multipart delimiter")
                    return events
                if self._buf[:eol].strip(b" \t"):
                    raise MultipartError("unexpected text after a multipart delimiter")
                del self._buf[:eol + 2]
                self._state = "headers"
            if self._state == "headers":
                end = self._buf.find(b"\r\n\r\n")
                if self._buf.startswith(b"\r\n"):
                    end, skip = 0, 2
                else:
                    skip = 4
                if end < 0:
                    if len(self._buf) > MAX_HEADER_BYTES:
                        raise MultipartError(f"the headers of part {self.parts + 1} exceed {MAX_HEADER_BYTES} bytes")
                    return events
                events.append(PartStart(_headers(bytes(self._buf[:end]), self.parts + 1)))
                self.parts += 1
                del self._buf[:end + skip]
                self._state = "body"
            if self._state == "body":
                i = self._buf.find(self.delimiter)
                if i < 0:
                    keep = len(self.delimiter) - 1
                    if len(self._buf) > keep:
                        events.append(bytes(self._buf[:len(self._buf) - keep]))
                        del self._buf[:len(self._buf) - keep]
                    return events
                if i:
                    events.append(bytes(self._buf[:i]))
                events.append(PartEnd())
                del self._buf[:i + len(self.delimiter)]
                self._state = "after-delimiter"
                continue
            if self._state == "epilogue":
                self._buf.clear()
                return events

    def close(self) -> None:
        """The body ended: raise unless the closing delimiter was seen."""
        if self._state != "epilogue":
            where = "before the first part" if self._state == "preamble" else f"in part {self.parts}"
            raise MultipartError(f"the multipart body ended {where} without its closing delimiter")


def _headers(block: bytes, number: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MultipartError(f"part {number}: {line[:60]!r} is not a header line")
        out[name.strip().lower()] = value.strip()
    return out


__all__ = ["MultipartError", "MultipartReader", "Part", "PartEnd", "PartStart", "content_type", "new_boundary",
           "write_parts"]
