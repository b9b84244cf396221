"""The start-up sweep, ``archive verify [--repair]`` and the operator commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dicomkit.server.config import Config
from dicomkit.server.ingest import Archive
from dicomkit.server.sweep import startup_sweep, verify

from .data import files


def cli(*args: str, config: Config | None = None) -> subprocess.CompletedProcess[str]:
    extra: list[str] = []
    if config is not None:
        extra = ["--data-dir", str(config.storage.data_dir)]
        if config.database.url:
            extra += ["--database", config.database.url]
    return subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", *args, *extra],
                          capture_output=True, text=True, timeout=300)


def crash_leftovers(archive: Archive, tmp_path: Path) -> dict[str, str]:
    """What a crash leaves: a temporary file of a dead node, a placed blob whose commit never happened, and
    a blob of an instance that lost its row."""
    paths = files(tmp_path / "in", 4)
    for p in paths[:3]:
        assert archive.ingest_file(p).status == 0
    dead = archive.store.temp_dir / "deadnode0000.0123456789abcdef.part"  # type: ignore[attr-defined]
    dead.write_bytes(b"half an object")
    # placed but not committed (the crash came between the link and the commit)
    temp = archive.store.create_temp()
    temp.write([paths[3].read_bytes()])
    orphan = archive.store.place(temp, "1.2.826.0.1.3680043.10.7.0", "1.2.826.0.1.3680043.10.7.0.0",
                                 "1.2.826.0.1.3680043.10.7.0.0.3", durable=True)
    # a second blob of a stored instance (the loser of a duplicate whose removal did not happen)
    temp = archive.store.create_temp()
    temp.write([paths[0].read_bytes()])
    loser = archive.store.place(temp, "1.2.826.0.1.3680043.10.7.0", "1.2.826.0.1.3680043.10.7.0.0",
                                "1.2.826.0.1.3680043.10.7.0.0.0", durable=True)
    return {"dead": str(dead), "orphan": orphan, "loser": loser}


def test_startup_sweep_reconciles(config: Config, tmp_path: Path) -> None:
    with Archive(config) as archive:
        left = crash_leftovers(archive, tmp_path)
    with Archive(config) as archive:  # the next start
        report = startup_sweep(archive)
        assert report.temp_removed == [left["dead"]]
        assert report.orphans_indexed == [left["orphan"]] and report.orphans_removed == [left["loser"]]
        assert archive.index.count("instance") == 4
        assert verify(archive).problems == 0
        assert startup_sweep(archive).lines() == []  # nothing left to do


def test_live_nodes_keep_their_files(config: Config, tmp_path: Path) -> None:
    with Archive(config) as a, Archive(config) as b:
        a.index.register_node(a.node)
        temp = a.store.create_temp()
        temp.write([b"in progress"])
        report = startup_sweep(b)
        assert str(temp.path) not in report.temp_removed and temp.path.exists()
        a.index.stop_node(a.node)  # a stopped (or expired) node's leftovers go
        assert str(temp.path) in startup_sweep(b).temp_removed


def test_verify_finds_and_repairs(config: Config, tmp_path: Path) -> None:
    with Archive(config) as archive:
        left = crash_leftovers(archive, tmp_path)
        rows = archive.index.instances()
        missing, corrupt = rows[1], rows[2]
        os.unlink(archive.store.path_of(missing.blob_key))  # type: ignore[attr-defined]
        path = archive.store.path_of(corrupt.blob_key)  # type: ignore[attr-defined]
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        old = time.time() - 7200
        os.utime(left["dead"], (old, old))
    run = cli("verify", config=config)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"missing  {missing.sop_instance_uid}" in run.stdout
    assert f"corrupt  {corrupt.sop_instance_uid}" in run.stdout and "SHA-256" in run.stdout
    assert f"orphan   {left['orphan']}" in run.stdout and f"orphan   {left['loser']}" in run.stdout
    assert "3 rows, 4 blobs checked: 1 missing, 1 corrupt, 2 orphaned" in run.stdout
    run = cli("verify", "--repair", config=config)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "re-indexed" in run.stdout and "removed" in run.stdout
    run = cli("verify", config=config)
    assert run.returncode == 0 and "0 missing, 0 corrupt, 0 orphaned" in run.stdout, run.stdout
    with Archive(config) as archive:
        assert archive.index.count("instance") == 2  # the orphan re-indexed, the two damaged rows removed
        assert archive.index.query("SELECT count(*) AS n FROM quarantine")[0]["n"] == 1


def test_operator_commands(config: Config, tmp_path: Path) -> None:
    paths = files(tmp_path / "in", 12, studies=3, series_per_study=2)
    (tmp_path / "in" / "not-dicom.txt").write_text("hello")
    with Archive(config):
        pass  # creates the archive
    run = cli("import", str(tmp_path / "in"), "--workers", "3", config=config)
    assert run.returncode == 1, run.stderr  # the text file failed
    assert "imported 12 of 13 file(s)" in run.stdout and "not-dicom.txt" in run.stderr
    run = cli("import", str(paths[0]), config=config)
    assert run.returncode == 0 and "1 already stored" in run.stdout
    run = cli("stats", "--json", config=config)
    info = json.loads(run.stdout)
    assert (info["patients"], info["studies"], info["series"], info["instances"]) == (3, 3, 6, 12)
    run = cli("stats", config=config)
    assert run.returncode == 0 and "3 patients, 3 studies, 6 series, 12 instances" in run.stdout
    run = cli("delete", "--study", "1.2.826.0.1.3680043.10.7.1", config=config)
    assert run.returncode == 0 and "4 instance(s)" in run.stdout
    run = cli("delete", "--series", "9.9.9", config=config)
    assert run.returncode == 1 and "no series 9.9.9" in run.stderr
    run = cli("reindex", config=config)
    assert run.returncode == 0 and "reindexed 8 instances" in run.stdout
    assert cli("verify", config=config).returncode == 0


def test_archive_errors(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", "stats", "--data-dir",
                          str(tmp_path / "nothing")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "no archive in" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("level", ["instance", "series"])
def test_delete_then_crash_leaves_files_the_sweep_removes(config: Config, tmp_path: Path, level: str) -> None:
    with Archive(config) as archive:
        for p in files(tmp_path / "in", 2):
            archive.ingest_file(p)
        row = archive.index.instances()[0]
        uid = row.sop_instance_uid if level == "instance" else row.series_instance_uid
        keys = archive.index.delete(level, uid)  # rows gone; the crash comes before the blobs are removed
        assert keys
    with Archive(config) as archive:
        report = verify(archive, repair=True)
        assert sorted(report.orphans) == sorted(keys) and report.ok
        assert all(archive.store.size(k) is None for k in keys)
