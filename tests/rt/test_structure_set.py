"""RT Structure Sets: a synthetic sphere on a synthetic CT series (volume within 2%), masks and polygons round
trip, a structure set written by others read as pydicom reads it, and dciodvfy on what we write."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

import dicomkit
from dicomkit.core.uid import generate_uid
from dicomkit.io.writer import to_bytes
from dicomkit.rt import (
    GeometryError,
    ImageSeries,
    ROISpec,
    StructureSet,
    StructureSetError,
    build_structure_set,
    fill_polygon,
    mask_polygons,
    rasterize,
)

from ..conftest import require_tool

RADIUS, CENTRE = 15.0, np.array([2.0, -3.0, 0.5])


def ct_series(n: int = 40, size: int = 80, spacing: float = 0.8, step: float = 1.0,
              angle: float = 0.0) -> list[dicomkit.Dataset]:
    """Axial CT slices (rotated in plane by ``angle`` degrees), centred on the origin, one frame of reference."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    a = math.radians(angle)
    row_dir = np.array([math.cos(a), math.sin(a), 0.0])
    col_dir = np.array([-math.sin(a), math.cos(a), 0.0])
    out = []
    for k in range(n):
        z = (k - n / 2) * step
        corner = -(size - 1) / 2 * spacing * (row_dir + col_dir) + np.array([0.0, 0.0, z])
        ds = dicomkit.Dataset()
        ds.SOPClassUID = dicomkit.uid.CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Phantom^Sphere", "PH1", "", "O"
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20240101", "120000"
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "1", ""
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", series, 1
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame, ""
        ds.Manufacturer = "dicomkit"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{v:.6g}" for v in corner]
        ds.ImageOrientationPatient = [f"{v:.6g}" for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = step
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.add_new(0x7FE00010, "OW", np.zeros((size, size), dtype="<i2").tobytes())
        out.append(ds)
    return out


def sphere_polygons(series: list[dicomkit.Dataset], vertices: int = 72) -> list[np.ndarray]:
    polygons = []
    for ds in series:
        z = float(ds.ImagePositionPatient[2])
        dz = z - CENTRE[2]
        if abs(dz) >= RADIUS:
            continue
        r = math.sqrt(RADIUS**2 - dz**2)
        t = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
        polygons.append(np.stack([CENTRE[0] + r * np.cos(t), CENTRE[1] + r * np.sin(t), np.full(vertices, z)], 1))
    return polygons


@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_sphere_volume_within_two_percent(angle):
    images = ct_series(angle=angle)
    ds = build_structure_set(images, [ROISpec("sphere", polygons=sphere_polygons(images), interpreted_type="GTV")])
    rs = StructureSet.from_dataset(dicomkit.read(to_bytes(ds)))
    series = ImageSeries.from_datasets(images)
    mask = rasterize(rs.roi("sphere"), series)
    volume = mask.sum() * series.voxel_volume()
    expected = 4 / 3 * math.pi * RADIUS**3
    assert abs(volume - expected) / expected < 0.02
    # the centre of mass is the sphere's centre, in patient coordinates
    k, r, c = (np.array(np.nonzero(mask)).mean(axis=1))
    plane = series.planes[round(k)]
    centre = plane.to_patient(np.array([[c, r]]))[0]
    assert np.allclose(centre[:2], CENTRE[:2], atol=0.3)


def test_masks_round_trip_exactly():
    images = ct_series(n=12, size=40)
    series = ImageSeries.from_datasets(images)
    rng = np.random.default_rng(7)
    mask = np.zeros(series.shape, dtype=bool)
    mask[2:10, 5:30, 8:35] = True
    mask[4:8, 12:20, 15:25] = False  # a hole
    mask |= rng.random(series.shape) > 0.97  # isolated pixels and diagonal touches
    ds = build_structure_set(images, [ROISpec("blob", mask=mask), ROISpec("box", mask=mask[:, ::-1, :].copy())])
    rs = StructureSet.from_dataset(dicomkit.read(to_bytes(ds)))
    assert rs.roi_names == ["blob", "box"] and rs.roi("blob").color == (255, 0, 0)
    assert np.array_equal(rasterize(rs.roi("blob"), series), mask)
    assert np.array_equal(rasterize(rs.roi(2), series), mask[:, ::-1, :])
    assert rs.frame_of_reference_uid == series.frame_of_reference_uid
    (uids,) = rs.referenced_series.values()
    assert [u for _, u in uids] == [p.sop_instance_uid for p in series.planes]
    # each contour names the image it lies on
    for contour in rs.roi("blob").contours:
        index = series.index_of(contour.image_uids[0])
        assert np.allclose(series.planes[index].distance(contour.points), 0, atol=1e-4)


def test_polygon_fill_and_tracing():
    square = np.array([[1.5, 1.5], [5.5, 1.5], [5.5, 4.5], [1.5, 4.5]])
    filled = fill_polygon(square, 8, 8)
    assert filled.sum() == 12 and filled[2:5, 2:6].all()
    ring = np.zeros((7, 7), dtype=bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False
    polygons = mask_polygons(ring)
    assert len(polygons) == 2  # the outline and the hole
    again = np.zeros_like(ring)
    for p in polygons:
        again ^= fill_polygon(p, 7, 7)
    assert np.array_equal(again, ring)


@pytest.mark.interop
def test_dciodvfy_accepts_what_we_write(tmp_path):
    images = ct_series(n=10, size=40)
    ds = build_structure_set(images, [ROISpec("sphere", polygons=sphere_polygons(images)[:3])], label="TEST")
    path = tmp_path / "rtstruct.dcm"
    ds.save(path)
    done = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]
    assert errors == []
    from dicomkit.validate import validate_file

    assert validate_file(path).errors == []


def test_reads_a_structure_set_written_by_others():
    path = Path(__import__("pydicom").__file__).parent / "data" / "test_files" / "rtstruct.dcm"
    if not path.exists():
        pytest.skip(f"{path} not found")
    import pydicom

    theirs = pydicom.dcmread(path, force=True)
    rs = StructureSet.from_dataset(dicomkit.read(path, force=True))
    assert rs.roi_names == [str(i.ROIName) for i in theirs.StructureSetROISequence]
    for roi, item in zip(rs.rois, theirs.ROIContourSequence):
        assert len(roi.contours) == len(item.ContourSequence)
        for ours, c in zip(roi.contours, item.ContourSequence):
            assert np.allclose(ours.points.reshape(-1), [float(v) for v in c.ContourData])
            assert ours.geometric_type == c.ContourGeometricType


def test_errors():
    images = ct_series(n=4, size=16)
    with pytest.raises(StructureSetError, match="mask or polygons"):
        build_structure_set(images, [ROISpec("x")])
    far = np.array([[0, 0, 500.0], [1, 0, 500.0], [0, 1, 500.0]])
    with pytest.raises(GeometryError, match="none of the series' slices"):
        build_structure_set(images, [ROISpec("x", polygons=[far])])
    del images[1].PixelSpacing
    with pytest.raises(GeometryError, match="PixelSpacing"):
        ImageSeries.from_datasets(images)
    with pytest.raises(StructureSetError, match="not an RT Structure Set"):
        StructureSet.from_dataset(images[0])
