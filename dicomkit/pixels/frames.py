"""Frames of a data set as numpy arrays: locate (native offsets or encapsulated fragments), decode, convert.

Shapes and conventions are pydicom 3's: one frame is (rows, columns) with one sample per pixel and
(rows, columns, samples) with more (PS3.3 C.7.6.3.1.1); :func:`pixel_array` puts the frames in front,
(frames, ...), when the data set has more than one frame or a list of frames is asked for. YCbCr samples
(YBR_FULL, YBR_FULL_422, YBR_PARTIAL_*) are converted to RGB unless ``as_rgb=False``; PALETTE COLOR
indices stay indices (:func:`~dicomkit.pixels.apply_palette` maps them). Every returned array is new and
writeable, except that ``Dataset.pixel_array`` keeps the one it returned (see :func:`cached_pixel_array`).

Compressed frames are decoded on several cores: the frames of a multi-frame data set on a pool of threads
(the codec libraries release the GIL) when they hold enough work, one large JPEG 2000 frame on OpenJPEG's
own threads. ``threads`` (default: the cores this process may run on) sets how many; ``threads=1``
decodes on the calling thread alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import DicomError, PixelDataError
from ..core.vr import VR
from ..io.encapsulation import encapsulated_frames
from .codecs import codec_for
from .description import YCBCR, PixelDescription, decoded_photometric
from .native import decode_native
from .photometric import ycbcr_to_rgb

_WORD_VRS = {VR.OW: 2, VR.OF: 4, VR.OL: 4, VR.OD: 8, VR.OV: 8}
# A pool of threads is used for the frames left when decoding the first frame took long enough that they
# hold at least this much work: handing frames to threads costs about 0.3 ms on an idle machine and
# several ms on a loaded one (measured: bench/README.md), so small frames stay on the calling thread.
CONCURRENT_WORK_SECONDS = 0.02


def use_pool(first_frame_seconds: float, frames_left: int, workers: int) -> bool:
    """Whether the frames left are worth decoding on ``workers`` threads."""
    return workers > 1 and frames_left > 1 and first_frame_seconds * frames_left >= CONCURRENT_WORK_SECONDS


def default_threads() -> int:
    """The number of cores this process may run on: the default of every ``threads`` option."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def thread_count(threads: int | None) -> int:
    """A ``threads`` option as a number: None is :func:`default_threads`; less than 1 is refused."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1 (or None for every core), not {threads!r}")
    return threads


class Located:
    """What :func:`pixel_source` keeps on a data set: the Pixel Data element, its description and, once
    located, the fragments of each frame. It holds no reference back to the data set, so that a data set
    that is dropped is freed at once, with its decoded ``pixel_array``."""

    __slots__ = ("desc", "element", "frames")

    def __init__(self, element: DataElement, desc: PixelDescription) -> None:
        self.element = element
        self.desc = desc
        self.frames: list[list[memoryview]] | None = None


class PixelSource:
    """Where the frames of one data set's pixel data are and how to decode each on its own."""

    def __init__(self, ds: Dataset, transfer_syntax: str | None = None, *, located: Located | None = None) -> None:
        self.ds = ds
        if located is None:
            desc = PixelDescription.from_dataset(ds, transfer_syntax)
            located = Located(ds[desc.pixel_tag], desc)
        self.located = located
        self.desc = located.desc
        self.element: DataElement = located.element
        self.encapsulated = bool(self.element.is_undefined_length)
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
        located = self.located
        if located.frames is None:
            try:
                located.frames = encapsulated_frames(self.ds)
            except PixelDataError:
                raise
            except DicomError as exc:
                raise PixelDataError(f"encapsulated Pixel Data: {exc}") from None
        return located.frames

    def encoded_frame(self, index: int) -> bytes:
        """The codestream of frame ``index`` (its fragments joined)."""
        fragments = self.frame_fragments()[self.check_index(index)]
        if not fragments:
            raise PixelDataError(f"frame {index} has no fragments")
        return fragments[0].tobytes() if len(fragments) == 1 else b"".join(fragments)

    def check_index(self, index: int) -> int:
        """A frame index made 0-based and checked (negative indices count from the end)."""
        n = self.number_of_frames
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise PixelDataError(f"frame {index} requested; the data set has {n} frame(s) (0-based)")
        return index

    # -- decoding ---------------------------------------------------------------------------------------
    def decode(self, index: int, desc: PixelDescription | None = None, *, threads: int = 1,
               rgb: bool = False) -> NDArray[Any]:
        """Frame ``index`` as (rows, columns, samples) in the decoded photometric interpretation, or with
        ``rgb`` its YCbCr samples as RGB (PALETTE COLOR stays indices).

        ``threads``: how many threads the codec library may use for this frame (JPEG 2000 only).
        """
        index = self.check_index(index)
        desc = desc or self.desc
        if not self.encapsulated:
            data, little, swap = self._native_bytes()
            frames: NDArray[Any] = decode_native(data, desc, index, 1, little_endian=little, swap_pairs=swap)
            first: NDArray[Any] = frames[0]
            return ycbcr_to_rgb(first, desc) if rgb else first
        codec = codec_for(desc.transfer_syntax)
        decoded: NDArray[Any] = codec.decode(self.encoded_frame(index), desc, threads=threads, rgb=rgb)
        return decoded

    def decode_many(self, indices: Iterable[int], desc: PixelDescription | None = None, *,
                    threads: int = 1, rgb: bool = False) -> NDArray[Any]:
        """Frames ``indices`` as (frames, rows, columns, samples); ``rgb`` as for :meth:`decode`.

        With ``threads`` > 1 a compressed frame may use the codec's own threads (JPEG 2000), and the frames
        after the first are decoded on a pool of threads when their codec releases the GIL and the first
        frame's decoding time says they are worth it (:func:`use_pool`).
        """
        desc = desc or self.desc
        chosen = [self.check_index(i) for i in indices]
        if not chosen:
            return np.empty((0, *desc.frame_shape), dtype=desc.dtype)
        if not self.encapsulated and chosen == list(range(chosen[0], chosen[0] + len(chosen))):
            data, little, swap = self._native_bytes()
            native = decode_native(data, desc, chosen[0], len(chosen), little_endian=little, swap_pairs=swap)
            return ycbcr_to_rgb(native, desc) if rgb else native
        concurrent = self.encapsulated and codec_for(desc.transfer_syntax).concurrent_frames
        if concurrent:
            self.frame_fragments()  # located once, before timing the first frame and sharing them
        start = time.perf_counter()
        first = self.decode(chosen[0], desc, threads=threads, rgb=rgb)
        elapsed = time.perf_counter() - start
        out = np.empty((len(chosen), *first.shape), dtype=first.dtype)
        out[0] = first
        rest = chosen[1:]
        workers = min(threads, len(rest))
        if concurrent and use_pool(elapsed, len(rest), workers):
            self._decode_concurrently(rest, desc, out, workers, max(1, threads // workers), rgb)
        else:
            for k, i in enumerate(rest, 1):
                out[k] = self.decode(i, desc, threads=threads, rgb=rgb)
        return out

    def _decode_concurrently(self, rest: list[int], desc: PixelDescription, out: NDArray[Any], workers: int,
                             per_frame: int, rgb: bool) -> None:
        """Frames ``rest`` into ``out[1:]`` on ``workers`` threads (the codec library releases the GIL)."""

        def work(k: int) -> None:
            out[k + 1] = self.decode(rest[k], desc, threads=per_frame, rgb=rgb)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dicomkit-decode")
        try:
            for _ in pool.map(work, range(len(rest))):
                pass
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after an error, the frames not started are dropped

    def decode_all(self, desc: PixelDescription | None = None, *, threads: int = 1,
                   rgb: bool = False) -> NDArray[Any]:
        return self.decode_many(range(self.number_of_frames), desc, threads=threads, rgb=rgb)


def pixel_source(ds: Dataset, transfer_syntax: str | None = None) -> PixelSource:
    """The PixelSource of ``ds``. What it locates is kept on the data set (:class:`Located`) and used again
    while the Pixel Data element and the attributes that describe it stay the same."""
    cached = ds.__dict__.get("_pixel_source")
    if isinstance(cached, Located) and transfer_syntax is None and ds.get(cached.desc.pixel_tag) is cached.element:
        try:
            current = PixelDescription.from_dataset(ds)
        except PixelDataError:
            current = None
        if current == cached.desc:
            return PixelSource(ds, located=cached)
    source = PixelSource(ds, transfer_syntax)
    if transfer_syntax is None:
        ds.__dict__["_pixel_source"] = source.located
    return source


def _frame_shape(arr: NDArray[Any]) -> NDArray[Any]:
    """(..., rows, columns, 1) to (..., rows, columns); more samples keep their axis."""
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def pixel_array(ds: Dataset, *, frames: int | Iterable[int] | None = None, as_rgb: bool = True,
                threads: int | None = None) -> NDArray[Any]:
    """The frames of ``ds`` as one array, shaped as pydicom 3 shapes ``Dataset.pixel_array``.

    - Shape: (rows, columns) for one frame of one sample per pixel, (rows, columns, samples) for one frame
      of more; (frames, ...) in front for a multi-frame data set.
    - ``frames``: an index gives that frame alone (as :func:`frame`); a list of 0-based indices gives those
      frames, always with the frame axis; other frames are neither read nor decoded. Default: all.
    - ``as_rgb`` (default True): YCbCr samples (YBR_FULL, YBR_FULL_422, YBR_PARTIAL_422/420) are converted
      to RGB (PS3.3 C.7.6.3.1.2); with False they stay as stored (``photometric(ds, as_rgb=False)`` names
      them). YBR_ICT/YBR_RCT frames are RGB once decoded; PALETTE COLOR stays indices.
    - ``threads``: threads for decoding compressed frames (default: every core this process may use).
    """
    return _pixel_array(pixel_source(ds), frames, as_rgb, thread_count(threads))


def _pixel_array(source: PixelSource, frames: int | Iterable[int] | None, as_rgb: bool,
                 threads: int) -> NDArray[Any]:
    if isinstance(frames, int | np.integer):
        return _frame_shape(source.decode(int(frames), threads=threads, rgb=as_rgb))
    indices = range(source.number_of_frames) if frames is None else list(frames)
    arr = _frame_shape(source.decode_many(indices, threads=threads, rgb=as_rgb))
    if frames is None and source.number_of_frames == 1:
        single: NDArray[Any] = arr[0]
        return single
    return arr


def cached_pixel_array(ds: Dataset) -> NDArray[Any]:
    """``ds.pixel_array``: :func:`pixel_array` with its defaults, kept on the data set and returned again
    until Pixel Data or an attribute that describes it changes (as pydicom keeps it, so that changing the
    array in place and reading it again works). :func:`pixel_array` always decodes a new array."""
    source = pixel_source(ds)
    cached = ds.__dict__.get("_pixel_array")
    if cached is not None and cached[0] is source.located:
        return cached[1]  # type: ignore[no-any-return]
    arr = _pixel_array(source, None, True, default_threads())
    ds.__dict__["_pixel_array"] = (source.located, arr)  # no reference back to ds: no cycle keeps it
    return arr


def frame(ds: Dataset, index: int, *, as_rgb: bool = True, threads: int | None = None) -> NDArray[Any]:
    """Frame ``index`` (0-based; negative counts from the end), decoded alone: (rows, columns) for one
    sample per pixel, (rows, columns, samples) for more; ``as_rgb`` and ``threads`` as for :func:`pixel_array`."""
    source = pixel_source(ds)
    return _frame_shape(source.decode(index, threads=thread_count(threads), rgb=as_rgb))


def iter_frames(ds: Dataset, *, as_rgb: bool = True, threads: int | None = None) -> Iterator[NDArray[Any]]:
    """Each frame in turn, shaped as by :func:`frame`; memory stays at one frame."""
    source = pixel_source(ds)
    n = thread_count(threads)
    for i in range(source.number_of_frames):
        yield _frame_shape(source.decode(i, threads=n, rgb=as_rgb))


def describe(ds: Dataset) -> PixelDescription:
    return pixel_source(ds).desc


def photometric(ds: Dataset, *, as_rgb: bool = True) -> str:
    """The photometric interpretation of the arrays :func:`pixel_array` returns with the same ``as_rgb``."""
    pi = pixel_source(ds).photometric
    return "RGB" if as_rgb and pi in YCBCR else pi
