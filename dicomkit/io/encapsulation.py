"""Encapsulated Pixel Data (PS3.5 A.4): items, offset tables, fragments and frames.

The value of an encapsulated Pixel Data element is the item stream: a Basic Offset Table item followed by
fragment items (the Sequence Delimitation Item is not part of it). Frames are located from the Extended
Offset Table (7FE0,0001)/(7FE0,0002), the Basic Offset Table, or a scan of the fragments; a frame is
returned as views over the source buffer without copying or decoding any other frame.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import DicomError, InvalidFileError, InvalidValueError
from ..core.fragments import iter_fragment_spans

_ITEM = b"\xfe\xff\x00\xe0"
_ITEM_HEADER = struct.Struct("<4sI")

@dataclass(frozen=True)
class EncapsulatedPixelData:
    """The structure of an encapsulated Pixel Data value: offset table and fragment positions."""

    stream: memoryview
    basic_offsets: tuple[int, ...]
    fragments: tuple[tuple[int, int], ...]  # (offset in stream, length)

    @classmethod
    def parse(cls, stream: bytes | memoryview) -> EncapsulatedPixelData:
        view = memoryview(stream)
        spans = list(iter_fragment_spans(view))
        if not spans:
            raise InvalidFileError("encapsulated Pixel Data has no Basic Offset Table item")
        bot_start, bot_len = spans[0]
        if bot_len % 4:
            raise InvalidFileError(f"Basic Offset Table length {bot_len} is not a multiple of 4")
        offsets = struct.unpack_from(f"<{bot_len // 4}I", view, bot_start) if bot_len else ()
        return cls(view, tuple(offsets), tuple(spans[1:]))

    def fragment(self, index: int) -> memoryview:
        start, length = self.fragments[index]
        return self.stream[start:start + length]

    def frame_fragments(self, number_of_frames: int,
                        extended_offsets: Sequence[int] | None = None,
                        extended_lengths: Sequence[int] | None = None) -> list[list[memoryview]]:
        """The fragments of each frame, located without decoding (PS3.5 A.4, Annex A.4.1 notes)."""
        n_frames = max(1, number_of_frames)
        frags = self.fragments
        if extended_offsets:
            return self._frames_by_offsets(list(extended_offsets), n_frames, extended_lengths)
        if self.basic_offsets:
            return self._frames_by_offsets(list(self.basic_offsets), n_frames, None)
        if n_frames == 1:
            return [[self.fragment(i) for i in range(len(frags))]]
        if len(frags) == n_frames:
            return [[self.fragment(i)] for i in range(n_frames)]
        return self._frames_by_markers(n_frames)

    def _frames_by_offsets(self, offsets: list[int], n_frames: int,
                           lengths: Sequence[int] | None) -> list[list[memoryview]]:
        # Offsets are measured from the first byte of the first fragment's item tag.
        if not self.fragments:
            raise InvalidFileError("encapsulated Pixel Data has no fragments")
        base = self.fragments[0][0] - 8
        starts = {start - 8 - base: i for i, (start, _) in enumerate(self.fragments)}
        frames: list[list[memoryview]] = []
        for k, off in enumerate(offsets):
            first = starts.get(off)
            if first is None:
                raise InvalidFileError(f"offset table entry {k} ({off}) does not point at a fragment")
            if lengths is not None and k < len(lengths):
                start = self.fragments[first][0]
                frame_end = start - 8 + int(lengths[k])
            else:
                frame_end = None
            nxt = offsets[k + 1] if k + 1 < len(offsets) else None
            frame: list[memoryview] = []
            for i in range(first, len(self.fragments)):
                rel = self.fragments[i][0] - 8 - base
                if nxt is not None and rel >= nxt:
                    break
                frame.append(self.fragment(i))
                if frame_end is not None and self.fragments[i][0] + self.fragments[i][1] >= frame_end:
                    break
            frames.append(frame)
        if len(frames) != n_frames:
            raise InvalidValueError(f"offset table lists {len(frames)} frames, Number of Frames is {n_frames}")
        return frames

    def _frames_by_markers(self, n_frames: int) -> list[list[memoryview]]:
        """No offset table and more fragments than frames: split where a codestream starts."""
        starts_frame = [_starts_codestream(self.fragment(i)) for i in range(len(self.fragments))]
        frames: list[list[memoryview]] = []
        for i, is_start in enumerate(starts_frame):
            if is_start or not frames:
                frames.append([])
            frames[-1].append(self.fragment(i))
        if len(frames) != n_frames:
            raise InvalidValueError(
                f"cannot tell the {n_frames} frames apart: {len(self.fragments)} fragments and no offset table"
            )
        return frames


def _starts_codestream(data: memoryview) -> bool:
    head = bytes(data[:4])
    # JPEG SOI, JPEG 2000 SOC, JP2 signature box.
    return head[:2] == b"\xff\xd8" or head[:2] == b"\xff\x4f" or head == b"\x00\x00\x00\x0c"


def encapsulate(frames: Sequence[bytes], *, basic_offset_table: bool = True) -> bytes:
    """An item stream with one fragment per frame (each padded to an even length)."""
    out = bytearray()
    padded = [f + b"\x00" if len(f) & 1 else f for f in frames]
    if basic_offset_table:
        offsets = []
        pos = 0
        for f in padded:
            offsets.append(pos)
            pos += 8 + len(f)
        if pos > 0xFFFFFFFF:
            raise InvalidValueError("frames too large for a Basic Offset Table; use the Extended Offset Table")
        out += _ITEM_HEADER.pack(_ITEM, 4 * len(offsets)) + struct.pack(f"<{len(offsets)}I", *offsets)
    else:
        out += _ITEM_HEADER.pack(_ITEM, 0)
    for f in padded:
        out += _ITEM_HEADER.pack(_ITEM, len(f)) + f
    return bytes(out)


def encapsulated_frames(ds: object) -> list[list[memoryview]]:
    """The fragments of every frame of a data set's encapsulated Pixel Data, without decoding anything.

    Uses the Extended Offset Table (7FE0,0001)/(7FE0,0002) when present, else the Basic Offset Table, else
    one fragment per frame or a scan for codestream starts (PS3.5 A.4). An offset table that does not fit
    the fragments is ignored in favour of the fragments themselves.
    """
    from ..core.dataset import Dataset

    if not isinstance(ds, Dataset) or 0x7FE00010 not in ds:
        raise InvalidValueError("the data set has no Pixel Data")
    elem = ds[0x7FE00010]
    if not elem.is_undefined_length:
        raise InvalidValueError("Pixel Data is not encapsulated")
    stream = elem.raw if elem.raw is not None else elem.value
    pixel_data = EncapsulatedPixelData.parse(stream)
    frames = int(ds.get("NumberOfFrames") or 1)
    offsets = _extended_table(ds, 0x7FE00001)
    lengths = _extended_table(ds, 0x7FE00002)
    try:
        return pixel_data.frame_fragments(frames, offsets, lengths)
    except DicomError:
        if not (offsets or pixel_data.basic_offsets):
            raise
        # A wrong offset table: the fragments themselves still tell where frames start.
        return EncapsulatedPixelData(pixel_data.stream, (), pixel_data.fragments).frame_fragments(frames)


def _extended_table(ds: object, tag: int) -> tuple[int, ...] | None:
    """Extended Offset Table (Lengths): 64-bit little endian values (PS3.3 C.7.6.3.1.8)."""
    elem = ds.get(tag)  # type: ignore[attr-defined]
    if elem is None:
        return None
    value = bytes(elem.value or b"")
    if len(value) % 8:
        raise InvalidValueError(f"Extended Offset Table element {tag:08X} must hold 64-bit values")
    return struct.unpack(f"<{len(value) // 8}Q", value)


def encapsulate_extended(frames: Sequence[bytes]) -> tuple[bytes, bytes, bytes]:
    """An item stream with an empty Basic Offset Table, and the Extended Offset Table (7FE0,0001) and
    Extended Offset Table Lengths (7FE0,0002) values (PS3.5 A.4, PS3.3 C.7.6.3.1.8), as 64-bit little
    endian bytes: offsets to each frame's item tag from the first fragment's, and each frame's length."""
    stream = encapsulate(frames, basic_offset_table=False)
    offsets = []
    lengths = []
    pos = 0
    for f in frames:
        size = len(f) + (len(f) & 1)
        offsets.append(pos)
        lengths.append(size)
        pos += 8 + size
    return (stream, struct.pack(f"<{len(offsets)}Q", *offsets), struct.pack(f"<{len(lengths)}Q", *lengths))
