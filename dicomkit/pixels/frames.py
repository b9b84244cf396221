"""Frames of a data set as numpy arrays: locate (native offsets or encapsulated fragments), decode, convert.

Arrays are shaped (frames, rows, columns, samples) for :func:`pixel_array` and (rows, columns, samples)
for :func:`frame` / :func:`iter_frames`; every returned array is new and writeable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import DicomError, PixelDataError
from ..core.vr import VR
from ..io.encapsulation import encapsulated_frames
from .codecs import codec_for
from .description import PixelDescription, decoded_photometric
from .native import decode_native
from .photometric import to_rgb

_WORD_VRS = {VR.OW: 2, VR.OF: 4, VR.OL: 4, VR.OD: 8, VR.OV: 8}


class PixelSource:
    """Where the frames of one data set's pixel data are and how to decode each on its own."""

    def __init__(self, ds: Dataset, transfer_syntax: str | None = None) -> None:
        self.ds = ds
        self.desc = PixelDescription.from_dataset(ds, transfer_syntax)
        self.element: DataElement = ds[self.desc.pixel_tag]
        self.encapsulated = bool(self.element.is_undefined_length)
        self._frames: list[list[memoryview]] | None = None
        if self.encapsulated and not self.desc.is_encapsulated:
            raise PixelDataError(f"Pixel Data is encapsulated but the transfer syntax {self.desc.transfer_syntax} "
                                 "is native")
        if not self.encapsulated and self.desc.is_encapsulated:
            raise PixelDataError(f"the transfer syntax {self.desc.transfer_syntax} is encapsulated but Pixel "
                                 "Data has a defined length (native)")

    @property
    def number_of_frames(self) -> int:
        return self.desc.number_of_frames

    @property
    def photometric(self) -> str:
        """The photometric interpretation of decoded frames (see :func:`decoded_photometric`)."""
        return decoded_photometric(self.desc)

    # -- raw access -------------------------------------------------------------------------------------
    def _native_bytes(self) -> tuple[bytes | memoryview, bool, bool]:
        elem = self.element
        raw, src = elem.raw, elem.source
        if raw is None or src is None:
            value = elem.value
            return (value if isinstance(value, bytes | memoryview) else bytes(value)), True, False
        little = src.little_endian
        swap_pairs = not little and _WORD_VRS.get(elem.vr, 1) == 2 and self.desc.bits_allocated <= 8
        return raw, little, swap_pairs

    def frame_fragments(self) -> list[list[memoryview]]:
        """The fragments of each frame, located once from the offset tables or a fragment scan."""
        if self._frames is None:
            try:
                self._frames = encapsulated_frames(self.ds)
            except PixelDataError:
                raise
            except DicomError as exc:
                raise PixelDataError(f"encapsulated Pixel Data: {exc}") from None
        return self._frames

    def encoded_frame(self, index: int) -> bytes:
        """The codestream of frame ``index`` (its fragments joined)."""
        fragments = self.frame_fragments()[self._check_index(index)]
        if not fragments:
            raise PixelDataError(f"frame {index} has no fragments")
        return fragments[0].tobytes() if len(fragments) == 1 else b"".join(fragments)

    def _check_index(self, index: int) -> int:
        n = self.number_of_frames
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise PixelDataError(f"frame {index} requested; the data set has {n} frame(s) (0-based)")
        return index

    # -- decoding ---------------------------------------------------------------------------------------
    def decode(self, index: int, desc: PixelDescription | None = None) -> NDArray[Any]:
        """Frame ``index`` as (rows, columns, samples) in the decoded photometric interpretation."""
        index = self._check_index(index)
        desc = desc or self.desc
        if not self.encapsulated:
            data, little, swap = self._native_bytes()
            frames: NDArray[Any] = decode_native(data, desc, index, 1, little_endian=little, swap_pairs=swap)
            first: NDArray[Any] = frames[0]
            return first
        codec = codec_for(desc.transfer_syntax)
        decoded: NDArray[Any] = codec.decode(self.encoded_frame(index), desc)
        return decoded

    def decode_many(self, indices: Iterable[int], desc: PixelDescription | None = None) -> NDArray[Any]:
        desc = desc or self.desc
        chosen = [self._check_index(i) for i in indices]
        if not chosen:
            return np.empty((0, *desc.frame_shape), dtype=desc.dtype)
        if not self.encapsulated and chosen == list(range(chosen[0], chosen[0] + len(chosen))):
            data, little, swap = self._native_bytes()
            return decode_native(data, desc, chosen[0], len(chosen), little_endian=little, swap_pairs=swap)
        first = self.decode(chosen[0], desc)
        out = np.empty((len(chosen), *first.shape), dtype=first.dtype)
        out[0] = first
        for k, i in enumerate(chosen[1:], 1):
            out[k] = self.decode(i, desc)
        return out

    def decode_all(self, desc: PixelDescription | None = None) -> NDArray[Any]:
        return self.decode_many(range(self.number_of_frames), desc)


def pixel_source(ds: Dataset, transfer_syntax: str | None = None) -> PixelSource:
    """The (cached) PixelSource of ``ds``; the cache follows the Pixel Data element and its attributes."""
    cached = ds.__dict__.get("_pixel_source")
    if cached is not None and transfer_syntax is None:
        source, elem, desc = cached
        if ds.get(desc.pixel_tag) is elem and elem.raw is source.element.raw:
            try:
                current = PixelDescription.from_dataset(ds)
            except PixelDataError:
                current = None
            if current == desc:
                return source  # type: ignore[no-any-return]
    source = PixelSource(ds, transfer_syntax)
    if transfer_syntax is None:
        ds.__dict__["_pixel_source"] = (source, source.element, source.desc)
    return source


def _finish(arr: NDArray[Any], source: PixelSource, as_rgb: bool) -> NDArray[Any]:
    if as_rgb:
        return to_rgb(arr, source.photometric, source.ds, bits_stored=source.desc.bits_stored)
    return arr


def pixel_array(ds: Dataset, *, frames: Iterable[int] | None = None, as_rgb: bool = False) -> NDArray[Any]:
    """Frames of ``ds`` shaped (frames, rows, columns, samples).

    - ``frames``: 0-based indices to decode (default all); others are neither read nor decoded.
    - ``as_rgb``: convert YBR_* and PALETTE COLOR to RGB. Without it samples are returned in the colour
      space they were stored in (``photometric(ds)`` names it): never converted silently.
    """
    source = pixel_source(ds)
    indices = range(source.number_of_frames) if frames is None else list(frames)
    return _finish(source.decode_many(indices), source, as_rgb)


def frame(ds: Dataset, index: int, *, as_rgb: bool = False) -> NDArray[Any]:
    """Frame ``index`` (0-based; negative counts from the end) shaped (rows, columns, samples)."""
    source = pixel_source(ds)
    return _finish(source.decode(index), source, as_rgb)


def iter_frames(ds: Dataset, *, as_rgb: bool = False) -> Iterator[NDArray[Any]]:
    """Each frame in turn, shaped (rows, columns, samples); memory stays at one frame."""
    source = pixel_source(ds)
    for i in range(source.number_of_frames):
        yield _finish(source.decode(i), source, as_rgb)


def describe(ds: Dataset) -> PixelDescription:
    return pixel_source(ds).desc


def photometric(ds: Dataset) -> str:
    """The photometric interpretation of the arrays :func:`pixel_array` returns (without ``as_rgb``)."""
    return pixel_source(ds).photometric
