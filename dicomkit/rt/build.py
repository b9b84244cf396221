"""Building an RT Structure Set for an image series (PS3.3 A.19.3): from masks or from polygons."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.dataset import Dataset
from ..core.sequence import Sequence as DicomSequence
from ..core.uid import generate_uid
from .geometry import GeometryError, ImageSeries
from .raster import mask_contours
from .structure_set import RT_STRUCTURE_SET_STORAGE, Contour, StructureSetError

# PS3.3 C.8.8.5: the study is referenced with the (retired) Study Component Management SOP Class UID
STUDY_REFERENCE_CLASS = "1.2.840.10008.3.1.2.3.1"
_PATIENT_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                  "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
                  "StudyDescription")
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber")
_COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 128, 0))


@dataclass
class ROISpec:
    """What to put in the structure set for one ROI: a name and either a (slices, rows, columns) mask on the
    series or polygons ((N, 3) patient coordinates, each on one slice)."""

    name: str
    mask: np.ndarray | None = None
    polygons: Sequence[np.ndarray] | None = None
    color: tuple[int, int, int] | None = None
    interpreted_type: str = "ORGAN"  # PS3.3 C.8.8.8.1: EXTERNAL, PTV, CTV, GTV, ORGAN, ...
    generation_algorithm: str = "MANUAL"  # AUTOMATIC, SEMIAUTOMATIC, MANUAL


def _polygon_contours(polygons: Sequence[np.ndarray], series: ImageSeries, name: str) -> list[Contour]:
    out = []
    for i, polygon in enumerate(polygons, 1):
        points = np.asarray(polygon, dtype=float)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) < 3:
            raise StructureSetError(f"ROI {name!r}, polygon {i}: needs at least three (x, y, z) points")
        index = series.nearest(points)
        if index is None:
            raise GeometryError(f"ROI {name!r}, polygon {i}: lies on none of the series' slices")
        out.append(Contour(points, "CLOSED_PLANAR", (series.planes[index].sop_instance_uid,)))
    return out


def _ds_values(points: np.ndarray) -> list[str]:
    # DS values of at most 16 characters (PS3.5 6.2)
    out = []
    for v in points.reshape(-1):
        text = f"{float(v):.6g}"
        out.append("0" if text in ("-0", "0") else text)
    return out


def build_structure_set(images: Iterable[Dataset], rois: Sequence[ROISpec], *, label: str = "dicomkit",
                        name: str | None = None, series_number: int = 1, manufacturer: str = "dicomkit",
                        series_description: str | None = None) -> Dataset:
    """An RT Structure Set data set for the image series ``images`` (their patient, study and frame of
    reference), with one ROI per ``ROISpec``."""
    datasets = list(images)
    series = ImageSeries.from_datasets(datasets)
    source = datasets[0]
    ds = Dataset()
    now = _dt.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    if "SpecificCharacterSet" in source:
        ds.SpecificCharacterSet = source.SpecificCharacterSet
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    for keyword in _PATIENT_STUDY:  # Patient, General Study (PS3.3 C.7.1.1, C.7.2.1)
        if keyword in source:
            ds[keyword] = source[keyword].value
    for keyword in _TYPE2:
        if keyword not in ds:
            ds[keyword] = None
    ds.Modality = "RTSTRUCT"  # RT Series (PS3.3 C.8.8.1)
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    if series_description:
        ds.SeriesDescription = series_description
    ds.OperatorsName = None
    # Frame of Reference (PS3.3 A.19.3): the images' own
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator") or None
    ds.Manufacturer = manufacturer  # General Equipment
    # Structure Set (PS3.3 C.8.8.5)
    ds.StructureSetLabel = label
    if name:
        ds.StructureSetName = name
    ds.StructureSetDate, ds.StructureSetTime = date, time
    images_seq = DicomSequence()
    for plane in series.planes:
        r = Dataset()
        r.ReferencedSOPClassUID = plane.sop_class_uid
        r.ReferencedSOPInstanceUID = plane.sop_instance_uid
        images_seq.append(r)
    se = Dataset()
    se.SeriesInstanceUID = series.series_instance_uid
    se.ContourImageSequence = images_seq
    st = Dataset()
    st.ReferencedSOPClassUID = STUDY_REFERENCE_CLASS
    st.ReferencedSOPInstanceUID = series.study_instance_uid
    st.RTReferencedSeriesSequence = [se]
    fr = Dataset()
    fr.FrameOfReferenceUID = series.frame_of_reference_uid
    fr.RTReferencedStudySequence = [st]
    ds.ReferencedFrameOfReferenceSequence = [fr]
    roi_seq, contour_seq, observations = DicomSequence(), DicomSequence(), DicomSequence()
    for number, spec in enumerate(rois, 1):
        if (spec.mask is None) == (spec.polygons is None):
            raise StructureSetError(f"ROI {spec.name!r}: give a mask or polygons")
        contours = mask_contours(spec.mask, series) if spec.mask is not None else \
            _polygon_contours(spec.polygons or (), series, spec.name)
        item = Dataset()
        item.ROINumber = number
        item.ReferencedFrameOfReferenceUID = series.frame_of_reference_uid
        item.ROIName = spec.name
        item.ROIGenerationAlgorithm = spec.generation_algorithm
        roi_seq.append(item)
        rc = Dataset()  # ROI Contour (PS3.3 C.8.8.6)
        rc.ROIDisplayColor = list(spec.color or _COLORS[(number - 1) % len(_COLORS)])
        rc.ContourSequence = DicomSequence()
        for k, contour in enumerate(contours, 1):
            c = Dataset()
            image = Dataset()
            index = series.index_of(contour.image_uids[0])
            assert index is not None
            image.ReferencedSOPClassUID = series.planes[index].sop_class_uid
            image.ReferencedSOPInstanceUID = contour.image_uids[0]
            c.ContourImageSequence = [image]
            c.ContourGeometricType = contour.geometric_type
            c.NumberOfContourPoints = len(contour.points)
            c.ContourNumber = k
            c.ContourData = _ds_values(contour.points)
            rc.ContourSequence.append(c)
        rc.ReferencedROINumber = number
        contour_seq.append(rc)
        ob = Dataset()  # RT ROI Observations (PS3.3 C.8.8.8)
        ob.ObservationNumber = number
        ob.ReferencedROINumber = number
        ob.RTROIInterpretedType = spec.interpreted_type
        ob.ROIInterpreter = None
        observations.append(ob)
    ds.StructureSetROISequence = roi_seq
    ds.ROIContourSequence = contour_seq
    ds.RTROIObservationsSequence = observations
    ds.ApprovalStatus = "UNAPPROVED"  # Approval (PS3.3 C.8.8.16)
    return ds


__all__ = ["STUDY_REFERENCE_CLASS", "ROISpec", "build_structure_set"]
