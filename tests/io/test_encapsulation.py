"""Encapsulated Pixel Data: items, offset tables and frames located without decoding (PS3.5 A.4)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

import dicomkit
from dicomkit import DicomError
from dicomkit.io.encapsulation import EncapsulatedPixelData, encapsulate, encapsulated_frames
from tests.conftest import CORPUS, corpus_files, read_options


def _encapsulated() -> list[Path]:
    out = []
    for path in corpus_files():
        ds = dicomkit.read(path, **read_options(path))
        if "PixelData" in ds and ds["PixelData"].is_undefined_length:
            out.append(path)
    return out


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not found")
def test_every_encapsulated_corpus_file_splits_into_its_frames():
    paths = _encapsulated()
    assert len(paths) >= 20
    for path in paths:
        ds = dicomkit.read(path, **read_options(path))
        frames = encapsulated_frames(ds)
        assert len(frames) == int(ds.get("NumberOfFrames") or 1), path.name
        for frame in frames:
            if ds.transfer_syntax == dicomkit.uid.DeflatedImageFrameCompression:
                data = zlib.decompress(b"".join(bytes(f) for f in frame), -15)
                bits = ds.BitsAllocated * ds.Rows * ds.Columns * ds.SamplesPerPixel
                assert len(data) >= bits // 8, path.name
                continue
            first = bytes(frame[0][:4])
            # each frame starts a codestream: JPEG SOI, JPEG 2000 SOC/JP2, or an RLE header (segment count)
            assert first[:2] in (b"\xff\xd8", b"\xff\x4f") or first == b"\x00\x00\x00\x0c" or \
                struct.unpack("<I", first)[0] in range(1, 16), (path.name, first)


def test_basic_offset_table_locates_multi_fragment_frames():
    frames = [b"\xff\xd8" + bytes([i]) * 9 for i in range(3)]
    stream = bytearray(encapsulate(frames))
    parsed = EncapsulatedPixelData.parse(stream)
    assert parsed.basic_offsets == (0, 20, 40)
    assert [bytes(f[0]) for f in parsed.frame_fragments(3)] == [f + b"\x00" for f in frames]


def test_fragments_without_offset_table_split_at_codestream_starts():
    stream = (b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
              + b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\x01\x02" + b"\xfe\xff\x00\xe0\x02\x00\x00\x00\x03\x04"
              + b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\x05\x06")
    frames = EncapsulatedPixelData.parse(stream).frame_fragments(2)
    assert [[bytes(f) for f in frame] for frame in frames] == [[b"\xff\xd8\x01\x02", b"\x03\x04"],
                                                               [b"\xff\xd8\x05\x06"]]


def test_extended_offset_table():
    frames = [b"\xff\xd8" + bytes([i]) * 5 for i in range(2)]
    ds = dicomkit.Dataset()
    ds.NumberOfFrames = 2
    ds.add_new(0x7FE00010, "OB", encapsulate(frames, basic_offset_table=False))
    ds[0x7FE00010].is_undefined_length = True
    ds.add_new(0x7FE00001, "OV", struct.pack("<2Q", 0, 16))
    ds.add_new(0x7FE00002, "OV", struct.pack("<2Q", 7, 7))
    located = encapsulated_frames(ds)
    assert [bytes(f[0])[:7] for f in located] == frames


@pytest.mark.parametrize("stream", [b"\xfe\xff\x00\xe0\x10\x00\x00\x00abc", b"\x00\x00\x00\x00\x00\x00\x00\x00",
                                    b"\xfe\xff\x00\xe0\x03\x00\x00\x00abc"])
def test_broken_streams_raise_dicom_error(stream):
    with pytest.raises(DicomError):
        EncapsulatedPixelData.parse(stream)
