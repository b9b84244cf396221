"""The archive on SQLite and PostgreSQL: ingest, aggregates, duplicates, concurrent writers, deletion,
reindex, migrations."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dicomkit.server.config import Config, set_value
from dicomkit.server.index import Index
from dicomkit.server.index.dialect import Database, IndexError_, connect
from dicomkit.server.index.schema import LATEST
from dicomkit.server.ingest import Archive

from .data import CT, files, image, write


@pytest.fixture
def archive(config: Config) -> Archive:
    a = Archive(config)
    yield a
    a.close()


def test_ingest_indexes_every_level(archive: Archive, tmp_path: Path) -> None:
    paths = files(tmp_path / "in", 6, studies=2, series_per_study=2)
    paths.append(write(image(patient_id="P0", patient_name="Patient^0", study="1.2.826.0.1.3680043.10.7.0",
                             series="1.2.826.0.1.3680043.10.7.0.9", modality="CT", sop_class=CT, frames=3, fill=6),
                       tmp_path / "in"))
    for p in paths:
        assert archive.ingest_file(p).status == 0
    index = archive.index
    assert [index.count(lv) for lv in ("patient", "study", "series", "instance")] == [2, 2, 5, 7]
    study = index.study("1.2.826.0.1.3680043.10.7.0")
    assert study is not None
    assert (study["num_series"], study["num_instances"]) == (3, 4)
    assert study["modalities_in_study"] == "CT\\MR"
    assert study["sop_classes_in_study"] == f"{CT}\\1.2.840.10008.5.1.4.1.1.4"
    assert (study["study_date_norm"], study["study_time_norm"], study["study_datetime"]) == (
        "20240315", "101500000000", "20240315101500000000")
    patient = index.query("SELECT * FROM patients WHERE patient_id = ?", ("P0",))[0]
    assert (patient["patient_name"], patient["patient_name_a"], patient["num_studies"], patient["num_series"],
            patient["num_instances"]) == ("Patient^0", "patient^0", 1, 3, 4)
    assert patient["patient_name_fz"] == "patient^0"
    row = index.instances(series_instance_uid="1.2.826.0.1.3680043.10.7.0.9")[0]
    assert row.sha256 == hashlib.sha256(archive.store.open(row.blob_key).read()).hexdigest()
    header = index.header(row.sop_instance_uid)
    assert header is not None and header["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Patient^0"}]}
    assert header["7FE00010"] == {"vr": "OW", "BulkDataURI": "bulk/7FE00010"}
    bulk = index.bulk(row.sop_instance_uid)
    assert bulk is not None
    offset, length, count = bulk["frames"]["native"]
    assert (length, count) == (16 * 16 * 2, 3)
    assert archive.store.read_range(row.blob_key, offset + length, length) == bytes([6, 0]) * 256


def test_encapsulated_frames_are_located(archive: Archive, corpus: Path) -> None:
    path = corpus / "emri_small_jpeg_2k_lossless.dcm"
    assert archive.ingest_file(path).status == 0
    [row] = archive.index.instances()
    bulk = archive.index.bulk(row.sop_instance_uid)
    assert bulk is not None
    frames = bulk["fragments"] if "fragments" in bulk else bulk["frames"]["fragments"]
    assert len(frames) == 10
    import dicomkit
    from dicomkit.io.encapsulation import encapsulated_frames

    expected = encapsulated_frames(dicomkit.read(path))
    for spans, pieces in zip(frames, expected):
        got = b"".join(archive.store.read_range(row.blob_key, o, n) for o, n in spans)
        assert got == b"".join(bytes(p) for p in pieces)


def test_duplicates_keep_first(archive: Archive, tmp_path: Path) -> None:
    first = write(image(sop="1.2.3.4.5", fill=1), tmp_path / "a")
    assert archive.ingest_file(first).outcome == "stored"
    # the same data set again (another file of the same bytes): Success, nothing written
    blobs_before = sorted(b.key for b in archive.store.iterate())
    again = archive.ingest_file(first)
    assert (again.status, again.outcome) == (0, "identical")
    assert sorted(b.key for b in archive.store.iterate()) == blobs_before
    other = write(image(sop="1.2.3.4.5", fill=2), tmp_path / "b")
    refused = archive.ingest_file(other)
    assert (refused.status, refused.outcome) == (0xC111, "duplicate")
    [row] = archive.index.instances()
    assert archive.store.read_range(row.blob_key, 0, 1 << 20) == first.read_bytes()
    [q] = archive.index.query("SELECT * FROM quarantine")
    assert q["sop_instance_uid"] == "1.2.3.4.5"
    assert archive.store.read_range(q["blob_key"], 0, 1 << 20) == other.read_bytes()
    assert archive.index.count("instance") == 1


def test_duplicates_overwrite(config: Config, tmp_path: Path) -> None:
    set_value(config, "storage.duplicates", "overwrite")
    with Archive(config) as archive:
        first = write(image(sop="1.2.3.4.6", fill=1), tmp_path / "a")
        second = write(image(sop="1.2.3.4.6", fill=2, modality="CT"), tmp_path / "b")
        assert archive.ingest_file(first).outcome == "stored"
        old_key = archive.index.instances()[0].blob_key
        assert archive.ingest_file(second).outcome == "replaced"
        [row] = archive.index.instances()
        assert row.blob_key != old_key and archive.store.size(old_key) is None
        assert archive.store.read_range(row.blob_key, 0, 1 << 20) == second.read_bytes()
        study = archive.index.studies()[0]
        assert (study["num_instances"], study["num_series"], study["modalities_in_study"]) == (1, 1, "CT")


def test_two_nodes_store_one_uid_at_once(config: Config, tmp_path: Path) -> None:
    """Two archives (two nodes) on one index and store race to store different data sets of one UID:
    one row, its blob intact, the other quarantined; never a row pointing at the other's bytes."""
    paths = [write(image(sop=f"1.2.3.9.{i}", fill=k), tmp_path / f"n{k}") for k in (1, 2) for i in range(20)]
    a, b = Archive(config), Archive(config)
    try:
        assert a.node != b.node
        results: dict[str, list[int]] = {}

        def run(archive: Archive, subset: list[Path]) -> None:
            for p in subset:
                results.setdefault(p.parent.name, []).append(archive.ingest_file(p).status)

        threads = [threading.Thread(target=run, args=(a, paths[:20])),
                   threading.Thread(target=run, args=(b, paths[20:]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = a.index.instances()
        assert len(rows) == 20
        assert sorted(results["n1"] + results["n2"]) == [0] * 20 + [0xC111] * 20
        for row in rows:
            data = a.store.read_range(row.blob_key, 0, 1 << 20)
            assert hashlib.sha256(data).hexdigest() == row.sha256
        stored = {blob.key for blob in a.store.iterate()}
        assert stored == {row.blob_key for row in rows}  # the losers' blobs are gone from the tree
        assert a.index.count("instance") == 20 and a.index.query("SELECT count(*) AS n FROM quarantine")[0]["n"] == 20
    finally:
        a.close()
        b.close()


def test_delete_levels(archive: Archive, tmp_path: Path) -> None:
    for p in files(tmp_path / "in", 8, studies=2, series_per_study=2):
        archive.ingest_file(p)
    index = archive.index
    one = index.instances()[0]
    keys = archive.delete("instance", one.sop_instance_uid)
    assert keys == [one.blob_key] and archive.store.size(one.blob_key) is None
    assert index.count("instance") == 7
    series = index.series(one.study_instance_uid)
    assert sum(s["num_instances"] for s in series) == 3
    assert len(archive.delete("series", one.series_instance_uid)) == 1
    study = index.study(one.study_instance_uid)
    assert study is not None and (study["num_series"], study["num_instances"]) == (1, 2)
    assert len(archive.delete("study", one.study_instance_uid)) == 2
    assert index.study(one.study_instance_uid) is None and index.count("patient") == 1
    assert len(archive.delete("patient", "P1")) == 4
    assert [index.count(lv) for lv in ("patient", "study", "series", "instance")] == [0, 0, 0, 0]
    assert not list(archive.store.iterate())
    assert archive.delete("study", "9.9.9") == []


def test_extra_keys_and_reindex(config: Config, tmp_path: Path) -> None:
    from dicomkit.server.operator import reindex

    paths = files(tmp_path / "in", 4, studies=2)
    with Archive(config) as archive:
        for p in paths:
            archive.ingest_file(p)
        assert archive.index.query("SELECT count(*) AS n FROM extra_attributes")[0]["n"] == 0
        archive.index.write(lambda db: db.execute("UPDATE studies SET num_instances = 99, study_description = NULL"))
    set_value(config, "index.extra_keys", {"InstitutionName": "series", "PatientSex": "patient"})
    config.check()
    with Archive(config) as archive:
        assert reindex(archive) == 4
        rows = archive.index.query("SELECT level, tag, value, value_fold FROM extra_attributes "
                                   "ORDER BY level, entity_pk")
        assert [r["level"] for r in rows] == ["patient", "patient", "series", "series"]
        assert rows[-1]["value"] == "Test Hospital" and rows[-1]["value_fold"] == "test hospital"
        assert all(s["num_instances"] == 2 and s["study_description"] == "Test study" for s in archive.index.studies())
        assert reindex(archive, from_blobs=True) == 4
        assert all(s["num_instances"] == 2 for s in archive.index.studies())


def test_reindex_recomputes_after_a_retried_transaction(archive: Archive, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer runs a transaction again when the database aborts it (a serialization failure): a batch of
    reindex run once, rolled back and run again still recomputes the studies it holds, not only fills what is
    empty in them."""
    from dicomkit.server.operator import reindex

    for p in files(tmp_path / "in", 4, studies=2):
        archive.ingest_file(p)
    archive.index.write(lambda db: db.execute("UPDATE studies SET study_description = 'WRONG'"))
    real = archive.index.write
    runs: list[Callable[[Database], Any]] = []

    class Aborted(Exception):
        pass

    def write_after_an_abort(work: Callable[[Database], Any]) -> Any:
        def aborted(db: Database) -> None:
            work(db)
            raise Aborted()

        with pytest.raises(Aborted):
            real(aborted)  # rolled back
        runs.append(work)
        return real(work)

    monkeypatch.setattr(archive.index, "write", write_after_an_abort)
    assert reindex(archive) == 4
    assert runs
    assert [s["study_description"] for s in archive.index.studies()] == ["Test study", "Test study"]


def test_extra_keys_are_matched_in_sql_first(config: Config, tmp_path: Path) -> None:
    """An extra key narrows the rows in SQL (extra_attributes); an entity stored before the key was configured
    (no row yet, no reindex) is still found, from its stored header."""
    from dicomkit import Dataset
    from dicomkit.server.sources import IndexQuerySource
    from dicomkit.services.query_retrieve import STUDY_ROOT, Operation, plan_from_identifier

    study = "1.2.826.0.1.3680043.10.8.1"

    def series(n: int, department: str) -> Path:
        ds = image(study=study, series=f"{study}.{n}", sop=f"{study}.{n}.1")
        ds.InstitutionalDepartmentName = department
        return write(ds, tmp_path / "in")

    with Archive(config) as archive:
        assert archive.ingest_file(series(3, "North Annex")).status == 0  # before the key is configured
    set_value(config, "index.extra_keys", {"InstitutionalDepartmentName": "series"})
    config.check()
    with Archive(config) as archive:
        for n, department in ((1, "North Clinic"), (2, "South Clinic"), (4, "NORTH CLINIC")):
            assert archive.ingest_file(series(n, department)).status == 0
        source = IndexQuerySource(archive.index)

        def found(value: str) -> list[str]:
            q = Dataset()
            q.QueryRetrieveLevel = "SERIES"
            q.StudyInstanceUID = study
            q.SeriesInstanceUID = ""
            q.InstitutionalDepartmentName = value
            plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
            return sorted(str(m.SeriesInstanceUID) for m in source.find_sync(plan))

        assert found("North*") == [f"{study}.1", f"{study}.3"]  # case-sensitive (LO): not NORTH CLINIC
        assert found("South Clinic") == [f"{study}.2"]
        assert found("North Clinic\\South Clinic") == [f"{study}.1", f"{study}.2"]
        assert found("West*") == []
        from dicomkit.server.sources.sql import extra_depths, translate

        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study
        q.InstitutionalDepartmentName = "North*"
        plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
        where = translate(plan, postgres=archive.index.is_postgres,
                          extra=extra_depths(config.index.extra_keys)).where_clause()
        assert "extra_attributes" in where


def test_schema_versions(config: Config) -> None:
    with Index(config.database_url if config.database.url else _sqlite(config)) as index:
        assert index.query("SELECT max(version) AS v FROM schema_migrations")[0]["v"] == LATEST
    url = config.database.url or _sqlite(config)
    db = connect(url)
    db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", (LATEST + 1,))
    db.close()
    with pytest.raises(IndexError_, match="newer than this dicomkit"):
        Index(url)


def _sqlite(config: Config) -> str:
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    return config.database_url


def test_limits(config: Config, tmp_path: Path) -> None:
    paths = files(tmp_path / "in", 3)
    size = paths[0].stat().st_size
    set_value(config, "storage.max_archive_size", size + size // 2)
    with Archive(config) as archive:
        assert archive.ingest_file(paths[0]).status == 0
        refused = archive.ingest_file(paths[1])
        assert refused.status == 0xA700 and "maximum archive size" in (refused.comment or "")
        assert archive.index.count("instance") == 1 and len(list(archive.store.iterate())) == 1
        assert not list(archive.store.temp_files()) or all(t.node == archive.node and t.size == 0
                                                          for t in archive.store.temp_files())
    set_value(config, "storage.max_archive_size", 0)
    set_value(config, "storage.min_free_space", "1000 TB")
    with Archive(config) as archive:
        refused = archive.ingest_file(paths[2])
        assert refused.status == 0xA700 and "minimum free space" in (refused.comment or "")


def test_later_instances_supplement_empty_attributes(archive: Archive, tmp_path: Path) -> None:
    """Patient/study/series keys come from the first instance, filled in (never overwritten) by later ones."""
    from dicomkit.server.operator import reindex

    first = image(sop="1.2.826.0.1.3680043.10.3.1", study_date="", study_time="")
    del first.StudyDescription
    first.ReferringPhysicianName = ""
    first.Modality = ""
    second = image(sop="1.2.826.0.1.3680043.10.3.2", study_date="20240102", study_time="0930")
    second.StudyDescription = "Filled later"
    second.ReferringPhysicianName = "Later^Doctor"
    second.Modality = "CT"
    third = image(sop="1.2.826.0.1.3680043.10.3.3", study_date="20250505")
    third.StudyDescription = "Never used"
    third.Modality = "MR"
    for ds in (first, second, third):
        assert archive.ingest_file(write(ds, tmp_path / "in")).status == 0

    def check() -> None:
        study = archive.index.study(str(first.StudyInstanceUID))
        assert study is not None
        assert (study["study_description"], study["referring_physician_name"], study["referring_physician_name_a"],
                study["study_date_norm"], study["study_datetime"]) == (
            "Filled later", "Later^Doctor", "later^doctor", "20240102", "20240102093000000000")
        assert study["modalities_in_study"] == "CT"
        assert archive.index.series(str(first.StudyInstanceUID))[0]["modality"] == "CT"

    check()
    reindex(archive)
    check()


def test_before_commit_runs_once_per_key_and_a_failure_rolls_back(tmp_path: Path) -> None:
    """The group-commit writer runs each piece's ``before_commit`` action after the work and before the
    commit, once per key for the pieces of one batch; an action that fails fails the batch, nothing kept."""
    from dicomkit.server.index.writer import GroupCommitWriter

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    setup = connect(url)
    setup.execute("CREATE TABLE t (v INTEGER)")
    setup.close()
    writer = GroupCommitWriter(lambda: connect(url))
    calls: list[str] = []
    gate = threading.Event()
    try:
        blocker = writer.submit(lambda db: gate.wait(10))  # holds the writer so that the next three batch up
        futures = [writer.submit(lambda db, i=i: db.execute("INSERT INTO t VALUES (?)", (i,)),
                                 before_commit=(key, lambda key=key: calls.append(key)))
                   for i, key in enumerate(["a", "b", "a"])]
        gate.set()
        blocker.result(10)
        for f in futures:
            f.result(10)
        assert sorted(calls) == ["a", "b"]  # one batch of three: "a" once

        def fail() -> None:
            raise OSError(5, "Input/output error")

        failing = writer.submit(lambda db: db.execute("INSERT INTO t VALUES (99)"), before_commit=("c", fail))
        with pytest.raises(IndexError_, match="cannot make the stored objects durable"):
            failing.result(10)
        check = connect(url)
        assert sorted(r[0] for r in check.rows("SELECT v FROM t")) == [0, 1, 2]
        check.close()
    finally:
        writer.close()


def test_a_folder_that_cannot_be_synced_refuses_the_store_and_keeps_nothing(archive: Archive, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """durability full: a store whose folder sync fails (before its commit) is answered 0xA700 saying it
    could not be stored — not that the index is away — with no row and no blob left, on each ingest path."""
    from dicomkit.io.writer import to_bytes

    assert archive.durable

    def fail(key: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(archive.store, "sync_folder", fail)
    by_file = archive.ingest_file(write(image(sop="1.2.826.0.1.3680043.10.9.51"), tmp_path))
    (in_batch,) = archive.ingest_batch([to_bytes(image(sop="1.2.826.0.1.3680043.10.9.52"))])
    for stored in (by_file, in_batch):
        assert stored.status == 0xA700 and stored.outcome == "refused"
        assert stored.comment is not None and stored.comment.startswith("cannot store: cannot make the stored")
    assert archive.index.count("instance") == 0
    assert not [p for p in (archive.config.storage.data_dir / "store").rglob("*") if p.is_file()
                and p.suffix == ".dcm"]


def test_a_retried_store_that_had_committed_keeps_its_blob(archive: Archive, tmp_path: Path) -> None:
    """The group-commit writer runs a batch again after a connection lost during COMMIT; when that COMMIT had
    gone through, the store finds its own row: identical, and its blob is not among those to delete."""
    from dicomkit.server.index import store_instance
    from dicomkit.server.ingest import _uids_of, hash_file

    path = write(image(sop="1.2.826.0.1.3680043.10.9.40"), tmp_path)
    _fh, _ch, offset, _size = hash_file(path)
    probe = _uids_of(path)
    assert probe is not None
    record = archive.prepare(path, *probe, dataset_offset=offset, source_ae=None)
    assert not isinstance(record, tuple)
    record.blob_key = "aa/study/series/mine.dcm"
    first = archive.index.write(lambda db: store_instance(db, record, "keep-first"))
    again = archive.index.write(lambda db: store_instance(db, record, "keep-first"))
    assert first.outcome == "stored"
    assert again.outcome == "identical" and again.delete_after_commit == () and again.existing_key == record.blob_key
    other = archive.prepare(path, *probe, dataset_offset=offset, source_ae=None)
    assert not isinstance(other, tuple)
    other.blob_key = "aa/study/series/theirs.dcm"
    loser = archive.index.write(lambda db: store_instance(db, other, "keep-first"))
    assert loser.outcome == "identical" and loser.delete_after_commit == ("aa/study/series/theirs.dcm",)
