"""``dicomkit serve`` against real peers: DCMTK storescu (1000 files) and echoscu, HTTP health and metrics,
JSON logs with association ids, graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from dicomkit.server.http import LoopbackOnly, is_loopback

from ..conftest import require_tool
from ..peers import DCMTK_ENV
from .data import files
from .serving import serving, wait_for

pytestmark = pytest.mark.interop  # runs DCMTK peers


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("thousand")
    files(folder, 1000, studies=5, series_per_study=2, size=32, prefix="1.2.826.0.1.3680043.10.8")
    return folder


def storescu(port: int, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("storescu"), "-aec", "DICOMKIT", "+sd", "+r", *extra, "127.0.0.1",
                           str(port), str(folder)], capture_output=True, text=True, timeout=600, env=DCMTK_ENV)


def archive(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", *args], capture_output=True,
                          text=True, timeout=600)


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_storescu_1000_files_echo_health_metrics(tmp_path: Path, thousand: Path, database: str) -> None:
    data = tmp_path / "data"
    with serving(data, database=database) as pacs:
        out = pacs.output()
        assert f"DICOM  DICOMKIT on 0.0.0.0:{pacs.port}" in out and "loopback clients only" in out
        assert str(data.resolve()) in out
        echo = subprocess.run([require_tool("echoscu"), "-aec", "DICOMKIT", "127.0.0.1", str(pacs.port)],
                              capture_output=True, text=True, timeout=60, env=DCMTK_ENV)
        assert echo.returncode == 0, echo.stderr
        run = storescu(pacs.port, thousand)
        assert run.returncode == 0, run.stderr[-2000:]
        status, body = http_get(pacs.http_port, "/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["dicom_port"] == pacs.port
        status, metrics = http_get(pacs.http_port, "/metrics")
        assert status == 200
        assert 'dicomkit_stores_total{outcome="stored"} 1000' in metrics
        assert "dicomkit_echoes_total 1" in metrics and "dicomkit_index_instances 1000" in metrics
        assert "dicomkit_associations_total 2" in metrics
        assert pacs.terminate() == 0
    db = ["--database", database] if database else []
    stats = archive("stats", "--json", "--data-dir", str(data), *db)
    assert json.loads(stats.stdout)["instances"] == 1000
    verify = archive("verify", "--data-dir", str(data), *db)
    assert verify.returncode == 0, verify.stdout
    assert "1000 rows, 1000 blobs checked: 0 missing, 0 corrupt, 0 orphaned" in verify.stdout


def test_graceful_shutdown_lets_the_association_finish(tmp_path: Path, thousand: Path) -> None:
    data = tmp_path / "data"
    # the bound on the wait is configuration: generous here, so that a loaded machine cannot make it the subject
    config = tmp_path / "grace.toml"
    config.write_text("[dicom]\nshutdown_grace = 600\n")
    with serving(data, extra=("--log-format", "json", "-v", "--config", str(config))) as pacs:
        sender = subprocess.Popen([require_tool("storescu"), "-aec", "DICOMKIT", "-aet", "SENDER", "+sd", "+r",
                                   "127.0.0.1", str(pacs.port), str(thousand)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=DCMTK_ENV)
        index = data / "index.sqlite"
        wait_for(lambda: '"stored' in pacs.output() or "stored (" in pacs.output(), what="the first stores")
        assert pacs.terminate() == 0
        _, err = sender.communicate(timeout=120)
        assert sender.returncode == 0, err[-2000:]
        lines = [json.loads(line) for line in pacs.output().splitlines() if line.startswith("{")]
        stored = [r for r in lines if r.get("logger") == "dicomkit.server.ingest"]
        assert stored and all(r["calling_ae"] == "SENDER" and r["association"].startswith("A") for r in stored)
        assert any("shutting down" in r["message"] for r in lines)
        assert index.exists()
    verify = archive("verify", "--data-dir", str(data))
    assert verify.returncode == 0 and "1000 rows" in verify.stdout, verify.stdout


def test_http_answers_loopback_only() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.5")
    assert not is_loopback("10.0.0.1") and not is_loopback("192.168.1.2") and not is_loopback(None)
    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover - must not run
        raise AssertionError("a remote client reached the application")

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    import asyncio

    scope = {"type": "http", "method": "GET", "path": "/health", "headers": [], "client": ("10.1.2.3", 5555)}
    asyncio.run(LoopbackOnly(app)(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 403 and b"--http-allow-remote" in sent[1]["body"]  # type: ignore[operator]
