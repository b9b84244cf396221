"""Identifiers from -k keys: keywords, tags, nested items, mappings, and the errors for bad keys."""

from __future__ import annotations

import pytest

from dicomkit import Dataset
from dicomkit.services.query_retrieve.keys import KeyError_, identifier


def test_keywords_tags_values_and_return_keys():
    ds = identifier(["QueryRetrieveLevel=STUDY", "PatientName=DOE*", "(0010,0020)=P1", "0008,0020=20240101-",
                     "StudyInstanceUID", "ModalitiesInStudy=CT\\MR", "NumberOfStudyRelatedInstances="])
    assert ds.QueryRetrieveLevel == "STUDY" and ds.PatientName == "DOE*" and ds.PatientID == "P1"
    assert ds.StudyDate == "20240101-" and ds.ModalitiesInStudy == ("CT", "MR")
    assert ds["StudyInstanceUID"].value in (None, "") and "NumberOfStudyRelatedInstances" in ds


def test_nested_items_and_whole_sequences():
    ds = identifier(["ScheduledProcedureStepSequence[0].Modality=CT",
                     "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1",
                     "ScheduledProcedureStepSequence.ScheduledProcedureStepStartDate=20240115",
                     "ReferencedStudySequence", "ProcedureCodeSequence[0]"])
    step = ds.ScheduledProcedureStepSequence
    assert len(step) == 1 and step[0].Modality == "CT" and step[0].ScheduledStationAETitle == "CT1"
    assert step[0].ScheduledProcedureStepStartDate == "20240115"
    assert list(ds.ReferencedStudySequence) == [] and len(ds.ProcedureCodeSequence) == 1


def test_numbers_mappings_and_datasets():
    assert identifier(["Rows=512", "Columns=0x10"]).Columns == 16
    ds = identifier({"PatientName": "X", "StudyDate": "", "ScheduledProcedureStepSequence": [{"Modality": "MR"}]})
    assert ds.ScheduledProcedureStepSequence[0].Modality == "MR" and "StudyDate" in ds
    base = Dataset()
    base.PatientID = "P9"
    again = identifier(ds, base=base)
    assert again.PatientID == "P9" and again.PatientName == "X" and "PatientID" not in ds


@pytest.mark.parametrize("spec, message", [
    ("NoSuchKeyword=1", "neither a DICOM keyword nor a tag"),
    ("0009,0010=x", "not in the data dictionary"),
    ("Rows=many", "not a valid US value"),
    ("PatientName.Modality=CT", "not a sequence"),
    ("ScheduledProcedureStepSequence=CT", "takes item keys"),
    ("=x", "expected Keyword=value"),
    ("ScheduledProcedureStepSequence[999].Modality=CT", "too large"),
])
def test_bad_keys_are_named(spec, message):
    with pytest.raises(KeyError_, match=message):
        identifier([spec])
