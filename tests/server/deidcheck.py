"""The one check of what leaves through a de-identifying path (C-MOVE, C-GET, WADO, QIDO, STOW-RS export):
every attribute of PS3.15 Table E.1-1, top level and nested, against the data set that went in."""

from __future__ import annotations

from pathlib import Path

import dicomkit
from dicomkit.core.dataset import Dataset
from dicomkit.deid import Options
from dicomkit.deid.profile import Profile

from ..deid.conftest import CARRIER, IDENT, every_attribute
from ..deid.test_engine import _check_level

STUDY = "1.2.826.0.1.3680043.10.5.1"
PATIENT_NAME, PATIENT_ID = "Doe^John", "PID-12345"


def original(study: str = STUDY) -> Dataset:
    """Every attribute of Table E.1-1 with identifying values, and the archive's keys as UIDs (the table's own
    UIDs carry identifying values)."""
    ds = every_attribute()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = f"{study}.1"
    ds.SOPInstanceUID = f"{study}.1.1"
    return ds


def original_identifiers(study: str = STUDY) -> list[bytes]:
    """What must never appear in a body sent to a de-identified recipient."""
    return [PATIENT_NAME.encode(), PATIENT_ID.encode(), IDENT.encode(), study.encode()]


def check_against_table(out: Dataset, raw: bytes | None = None, *, study: str = STUDY,
                        minimum: int = 550) -> None:
    """``out`` (what was received) de-identified as Table E.1-1 says for every attribute of ``original()``;
    ``raw`` (its bytes as received) holds none of the identifying values anywhere."""
    source = original(study)
    profile = Profile(Options())
    assert _check_level(source, out, profile, 0) > minimum
    assert _check_level(source[CARRIER].value[0], out[CARRIER].value[0], profile, CARRIER) > minimum
    assert str(out.get("PatientName") or "") != PATIENT_NAME and str(out.get("PatientID") or "") != PATIENT_ID
    assert str(out.StudyInstanceUID) != study and str(out.SOPInstanceUID) != f"{study}.1.1"
    if raw is not None:
        for value in original_identifiers(study):
            assert value not in raw, value  # nothing of the identifying values is left anywhere


def check_file(path: str | bytes, *, study: str = STUDY) -> Dataset:
    """A received Part 10 object (a path or its bytes) checked; the data set."""
    raw = path if isinstance(path, bytes) else Path(path).read_bytes()
    out = dicomkit.read(raw)
    check_against_table(out, raw, study=study)
    assert str(out.PatientIdentityRemoved) == "YES"
    return out
