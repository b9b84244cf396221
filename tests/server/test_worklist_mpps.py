"""Worklist items and performed procedure steps in the index (schema version 2), on SQLite and PostgreSQL:
the worklist cases of the shared table, `dicomkit worklist add|list|remove`, the drop folder, MPPS records
linked to stored instances, and the upgrade of a version-1 database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dicomkit import Dataset
from dicomkit.io.json_model import to_json
from dicomkit.server.config import Config
from dicomkit.server.index import Index
from dicomkit.server.index.dialect import connect
from dicomkit.server.index.schema import LATEST, MIGRATIONS, migrate
from dicomkit.server.ingest import Archive
from dicomkit.server.sources import IndexMppsSource, IndexWorklistSource, WorklistFolder
from dicomkit.server.sources.worklist import add_items, list_items, remove_items
from dicomkit.services.query_retrieve.errors import QueryError
from dicomkit.services.sources import LOCAL, DuplicateInstanceError, NoSuchInstanceError, Requester

from ..services.query_retrieve.matching_cases import CASES, Case, plan_for, record_datasets, result_names
from .data import image, write

WORKLIST_CASES = [c for c in CASES if c.model == "worklist"]


@pytest.fixture
def index(config: Config) -> Index:
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    ix = Index(config.database_url)
    yield ix
    ix.close()


def test_worklist_cases(index: Index) -> None:
    items = list(record_datasets("worklist").values())
    assert all(added for _, added in add_items(index, [(ds, "test") for ds in items]))
    assert not any(added for _, added in add_items(index, [(items[0], "again")]))  # the same item is one item
    source = IndexWorklistSource(index, page=3)

    async def run(plan: object) -> list[Dataset]:
        return [m async for m in source.find(plan, LOCAL)]  # type: ignore[arg-type]

    for case in WORKLIST_CASES:
        check(case, source, run)


def check(case: Case, source: IndexWorklistSource, run: object) -> None:
    if case.error is not None:
        with pytest.raises(QueryError):
            plan_for(case)
        return
    plan = plan_for(case)
    assert source.unsupported_keys(plan) == frozenset()
    assert result_names(case, asyncio.run(run(plan))) == set(case.expected), case.id  # type: ignore[operator]
    assert result_names(case, list(source.find_sync(plan))) == set(case.expected)


def _item(accession: str, station: str = "CT1") -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jürgen"
    ds.PatientID = "P7"
    ds.AccessionNumber = accession
    ds.RequestedProcedureID = "RP" + accession
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20261202"
    step.ScheduledProcedureStepID = "S" + accession
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "worklist", *args], capture_output=True,
                          text=True, timeout=60)


def test_worklist_commands(config: Config, tmp_path: Path) -> None:
    json_file = tmp_path / "a.json"
    json_file.write_text(to_json(_item("W1")))
    dcm_file = tmp_path / "b.dcm"
    dcm_file.write_bytes(_item("W2", station="MR1").to_bytes("1.2.840.10008.1.2.1"))  # a bare data set
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "NO^STEPS"}]}}))
    where = ["--data-dir", str(config.storage.data_dir)] + (["--database", config.database.url]
                                                            if config.database.url else [])
    added = _cli("add", str(json_file), str(dcm_file), str(bad), *where)
    assert added.returncode == 1, added.stderr
    assert "not a worklist item" in added.stderr and "Traceback" not in added.stderr
    ids = [line.split()[0] for line in added.stdout.splitlines()]
    assert len(ids) == 2 and all(line.endswith(")") and " added " in line for line in added.stdout.splitlines())
    listed = _cli("list", *where)
    assert listed.returncode == 0 and "2 item(s)" in listed.stdout and "Müller^Jürgen" in listed.stdout
    assert "2026-12-02  MR1" in listed.stdout
    as_json = json.loads(_cli("list", "--json", *where).stdout)
    assert sorted(i["accession_number"] for i in as_json) == ["W1", "W2"]
    removed = _cli("remove", ids[0][:8], *where)
    assert removed.returncode == 0 and removed.stdout.split()[0] == ids[0]
    assert _cli("remove", "ffffffffffff", *where).returncode == 1
    assert [i["item_id"] for i in json.loads(_cli("list", "--json", *where).stdout)] == [ids[1]]


def test_worklist_folder(index: Index, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "one.json").write_text(to_json(_item("F1")))
    (folder / "two.dcm").write_bytes(_item("F2").to_bytes("1.2.840.10008.1.2.1"))
    (folder / "junk.txt").write_text("not DICOM")
    watcher = WorklistFolder(index, folder, settle=0)
    assert watcher.scan() == (2, 1)
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["one.json", "two.dcm"]
    assert (folder / "failed" / "junk.txt.error").read_text().strip()
    assert sorted(i.accession_number or "" for i in list_items(index)) == ["F1", "F2"]
    assert watcher.scan() == (0, 0)
    (folder / "one.json").write_text(to_json(_item("F1")))  # dropped again: the same item
    assert watcher.scan() == (0, 0) and len(list_items(index)) == 2
    assert len(remove_items(index, [list_items(index)[0].item_id])) == 1


def _step(status: str, refs: list[tuple[str, str]], series: str) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepID = "PPS1"
    performed = Dataset()
    performed.SeriesInstanceUID = series
    items = []
    for sop_class, sop_instance in refs:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = sop_instance
        items.append(ref)
    performed.ReferencedImageSequence = items
    ds.PerformedSeriesSequence = [performed]
    return ds


def test_mpps_records_and_links(config: Config, tmp_path: Path) -> None:
    archive = Archive(config)
    try:
        ds = image(series="1.2.826.0.1.3680043.10.1.1.5")
        assert archive.ingest_file(write(ds, tmp_path / "in")).status == 0
        source = IndexMppsSource(archive.index)
        who = Requester(calling_ae_title="CT1")
        uid = "1.2.826.0.1.3680043.10.55.1"
        refs = [(str(ds.SOPClassUID), str(ds.SOPInstanceUID)), (str(ds.SOPClassUID), "1.2.826.0.1.3680043.10.55.9")]

        async def run() -> None:
            assert await source.get(uid, who) is None
            await source.create(uid, _step("IN PROGRESS", refs[:1], str(ds.SeriesInstanceUID)), who)
            with pytest.raises(DuplicateInstanceError):
                await source.create(uid, _step("IN PROGRESS", [], "1.2.3"), who)
            with pytest.raises(NoSuchInstanceError):
                await source.set("1.2.826.0.1.3680043.10.55.2", _step("COMPLETED", [], "1.2.3"), who)
            await source.set(uid, _step("COMPLETED", refs, str(ds.SeriesInstanceUID)), who)
            got = await source.get(uid, who)
            assert got is not None and got.PerformedProcedureStepStatus == "COMPLETED"

        asyncio.run(run())
        linked = source.instances(uid)
        assert sorted((r.sop_instance_uid, r.stored) for r in linked) == sorted([(refs[0][1], True),
                                                                                 (refs[1][1], False)])
        assert source.steps_of(str(ds.SOPInstanceUID)) == [uid]
        assert archive.index.query("SELECT status, source_ae FROM mpps")[0] == {"status": "COMPLETED",
                                                                               "source_ae": "CT1"}
    finally:
        archive.close()


def test_a_version_1_database_is_upgraded(config: Config, tmp_path: Path) -> None:
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = connect(config.database_url)
    assert migrate(db, target=1) == 0
    db.close()
    ix = Index(config.database_url, migrate_schema=False)  # a version-1 archive with an instance in it
    try:
        from dicomkit.server.index.schema import current_version

        assert current_version(ix.read()) == 1
        assert not ix.query("SELECT count(*) AS n FROM schema_migrations WHERE version = 2")[0]["n"]
    finally:
        ix.close()
    archive_v1 = Archive(config, index=Index(config.database_url, migrate_schema=False))
    try:
        assert archive_v1.ingest_file(write(image(), tmp_path / "v1")).status == 0
    finally:
        archive_v1.close()
    with Index(config.database_url) as upgraded:  # opening migrates
        assert upgraded.query("SELECT max(version) AS v FROM schema_migrations")[0]["v"] == LATEST
        assert upgraded.count("instance") == 1
        assert add_items(upgraded, [(_item("U1"), None)])[0][1]
        assert len(list_items(upgraded)) == 1
    assert set(MIGRATIONS) == {1, 2, 3, 4}


def test_a_version_3_database_gets_the_deid_uids_table(config: Config) -> None:
    """Version 4: the replacement UIDs of de-identified views (dicomkit.server.deidview), contiguous with 1-3."""
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = connect(config.database_url)
    assert migrate(db, target=3) == 0
    from dicomkit.server.index.schema import current_version

    assert current_version(db) == 3
    db.close()
    with Index(config.database_url) as upgraded:
        assert upgraded.query("SELECT max(version) AS v FROM schema_migrations")[0]["v"] == LATEST == 4
        upgraded.write(lambda d: d.execute("INSERT INTO deid_uids (replacement, original, level, created_at) "
                                           "VALUES ('2.25.1', '1.2.3', 'study', 0)"))
        assert upgraded.query("SELECT original FROM deid_uids WHERE replacement = '2.25.1'") == [{"original": "1.2.3"}]


def test_the_server_picks_up_the_worklist_folder(tmp_path: Path) -> None:
    from dicomkit.server import Server

    from ..helpers import wait_until

    folder = tmp_path / "worklist"
    with Server(data_dir=tmp_path / "pacs", dicom_port=0, http=False,
                overrides={"worklist.folder": str(folder), "worklist.scan_interval": 0.1}) as pacs:
        wait_until(folder.is_dir)  # the server makes the folder
        (folder / "item.json").write_text(to_json(_item("S1")))
        wait_until(lambda: (folder / "done" / "item.json").exists())
        assert [i.accession_number for i in list_items(pacs.index)] == ["S1"]
        assert pacs.pacs.sources.worklist.index is pacs.index
