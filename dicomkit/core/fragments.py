"""The items of an encapsulated value (PS3.5 A.4): a Basic Offset Table item, then fragment items.

The item stream is what an encapsulated Pixel Data element holds; its structure is part of the value, so the
data model (display, copies) can walk it without the file layer. Frames are located in ``io.encapsulation``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import InvalidFileError

_ITEM = b"\xfe\xff\x00\xe0"
_ITEM_HEADER = struct.Struct("<4sI")


def iter_fragment_spans(stream: bytes | memoryview) -> Iterator[tuple[int, int]]:
    """``(value offset, length)`` of every item in an encapsulated item stream, the offset table first."""
    n = len(stream)
    pos = 0
    while pos + 8 <= n:
        tag, length = _ITEM_HEADER.unpack_from(stream, pos)
        if tag != _ITEM:
            if tag == b"\xfe\xff\xdd\xe0":
                return
            raise InvalidFileError(f"expected an Item in encapsulated Pixel Data, found {tag.hex()}", offset=pos)
        if length == 0xFFFFFFFF or pos + 8 + length > n:
            raise InvalidFileError(f"fragment of {length} bytes runs past the end of Pixel Data", offset=pos)
        yield pos + 8, length
        pos += 8 + length
    if pos != n:
        raise InvalidFileError("encapsulated Pixel Data ends inside an item header", offset=pos)
