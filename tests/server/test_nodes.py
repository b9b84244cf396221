"""Several ``dicomkit serve`` nodes on one PostgreSQL and one storage folder behave as one archive."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..conftest import require_tool
from ..peers import DCMTK_ENV
from .conftest import drop_database, new_database
from .data import files
from .serving import serving
from .test_serve import http_get

pytestmark = pytest.mark.interop


def test_two_nodes_ingest_one_study_and_both_answer_for_it(tmp_path: Path, postgres_server: str) -> None:
    url = new_database(postgres_server)
    study = files(tmp_path / "study", 300, studies=1, series_per_study=3, size=32, prefix="1.2.826.0.1.3680043.10.6")
    data = tmp_path / "shared-data"
    try:
        with serving(data, database=url) as a, serving(data, database=url) as b:
            results: dict[int, subprocess.CompletedProcess[str]] = {}

            def send(port: int) -> None:
                results[port] = subprocess.run([require_tool("storescu"), "-aec", "DICOMKIT", "+sd", "127.0.0.1",
                                                str(port), str(tmp_path / "study")], capture_output=True, text=True,
                                               timeout=600, env=DCMTK_ENV)
            threads = [threading.Thread(target=send, args=(p,)) for p in (a.port, b.port)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for run in results.values():
                assert run.returncode == 0, run.stderr[-2000:]  # identical duplicates are answered Success
            for node in (a, b):
                status, metrics = http_get(node.http_port, "/metrics")
                assert status == 200 and "dicomkit_index_instances 300" in metrics
            a_metrics, b_metrics = http_get(a.http_port, "/metrics")[1], http_get(b.http_port, "/metrics")[1]
            stored = [_counter(m, 'dicomkit_stores_total{outcome="stored"}') for m in (a_metrics, b_metrics)]
            identical = [_counter(m, 'dicomkit_stores_total{outcome="identical"}') for m in (a_metrics, b_metrics)]
            assert sum(stored) == 300 and sum(stored) + sum(identical) == 600
            assert a.terminate() == 0 and b.terminate() == 0
        verify = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", "verify", "--data-dir",
                                 str(data), "--database", url], capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0 and "300 rows, 300 blobs" in verify.stdout, verify.stdout + verify.stderr
        assert len(study) == 300
    finally:
        drop_database(postgres_server, url)


def _counter(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    return 0
