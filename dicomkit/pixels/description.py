"""What the Image Pixel Module says about Pixel Data (PS3.3 C.7.6.3): geometry, sample format, frames.

A :class:`PixelDescription` is read once from a data set and drives every decoder and encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..core.dataset import Dataset
from ..core.errors import PixelDataError
from ..core.tag import DOUBLE_FLOAT_PIXEL_DATA, FLOAT_PIXEL_DATA, PIXEL_DATA
from ..core.uid import TRANSFER_SYNTAXES, ExplicitVRLittleEndian

# PS3.3 C.7.6.3.1.2: photometric interpretations and their samples per pixel.
SAMPLES_PER_PIXEL = {
    "MONOCHROME1": 1, "MONOCHROME2": 1, "PALETTE COLOR": 1, "RGB": 3, "YBR_FULL": 3, "YBR_FULL_422": 3,
    "YBR_PARTIAL_422": 3, "YBR_PARTIAL_420": 3, "YBR_ICT": 3, "YBR_RCT": 3, "HSV": 3, "ARGB": 4, "CMYK": 4,
    "XYB": 3,
}


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword)
    if isinstance(value, tuple):
        value = value[0] if value else None
    if value is None or value == "":
        if default is None:
            raise PixelDataError(f"{keyword} is missing: the pixel data cannot be interpreted without it")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PixelDataError(f"{keyword} has the value {value!r}, not a number") from None


@dataclass(frozen=True, slots=True)
class PixelDescription:
    """The attributes that define how Pixel Data is laid out (PS3.3 C.7.6.3, PS3.5 8)."""

    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    planar_configuration: int
    number_of_frames: int
    photometric_interpretation: str
    transfer_syntax: str
    pixel_tag: int = PIXEL_DATA

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_dataset(cls, ds: Dataset, transfer_syntax: str | None = None) -> PixelDescription:
        pixel_tag = next((t for t in (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA) if t in ds), None)
        if pixel_tag is None:
            raise PixelDataError("the data set has no Pixel Data, Float Pixel Data or Double Float Pixel Data")
        rows = _int(ds, "Rows")
        columns = _int(ds, "Columns")
        bits_allocated = _int(ds, "BitsAllocated")
        photometric = str(ds.get("PhotometricInterpretation") or "").strip()
        samples = _int(ds, "SamplesPerPixel", SAMPLES_PER_PIXEL.get(photometric, 1))
        if not photometric:
            photometric = "MONOCHROME2" if samples == 1 else "RGB"
        if pixel_tag == PIXEL_DATA:
            bits_stored = _int(ds, "BitsStored", bits_allocated)
            high_bit = _int(ds, "HighBit", bits_stored - 1)
            representation = _int(ds, "PixelRepresentation", 0)
        else:
            # PS3.3 C.7.6.3.1.4: float samples have no Bits Stored, High Bit or Pixel Representation.
            bits_stored, high_bit, representation = bits_allocated, bits_allocated - 1, 0
        frames = _int(ds, "NumberOfFrames", 1)
        planar = _int(ds, "PlanarConfiguration", 0) if samples > 1 else 0
        ts = transfer_syntax or _transfer_syntax_of(ds)
        desc = cls(rows, columns, samples, bits_allocated, bits_stored, high_bit, representation, planar, frames,
                   photometric, ts, pixel_tag)
        desc.validate()
        return desc

    def validate(self) -> None:
        if not (0 < self.rows <= 0xFFFF and 0 < self.columns <= 0xFFFF):
            raise PixelDataError(f"Rows {self.rows} and Columns {self.columns} must be 1..65535")
        if self.samples_per_pixel not in (1, 3, 4):
            raise PixelDataError(f"Samples per Pixel {self.samples_per_pixel} is not 1, 3 or 4")
        if self.number_of_frames < 1:
            raise PixelDataError(f"Number of Frames is {self.number_of_frames}; there must be at least one")
        if self.pixel_tag == FLOAT_PIXEL_DATA and self.bits_allocated != 32:
            raise PixelDataError(f"Float Pixel Data needs Bits Allocated 32, not {self.bits_allocated}")
        if self.pixel_tag == DOUBLE_FLOAT_PIXEL_DATA and self.bits_allocated != 64:
            raise PixelDataError(f"Double Float Pixel Data needs Bits Allocated 64, not {self.bits_allocated}")
        if self.bits_allocated not in (1, 8, 16, 32, 64):
            raise PixelDataError(f"Bits Allocated {self.bits_allocated} is not supported (1, 8, 16, 32 or 64)")
        if not 1 <= self.bits_stored <= self.bits_allocated:
            raise PixelDataError(f"Bits Stored {self.bits_stored} must be 1..Bits Allocated ({self.bits_allocated})")
        if not self.bits_stored - 1 <= self.high_bit < self.bits_allocated:
            raise PixelDataError(f"High Bit {self.high_bit} is inconsistent with Bits Stored {self.bits_stored} "
                                 f"and Bits Allocated {self.bits_allocated}")
        if self.pixel_representation not in (0, 1):
            raise PixelDataError(f"Pixel Representation {self.pixel_representation} is not 0 or 1")
        if self.planar_configuration not in (0, 1):
            raise PixelDataError(f"Planar Configuration {self.planar_configuration} is not 0 or 1")
        if self.is_subsampled and (self.samples_per_pixel != 3 or self.columns % 2 or self.bits_allocated < 8):
            raise PixelDataError(f"{self.photometric_interpretation} needs 3 samples, an even number of columns "
                                 "and at least 8 bits allocated")
        if self.bits_allocated == 1 and self.samples_per_pixel != 1:
            raise PixelDataError("Bits Allocated 1 is only defined for one sample per pixel")

    def with_(self, **changes: Any) -> PixelDescription:
        return replace(self, **changes)

    # -- derived properties --------------------------------------------------------------------------
    @property
    def is_float(self) -> bool:
        return self.pixel_tag != PIXEL_DATA

    @property
    def is_signed(self) -> bool:
        return self.pixel_representation == 1

    @property
    def is_subsampled(self) -> bool:
        """Native YBR_FULL_422 / YBR_PARTIAL_422 hold two luminance values per pair of chrominance values."""
        return self.photometric_interpretation in ("YBR_FULL_422", "YBR_PARTIAL_422")

    @property
    def is_encapsulated(self) -> bool:
        info = TRANSFER_SYNTAXES.get(self.transfer_syntax)
        return bool(info and info.encapsulated)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of decoded samples (native byte order)."""
        if self.pixel_tag == FLOAT_PIXEL_DATA:
            return np.dtype(np.float32)
        if self.pixel_tag == DOUBLE_FLOAT_PIXEL_DATA:
            return np.dtype(np.float64)
        size = max(1, self.bits_allocated // 8)
        return np.dtype(f"{'i' if self.is_signed else 'u'}{size}")

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.rows, self.columns, self.samples_per_pixel)

    @property
    def pixels_per_frame(self) -> int:
        return self.rows * self.columns

    @property
    def samples_per_frame(self) -> int:
        """Stored samples per frame: two per pixel for native 4:2:2 data (PS3.3 C.7.6.3.1.2)."""
        per_pixel = 2 if self.is_subsampled else self.samples_per_pixel
        return self.pixels_per_frame * per_pixel

    @property
    def frame_bits(self) -> int:
        """Bits of one native frame; frames follow each other without padding (PS3.5 8.1.1)."""
        return self.samples_per_frame * self.bits_allocated

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame on its own (rounded up to whole bytes, as in a fragment or decoded buffer)."""
        return (self.frame_bits + 7) // 8

    @property
    def native_bytes(self) -> int:
        """Bytes of all frames of native Pixel Data, without the trailing padding byte."""
        return (self.frame_bits * self.number_of_frames + 7) // 8


def _transfer_syntax_of(ds: Dataset) -> str:
    ts = ds.transfer_syntax
    if ts:
        return str(ts)
    return ExplicitVRLittleEndian


# Decoded photometric interpretations whose samples are YCbCr (see decoded_photometric).
YCBCR = frozenset({"YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL", "YBR_PARTIAL_422", "YBR_PARTIAL_420"})


def decoded_photometric(desc: PixelDescription) -> str:
    """The photometric interpretation of decoded samples (before any requested conversion).

    - YBR_ICT / YBR_RCT describe a JPEG 2000 multi-component transform that the decoder reverses:
      decoded samples are RGB (PS3.5 8.2.4).
    - YBR_FULL_422 and YBR_PARTIAL_422 are subsampled only when stored; decoded samples are full
      resolution YBR_FULL / YBR_PARTIAL (PS3.3 C.7.6.3.1.2, PS3.5 8.2.1).
    """
    pi = desc.photometric_interpretation
    if pi in ("YBR_ICT", "YBR_RCT"):
        return "RGB"
    if pi == "YBR_FULL_422":
        return "YBR_FULL"
    if pi in ("YBR_PARTIAL_422", "YBR_PARTIAL_420"):
        return "YBR_PARTIAL"
    return pi
