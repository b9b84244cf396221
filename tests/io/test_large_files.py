"""Reading the metadata of a 1 GB file must not read or allocate its pixel data."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import dicomkit
from dicomkit.io.writer import to_bytes


def _sparse_gigabyte_file(path: Path) -> int:
    ds = dicomkit.Dataset()
    ds.SOPClassUID = dicomkit.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.PatientName = "Big^File"
    ds.Rows = 16384
    ds.Columns = 32768
    ds.BitsAllocated = 16
    ds.NumberOfFrames = 1
    head = to_bytes(ds)
    size = 1 << 30
    with open(path, "wb") as f:
        f.write(head)
        f.write(struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OW", size))
        f.truncate(len(head) + 12 + size)  # a sparse file: nothing is written to disk
    return len(head) + 12 + size


def test_metadata_of_a_gigabyte_file(tmp_path: Path):
    path = tmp_path / "big.dcm"
    total = _sparse_gigabyte_file(path)
    tracemalloc.start()
    head = dicomkit.read(path, stop_before_pixels=True)
    full = dicomkit.read(path)  # lazy: Pixel Data stays in the file mapping
    assert head.PatientName == "Big^File" and full.Rows == 16384
    assert full["PixelData"].length == 1 << 30
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000, f"reading metadata allocated {peak} bytes of a {total}-byte file"
