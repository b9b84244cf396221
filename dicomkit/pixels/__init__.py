"""Pixel data: frames as numpy arrays from every image transfer syntax, LUTs, rendering and encoding.

Needs numpy (``pip install 'dicomkit[pixels]'``); compressed transfer syntaxes need the codec library
(``pip install 'dicomkit[codecs]'``).

>>> ds = dicomkit.read("ct.dcm")
>>> ds.pixel_array.shape            # (rows, columns); (frames, rows, columns[, samples]) for several
>>> ds.frame(0)                     # one frame, decoded alone
>>> pixels.pixel_array(ds, frames=[3, 7], as_rgb=False, threads=1)
"""

from ._deps import require_numpy

require_numpy()

from .codecs import CODECS, EncodeOptions, codec_for  # noqa: E402
from .description import PixelDescription, decoded_photometric  # noqa: E402
from .encode import compress, decompress, set_pixel_data, transcode  # noqa: E402
from .frames import (  # noqa: E402
    PixelSource,
    cached_pixel_array,
    default_threads,
    describe,
    frame,
    iter_frames,
    photometric,
    pixel_array,
    pixel_source,
)
from .luts import Window, apply_modality_lut, apply_presentation_lut, apply_voi_lut, apply_window, voi_count  # noqa: E402
from .overlays import overlay_array, overlay_groups, overlay_info, overlay_on_frame  # noqa: E402
from .photometric import apply_palette, to_rgb  # noqa: E402
from .render import render, render_png  # noqa: E402

__all__ = [
    "CODECS",
    "EncodeOptions",
    "PixelDescription",
    "PixelSource",
    "Window",
    "apply_modality_lut",
    "apply_palette",
    "apply_presentation_lut",
    "apply_voi_lut",
    "apply_window",
    "cached_pixel_array",
    "codec_for",
    "compress",
    "decoded_photometric",
    "decompress",
    "default_threads",
    "describe",
    "frame",
    "iter_frames",
    "overlay_array",
    "overlay_groups",
    "overlay_info",
    "overlay_on_frame",
    "photometric",
    "pixel_array",
    "pixel_source",
    "render",
    "render_png",
    "set_pixel_data",
    "to_rgb",
    "transcode",
    "voi_count",
]
