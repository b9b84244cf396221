"""Contours to masks and masks to contours, on the pixel grid of an image series.

Rasterising fills each closed planar contour on its slice by the even-odd rule at the pixel centres, so holes
drawn as inner contours (PS3.3 C.8.8.6.3) are cut out. Masks become contours along the pixel edges, so that
rasterising them again gives back the same mask exactly.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .geometry import GeometryError, ImageSeries
from .structure_set import ROI, Contour


def fill_polygon(polygon: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Pixels whose centre lies inside ``polygon`` ((N, 2) column, row indices), even-odd rule."""
    mask = np.zeros((rows, columns), dtype=bool)
    if len(polygon) < 3:
        return mask
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    lo = max(int(np.floor(y0.min())), 0)
    hi = min(int(np.ceil(y0.max())), rows - 1)
    centres = np.arange(columns, dtype=float)
    for r in range(lo, hi + 1):
        y = float(r)
        crosses = (y0 <= y) != (y1 <= y)  # half-open rule: each vertex counted once
        if not crosses.any():
            continue
        xs = x0[crosses] + (y - y0[crosses]) * (x1[crosses] - x0[crosses]) / (y1[crosses] - y0[crosses])
        # a pixel centre is inside when an odd number of crossings lie to its left
        inside = (np.searchsorted(np.sort(xs), centres, side="right") & 1).astype(bool)
        mask[r] = inside
    return mask


def rasterize(roi: ROI, series: ImageSeries) -> np.ndarray:
    """A (slices, rows, columns) boolean mask of ``roi`` on the images of ``series`` (sorted as its planes).

    Each contour goes to the image it names in its Contour Image Sequence, else to the slice it lies on
    (within half the slice spacing). Contours on one slice combine by the even-odd rule. Points and open
    contours mark no area and are left out.
    """
    n, rows, columns = series.shape
    out = np.zeros((n, rows, columns), dtype=bool)
    for i, contour in enumerate(roi.contours, 1):
        if contour.geometric_type not in ("CLOSED_PLANAR", ""):
            continue
        index = None
        for uid in contour.image_uids:
            index = series.index_of(uid)
            if index is not None:
                break
        if index is None:
            index = series.nearest(contour.points)
        if index is None:
            raise GeometryError(f"ROI {roi.number} ({roi.name}), contour {i}: lies on none of the series' slices")
        plane = series.planes[index]
        out[index] ^= fill_polygon(plane.to_pixels(contour.points), rows, columns)
    return out


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """The boundary of a 2-D mask as closed polygons along pixel edges ((N, 2) column, row corner positions,
    corners at half-pixel offsets); outer boundaries and holes alike, so the even-odd rule rebuilds the mask."""
    m = np.pad(np.asarray(mask, dtype=bool), 1)
    # directed boundary edges with the inside on the left, between pixel corners (x, y) of the padded grid
    edges: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    inside = m[1:-1, 1:-1]
    rr, cc = np.nonzero(inside & ~m[:-2, 1:-1])  # top edge: from right to left... kept counter-clockwise
    for r, c in zip(rr.tolist(), cc.tolist()):
        edges[(c + 1, r)].append((c, r))
    rr, cc = np.nonzero(inside & ~m[2:, 1:-1])  # bottom edge
    for r, c in zip(rr.tolist(), cc.tolist()):
        edges[(c, r + 1)].append((c + 1, r + 1))
    rr, cc = np.nonzero(inside & ~m[1:-1, :-2])  # left edge
    for r, c in zip(rr.tolist(), cc.tolist()):
        edges[(c, r)].append((c, r + 1))
    rr, cc = np.nonzero(inside & ~m[1:-1, 2:])  # right edge
    for r, c in zip(rr.tolist(), cc.tolist()):
        edges[(c + 1, r + 1)].append((c + 1, r))
    polygons = []
    while edges:
        start = next(iter(edges))
        loop = [start]
        point = start
        while True:
            targets = edges[point]
            nxt = targets.pop()
            if not targets:
                del edges[point]
            if nxt == start:
                break
            loop.append(nxt)
            point = nxt
        polygons.append(_simplify(np.array(loop, dtype=float) - 0.5))
    return polygons


def _simplify(loop: np.ndarray) -> np.ndarray:
    """Drop the vertices in the middle of straight runs."""
    prev = np.roll(loop, 1, axis=0)
    nxt = np.roll(loop, -1, axis=0)
    cross = (loop[:, 0] - prev[:, 0]) * (nxt[:, 1] - loop[:, 1]) - (loop[:, 1] - prev[:, 1]) * (nxt[:, 0] - loop[:, 0])
    keep = cross != 0
    return loop[keep] if keep.any() else loop


def mask_contours(mask: np.ndarray, series: ImageSeries) -> list[Contour]:
    """Contours (patient coordinates, with their image) of a (slices, rows, columns) mask on ``series``."""
    masks = np.asarray(mask, dtype=bool)
    if masks.shape != series.shape:
        raise GeometryError(f"mask shape {masks.shape} is not the series' {series.shape} (slices, rows, columns)")
    out = []
    for index, plane in enumerate(series.planes):
        if not masks[index].any():
            continue
        for polygon in mask_polygons(masks[index]):
            out.append(Contour(plane.to_patient(polygon), "CLOSED_PLANAR", (plane.sop_instance_uid,)))
    return out


__all__ = ["fill_polygon", "mask_contours", "mask_polygons", "rasterize"]
