"""A PostgreSQL restart under load: stores of that moment fail with 0xA700 (or wait for the database), the
archive recovers by itself, and every instance answered 0x0000 is indexed and verifies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.net.sync import connect as connect_sync
from dicomkit.server import Server
from dicomkit.services.query_retrieve import STUDY_ROOT, Operation, PlanOptions, plan_from_identifier
from dicomkit.services.sources import LOCAL
from dicomkit.services.storage.scu import store
from dicomkit.services.verification import echo

from ..helpers import wait_until
from .data import MR, files
from .postgres import ENV, restart_cluster, start_cluster, stop_cluster

pytestmark = pytest.mark.slow


def test_postgresql_restart_under_load(tmp_path: Path) -> None:
    try:
        url, folder = start_cluster()  # a cluster of its own (it is restarted), in a folder postgres can reach
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"no PostgreSQL cluster can be started here: {exc} ({ENV} names a shared server, which this "
                    "test does not restart)")
    try:
        paths = files(tmp_path / "in", 600, studies=3, series_per_study=2, prefix="1.2.826.0.1.3680043.10.8")
        uids = {p: str(dicomkit.read(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}
        statuses: dict[Path, int] = {}
        with Server(data_dir=tmp_path / "data", database=url, dicom_port=0, http=False) as pacs:

            def send(batch: list[Path]) -> None:
                with connect_sync("127.0.0.1", pacs.port, called_ae_title=pacs.ae_title, contexts=[MR]) as assoc:
                    for p in batch:
                        statuses[p] = int(assoc.call(store, p).status_value)

            sender = threading.Thread(target=send, args=(paths,))
            sender.start()
            wait_until(lambda: len(statuses) >= 100, timeout=120, what="100 stores")
            q = Dataset()
            q.QueryRetrieveLevel = "IMAGE"
            q.SOPInstanceUID = ""
            plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND,
                                        options=PlanOptions(strict_hierarchy=False))
            source = pacs.pacs.sources.query
            for _ in range(8):  # the query threads open their connections
                assert asyncio.run(source.count(plan, LOCAL)) >= 100
            restart_cluster(folder)
            sender.join(timeout=600)
            assert not sender.is_alive()
            assert set(statuses.values()) <= {0x0000, 0xA700}, set(statuses.values())
            assert statuses[paths[-1]] == 0  # recovered by itself
            acknowledged = [p for p, s in statuses.items() if s == 0]
            for p in acknowledged:
                assert pacs.index.instance(uids[p]) is not None, p
            failed = [p for p, s in statuses.items() if s != 0]
            send(failed)  # what failed goes through now
            assert all(statuses[p] == 0 for p in failed)
            assert pacs.index.count("instance") == len(paths)
            for _ in range(8):  # every query thread meets its dropped connection, replaces it and answers
                assert asyncio.run(source.count(plan, LOCAL)) == len(paths)
            with connect_sync("127.0.0.1", pacs.port, called_ae_title=pacs.ae_title) as assoc:
                assert assoc.call(echo).is_success
            print(f"{len(failed)} of {len(paths)} stores answered 0xA700 during the restart")
        verify = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", "verify", "--data-dir",
                                 str(tmp_path / "data"), "--database", url], capture_output=True, text=True,
                                timeout=300)
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    finally:
        stop_cluster(folder)
