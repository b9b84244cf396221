"""RT Structure Sets (PS3.3 A.19; C.8.8.5 Structure Set, C.8.8.6 ROI Contour, C.8.8.8 RT ROI Observations):
ROIs and their contours in patient coordinates, and what images they were drawn on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.dataset import Dataset
from ..core.errors import InvalidValueError
from .geometry import as_points

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


class StructureSetError(InvalidValueError):
    """An RT Structure Set that cannot be read or built; names the ROI or contour."""


@dataclass
class Contour:
    """One contour (PS3.3 C.8.8.6.1): its geometric type, points (N, 3) in patient mm, and the images it was
    drawn on (Contour Image Sequence)."""

    points: np.ndarray
    geometric_type: str = "CLOSED_PLANAR"  # POINT, OPEN_PLANAR, OPEN_NONPLANAR, CLOSED_PLANAR
    image_uids: tuple[str, ...] = ()
    number: int | None = None


@dataclass
class ROI:
    """A region of interest with its contours, display colour and interpreted type (PS3.3 C.8.8.8)."""

    number: int
    name: str
    frame_of_reference_uid: str
    contours: list[Contour] = field(default_factory=list)
    color: tuple[int, int, int] | None = None
    generation_algorithm: str = ""
    interpreted_type: str = ""
    description: str = ""


@dataclass
class StructureSet:
    """The ROIs of an RT Structure Set and the images (by SOP Instance UID, per series) they refer to."""

    label: str
    rois: list[ROI]
    frame_of_reference_uid: str = ""
    referenced_series: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # series -> (class, inst)
    name: str = ""
    dataset: Dataset | None = None

    def roi(self, name_or_number: str | int) -> ROI:
        for roi in self.rois:
            if roi.name == name_or_number or roi.number == name_or_number:
                return roi
        raise KeyError(f"no ROI {name_or_number!r} in structure set {self.label!r}: "
                       f"{', '.join(r.name for r in self.rois)}")

    @property
    def roi_names(self) -> list[str]:
        return [r.name for r in self.rois]

    @classmethod
    def read(cls, path: str | Path) -> StructureSet:
        from ..io.reader import read

        return cls.from_dataset(read(path))

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StructureSet:
        if str(ds.get("SOPClassUID", "")) != RT_STRUCTURE_SET_STORAGE and "StructureSetROISequence" not in ds:
            raise StructureSetError("not an RT Structure Set (no Structure Set ROI Sequence (3006,0020))")
        try:
            return cls._from_dataset(ds)
        except StructureSetError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            # values that are not what their VR says (a DS that is no number, an item that is no data set)
            raise StructureSetError(f"malformed RT Structure Set: {exc}") from None

    @classmethod
    def _from_dataset(cls, ds: Dataset) -> StructureSet:
        rois: dict[int, ROI] = {}
        for item in ds.get("StructureSetROISequence") or ():
            number = int(item.get("ROINumber", 0) or 0)
            rois[number] = ROI(number, str(item.get("ROIName", "") or ""),
                               str(item.get("ReferencedFrameOfReferenceUID", "") or ""),
                               generation_algorithm=str(item.get("ROIGenerationAlgorithm", "") or ""),
                               description=str(item.get("ROIDescription", "") or ""))
        for item in ds.get("ROIContourSequence") or ():
            number = int(item.get("ReferencedROINumber", 0) or 0)
            roi = rois.get(number)
            if roi is None:
                raise StructureSetError(f"ROI Contour Sequence refers to ROI {number}, which the Structure Set ROI "
                                        "Sequence does not define")
            color = item.get("ROIDisplayColor")
            if color:
                roi.color = (int(color[0]), int(color[1]), int(color[2]))
            for i, c in enumerate(item.get("ContourSequence") or (), 1):
                try:
                    points = as_points(c.get("ContourData") or ())
                except ValueError as exc:
                    raise StructureSetError(f"ROI {number} ({roi.name}), contour {i}: {exc}") from None
                expected = c.get("NumberOfContourPoints")
                if expected is not None and int(expected) != len(points):
                    raise StructureSetError(f"ROI {number} ({roi.name}), contour {i}: Number of Contour Points "
                                            f"{int(expected)} but {len(points)} points")
                uids = tuple(str(r.get("ReferencedSOPInstanceUID", "")) for r in c.get("ContourImageSequence") or ())
                roi.contours.append(Contour(points, str(c.get("ContourGeometricType", "") or ""), uids,
                                            int(c["ContourNumber"].value) if "ContourNumber" in c
                                            and c["ContourNumber"].value is not None else None))
        for item in ds.get("RTROIObservationsSequence") or ():
            roi = rois.get(int(item.get("ReferencedROINumber", 0) or 0))
            if roi is not None:
                roi.interpreted_type = str(item.get("RTROIInterpretedType", "") or "")
        frame = ""
        series: dict[str, list[tuple[str, str]]] = {}
        for f in ds.get("ReferencedFrameOfReferenceSequence") or ():
            frame = frame or str(f.get("FrameOfReferenceUID", "") or "")
            for st in f.get("RTReferencedStudySequence") or ():
                for se in st.get("RTReferencedSeriesSequence") or ():
                    images = series.setdefault(str(se.get("SeriesInstanceUID", "")), [])
                    images += [(str(r.get("ReferencedSOPClassUID", "")), str(r.get("ReferencedSOPInstanceUID", "")))
                               for r in se.get("ContourImageSequence") or ()]
        return cls(str(ds.get("StructureSetLabel", "") or ""), list(rois.values()), frame, series,
                   str(ds.get("StructureSetName", "") or ""), ds)


__all__ = ["ROI", "RT_STRUCTURE_SET_STORAGE", "Contour", "StructureSet", "StructureSetError"]
