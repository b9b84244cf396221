"""Source protocols and the memory / folder sources: retrieval, counts, commitment, cancel, streaming."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.core.errors import DicomError
from dicomkit.services.commitment import CLASS_INSTANCE_CONFLICT, NO_SUCH_OBJECT_INSTANCE, SopReference
from dicomkit.services.memory_source import (
    FolderSource,
    MemoryMppsSource,
    MemorySource,
    MemoryWorklistSource,
    detached,
)
from dicomkit.services.query_retrieve import (
    PATIENT_ROOT,
    STUDY_ROOT,
    Operation,
    PlanOptions,
    QueryPlan,
    plan_from_identifier,
)
from dicomkit.services.sources import (
    LOCAL,
    CommitmentSource,
    DuplicateInstanceError,
    MppsSource,
    NoSuchInstanceError,
    QuerySource,
    Requester,
    RetrieveSource,
    StoredObject,
    ThreadedCommitmentSource,
    ThreadedMppsSource,
    ThreadedQuerySource,
    ThreadedRetrieveSource,
    WorklistSource,
)

from .query_retrieve.matching_cases import SOP_CLASS, record_datasets, uid_for

ELE = "1.2.840.10008.1.2.1"


def _q(**attrs: Any) -> Dataset:
    q = Dataset()
    for k, v in attrs.items():
        setattr(q, k, v)
    return q


def _plan(model: Any = STUDY_ROOT, operation: Operation = Operation.FIND, options: PlanOptions | None = None,
          **attrs: Any) -> QueryPlan:
    return plan_from_identifier(_q(**attrs), model=model, operation=operation, options=options)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _all(aiter: Any) -> list[Any]:
    return [x async for x in aiter]


@pytest.fixture(scope="module")
def people() -> dict[str, Dataset]:
    return record_datasets("people")


def test_protocols_are_implemented(people: dict[str, Dataset]) -> None:
    source = MemorySource(people.values())
    assert isinstance(source, QuerySource) and isinstance(source, RetrieveSource)
    assert isinstance(source, CommitmentSource)
    assert isinstance(MemoryWorklistSource(), WorklistSource)
    assert isinstance(MemoryMppsSource(), MppsSource)
    assert str(Requester("MODALITY", "PACS", "10.0.0.5", 4242, association_id="a17")) == "MODALITY@10.0.0.5:4242 [a17]"


def test_retrieve_and_count(people: dict[str, Dataset]) -> None:
    source = MemorySource(people.values())
    study_uids = [uid_for("study", "people", "petct"), uid_for("study", "people", "dole")]
    move = _plan(operation=Operation.MOVE, QueryRetrieveLevel="STUDY", StudyInstanceUID=study_uids)
    objects = _run(_all(source.retrieve(move, LOCAL)))
    assert sorted(o.sop_instance_uid for o in objects) == sorted(
        uid_for("instance", "people", n) for n in ("petct_ct", "petct_pt", "dole"))
    assert _run(source.count(move, LOCAL)) == 3
    get = _plan(PATIENT_ROOT, Operation.GET, QueryRetrieveLevel="PATIENT", PatientID="P11")
    assert _run(source.count(get, LOCAL)) == 2
    series = _plan(operation=Operation.MOVE, QueryRetrieveLevel="SERIES", StudyInstanceUID=study_uids[0],
                   SeriesInstanceUID=uid_for("series", "people", "petct_pt"))
    (pt,) = _run(_all(source.retrieve(series, LOCAL)))
    assert pt.study_instance_uid == study_uids[0] and pt.transfer_syntax == ELE
    with pt.open() as f:
        back = dicomkit.read(f)
    assert back.SOPInstanceUID == pt.sop_instance_uid and back.Modality == "PT"


def test_relational_keys_of_lower_levels_must_hold_in_one_entity(people: dict[str, Dataset]) -> None:
    source = MemorySource(people.values())
    rel = PlanOptions(relational=True)
    same_series = _plan(options=rel, QueryRetrieveLevel="STUDY", Modality="CT", SeriesDescription="PET WB")
    assert _run(_all(source.find(same_series, LOCAL))) == []
    one_series = _plan(options=rel, QueryRetrieveLevel="STUDY", Modality="PT", SeriesDescription="PET*",
                       StudyInstanceUID="")
    (match,) = _run(_all(source.find(one_series, LOCAL)))
    assert match.StudyInstanceUID == uid_for("study", "people", "petct")


def test_commitment_check(people: dict[str, Dataset]) -> None:
    source = MemorySource(people.values(), retrieve_ae_title="ARCHIVE")
    ct = uid_for("instance", "people", "petct_ct")
    results = _run(source.check([SopReference(SOP_CLASS, ct), SopReference(SOP_CLASS, "1.2.3.4"),
                                 SopReference("1.2.840.10008.5.1.4.1.1.2", ct)], LOCAL))
    assert [r.failure_reason for r in results] == [None, NO_SUCH_OBJECT_INSTANCE, CLASS_INSTANCE_CONFLICT]
    assert results[0].committed and results[0].retrieve_ae_title == "ARCHIVE"
    assert results[1].reason_text == "No such object instance"


def test_unsupported_keys_of_unknown_level(people: dict[str, Dataset]) -> None:
    source = MemorySource(people.values())
    q = _q(QueryRetrieveLevel="STUDY")
    q.add_new(0x00091001, "LO", "x")
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    assert source.unsupported_keys(plan) == {0x00091001}
    relaxed = plan.relaxed(source.unsupported_keys(plan))
    assert len(_run(_all(source.find(relaxed, LOCAL)))) == 11


def test_adding_instances(people: dict[str, Dataset]) -> None:
    source = MemorySource()
    ds = people["dole"]
    stored = source.add(ds)
    assert source.add(ds) is stored and len(source) == 1
    assert source.stored_object(str(ds.SOPInstanceUID)) is stored
    with pytest.raises(DicomError):
        source.add(_q(PatientName="X"))


def test_folder_source(tmp_path: Path, people: dict[str, Dataset]) -> None:
    for name in ("doe_john", "petct_ct", "petct_pt"):
        people[name].save(tmp_path / f"{name}.dcm", transfer_syntax=ELE)
    (tmp_path / "notes.txt").write_text("not DICOM")
    sub = tmp_path / "sub"
    sub.mkdir()
    nouids = _q(SOPClassUID=SOP_CLASS, SOPInstanceUID="1.2.3.4", PatientName="X")
    nouids.save(sub / "nouids.dcm", transfer_syntax=ELE)
    source = FolderSource(tmp_path)
    assert len(source) == 3
    assert {Path(p).name for p, _ in source.skipped} == {"notes.txt", "nouids.dcm"}
    plan = _plan(operation=Operation.GET, QueryRetrieveLevel="STUDY", StudyInstanceUID=uid_for("study", "people",
                                                                                                "petct"))
    objects = _run(_all(source.retrieve(plan, LOCAL)))
    assert {Path(o.path).name for o in objects} == {"petct_ct.dcm", "petct_pt.dcm"}
    with objects[0].open() as f:
        assert f.read() == Path(objects[0].path).read_bytes()
    people["dole"].save(sub / "dole.dcm", transfer_syntax=ELE)
    assert source.scan() == 1 and source.scan() == 0
    assert not FolderSource(tmp_path, recursive=False).skipped[0][0].endswith("nouids.dcm")
    with pytest.raises(DicomError):
        FolderSource(tmp_path / "missing")


def test_stored_object_from_path(tmp_path: Path, people: dict[str, Dataset]) -> None:
    people["doe_jane"].save(tmp_path / "a.dcm", transfer_syntax=ELE)
    obj = StoredObject.from_path(tmp_path / "a.dcm")
    assert obj.sop_instance_uid == uid_for("instance", "people", "doe_jane")
    assert obj.transfer_syntax == ELE and obj.size == (tmp_path / "a.dcm").stat().st_size
    with pytest.raises(DicomError):
        StoredObject("1.2", "1.2.3", ELE).open()


def test_detached_headers_keep_no_buffer(tmp_path: Path, people: dict[str, Dataset]) -> None:
    ds = people["doe_john"].copy()
    ds.add_new(0x7FE00010, "OB", bytes(4096))
    ds.add_new(0x00091010, "OB", bytes(4096))
    ds.save(tmp_path / "big.dcm", transfer_syntax=ELE)
    header = detached(dicomkit.read(tmp_path / "big.dcm"))
    assert 0x7FE00010 not in header and 0x00091010 not in header
    assert header.PatientName == "DOE^JOHN" and header.ProcedureCodeSequence[0].CodeValue == "CT-HEAD"
    for elem in header.iterall():
        assert not isinstance(elem.raw, memoryview)


def _many(n: int) -> list[Dataset]:
    out = []
    for i in range(n):
        ds = Dataset()
        ds.PatientName = f"PATIENT^{i % 97}"
        ds.PatientID = f"ID{i % 3000}"
        ds.StudyDate = f"2024{1 + i % 12:02d}{1 + i % 28:02d}"
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.7.{i}"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.8.{i}"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.9.{i}"
        ds.SOPClassUID = SOP_CLASS
        ds.Modality = "CT"
        out.append(ds)
    return out


@pytest.mark.slow
def test_ten_thousand_matches_stream_with_flat_memory() -> None:
    source = MemorySource(_many(10_000))
    plan = _plan(QueryRetrieveLevel="STUDY", PatientName="PATIENT*", StudyDate="", NumberOfStudyRelatedInstances="")

    async def count() -> int:
        n = 0
        async for _ in source.find(plan, LOCAL):
            n += 1
        return n

    assert _run(count()) == 10_000  # warms the computed attributes (the source's index, kept)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        assert _run(count()) == 10_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - base < 2_000_000, f"{(peak - base) / 1e6:.1f} MB held while streaming 10^4 matches"


def test_cancel_stops_a_memory_source() -> None:
    source = MemorySource(_many(500))
    plan = _plan(QueryRetrieveLevel="STUDY", PatientName="")

    async def first(n: int) -> list[Dataset]:
        out = []
        agen = source.find(plan, LOCAL)
        async for m in agen:
            out.append(m)
            if len(out) == n:
                break
        await agen.aclose()  # type: ignore[attr-defined]
        return out

    assert len(_run(first(10))) == 10


class _SyncQuery:
    """A blocking source: yields records one by one, records how far it got and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[int] = set()

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return frozenset({0x00081030})

    def find(self, plan: QueryPlan, requester: Requester) -> Iterator[Dataset]:
        try:
            for i in range(self.n):
                self.threads.add(threading.get_ident())
                if i == self.fail_at:
                    raise DicomError("the database went away")
                self.produced += 1
                ds = Dataset()
                ds.PatientID = str(i)
                yield ds
        finally:
            self.closed = True


def test_threaded_query_source_streams_closes_and_raises() -> None:
    plan = _plan(QueryRetrieveLevel="STUDY", PatientName="")
    sync = _SyncQuery(10_000)
    source = ThreadedQuerySource(sync, batch=16)
    assert source.unsupported_keys(plan) == {0x00081030}

    async def first(n: int) -> list[Dataset]:
        out = []
        agen = source.find(plan, LOCAL)
        async for m in agen:
            out.append(m)
            if len(out) == n:
                break
        await agen.aclose()  # type: ignore[attr-defined]
        return out

    assert [m.PatientID for m in _run(first(3))] == ["0", "1", "2"]
    assert sync.closed and sync.produced <= 16  # one batch read ahead at most
    assert threading.get_ident() not in sync.threads
    everything = ThreadedQuerySource(_SyncQuery(100))
    assert len(_run(_all(everything.find(plan, LOCAL)))) == 100
    failing = _SyncQuery(100, fail_at=40)
    with pytest.raises(DicomError, match="went away"):
        _run(_all(ThreadedQuerySource(failing).find(plan, LOCAL)))
    assert failing.closed


class _SyncStore:
    def __init__(self) -> None:
        self.memory = MemoryMppsSource()
        self.objects = [StoredObject(SOP_CLASS, f"1.2.3.{i}", ELE) for i in range(5)]

    def retrieve(self, plan: QueryPlan, requester: Requester) -> Iterator[StoredObject]:
        return iter(self.objects)

    def count(self, plan: QueryPlan, requester: Requester) -> int:
        return len(self.objects)

    def get(self, uid: str, requester: Requester) -> Dataset | None:
        return _run_in_new_loop(self.memory.get(uid, requester))

    def create(self, uid: str, ds: Dataset, requester: Requester) -> None:
        _run_in_new_loop(self.memory.create(uid, ds, requester))

    def set(self, uid: str, ds: Dataset, requester: Requester) -> None:
        _run_in_new_loop(self.memory.set(uid, ds, requester))

    def check(self, references: list[SopReference], requester: Requester) -> list[Any]:
        return _run_in_new_loop(MemorySource().check(references, requester))


def _run_in_new_loop(coro: Any) -> Any:
    return asyncio.run(coro)  # the adapters call us in a worker thread, which has no loop


def test_threaded_retrieve_mpps_and_commitment_sources() -> None:
    store = _SyncStore()
    plan = _plan(operation=Operation.MOVE, QueryRetrieveLevel="STUDY", StudyInstanceUID="1.2.3")
    retrieve = ThreadedRetrieveSource(store)
    assert len(_run(_all(retrieve.retrieve(plan, LOCAL)))) == 5 and _run(retrieve.count(plan, LOCAL)) == 5
    mpps = ThreadedMppsSource(store)
    step = _q(PerformedProcedureStepStatus="IN PROGRESS")
    _run(mpps.create("1.2.9", step, LOCAL))
    with pytest.raises(DuplicateInstanceError):
        _run(mpps.create("1.2.9", step, LOCAL))
    done = _q(PerformedProcedureStepStatus="COMPLETED")
    _run(mpps.set("1.2.9", done, LOCAL))
    assert _run(mpps.get("1.2.9", LOCAL)).PerformedProcedureStepStatus == "COMPLETED"
    with pytest.raises(NoSuchInstanceError):
        _run(mpps.set("1.2.10", done, LOCAL))
    assert _run(mpps.get("1.2.10", LOCAL)) is None
    commit = ThreadedCommitmentSource(store)
    (result,) = _run(commit.check([SopReference(SOP_CLASS, "1.2.3.4")], LOCAL))
    assert result.failure_reason == NO_SUCH_OBJECT_INSTANCE


def test_memory_mpps_source_keeps_copies() -> None:
    source = MemoryMppsSource()
    step = _q(PerformedProcedureStepStatus="IN PROGRESS")
    _run(source.create("1.2.9", step, LOCAL))
    step.PerformedProcedureStepStatus = "COMPLETED"
    got = _run(source.get("1.2.9", LOCAL))
    assert got.PerformedProcedureStepStatus == "IN PROGRESS"


def test_folder_source_reports_duplicate_instances(tmp_path: Path, people: dict[str, Dataset]) -> None:
    people["dole"].save(tmp_path / "a.dcm", transfer_syntax=ELE)
    people["dole"].save(tmp_path / "b.dcm", transfer_syntax="1.2.840.10008.1.2")
    source = FolderSource(tmp_path)
    assert len(source) == 1
    ((path, reason),) = source.skipped
    assert path.endswith("b.dcm") and "a.dcm" in reason
