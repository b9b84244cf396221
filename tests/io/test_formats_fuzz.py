"""Mutated JSON, XML and DICOMDIR input: only DicomError may come out (never KeyError, TypeError, ...)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dicomkit
from dicomkit import DicomError
from dicomkit.io.dicomdir import read_dicomdir
from dicomkit.io.json_model import from_json
from dicomkit.io.xml_model import from_xml
from tests.io.test_fuzz import mutate, mutation
from tests.io.test_json_model import F4_EXAMPLE
from tests.io.test_xml_model import _sample

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
JSON_SEEDS = [json.dumps(obj).encode() for obj in json.loads(F4_EXAMPLE.read_text(encoding="utf-8"))]
JSON_SEEDS.append(_sample().to_json().encode())
XML_SEEDS = [_sample().to_xml().encode(), _sample().to_xml(namespace=False, keywords=False).encode()]


def _use(ds: dicomkit.Dataset) -> None:
    try:
        for elem in ds.iterall():
            elem.value  # noqa: B018
        ds.to_json()
        ds.to_xml()
    except DicomError:
        pass


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(JSON_SEEDS) - 1), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_json_raises_only_dicom_errors(seed: int, edits):
    try:
        ds = from_json(mutate(JSON_SEEDS[seed], edits))
    except DicomError:
        return
    _use(ds)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["00100010", "vr", "Value", "InlineBinary", "BulkDataURI", "00081140",
                                         "Alphabetic", "00280010", "7FE00010"]) | st.text(max_size=8),
                        inner, max_size=4), max_leaves=12))
def test_json_of_any_shape_raises_only_dicom_errors(obj: object):
    try:
        ds = from_json(json.dumps(obj, allow_nan=False).encode())
    except (DicomError, ValueError) as exc:
        assert isinstance(exc, DicomError) or "Out of range float" in str(exc)  # json.dumps' own refusal
        return
    _use(ds)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(XML_SEEDS) - 1), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_xml_raises_only_dicom_errors(seed: int, edits):
    try:
        ds = from_xml(mutate(XML_SEEDS[seed], edits))
    except DicomError:
        return
    _use(ds)


def _dicomdir_seed(tmp: Path) -> bytes:
    from dicomkit.io.dicomdir import create_fileset
    from tests.conftest import CORPUS

    sources = [CORPUS / n for n in ("MR2_UNCR.dcm", "liver.dcm") if (CORPUS / n).exists()]
    if not sources:
        ds = _sample()
        ds.SOPClassUID, ds.SOPInstanceUID = dicomkit.uid.SecondaryCaptureImageStorage, "1.2.3"
        ds.PatientID, ds.StudyDate, ds.StudyTime, ds.StudyID = "P", "20240101", "1200", "1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality, ds.SeriesNumber = "1.2.4", "1.2.5", "OT", 1
        ds.InstanceNumber = 1
        ds.save(tmp / "one.dcm")
        sources = [tmp / "one.dcm"]
    create_fileset(tmp / "fs", sources)
    return (tmp / "fs" / "DICOMDIR").read_bytes()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
@given(edits=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_dicomdirs_raise_only_dicom_errors(tmp_path_factory, edits):
    base = tmp_path_factory.getbasetemp() / "fuzz_dicomdir"
    if not (base / "seed").exists():
        base.mkdir(exist_ok=True)
        (base / "seed").write_bytes(_dicomdir_seed(base))
    path = base / "fs" / "DICOMDIR"
    path.write_bytes(mutate((base / "seed").read_bytes(), edits))
    try:
        fs = read_dicomdir(path)
        for record in fs:
            _ = (record.record_type, record.file_id, record.sop_instance_uid)
            if record.file_id is not None:
                _ = record.path
    except DicomError:
        pass


