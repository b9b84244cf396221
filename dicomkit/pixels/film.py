"""Films as a printer lays them out (PS3.4 H, PS3.3 C.13): print images to display values, boxes onto a film.

:func:`print_image` turns the pixels of a Basic Grayscale or Color Image Box (its Preformatted Image Sequence,
PS3.3 C.13.5: P-values for grayscale, RGB for colour) into 8-bit values to put on paper: MONOCHROME1 and
REVERSE polarity inverted, a Presentation LUT (its table, or the Presentation LUT Shape LIN OD: the values are
linear in optical density between Min and Max Density) applied. :func:`compose_film` places the images into
their boxes on a film of the border density: each scaled to fit its box (REPLICATE: nearest neighbour;
BILINEAR and CUBIC: :func:`~dicomkit.pixels.render.resize`; NONE: at its own size, cropped to the box),
centred, empty boxes filled with the empty-image density, trim drawn as a line around each image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.errors import PixelDataError
from .render import fit, render, resize


def print_pixels(ds: Dataset, *, frame: int = 0, color: bool = False,
                 max_size: int | None = None) -> tuple[int, int, bytes]:
    """(rows, columns, Pixel Data) of a frame to print (PS3.4 H.4.3): as :func:`~dicomkit.pixels.render.render`
    shows it, 8 bits, grayscale (luma of a colour image) or, ``color``, RGB colour-by-plane; larger than
    ``max_size`` it is shrunk to fit."""
    image = render(ds, frame)
    if max_size is not None and max(image.shape[:2]) > max_size:
        image = fit(image, (max_size, max_size))
    if color and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif not color and image.ndim == 3:
        image = _luma(image)
    planes = image.transpose(2, 0, 1) if color else image
    return int(image.shape[0]), int(image.shape[1]), np.ascontiguousarray(planes).tobytes()


def _luma(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """ITU-R BT.601 luma of an RGB image."""
    out: NDArray[np.uint8] = np.rint(image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return out


def print_image(data: bytes, rows: int, columns: int, *, samples: int = 1, bits_allocated: int = 8,
                bits_stored: int = 8, photometric: str = "MONOCHROME2", planar_configuration: int = 1,
                polarity: str = "NORMAL", lut: Sequence[int] | None = None, lut_bits: int = 8,
                lin_od: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """The 8-bit image of a print Image Box's pixels (see the module documentation). ``lut``: a Presentation
    LUT's data (first input value 0, ``lut_bits`` output bits); ``lin_od``: (Min, Max Density) for LIN OD."""
    dtype = np.uint8 if bits_allocated == 8 else np.dtype("<u2")
    expected = rows * columns * samples * (bits_allocated // 8)
    if bits_allocated not in (8, 16) or len(data) < expected:
        raise PixelDataError(f"print image: {len(data)} bytes of Pixel Data for {rows}x{columns}x{samples} at "
                             f"{bits_allocated} bits allocated (expected {expected})")
    flat = np.frombuffer(data, dtype=dtype, count=rows * columns * samples)
    top = float((1 << bits_stored) - 1)
    if samples == 3:
        if planar_configuration == 1:
            image = flat.reshape(3, rows, columns).transpose(1, 2, 0)
        else:
            image = flat.reshape(rows, columns, 3)
        values = np.clip(image.astype(np.float64) / top, 0.0, 1.0)
    else:
        raw = flat.reshape(rows, columns).astype(np.int64) & int(top)
        if lut is not None and len(lut):
            table = np.asarray(lut, dtype=np.float64) / float((1 << lut_bits) - 1)
            values = table[np.clip(raw, 0, len(table) - 1)]
        else:
            values = raw.astype(np.float64) / top
        if photometric == "MONOCHROME1":
            values = 1.0 - values
        if lin_od is not None:  # LIN OD: values linear in optical density, Max Density for P = 0
            low, high = lin_od
            density = (high - (high - low) * values) / 100.0
            values = 10.0 ** (-(density - low / 100.0))
    if polarity == "REVERSE":
        values = 1.0 - values
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


@dataclass
class PlacedImage:
    """One box of a film in pixels (x, y, width, height) with its image (None: empty) and magnification;
    ``size``: the image's width in film pixels when Requested Image Size asks for one."""

    x: int
    y: int
    width: int
    height: int
    image: NDArray[np.uint8] | None
    magnification: str = "BILINEAR"
    size: int | None = None
    aspect: float = 1.0  # Pixel Aspect Ratio: row spacing / column spacing
    crop: bool = False  # Requested Decimate/Crop Behavior CROP: a requested size larger than the box is cropped


def _nearest(image: NDArray[np.uint8], rows: int, columns: int) -> NDArray[np.uint8]:
    r = (np.arange(rows) * image.shape[0]) // rows
    c = (np.arange(columns) * image.shape[1]) // columns
    out: NDArray[np.uint8] = image[r][:, c]
    return out


def fitted(box: PlacedImage) -> NDArray[np.uint8]:
    """The image of ``box`` scaled (and cropped) to fit it, aspect ratio kept."""
    assert box.image is not None
    image = box.image
    rows, columns = image.shape[:2]
    if box.magnification == "NONE" and box.size is None:
        out_rows, out_columns = rows, round(columns / box.aspect) if box.aspect != 1 else columns
    else:
        shown_rows = rows * box.aspect
        scale = min(box.width / columns, box.height / shown_rows)
        if box.size is not None:  # Requested Image Size; larger than the box it is decimated unless cropped
            scale = box.size / columns if box.crop else min(scale, box.size / columns)
        out_rows, out_columns = max(1, round(shown_rows * scale)), max(1, round(columns * scale))
    if (out_rows, out_columns) != (rows, columns):
        image = _nearest(image, out_rows, out_columns) if box.magnification == "REPLICATE" else \
            resize(image, out_rows, out_columns)
    top = max(0, (image.shape[0] - box.height) // 2)
    left = max(0, (image.shape[1] - box.width) // 2)
    return image[top:top + box.height, left:left + box.width]


def compose_film(width: int, height: int, boxes: Sequence[PlacedImage], *, border: int = 0, empty: int = 0,
                 color: bool = False, trim: bool = False) -> NDArray[np.uint8]:
    """A film of ``width`` x ``height`` pixels with ``boxes`` placed on it (see the module documentation)."""
    if width < 1 or height < 1 or width * height > 100_000_000:
        raise PixelDataError(f"a film of {width}x{height} pixels is not possible")
    shape: tuple[int, ...] = (height, width, 3) if color else (height, width)
    film = np.full(shape, border, dtype=np.uint8)
    for box in boxes:
        if box.image is None:
            film[box.y:box.y + box.height, box.x:box.x + box.width] = empty
            continue
        image = fitted(box)
        if color and image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        elif not color and image.ndim == 3:  # colour images on a grayscale film
            image = _luma(image)
        top = box.y + (box.height - image.shape[0]) // 2
        left = box.x + (box.width - image.shape[1]) // 2
        film[top:top + image.shape[0], left:left + image.shape[1]] = image
        if trim:  # PS3.3 C.13.3 Trim: a line around the image
            bottom, right = top + image.shape[0] - 1, left + image.shape[1] - 1
            line = 255 - border
            film[top, left:right + 1] = line
            film[bottom, left:right + 1] = line
            film[top:bottom + 1, left] = line
            film[top:bottom + 1, right] = line
    return film


__all__ = ["PlacedImage", "compose_film", "fitted", "print_image", "print_pixels"]
