"""DICOMweb: dicomkit serve vs Orthanc with its DICOMweb plugin (Debian orthanc-dicomweb), on the same data, in one run.

Rows (issue 12): QIDO-RS study search among N studies (an exact Patient ID, and a date range with 1000 hits,
timed until the JSON is parsed), the metadata of one 600-instance series, frames per second served from that
series (one frame request per instance, as OHIF asks, on one keep-alive connection), and a STOW-RS of 1000
instances in one request. Both servers are loaded through STOW-RS before the timings; each timing is the
median of several runs.

    python bench/web.py [--studies 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dicomkit.io.writer import to_bytes  # noqa: E402
from tests.server.data import image  # noqa: E402

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
BOUNDARY = "benchboundary0123456789"
OHIF_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no HTTP answer on port {port}")


class Peer:
    def __init__(self, kind: str, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.kind = kind
        self.port = free_port()
        if kind == "dicomkit":
            args = [sys.executable, "-m", "dicomkit.cli.main", "serve", "--data-dir", str(folder / "data"),
                    "--dicom-port", str(free_port()), "--http-port", str(self.port), "--durability", "os"]
            self.root = "/dicom-web"
            health = "/health"
        else:
            config = folder / "orthanc.json"
            config.write_text(json.dumps({
                "Name": "bench", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
                "DicomPort": free_port(), "HttpPort": self.port, "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False, "Plugins": [PLUGIN], "StorageCompression": False,
                "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "Ssl": False}}))
            args = ["Orthanc", str(config)]
            self.root = "/dicom-web"
            health = "/system"
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_http(self.port, health, self.proc)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | Iterator[bytes] | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                chunked = body is not None and not isinstance(body, bytes)
                self.conn.request(method, self.root + path, body=body, headers=headers or {}, encode_chunked=chunked)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def stow(self, blobs: list[bytes]) -> float:
        started = time.perf_counter()
        status, body = self.request("POST", "/studies", {"Content-Type": "multipart/related; "
                                    f'type="application/dicom"; boundary={BOUNDARY}'}, multipart(blobs))
        if status not in (200, 202):
            raise RuntimeError(f"{self.kind}: STOW answered {status}: {body[:300]!r}")
        return time.perf_counter() - started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def multipart(blobs: list[bytes]) -> Iterator[bytes]:
    for blob in blobs:
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield blob
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def study_blobs(n: int, start: int = 0) -> list[bytes]:
    out = []
    for k in range(start, start + n):
        uid = f"1.2.826.0.1.3680043.10.200.{k}"
        ds = image(study=uid, series=uid + ".1", sop=uid + ".1.1", patient_id=f"P{k:06d}",
                   patient_name=f"Name{k % 1000}^Given", study_date=f"{2000 + k % 20}{1 + k % 12:02d}{1 + k % 28:02d}",
                   modality=("CT", "MR", "US")[k % 3], rows=2, cols=2)
        out.append(to_bytes(ds))
    return out


def series_blobs(n: int, tag: str) -> tuple[str, str, list[str], list[bytes]]:
    study = f"1.2.826.0.1.3680043.10.300.{tag}"
    series = study + ".1"
    sops, out = [], []
    for k in range(n):
        ds = image(study=study, series=series, sop=f"{series}.{k + 1}", number=k + 1, patient_id="SERIES600",
                   modality="CT", rows=64, cols=64, fill=k)
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.SliceLocation = float(k)
        sops.append(str(ds.SOPInstanceUID))
        out.append(to_bytes(ds))
    return study, series, sops, out


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dicomkit-bench-web")
    args = parser.parse_args()
    if shutil.which("Orthanc") is None or not Path(PLUGIN).exists():
        print("Orthanc or its DICOMweb plugin is not installed (Debian orthanc, orthanc-dicomweb)")
        return
    print(f"generating {args.studies} studies, a 600-instance series and 1000 instances to STOW ...", flush=True)
    batches = [study_blobs(min(2000, args.studies - s), s) for s in range(0, args.studies, 2000)]
    study, series, sops, series600 = series_blobs(600, "1")
    exact = f"P{args.studies // 2:06d}"
    # a date range of the generated dates holding about 1000 studies
    dates = sorted(f"{2000 + k % 20}{1 + k % 12:02d}{1 + k % 28:02d}" for k in range(args.studies))
    lo = dates[len(dates) // 2]
    hi = dates[min(len(dates) - 1, len(dates) // 2 + 999)]
    rows: dict[str, dict[str, float]] = {}
    for kind in ("dicomkit", "orthanc"):
        peer = Peer(kind, args.work / kind)
        try:
            started = time.perf_counter()
            for batch in batches:
                peer.stow(batch)
            peer.stow(series600)
            print(f"{kind}: loaded in {time.perf_counter() - started:.0f} s", flush=True)

            def qido(query: str, peer: Peer = peer, kind: str = kind) -> int:
                status, body = peer.request("GET", "/studies?" + query, {"Accept": "application/dicom+json"})
                assert status == 200, (kind, status, body[:200])
                return len(json.loads(body)) if body else 0

            hits = qido(f"StudyDate={lo}-{hi}&limit=1000")
            r = rows.setdefault(kind, {})
            r["qido exact (ms)"] = 1000 * median_time(lambda: qido(f"PatientID={exact}"), args.repeat)
            r["qido 1000 hits (ms)"] = 1000 * median_time(lambda: qido(f"StudyDate={lo}-{hi}&limit=1000"),
                                                          args.repeat)
            r["hits"] = hits

            def metadata(peer: Peer = peer, kind: str = kind) -> None:
                status, body = peer.request("GET", f"/studies/{study}/series/{series}/metadata",
                                            {"Accept": "application/dicom+json"})
                assert status == 200 and len(json.loads(body)) == 600, (kind, status)

            r["series metadata, 600 instances (ms)"] = 1000 * median_time(metadata, args.repeat)

            def frames(peer: Peer = peer, kind: str = kind) -> None:
                for sop in sops:
                    status, _ = peer.request("GET", f"/studies/{study}/series/{series}/instances/{sop}/frames/1",
                                             {"Accept": OHIF_FRAMES})
                    assert status == 200, (kind, status)

            r["frames per second"] = len(sops) / median_time(frames, max(3, args.repeat // 2))
            r["STOW 1000 instances (s)"] = statistics.median(
                [peer.stow(study_blobs(1000, 20_000_000 + 1000 * k)) for k in range(3)])
        finally:
            peer.stop()
    d, o = rows["dicomkit"], rows["orthanc"]
    print(f"\n{args.studies} studies; the date range matched {int(d['hits'])} (dicomkit) / {int(o['hits'])} (Orthanc)")
    print(f"{'':40} {'dicomkit':>10} {'Orthanc':>10} {'ratio':>8}")
    for key in d:
        if key == "hits":
            continue
        better = d[key] / o[key] if key == "frames per second" else o[key] / d[key]
        print(f"{key:40} {d[key]:10.1f} {o[key]:10.1f} {better:7.1f}x")
    print("(ratio: how many times dicomkit is faster)")


if __name__ == "__main__":
    main()
