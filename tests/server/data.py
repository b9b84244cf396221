"""Small generated DICOM objects for the archive tests (real Part 10 files written by dicomkit)."""

from __future__ import annotations

from pathlib import Path

import dicomkit
from dicomkit.core.dataset import Dataset

MR = "1.2.840.10008.5.1.4.1.1.4"
CT = "1.2.840.10008.5.1.4.1.1.2"


def image(*, patient_id: str = "P1", patient_name: str = "Doe^Jane", study: str = "1.2.826.0.1.3680043.10.1.1",
          series: str = "1.2.826.0.1.3680043.10.1.1.1", sop: str | None = None, number: int = 1,
          modality: str = "MR", sop_class: str = MR, rows: int = 16, cols: int = 16, fill: int = 0,
          study_date: str = "20240315", study_time: str = "101500", frames: int = 1) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop or dicomkit.generate_uid()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate = study_date
    ds.StudyTime = study_time
    ds.AccessionNumber = "A" + patient_id
    ds.StudyID = "1"
    ds.StudyDescription = "Test study"
    ds.ReferringPhysicianName = "Ref^Doctor"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.InstitutionName = "Test Hospital"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = bytes([fill & 0xFF, 0]) * (rows * cols * frames)
    return ds


def write(ds: Dataset, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{ds.SOPInstanceUID}.dcm")
    dicomkit.write(ds, path)
    return path


def files(folder: Path, n: int, *, studies: int = 1, series_per_study: int = 1, size: int = 16,
          prefix: str = "1.2.826.0.1.3680043.10.7") -> list[Path]:
    """``n`` files spread over ``studies`` studies of ``series_per_study`` series each."""
    out = []
    for i in range(n):
        st = i % studies
        se = (i // studies) % series_per_study
        ds = image(patient_id=f"P{st}", patient_name=f"Patient^{st}", study=f"{prefix}.{st}",
                   series=f"{prefix}.{st}.{se}", sop=f"{prefix}.{st}.{se}.{i}", number=i + 1, rows=size, cols=size,
                   fill=i)
        out.append(write(ds, folder))
    return out
