"""Pixel data: frames as numpy arrays from every image transfer syntax, LUTs, rendering and encoding.

Needs numpy (``pip install 'dicomkit[pixels]'``); compressed transfer syntaxes need the codec library
(``pip install 'dicomkit[codecs]'``).

>>> ds = dicomkit.read("ct.dcm")
>>> ds.pixel_array().shape          # (frames, rows, columns, samples)
>>> ds.frame(0, as_rgb=True)        # one frame, decoded alone
"""

from ._deps import require_numpy

require_numpy()

from .codecs import CODECS, EncodeOptions, codec_for  # noqa: E402
from .description import PixelDescription, decoded_photometric  # noqa: E402
from .encode import compress, decompress, set_pixel_data, transcode  # noqa: E402
from .frames import PixelSource, describe, frame, iter_frames, photometric, pixel_array, pixel_source  # noqa: E402
from .luts import Window, apply_modality_lut, apply_presentation_lut, apply_voi_lut, apply_window  # noqa: E402
from .overlays import overlay_array, overlay_groups, overlay_info  # noqa: E402
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
    "codec_for",
    "compress",
    "decoded_photometric",
    "decompress",
    "describe",
    "frame",
    "iter_frames",
    "overlay_array",
    "overlay_groups",
    "overlay_info",
    "photometric",
    "pixel_array",
    "pixel_source",
    "render",
    "render_png",
    "set_pixel_data",
    "to_rgb",
    "transcode",
]
