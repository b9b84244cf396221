"""What a viewer shows (PS3.4 N.2 grayscale pipeline): Modality LUT, VOI LUT, Presentation LUT, to 8 bits.

The same function serves ``dicomkit render`` and the server's rendered and thumbnail resources.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.errors import PixelDataError
from ._deps import imagecodecs
from .description import YCBCR
from .frames import pixel_source, thread_count
from .luts import Window, apply_modality_lut, apply_presentation_lut, apply_voi_lut
from .overlays import overlay_groups, overlay_on_frame
from .photometric import to_rgb
from .png import encode_png


def render(ds: Dataset, frame: int = 0, *, window: Window | tuple[float, float] | None = None,
           voi_index: int = 0, size: tuple[int, int] | None = None, overlays: bool | Iterable[int] = False,
           threads: int | None = None) -> NDArray[np.uint8]:
    """Frame ``frame`` as 8-bit display values: (rows, columns) grayscale or (rows, columns, 3) RGB.

    ``window``: a :class:`Window` or ``(center, width)`` overriding the data set's VOI; ``voi_index``
    picks among several windows (or VOI LUTs; out of range raises PixelDataError). ``overlays``: True
    draws every overlay plane that applies to the frame (PS3.3 C.9.2, C.9.3), or give the groups
    (0x6000, ...); overlay pixels are drawn white (the highest presentation value). ``size=(width,
    height)`` scales to fit inside that box, keeping the aspect ratio (area averaging when shrinking,
    bilinear when enlarging). ``threads``: for decoding, as :func:`~dicomkit.pixels.pixel_array`.
    """
    source = pixel_source(ds)
    arr = source.decode(frame, threads=thread_count(threads), rgb=True)  # YCbCr comes back RGB
    pi = "RGB" if source.photometric in YCBCR else source.photometric
    if pi.startswith("MONOCHROME"):
        if isinstance(window, tuple):
            window = Window(float(window[0]), float(window[1]))
        values = apply_modality_lut(arr[:, :, 0], ds)
        voi = apply_voi_lut(values, ds, index=voi_index, window=window)
        shown = apply_presentation_lut(voi, ds)
        image = np.rint(shown * 255.0).astype(np.uint8)
    else:
        if voi_index != 0:
            raise PixelDataError(f"VOI {voi_index} requested; VOI transformations apply to grayscale images, "
                                 f"not {source.desc.photometric_interpretation}")
        rgb = to_rgb(arr, pi, ds, bits_stored=source.desc.bits_stored)
        if rgb.dtype == np.uint8:
            image = rgb
        else:
            bits = 16 if pi == "PALETTE COLOR" else source.desc.bits_stored
            top = float((1 << bits) - 1)
            image = np.rint(np.clip(rgb.astype(np.float64), 0, top) * (255.0 / top)).astype(np.uint8)
    if overlays is not False:
        groups = overlay_groups(ds) if overlays is True else list(overlays)
        index = source.check_index(frame)
        for group in groups:
            mask = overlay_on_frame(ds, group, index)
            if mask is not None:
                image[mask] = 255
    if size is not None:
        image = fit(image, size)
    return image


def fit(image: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Scale to fit inside ``size`` = (width, height), keeping the aspect ratio."""
    width, height = size
    if width < 1 or height < 1:
        raise PixelDataError(f"size must be at least 1x1, not {width}x{height}")
    rows, columns = image.shape[:2]
    scale = min(width / columns, height / rows)
    out_rows = max(1, round(rows * scale))
    out_columns = max(1, round(columns * scale))
    return resize(image, out_rows, out_columns)


def _axis_resize(a: NDArray[np.float64], axis: int, n_out: int) -> NDArray[np.float64]:
    n_in = a.shape[axis]
    if n_out == n_in:
        return a
    if n_out < n_in:
        # area averaging over the source pixels that fall into each output pixel
        edges = (np.arange(n_out) * n_in) // n_out
        sums = np.add.reduceat(a, edges, axis=axis)
        counts = np.diff(np.append(edges, n_in)).astype(np.float64)
        shape = [1] * a.ndim
        shape[axis] = n_out
        return sums / counts.reshape(shape)
    # bilinear, pixel centres aligned
    pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    shape = [1] * a.ndim
    shape[axis] = n_out
    frac = frac.reshape(shape)
    out: NDArray[np.float64] = np.take(a, lo, axis=axis) * (1 - frac) + np.take(a, hi, axis=axis) * frac
    return out


def resize(image: NDArray[np.uint8], rows: int, columns: int) -> NDArray[np.uint8]:
    work = image.astype(np.float64)
    work = _axis_resize(work, 0, rows)
    work = _axis_resize(work, 1, columns)
    return np.clip(np.rint(work), 0, 255).astype(np.uint8)


def encode_image(image: NDArray[np.uint8], fmt: Literal["png", "jpeg"] = "png", *, quality: int = 90) -> bytes:
    """PNG (written here with zlib) or JPEG (needs the codecs extra) bytes of an 8-bit image."""
    if fmt == "png":
        return encode_png(image)
    if fmt == "jpeg":
        ic = imagecodecs("JPEG output")
        arr = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
        return bytes(ic.jpeg8_encode(np.ascontiguousarray(arr), level=quality))
    raise PixelDataError(f"unknown image format {fmt!r} (png or jpeg)")


def render_png(ds: Dataset, frame: int = 0, **options: Any) -> bytes:
    """PNG bytes of :func:`render` (same options)."""
    return encode_png(render(ds, frame, **options))
