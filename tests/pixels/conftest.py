"""Helpers for pixel tests: corpus files with pixel data, and building small data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from tests.conftest import CORPUS, corpus_files, read_options

np = pytest.importorskip("numpy", reason="numpy is needed for pixel data (pip install 'dicomkit[pixels]')")

def read_corpus(name: str) -> Dataset:
    return dicomkit.read(CORPUS / name, **read_options(name))


def image_params() -> list[object]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    return [pytest.param(f, id=f.name) for f in files]


def dataset(rows: int, columns: int, *, samples: int = 1, bits_allocated: int = 8, bits_stored: int | None = None,
            high_bit: int | None = None, signed: bool = False, frames: int | None = None,
            photometric: str | None = None, planar: int = 0, pixel_data: bytes = b"", vr: str | None = None,
            transfer_syntax: str = "1.2.840.10008.1.2.1") -> Dataset:
    """A minimal Secondary Capture data set with the given Image Pixel attributes and raw Pixel Data."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric or ("MONOCHROME2" if samples == 1 else "RGB")
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored or bits_allocated
    ds.HighBit = high_bit if high_bit is not None else (bits_stored or bits_allocated) - 1
    ds.PixelRepresentation = int(signed)
    if samples > 1:
        ds.PlanarConfiguration = planar
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.add_new(0x7FE00010, vr or ("OB" if bits_allocated <= 8 else "OW"), pixel_data)
    meta = Dataset()
    meta.add_new(0x00020010, "UI", transfer_syntax)
    object.__setattr__(ds, "file_meta", meta)
    return ds


def roundtrip(ds: Dataset, **options: object) -> Dataset:
    """Write ``ds`` as a Part 10 file in memory and read it back."""
    from dicomkit.io.writer import to_bytes

    return dicomkit.read(to_bytes(ds, **options))


def squeezed(arr: object) -> object:
    """A (frames, rows, columns, samples) array in the shape ``pixel_array`` gives (pydicom's): without the
    samples axis for one sample per pixel, without the frame axis for one frame."""
    out = np.asarray(arr)
    if out.shape[-1] == 1:
        out = out[..., 0]
    return out[0] if out.shape[0] == 1 else out


__all__ = ["CORPUS", "Path", "dataset", "image_params", "np", "read_corpus", "roundtrip", "squeezed"]
