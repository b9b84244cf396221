"""The index as the services' sources, on SQLite and PostgreSQL: what is matched in SQL, limit / offset /
count, computed attributes in responses, retrieval from the blob store, storage commitment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomkit import Dataset
from dicomkit.server.config import Config
from dicomkit.server.ingest import Archive
from dicomkit.server.sources import IndexCommitmentSource, IndexQuerySource, IndexRetrieveSource
from dicomkit.server.sources.sql import translate
from dicomkit.services.commitment import (
    CLASS_INSTANCE_CONFLICT,
    NO_SUCH_OBJECT_INSTANCE,
    PROCESSING_FAILURE,
    SopReference,
)
from dicomkit.services.query_retrieve import PATIENT_ROOT, STUDY_ROOT, Operation, PlanOptions, plan_from_identifier
from dicomkit.services.query_retrieve.plan import QueryPlan
from dicomkit.services.sources import LOCAL

from .data import CT, MR, image, write

STUDY = "1.2.826.0.1.3680043.10.9.{}"


@pytest.fixture
def archive(config: Config, tmp_path: Path) -> Iterator[Archive]:
    a = Archive(config)
    folder = tmp_path / "in"
    for n in range(12):
        study = STUDY.format(n)
        for s in range(2 if n == 0 else 1):
            ds = image(patient_id=f"P{n % 4}", patient_name=f"Family{n % 4}^Given{n}", study=study,
                       series=f"{study}.{s}", number=1, modality="CT" if s else "MR", sop_class=CT if s else MR,
                       study_date=f"2024{(n % 12) + 1:02d}15")
            assert a.ingest_file(write(ds, folder)).status == 0
    yield a
    a.close()


def _plan(keys: dict[str, Any], level: str = "STUDY", model: Any = STUDY_ROOT, **options: Any) -> QueryPlan:
    q = Dataset()
    q.QueryRetrieveLevel = level
    for k, v in keys.items():
        setattr(q, k, v)
    return plan_from_identifier(q, model=model, operation=Operation.FIND, options=PlanOptions(**options))


def _find(source: IndexQuerySource, plan: QueryPlan, **kw: Any) -> list[Dataset]:
    async def run() -> list[Dataset]:
        return [m async for m in source.find(plan, LOCAL, **kw)]
    return asyncio.run(run())


def test_common_keys_are_matched_in_sql() -> None:
    for keys in ({"PatientID": "P1"}, {"PatientName": "SMITH^ANNA*"}, {"StudyDate": "20240101-20240131"},
                 {"AccessionNumber": "A1"}, {"ModalitiesInStudy": "CT"}, {"StudyInstanceUID": "1.2.3\\1.2.4"},
                 {"NumberOfStudyRelatedInstances": "2"}, {"ReferringPhysicianName": "DOE*"}):
        t = translate(_plan({**keys, "StudyInstanceUID": keys.get("StudyInstanceUID", "")}))
        assert t.where and not t.needs_python and not t.unsupported, keys


def test_what_goes_to_python_and_what_is_unsupported() -> None:
    t = translate(_plan({"PatientName": "doe*"}, pn_case_insensitive=False))
    assert t.where and [k.keyword for k in t.python_columns] == ["PatientName"]  # SQL keeps a superset
    t = translate(_plan({"OtherPatientNames": "ROE*"}))
    assert [k.keyword for k in t.python_columns] == ["OtherPatientNames"]
    t = translate(_plan({"ProcedureCodeSequence": [Dataset()], "AdmissionID": "x*"}))
    # an empty item is universal; Admission ID has no column: matched on the stored headers
    assert [k.keyword for k in t.python_header] == ["AdmissionID"]
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.add_new(0x00091010, "LO", "private")  # a key of no known level: the SCP relaxes it (0xFF01)
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    assert translate(plan).unsupported == {0x00091010}
    t = translate(_plan({"OperatorsName": "X*"}, relational=True))  # a multi-valued series key, relationally
    assert t.unsupported == {0x00081070}


def test_limit_offset_count_and_a_stable_order(archive: Archive) -> None:
    source = IndexQuerySource(archive.index, page=5)
    plan = _plan({"StudyInstanceUID": "", "PatientName": "FAMILY*"})
    everything = [str(m.StudyInstanceUID) for m in _find(source, plan)]
    assert everything == [STUDY.format(n) for n in range(12)]  # the order of indexing, pages of 5
    assert asyncio.run(source.count(plan, LOCAL)) == 12
    assert [str(m.StudyInstanceUID) for m in _find(source, plan, limit=4, offset=6)] == everything[6:10]
    assert [str(m.StudyInstanceUID) for m in _find(source, plan, offset=11)] == everything[11:]
    # a key matched in Python: limit / offset / count still agree
    plan = _plan({"StudyInstanceUID": "", "PatientName": "family1*"}, pn_case_insensitive=False)
    assert _find(source, plan) == [] and source.count_sync(plan) == 0
    plan = _plan({"StudyInstanceUID": "", "PatientName": "Family1*"}, pn_case_insensitive=False)
    got = [str(m.StudyInstanceUID) for m in _find(source, plan, limit=2, offset=1)]
    assert got == [STUDY.format(5), STUDY.format(9)] and source.count_sync(plan) == 3


def test_responses_carry_the_computed_attributes(archive: Archive) -> None:
    source = IndexQuerySource(archive.index, retrieve_ae_title="ARCHIVE")
    plan = _plan({"StudyInstanceUID": STUDY.format(0), "ModalitiesInStudy": "", "SOPClassesInStudy": "",
                  "NumberOfStudyRelatedSeries": "", "NumberOfStudyRelatedInstances": "", "PatientName": "",
                  "StudyDescription": "", "InstitutionName": "", "RetrieveAETitle": "", "InstanceAvailability": "",
                  "MedicalAlerts": ""}, strict_hierarchy=False)
    [match] = _find(source, plan)
    response = source.response(plan, match)
    assert response.ModalitiesInStudy == ("CT", "MR")
    assert list(response.SOPClassesInStudy) == sorted([CT, MR])
    assert (int(response.NumberOfStudyRelatedSeries), int(response.NumberOfStudyRelatedInstances)) == (2, 2)
    assert str(response.PatientName) == "Family0^Given0" and response.StudyDescription == "Test study"
    assert (response.RetrieveAETitle, response.InstanceAvailability) == ("ARCHIVE", "ONLINE")
    assert response.InstitutionName in (None, "")  # a series attribute: zero length at STUDY level
    plan = _plan({"PatientID": "P0", "NumberOfPatientRelatedStudies": "", "NumberOfPatientRelatedInstances": ""},
                 level="PATIENT", model=PATIENT_ROOT)
    [patient] = _find(source, plan)
    assert (int(patient.NumberOfPatientRelatedStudies), int(patient.NumberOfPatientRelatedInstances)) == (3, 4)
    plan = _plan({"StudyInstanceUID": STUDY.format(0), "SeriesInstanceUID": "", "Modality": "CT",
                  "NumberOfSeriesRelatedInstances": "", "InstitutionName": ""}, level="SERIES")
    [series] = _find(source, plan)
    assert (series.Modality, int(series.NumberOfSeriesRelatedInstances), series.InstitutionName) == (
        "CT", 1, "Test Hospital")


def test_retrieve_reads_the_blob_store(archive: Archive) -> None:
    source = IndexRetrieveSource(archive.index, archive.store)
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = f"{STUDY.format(0)}\\{STUDY.format(3)}"
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.MOVE)

    async def run() -> tuple[int, list[Any]]:
        return await source.count(plan, LOCAL), [o async for o in source.retrieve(plan, LOCAL)]

    count, objects = asyncio.run(run())
    assert count == 3 and len(objects) == 3
    assert {o.study_instance_uid for o in objects} == {STUDY.format(0), STUDY.format(3)}
    for obj in objects:
        with obj.open() as f:
            data = f.read()
        assert data[128:132] == b"DICM" and obj.size == len(data)
        assert obj.transfer_syntax == "1.2.840.10008.1.2.1"
        assert obj.sop_instance_uid.encode() in data


def test_commitment_checks_presence_class_and_checksum(archive: Archive) -> None:
    rows = archive.index.instances(study_instance_uid=STUDY.format(1))
    [row] = rows
    source = IndexCommitmentSource(archive.index, archive.store, retrieve_ae_title="ARCHIVE")
    refs = [SopReference(row.sop_class_uid, row.sop_instance_uid), SopReference(CT, row.sop_instance_uid),
            SopReference(MR, "1.2.3.4.5")]
    results = asyncio.run(source.check(refs, LOCAL))
    assert [r.failure_reason for r in results] == [None, CLASS_INSTANCE_CONFLICT, NO_SUCH_OBJECT_INSTANCE]
    assert results[0].retrieve_ae_title == "ARCHIVE"
    path = archive.store.path_of(row.blob_key)  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert source.check_sync(refs[:1])[0].failure_reason == PROCESSING_FAILURE


@pytest.mark.slow
def test_a_hundred_thousand_matches_stream_with_flat_memory(tmp_path: Path) -> None:
    """10^5 studies (rows written directly, as 10^5 ingests would take minutes): every one streams out
    page by page while the memory in use stays that of a page."""
    import time
    import tracemalloc

    from dicomkit.server.index import Index

    n = 100_000
    with Index(f"sqlite:///{tmp_path / 'index.sqlite'}", durability="os") as index:
        def fill(db: Any) -> None:
            now = time.time()
            db.executemany("INSERT INTO patients (pk, patient_id, issuer_of_patient_id, patient_name, patient_name_a, "
                           "patient_name_fz, num_studies) VALUES (?, ?, '', ?, ?, ?, 1)",
                           [(k, f"P{k}", f"NAME^{k}", f"name^{k}", f"name^{k}") for k in range(1, n + 1)])
            db.executemany("INSERT INTO studies (pk, patient_pk, study_instance_uid, study_date, study_date_norm, "
                           "num_series, num_instances, created_at, updated_at) VALUES (?, ?, ?, '20240101', "
                           "'20240101', 1, 1, ?, ?)",
                           [(k, k, f"1.2.826.0.1.3680043.10.77.{k}", now, now) for k in range(1, n + 1)])
        index.write(fill)
        source = IndexQuerySource(index)
        plan = _plan({"StudyInstanceUID": "", "PatientName": "NAME*", "StudyDate": "20240101-20240131",
                      "NumberOfStudyRelatedInstances": ""})
        assert source.count_sync(plan) == n
        tracemalloc.start()
        try:
            count, base = 0, tracemalloc.get_traced_memory()[0]
            for match in source.find_sync(plan):
                count += 1
                assert match.StudyInstanceUID
                if count == 1000:
                    base = tracemalloc.get_traced_memory()[0]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert count == n
        assert peak - base < 8 << 20, (base, peak)  # pages of 500, not 10^5 matches
