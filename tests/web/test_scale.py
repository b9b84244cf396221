"""Paging and totals at 10^4 studies; a 1 GB STOW-RS with flat memory (both slow)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import dicomkit
from dicomkit.server import Server

from ..server.data import image
from .http import get

pytestmark = pytest.mark.slow

STUDIES = 10_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("many")
    with Server(data_dir=folder / "pacs", dicom_port=0, http_port=0, durability="os") as server:
        def one(n: int) -> None:
            ds = image(study=f"1.2.826.0.1.3680043.10.9.{n}", series=f"1.2.826.0.1.3680043.10.9.{n}.1",
                       sop=f"1.2.826.0.1.3680043.10.9.{n}.1.1", patient_id=f"P{n % 997}",
                       patient_name=f"Name{n % 97}^Given", study_date=f"20{10 + n % 14:02d}0{1 + n % 9}15",
                       modality=("CT", "MR", "US")[n % 3], rows=4, cols=4)
            path = folder / "in" / f"{n}.dcm"
            path.parent.mkdir(exist_ok=True)
            dicomkit.write(ds, path)
            assert server.archive.ingest_file(path).status == 0
            path.unlink()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(STUDIES)))
        yield server


def test_pages_cover_every_study_once(big: Server) -> None:
    base = f"http://127.0.0.1:{big.http_port}/dicom-web"
    seen: list[str] = []
    offset = 0
    while True:
        answer = get(f"{base}/studies?limit=1000&offset={offset}&includefield=StudyInstanceUID")
        assert answer.status == 200 and answer.header("X-Total-Count") == str(STUDIES)
        page = [s["0020000D"]["Value"][0] for s in json.loads(answer.body)]
        if offset + len(page) < STUDIES:
            assert "additional results" in answer.header("Warning")
        if not page:
            break
        seen += page
        offset += len(page)
    assert len(seen) == STUDIES == len(set(seen))


def test_filtered_totals(big: Server) -> None:
    base = f"http://127.0.0.1:{big.http_port}/dicom-web"
    expected = sum(1 for n in range(STUDIES) if n % 3 == 1)
    answer = get(f"{base}/studies?ModalitiesInStudy=MR&limit=10")
    assert answer.header("X-Total-Count") == str(expected) and len(json.loads(answer.body)) == 10
    answer = get(f"{base}/studies?PatientID=P5&limit=5000")
    assert len(json.loads(answer.body)) == int(answer.header("X-Total-Count")) == sum(
        1 for n in range(STUDIES) if n % 997 == 5)
    assert get(f"{base}/studies?limit=10&offset={STUDIES}").body == b"[]"


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_one_gigabyte_stow_keeps_memory_flat(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to watch the memory")
    parts, rows, cols = 64, 2048, 4096  # 64 instances of 16 MiB: 1 GiB in one body
    study = "1.2.826.0.1.3680043.10.77"
    template = image(study=study, series=study + ".1", sop=study + ".1.100000", rows=rows, cols=cols)
    from dicomkit.io.writer import to_bytes

    blob = to_bytes(template)
    marker = (study + ".1.100000").encode()
    boundary = "gigabyte-boundary"

    def body() -> Iterator[bytes]:
        for n in range(parts):
            data = blob.replace(marker, f"{study}.1.{100000 + n}".encode())
            yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            for i in range(0, len(data), 1 << 20):
                yield data[i:i + (1 << 20)]
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    with Server(data_dir=tmp_path / "pacs", dicom_port=0, http_port=0, durability="os") as server:
        baseline = _rss()
        peak = [baseline]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss())
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=600)
        conn.request("POST", "/dicom-web/studies", body=body(), encode_chunked=True,
                     headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        done.set()
        watcher.join()
        assert resp.status == 200, answer
        assert len(answer["00081199"]["Value"]) == parts
        assert server.index.count("instance") == parts
        assert server.index.total_size() > (1 << 30)
        growth = peak[0] - baseline
        assert growth < 300 * 2**20, f"memory grew by {growth / 2**20:.0f} MiB during a 1 GiB upload"
