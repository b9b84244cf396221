"""kill -9 the server while storescu sends 1000 files; restart: every instance answered 0x0000 is in the
index, found by C-FIND (findscu) and retrievable (getscu), its blob verifies, and ``dicomkit archive verify``
exits 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dicomkit.io.reader import read_file_meta
from dicomkit.server.config import load_config
from dicomkit.server.ingest import Archive

from ..conftest import require_tool
from ..peers import DCMTK_ENV
from .data import files
from .serving import Serve, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def test_kill_9_while_storing_loses_nothing_acknowledged(tmp_path: Path) -> None:
    folder = tmp_path / "send"
    paths = files(folder, 1000, studies=4, series_per_study=2, size=32, prefix="1.2.826.0.1.3680043.10.5")
    uid_of = {p.name: p.stem for p in paths}
    data = tmp_path / "data"
    pacs = Serve(data).start()
    log = open(tmp_path / "storescu.log", "w")  # noqa: SIM115 - a file, not a pipe: storescu never waits for us
    sender = subprocess.Popen([require_tool("storescu"), "-v", "-aec", "DICOMKIT", "+sd", "127.0.0.1",
                               str(pacs.port), str(folder)], stdout=log, stderr=subprocess.STDOUT, env=DCMTK_ENV)
    index = data / "index.sqlite"
    assert index.exists()

    def stored() -> int:
        with Archive(load_config(None, {"storage.data_dir": str(data)}), workers=1) as archive:
            return archive.index.count("instance")

    wait_for(lambda: stored() >= 300, what="300 stored instances")
    pacs.kill()  # SIGKILL, mid-stream
    sender.wait(timeout=120)
    log.close()
    out = (tmp_path / "storescu.log").read_text()
    # storescu -v prints "Sending file: X" then "Received Store Response (Success)" for each acknowledged one
    acknowledged, current = [], None
    for line in out.splitlines():
        m = re.search(r"Sending file: (\S+)", line)
        if m:
            current = Path(m.group(1)).name
        elif "Received Store Response (Success)" in line and current is not None:
            acknowledged.append(uid_of[current])
            current = None
    assert 300 <= len(acknowledged) < 1000, out[-2000:]
    restarted = Serve(data).start()
    try:
        found, retrieved = _find_and_get(restarted.port, paths, tmp_path / "got")
        missing = set(acknowledged) - found
        assert not missing, f"{len(missing)} acknowledged, not found by C-FIND, e.g. {sorted(missing)[:3]}"
        missing = set(acknowledged) - retrieved
        assert not missing, f"{len(missing)} acknowledged, not retrieved by C-GET, e.g. {sorted(missing)[:3]}"
        assert restarted.terminate() == 0
    finally:
        restarted.stop()
    with Archive(load_config(None, {"storage.data_dir": str(data)}), workers=1) as archive:
        for uid in acknowledged:
            row = archive.index.instance(uid)
            assert row is not None, f"{uid} was acknowledged and is not in the index"
            assert archive.index.header(uid) is not None
    verify = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "archive", "verify", "--data-dir", str(data)],
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 missing, 0 corrupt, 0 orphaned" in verify.stdout


def _find_and_get(port: int, sent: list[Path], into: Path) -> tuple[set[str], set[str]]:
    """The SOP Instance UIDs that findscu finds (IMAGE level, series by series) and getscu retrieves (study by
    study) from the archive on ``port``."""
    series: set[tuple[str, str]] = set()
    for path in sent:
        meta = read_file_meta(path)
        sop = str(meta.value(0x00020003) or "")
        series.add((sop.rsplit(".", 2)[0], sop.rsplit(".", 1)[0]))  # files(): study.series.instance UIDs
    found: set[str] = set()
    for study, one in sorted(series):
        out = subprocess.run([require_tool("findscu"), "-v", "-S", "-aec", "DICOMKIT", "127.0.0.1", str(port),
                              "-k", "QueryRetrieveLevel=IMAGE", "-k", f"StudyInstanceUID={study}",
                              "-k", f"SeriesInstanceUID={one}", "-k", "SOPInstanceUID"],
                             capture_output=True, text=True, timeout=300, env=DCMTK_ENV)
        assert out.returncode == 0, out.stderr[-2000:]
        text = out.stdout + out.stderr
        found.update(m.group(1).strip("\x00 ") for m in re.finditer(r"\(0008,0018\) UI \[([^\]]*)\]", text))
    into.mkdir()
    for study in sorted({s for s, _ in series}):
        out = subprocess.run([require_tool("getscu"), "-S", "-aec", "DICOMKIT", "-od", str(into), "127.0.0.1",
                              str(port), "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"],
                             capture_output=True, text=True, timeout=600, env=DCMTK_ENV)
        assert out.returncode == 0, out.stderr[-2000:]
    retrieved = {str(read_file_meta(p).value(0x00020003) or "").strip("\x00 ") for p in into.iterdir()}
    return found, retrieved
