"""The stores of one group-commit batch update the aggregates once per series, study and patient, and end with
the aggregates that the same stores one transaction at a time give — with a failing store and deletions among
them — on SQLite and on PostgreSQL. A batch runs its pieces without savepoints unless one fails; then it runs
again with a savepoint per piece, and only the failing one fails."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dicomkit.io.writer import to_bytes
from dicomkit.server.config import Config
from dicomkit.server.index import InstanceRecord, StoreResult, delete_entity, store_instance
from dicomkit.server.index.dialect import Database
from dicomkit.server.ingest import Archive

from .data import CT, MR, image

AGGREGATES = {"patients": ("patient_id", "num_studies", "num_series", "num_instances"),
              "studies": ("study_instance_uid", "num_series", "num_instances", "modalities_in_study",
                          "sop_classes_in_study"),
              "series": ("series_instance_uid", "modality", "num_instances")}
P = "1.2.826.0.1.3680043.10.77"


def _objects(run: str) -> list[bytes]:
    """Two patients, three studies, five series, two SOP classes; a series whose first instance has no
    Modality (a later one supplements it), and one SOP Instance UID stored twice identically. ``run``: in the
    UIDs and Patient IDs (two runs in one index stay apart)."""
    out = []
    n = 0
    for patient, study, series, modality, sop_class, count in (
            ("PA", "1", "1", "MR", None, 3), ("PA", "1", "2", "CT", CT, 2), ("PA", "2", "1", "", None, 1),
            ("PA", "2", "1", "OT", None, 2), ("PB", "3", "1", "MR", None, 2), ("PA", "1", "1", "MR", CT, 1)):
        for _ in range(count):
            n += 1
            ds = image(patient_id=f"R{run}{patient}", patient_name=f"P^{patient}", study=f"{P}.{run}.{study}",
                       series=f"{P}.{run}.{study}.{series}", sop=f"{P}.{run}.{study}.{series}.{n}",
                       modality=modality or "MR",
                       number=n, fill=n, sop_class=sop_class or MR)
            if not modality:
                del ds.Modality
            out.append(to_bytes(ds))
    out.append(out[0])  # identical again
    return out


def _records(archive: Archive, objects: list[bytes], run: str) -> list[InstanceRecord]:
    from dicomkit.io.raw import meta_end

    records = []
    for i, data in enumerate(objects):
        from dicomkit.io.reader import read_file_meta

        meta = read_file_meta(data)
        record = archive.prepare(data, str(meta.value(0x00020002)).strip("\0 "),
                                 str(meta.value(0x00020003)).strip("\0 "), str(meta.value(0x00020010)).strip("\0 "),
                                 dataset_offset=meta_end(data), source_ae=None)
        assert isinstance(record, InstanceRecord)
        record.blob_key = f"k/{run}/{i}"
        record.stored_at = 1000.0 + i
        records.append(record)
    return records


class _FailsAfterStoring:
    """A store that fails after its statements (its savepoint rolls back, and so must what it left)."""

    folds = True

    def __init__(self, record: InstanceRecord) -> None:
        self.record = record

    def __call__(self, db: Database) -> StoreResult:
        store_instance(db, self.record, "keep-first")
        raise RuntimeError("fails after storing")


def _work(records: list[InstanceRecord]) -> list[Callable[[Database], Any]]:
    """The pieces: the stores, one failing among them (a CT of study 1), the deletion of an instance stored
    before it (which reads and changes the aggregates of the stores before it: they are flushed first), more
    stores (the series without a Modality, then the two that supplement it), another deletion, the rest."""
    from dicomkit.server.index import _Store

    works: list[Callable[[Database], Any]] = [_Store(r, "keep-first") for r in records[:4]]
    works.append(_FailsAfterStoring(records[4]))
    works.append(lambda db: delete_entity(db, "instance", records[1].sop_instance_uid))
    works += [_Store(r, "keep-first") for r in records[5:10]]
    works.append(lambda db: delete_entity(db, "instance", records[9].sop_instance_uid))
    works += [_Store(r, "keep-first") for r in records[10:]]
    return works


def _same(value: Any, run: str) -> Any:
    """``value`` with the run's tag taken out of its UIDs, Patient IDs and blob keys."""
    if isinstance(value, str):
        if value.startswith((f"{P}.{run}", f"k/{run}/")):
            return value.replace(f"{P}.{run}.", f"{P}.").replace(f"k/{run}/", "k/")
        return value.removeprefix(f"R{run}")
    if isinstance(value, tuple | list):
        return type(value)(_same(v, run) for v in value)
    if isinstance(value, StoreResult):
        return (value.outcome, _same(value.delete_after_commit, run), _same(value.existing_key, run))
    return value


def _aggregates(archive: Archive, run: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, columns in AGGREGATES.items():
        rows = archive.index.query(f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} LIKE ? "
                                   f"ORDER BY {columns[0]}", (f"R{run}%" if table == "patients" else f"{P}.{run}.%",))
        out[table] = [_same(tuple(r.values()), run) for r in rows]
    return out


def _counted(archive: Archive, run: str) -> dict[str, list[tuple[Any, ...]]]:
    """The instances and series counted from the rows (what the aggregates must equal)."""
    q = archive.index.query
    like = (f"{P}.{run}.%",)
    return {
        "series": [_same((r["series_instance_uid"], r["n"]), run) for r in q(
            "SELECT s.series_instance_uid, count(i.pk) AS n FROM series s JOIN instances i ON i.series_pk = s.pk "
            "WHERE s.series_instance_uid LIKE ? GROUP BY s.series_instance_uid ORDER BY s.series_instance_uid",
            like)],
        "studies": [_same((r["study_instance_uid"], r["ns"], r["n"]), run) for r in q(
            "SELECT st.study_instance_uid, count(DISTINCT s.pk) AS ns, count(i.pk) AS n FROM studies st "
            "JOIN series s ON s.study_pk = st.pk JOIN instances i ON i.series_pk = s.pk "
            "WHERE st.study_instance_uid LIKE ? GROUP BY st.study_instance_uid ORDER BY st.study_instance_uid",
            like)],
    }


def _outcomes(futures: list[Any], run: str) -> list[Any]:
    out = []
    for f in futures:
        try:
            out.append(_same(f.result(30), run))
        except RuntimeError as exc:
            out.append(str(exc))
    return out


def _one_series(archive: Archive, patient_id: str, run: str, count: int) -> list[InstanceRecord]:
    """The records of ``count`` instances of one series of one study (study ``P.run``), ready to store."""
    objects = [to_bytes(image(patient_id=patient_id, study=f"{P}.{run}", series=f"{P}.{run}.1",
                              sop=f"{P}.{run}.1.{i}", number=i)) for i in range(count)]
    return _records(archive, objects, run)


@contextlib.contextmanager
def _one_batch(writer: Any) -> Iterator[None]:
    """The writer held by a piece of its own (a batch of one) while the block runs: what the block submits
    waits, then runs as one batch when the block ends."""
    running, gate = threading.Event(), threading.Event()

    def hold(db: Database) -> None:
        running.set()
        gate.wait(30)

    blocker = writer.submit(hold)
    assert running.wait(30)
    try:
        yield
    finally:
        gate.set()
        blocker.result(30)


def test_a_batch_of_stores_ends_with_the_aggregates_of_stores_one_at_a_time(config: Config) -> None:
    with Archive(config) as archive:
        writer = archive.index.writer
        # run 1: each piece in a transaction of its own
        one_by_one = []
        for work in _work(_records(archive, _objects("1"), "1")):
            one_by_one.append(writer.submit(work))
            concurrent.futures.wait(one_by_one[-1:], timeout=30)
        alone = _outcomes(one_by_one, "1")
        expected = _aggregates(archive, "1")
        # run 2: all the pieces in one batch (the writer held until they wait)
        with _one_batch(writer):
            futures = [writer.submit(work) for work in _work(_records(archive, _objects("2"), "2"))]
            batches = writer.batches
        batched = _outcomes(futures, "2")
        assert writer.batches == batches + 2  # the blocker, then everything else together
        assert batched == alone
        assert "fails after storing" in batched and ("identical", ("k/11",), "k/0") in batched
        assert _aggregates(archive, "2") == expected
        counted = _counted(archive, "2")
        assert counted["series"] == [(uid, n) for uid, _modality, n in expected["series"]]
        assert counted["studies"] == [row[:3] for row in expected["studies"]]
        assert sum(n for _uid, n in counted["series"]) == 12 - 1 - 1 - 2  # identical, failed, two deleted
    studies = {r[0]: r for r in expected["studies"]}
    assert studies[f"{P}.1"][3:] == ("CT\\MR", f"{CT}\\{MR}")
    assert studies[f"{P}.2"][3] == "OT"  # the series' first instance had none: supplemented, then in study


def test_the_stores_of_one_batch_share_their_aggregate_statements(config: Config,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten stores of one series in one batch: one update of the series, the study and the patient each."""
    updates: list[str] = []
    real = Database.execute
    real_savepoint = Database.savepoint

    def execute(self: Database, sql: str, params: Any = ()) -> Any:
        if sql.startswith("UPDATE") and "num_instances" in sql:
            updates.append(sql.split()[1])
        return real(self, sql, params)

    def savepoint(self: Database) -> Any:
        updates.append("savepoint")
        return real_savepoint(self)

    with Archive(config) as archive:
        records = _one_series(archive, "PC", "9", 10)
        with _one_batch(archive.index.writer):
            monkeypatch.setattr(Database, "execute", execute)
            monkeypatch.setattr(Database, "savepoint", savepoint)
            futures = [archive.index.store(r) for r in records]
        assert [f.result(30).outcome for f in futures] == ["stored"] * 10
        monkeypatch.undo()
        assert sorted(updates) == ["patients", "series", "studies"]  # and no savepoint: nothing failed
        (series,) = archive.index.series()
        assert series["num_instances"] == 10
        study = archive.index.study(f"{P}.9")
        assert study is not None and (study["num_instances"], study["num_series"]) == (10, 1)
        (patient,) = archive.index.patients()
        assert (patient["num_instances"], patient["num_series"], patient["num_studies"]) == (10, 1, 1)


def test_a_failing_store_fails_alone_and_the_batch_runs_again_with_savepoints(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of stores runs without savepoints; when one fails (after its statements), the batch is rolled
    back and run again with a savepoint per store: the others are stored, the failing one left nothing."""
    calls: list[str] = []
    real_savepoint = Database.savepoint

    def savepoint(self: Database) -> Any:
        calls.append("savepoint")
        return real_savepoint(self)

    class Failing(_FailsAfterStoring):
        def __call__(self, db: Database) -> StoreResult:
            calls.append("failing")
            return super().__call__(db)

    with Archive(config) as archive:
        records = _one_series(archive, "PD", "8", 5)
        writer = archive.index.writer
        with _one_batch(writer):
            monkeypatch.setattr(Database, "savepoint", savepoint)
            futures = [archive.index.store(records[0]), writer.submit(Failing(records[1]))] + [
                archive.index.store(r) for r in records[2:]]
        with pytest.raises(RuntimeError, match="fails after storing"):
            futures[1].result(30)
        assert [f.result(30).outcome for f in futures[:1] + futures[2:]] == ["stored"] * 4
        monkeypatch.undo()
        # once without savepoints (up to the failure), then again with one per store
        assert calls == ["failing"] + ["savepoint", "savepoint", "failing"] + ["savepoint"] * 3, calls
        assert archive.index.instance(records[1].sop_instance_uid) is None
        assert sorted(r.sop_instance_uid for r in archive.index.instances()) == sorted(
            r.sop_instance_uid for r in records[:1] + records[2:])
        (series,) = archive.index.series()
        assert series["num_instances"] == 4
