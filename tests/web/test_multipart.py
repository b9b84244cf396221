"""multipart/related written as it is sent and read as it arrives, split at any byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomkit.web.multipart import MultipartError, MultipartReader, Part, PartEnd, PartStart, write_parts


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 7):
        yield data[i:i + 7]


def build(bodies: list[bytes], boundary: str) -> bytes:
    async def parts() -> AsyncIterator[Part]:
        for n, b in enumerate(bodies):
            yield Part({"Content-Type": "application/dicom", "Content-Location": f"/x/{n}"}, _body(b))

    async def collect() -> bytes:
        return b"".join([c async for c in write_parts(parts(), boundary)])

    return asyncio.run(collect())


def read(message: bytes, boundary: str, cuts: list[int]) -> list[tuple[dict[str, str], bytes]]:
    reader = MultipartReader(boundary)
    out: list[tuple[dict[str, str], bytes]] = []
    ended = 0
    pieces, last = [], 0
    for c in sorted(set(cuts)):
        pieces.append(message[last:c])
        last = c
    pieces.append(message[last:])
    for piece in pieces:
        for event in reader.feed(piece):
            if isinstance(event, PartStart):
                out.append((event.headers, b""))
            elif isinstance(event, PartEnd):
                ended += 1
            else:
                out[-1] = (out[-1][0], out[-1][1] + event)
    reader.close()
    assert ended == len(out)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5), st.lists(st.integers(0, 2000), max_size=20))
def test_round_trip_at_any_split(bodies: list[bytes], cuts: list[int]) -> None:
    boundary = "b0undary"
    message = build(bodies, boundary)
    got = read(message, boundary, [c % (len(message) + 1) for c in cuts])
    assert [b for _h, b in got] == bodies
    assert [h["content-location"] for h, _b in got] == [f"/x/{n}" for n in range(len(bodies))]


def test_body_holding_boundary_like_bytes() -> None:
    boundary = "XYZ"
    tricky = [b"--XYZ without CRLF", b"\r\n--XY", b"\r\n-"]
    assert [b for _h, b in read(build(tricky, boundary), boundary, list(range(0, 200, 3)))] == tricky


def test_preamble_epilogue_and_missing_close() -> None:
    boundary = "B"
    message = b"preamble text\r\n--B\r\nContent-Type: a/b\r\n\r\nbody\r\n--B--\r\nepilogue"
    assert read(message, boundary, []) == [({"content-type": "a/b"}, b"body")]
    reader = MultipartReader(boundary)
    reader.feed(b"--B\r\nContent-Type: a/b\r\n\r\nbody cut short")
    with pytest.raises(MultipartError, match="closing delimiter"):
        reader.close()


def test_bad_headers_raise() -> None:
    reader = MultipartReader("B")
    with pytest.raises(MultipartError, match="not a header line"):
        reader.feed(b"--B\r\nno colon here\r\n\r\nx\r\n--B--")
    reader = MultipartReader("B")
    with pytest.raises(MultipartError, match="exceed"):
        reader.feed(b"--B\r\n" + b"X-A: " + b"a" * 20000)
