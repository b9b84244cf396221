"""The geometry of image slices (PS3.3 C.7.6.2 Image Plane Module): patient coordinates <-> pixel indices.

Image Orientation (Patient) gives the direction of increasing column index (row direction, first three values)
and of increasing row index (column direction, last three); Pixel Spacing is (row spacing, column spacing),
i.e. (between rows, between columns); Image Position (Patient) is the centre of the first pixel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.dataset import Dataset
from ..core.errors import InvalidValueError


class GeometryError(InvalidValueError):
    """Images without the geometry a structure set needs, or images that are not one series of parallel slices."""


@dataclass(frozen=True)
class ImagePlane:
    """One image of a series: where it lies in the patient and how its pixels are laid out."""

    sop_class_uid: str
    sop_instance_uid: str
    position: np.ndarray  # (3,) centre of the first pixel, mm
    row_direction: np.ndarray  # (3,) unit vector of increasing column index
    column_direction: np.ndarray  # (3,) unit vector of increasing row index
    spacing: tuple[float, float]  # (between rows, between columns), mm
    rows: int
    columns: int

    @classmethod
    def from_dataset(cls, ds: Dataset) -> ImagePlane:
        missing = [k for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns",
                               "SOPInstanceUID") if k not in ds]
        if missing:
            raise GeometryError(f"image {ds.get('SOPInstanceUID', '?')} lacks {', '.join(missing)} "
                                "(PS3.3 C.7.6.2 Image Plane Module)")
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=float)
        if orientation.shape != (6,):
            raise GeometryError("Image Orientation (Patient) has six values")
        spacing = tuple(float(v) for v in ds.PixelSpacing)
        if len(spacing) != 2 or min(spacing) <= 0:
            raise GeometryError(f"Pixel Spacing must be two positive numbers, not {spacing}")
        return cls(str(ds.get("SOPClassUID", "")), str(ds.SOPInstanceUID),
                   np.array([float(v) for v in ds.ImagePositionPatient], dtype=float),
                   orientation[:3], orientation[3:], (spacing[0], spacing[1]), int(ds.Rows), int(ds.Columns))

    @property
    def normal(self) -> np.ndarray:
        n: np.ndarray = np.cross(self.row_direction, self.column_direction)
        return n

    @property
    def location(self) -> float:
        """The distance of the plane along its normal (for sorting slices)."""
        return float(np.dot(self.position, self.normal))

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) patient coordinates -> (N, 2) continuous (column, row) indices in this plane."""
        d = np.asarray(points, dtype=float) - self.position
        return np.stack([d @ self.row_direction / self.spacing[1], d @ self.column_direction / self.spacing[0]], axis=1)

    def to_patient(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) (column, row) indices -> (N, 3) patient coordinates in mm."""
        p = np.asarray(pixels, dtype=float)
        out: np.ndarray = (self.position + np.outer(p[:, 0] * self.spacing[1], self.row_direction)
                           + np.outer(p[:, 1] * self.spacing[0], self.column_direction))
        return out

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distances of points from this plane, mm."""
        d: np.ndarray = (np.asarray(points, dtype=float) - self.position) @ self.normal
        return d


@dataclass(frozen=True)
class ImageSeries:
    """The images of one series sorted along their common normal: what masks and contours refer to."""

    planes: tuple[ImagePlane, ...]
    frame_of_reference_uid: str
    study_instance_uid: str
    series_instance_uid: str

    @classmethod
    def from_datasets(cls, datasets: Iterable[Dataset]) -> ImageSeries:
        items = list(datasets)
        if not items:
            raise GeometryError("no images")
        planes = [ImagePlane.from_dataset(ds) for ds in items]
        first = planes[0]
        for p in planes[1:]:
            if not (np.allclose(p.row_direction, first.row_direction, atol=1e-4)
                    and np.allclose(p.column_direction, first.column_direction, atol=1e-4)):
                raise GeometryError(f"image {p.sop_instance_uid} is not parallel to {first.sop_instance_uid}")
            if (p.rows, p.columns) != (first.rows, first.columns):
                raise GeometryError(f"image {p.sop_instance_uid} has another size than {first.sop_instance_uid}")
        frames = {str(ds.get("FrameOfReferenceUID", "")) for ds in items}
        if len(frames) != 1 or "" in frames:
            raise GeometryError("the images need one Frame of Reference UID (PS3.3 C.7.4.1)")
        order = sorted(range(len(planes)), key=lambda i: planes[i].location)
        ds0 = items[0]
        return cls(tuple(planes[i] for i in order), frames.pop(), str(ds0.get("StudyInstanceUID", "")),
                   str(ds0.get("SeriesInstanceUID", "")))

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.planes), self.planes[0].rows, self.planes[0].columns

    @property
    def slice_spacing(self) -> float:
        if len(self.planes) < 2:
            return 1.0
        locations = np.array([p.location for p in self.planes])
        return float(np.median(np.diff(locations)))

    def index_of(self, sop_instance_uid: str) -> int | None:
        for i, p in enumerate(self.planes):
            if p.sop_instance_uid == sop_instance_uid:
                return i
        return None

    def nearest(self, points: np.ndarray) -> int | None:
        """The slice a planar contour lies on: the nearest within half the slice spacing, else None."""
        centre = np.asarray(points, dtype=float).mean(axis=0)
        distances = [abs(float(p.distance(centre[None, :])[0])) for p in self.planes]
        best = int(np.argmin(distances))
        return best if distances[best] <= max(self.slice_spacing / 2, 1e-3) + 1e-6 else None

    def voxel_volume(self) -> float:
        """mm³ of one voxel (pixel area times slice spacing)."""
        p = self.planes[0]
        return p.spacing[0] * p.spacing[1] * abs(self.slice_spacing)


def as_points(data: Sequence[Any]) -> np.ndarray:
    """Contour Data (x1, y1, z1, x2, ...) as an (N, 3) array."""
    arr = np.asarray([float(v) for v in data], dtype=float)
    if arr.size % 3:
        raise InvalidValueError(f"Contour Data has {arr.size} values, not a multiple of 3 (PS3.3 C.8.8.6.1)")
    return arr.reshape(-1, 3)


__all__ = ["GeometryError", "ImagePlane", "ImageSeries", "as_points"]
