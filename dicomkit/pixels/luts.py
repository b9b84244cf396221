"""Grayscale transformations (PS3.3 C.11, PS3.4 N): Modality LUT, VOI LUT and Presentation LUT.

- :func:`apply_modality_lut`: stored values to modality values (Rescale Slope/Intercept or the Modality
  LUT Sequence, C.11.1).
- :func:`apply_voi_lut`: modality values to values of interest, as floats in 0..1 (window with the LINEAR,
  LINEAR_EXACT or SIGMOID function of C.11.2.1.2, or the VOI LUT Sequence, C.11.2.1.1).
- :func:`apply_presentation_lut`: 0..1 values to presentation values (IDENTITY / INVERSE, or a
  Presentation LUT Sequence, C.11.6); MONOCHROME1 is inverted (C.7.6.3.1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.dataset import Dataset
from ..core.errors import PixelDataError
from .photometric import lut_data, lut_descriptor

_LUT_DESCRIPTOR = 0x00283002
_LUT_DATA = 0x00283006


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple | list) else value


def _number(value: Any, name: str) -> float:
    try:
        return float(_first(value))
    except (TypeError, ValueError):
        raise PixelDataError(f"{name} has the value {value!r}, not a number") from None


def _lut_item(item: Dataset) -> tuple[NDArray[Any], int, int]:
    entries, first, bits = lut_descriptor(item, _LUT_DESCRIPTOR)
    return lut_data(item, _LUT_DATA, entries, bits), first, bits


def _apply_table(arr: NDArray[Any], table: NDArray[Any], first: int) -> NDArray[Any]:
    idx = np.clip(np.rint(arr).astype(np.int64) - first if arr.dtype.kind == "f" else arr.astype(np.int64) - first,
                  0, len(table) - 1)
    return table[idx]


# ---------------------------------------------------------------------------------------------------
# Modality LUT


def apply_modality_lut(arr: NDArray[Any], ds: Dataset) -> NDArray[Any]:
    """Stored values to modality values (e.g. Hounsfield units).

    Rescale Slope and Intercept give float64 (int32/int64 when both are whole numbers); a Modality LUT
    Sequence gives its table values. Data sets with neither are returned unchanged.
    """
    seq = ds.get("ModalityLUTSequence")
    if seq:
        table, first, _bits = _lut_item(seq[0])
        return _apply_table(arr, table, first)
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    if slope is None and intercept is None:
        return arr
    m = _number(slope, "Rescale Slope") if slope not in (None, "") else 1.0
    b = _number(intercept, "Rescale Intercept") if intercept not in (None, "") else 0.0
    if m.is_integer() and b.is_integer() and arr.dtype.kind in "iu":
        wide = np.int64 if arr.dtype.itemsize >= 4 else np.int32
        out: NDArray[Any] = arr.astype(wide)
        if m != 1:
            out = out * int(m)
        if b:
            out = out + int(b)
        return out
    return arr * m + b


# ---------------------------------------------------------------------------------------------------
# VOI LUT


@dataclass(frozen=True)
class Window:
    """A VOI window (PS3.3 C.11.2.1.2): centre, width and function (LINEAR, LINEAR_EXACT, SIGMOID)."""

    center: float
    width: float
    function: str = "LINEAR"

    def __post_init__(self) -> None:
        if self.function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            raise PixelDataError(f"VOI LUT Function {self.function!r} is not LINEAR, LINEAR_EXACT or SIGMOID")
        if self.function == "LINEAR" and self.width < 1:
            raise PixelDataError(f"Window Width {self.width} must be at least 1 for LINEAR (C.11.2.1.2.1)")
        if self.width <= 0:
            raise PixelDataError(f"Window Width {self.width} must be greater than 0")


def window_from_dataset(ds: Dataset, index: int = 0) -> Window | None:
    """The ``index``-th window of Window Center/Width with the data set's VOI LUT Function, if any."""
    centers, widths = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centers in (None, "") or widths in (None, ""):
        return None
    cs = centers if isinstance(centers, tuple) else (centers,)
    ws = widths if isinstance(widths, tuple) else (widths,)
    if not 0 <= index < min(len(cs), len(ws)):
        raise PixelDataError(f"VOI {index} requested; the data set has {min(len(cs), len(ws))} window(s) (0-based)")
    function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
    return Window(_number(cs[index], "Window Center"), _number(ws[index], "Window Width"), function)


def voi_count(ds: Dataset) -> int:
    """How many VOI transformations the data set offers to choose from by index: its windows (Window
    Center/Width pairs) if it has any, else the items of its VOI LUT Sequence (PS3.3 C.11.2)."""
    centers, widths = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centers not in (None, "") and widths not in (None, ""):
        return min(len(centers) if isinstance(centers, tuple) else 1, len(widths) if isinstance(widths, tuple) else 1)
    return len(ds.get("VOILUTSequence") or ())


def apply_window(arr: NDArray[Any], window: Window) -> NDArray[np.float64]:
    """Values to 0..1 by a window (PS3.3 C.11.2.1.2.1 LINEAR, .2 LINEAR_EXACT, C.11.2.1.3.1 SIGMOID)."""
    x = arr.astype(np.float64)
    c, w = window.center, window.width
    if window.function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    if window.function == "LINEAR_EXACT":
        y = (x - c) / w + 0.5
    else:
        y = (x - (c - 0.5)) / (w - 1) + 0.5 if w > 1 else np.where(x > c - 0.5, 1.0, 0.0)
    return np.clip(y, 0.0, 1.0)


def apply_voi_lut(arr: NDArray[Any], ds: Dataset, *, index: int = 0, window: Window | None = None,
                  prefer_window: bool = True) -> NDArray[np.float64]:
    """Modality values to 0..1 through the VOI transformation.

    ``window`` overrides the data set. Otherwise the data set's window (index ``index``) is used, or its
    VOI LUT Sequence (the window first when both exist and ``prefer_window``). With neither, the range
    of ``arr`` itself is used (what viewers do for a data set without VOI).
    """
    if window is not None:
        return apply_window(arr, window)
    seq = ds.get("VOILUTSequence")
    ds_window = window_from_dataset(ds, index)
    if ds_window is not None and (prefer_window or not seq):
        return apply_window(arr, ds_window)
    if seq:
        if not 0 <= index < len(seq):
            raise PixelDataError(f"VOI {index} requested; the data set has {len(seq)} VOI LUT(s) (0-based)")
        table, first, bits = _lut_item(seq[index])
        values = _apply_table(arr, table, first).astype(np.float64)
        top = float((1 << bits) - 1) if bits else float(table.max(initial=1))
        return np.clip(values / top, 0.0, 1.0)
    if index != 0:
        raise PixelDataError(f"VOI {index} requested; the data set has no window and no VOI LUT")
    lo = float(arr.min(initial=0)) if arr.size else 0.0
    hi = float(arr.max(initial=0)) if arr.size else 0.0
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.float64)
    return (arr.astype(np.float64) - lo) / (hi - lo)


# ---------------------------------------------------------------------------------------------------
# Presentation LUT


def apply_presentation_lut(values: NDArray[np.float64], ds: Dataset) -> NDArray[np.float64]:
    """0..1 values to 0..1 presentation values (P-Values scaled to 0..1)."""
    seq = ds.get("PresentationLUTSequence")
    if seq:
        table, _first, bits = _lut_item(seq[0])
        idx = np.clip(np.rint(values * (len(table) - 1)).astype(np.int64), 0, len(table) - 1)
        top = float((1 << bits) - 1)
        return table[idx].astype(np.float64) / top
    shape = str(ds.get("PresentationLUTShape") or "").strip().upper()
    photometric = str(ds.get("PhotometricInterpretation") or "").strip()
    inverse = shape == "INVERSE" or (not shape and photometric == "MONOCHROME1")
    return 1.0 - values if inverse else values
