#!/usr/bin/env python3
"""C-STORE benchmark: dicomkit against DCMTK on the same work, both directions, in one run.

- receiving: DCMTK storescu sends 1000 files of ~40 KB over one association to (a) ``dicomkit receive``
  and (b) DCMTK ``storescp``; timed is the storescu run (first byte to released association).
- sending: (a) ``dicomkit store`` and (b) DCMTK ``storescu`` send the same files to DCMTK ``storescp``;
  timed is the sending command, start to exit (process start-up included for both).
- one large multi-frame file (default 200 MB): throughput both ways and the peak RSS of each sender and
  receiver (``ru_maxrss`` from wait4).
- ``--huge-gb N``: DCMTK storescu sends an N GB object to ``dicomkit receive``; its peak RSS is reported
  (target: under 150 MB for 1 GB).
- other receivers (``--peers pynetdicom,orthanc``): ``dicomkit store`` and DCMTK ``storescu`` send the first
  ``--peer-files`` files to a pynetdicom Storage SCP (bench/peers/pynetdicom_scp.py) and to Orthanc (Debian
  package, started on loopback ports with a temporary configuration); whole commands, same run.

Every DCMTK tool runs with TCP_NODELAY=1 in its environment. Files are made once in bench/data/store/.
Usage: python bench/store.py [--files 1000] [--rounds 3] [--big-mb 200] [--huge-gb 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import dicomkit  # noqa: E402
from dicomkit.core.dataset import Dataset  # noqa: E402

DATA = HERE / "data" / "store"
# TCP_NODELAY=1 for DCMTK; bytecode caching on for Python (an installed package has its .pyc files)
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "TCP_NODELAY": "1"}
DICOMKIT = [sys.executable, "-m", "dicomkit.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited: {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.025)
    raise TimeoutError(f"port {port} not listening")


def image(rows: int, cols: int, frames: int, uid_root: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4" if frames == 1 else "1.2.840.10008.5.1.4.1.1.7.3"
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.StudyInstanceUID = uid_root + ".1"
    ds.SeriesInstanceUID = uid_root + ".2"
    ds.PatientName = "Bench^Store"
    ds.PatientID = "BENCH"
    ds.Modality = "MR" if frames == 1 else "OT"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def make_small(count: int) -> list[Path]:
    folder = DATA / "small"
    existing = sorted(folder.glob("*.dcm"))
    if len(existing) >= count:
        return existing[:count]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    root = str(dicomkit.generate_uid())
    pixels = bytes((i * 7) & 0xFF for i in range(128 * 160 * 2))  # 40 KB of 16-bit pixels
    paths = []
    for i in range(count):
        ds = image(128, 160, 1, root)
        ds.InstanceNumber = i + 1
        ds.PixelData = pixels
        ds.file_meta = None
        path = folder / f"{i:05d}.dcm"
        dicomkit.write(ds, path, transfer_syntax="1.2.840.10008.1.2.1")
        paths.append(path)
    return paths


def make_big(megabytes: int, name: str) -> Path:
    path = DATA / name
    if path.exists() and abs(path.stat().st_size - megabytes * 1_000_000) < 2_000_000:
        return path
    frame = 512 * 512 * 2
    frames = max(1, megabytes * 1_000_000 // frame)
    ds = image(512, 512, frames, str(dicomkit.generate_uid()))
    DATA.mkdir(parents=True, exist_ok=True)
    head = DATA / f"{name}.head"
    dicomkit.write(ds, head, transfer_syntax="1.2.840.10008.1.2.1")
    # append Pixel Data (7FE0,0010) OW with a 32-bit length, written frame by frame (flat memory)
    chunk = bytes((i * 13) & 0xFF for i in range(frame))
    with open(path, "wb") as out:
        out.write(head.read_bytes())
        out.write(b"\xe0\x7f\x10\x00OW\x00\x00" + (frames * frame).to_bytes(4, "little"))
        for _ in range(frames):
            out.write(chunk)
    head.unlink()
    return path


def run_timed(args: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and output of a command run to completion."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... failed ({proc.returncode}):\n{out[-2000:]}")
    return elapsed, usage.ru_maxrss, out


class Receiver:
    """A receiving SCP process (dicomkit receive or storescp) writing to a fresh folder."""

    def __init__(self, kind: str, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.port = free_port()
        self.aet = "ANY-SCP"
        if kind == "dicomkit":
            args = [*DICOMKIT, "receive", "--port", str(self.port), "--host", "127.0.0.1", "--output", str(folder),
                    "--quiet"]
        elif kind == "pynetdicom":
            args = [sys.executable, str(HERE / "peers" / "pynetdicom_scp.py"), str(self.port), str(folder)]
        elif kind == "orthanc":
            self.aet = "ORTHANC"
            config = folder / "orthanc.json"
            config.write_text(json.dumps({
                "Name": "bench", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
                "DicomAet": self.aet, "DicomPort": self.port, "HttpPort": free_port(), "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False}))
            args = ["Orthanc", str(config)]
        else:
            args = ["storescp", "+xa", "-od", str(folder), str(self.port)]
        # other peers run as they do in the field: without DCMTK's TCP_NODELAY switch in their environment
        env = ENV if kind in ("dicomkit", "dcmtk") else {k: v for k, v in ENV.items() if k != "TCP_NODELAY"}
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
        wait_port(self.port, self.proc)

    def stop(self) -> int:
        """Stop it; its peak RSS in KiB."""
        self.proc.terminate()
        _, _, usage = os.wait4(self.proc.pid, 0)
        return int(usage.ru_maxrss)


def storescu(port: int, files: list[Path] | Path, aet: str = "ANY-SCP") -> list[str]:
    names = [str(files)] if isinstance(files, Path) else ["+sd", str(files[0].parent)]
    return ["storescu", "-aec", aet, "127.0.0.1", str(port), *names]


def dicomkit_store(port: int, files: list[Path] | Path, aet: str = "ANY-SCP") -> list[str]:
    names = [str(files)] if isinstance(files, Path) else [str(files[0].parent)]
    return [*DICOMKIT, "store", "127.0.0.1", str(port), *names, "--no-progress", "--aec", aet]


def bench_peer(kind: str, files: list[Path], rounds: int) -> dict[str, list[float]]:
    """dicomkit store and storescu into another receiver, alternating; whole commands."""
    times: dict[str, list[float]] = {"dicomkit": [], "dcmtk": []}
    for r in range(rounds):
        for sender in (("dicomkit", "dcmtk") if r % 2 == 0 else ("dcmtk", "dicomkit")):
            rx = Receiver(kind, DATA / f"out-{kind}")
            try:
                cmd = dicomkit_store(rx.port, files, rx.aet) if sender == "dicomkit" else storescu(rx.port, files,
                                                                                                  rx.aet)
                elapsed, _, _ = run_timed(cmd)
            finally:
                rx.stop()
            times[sender].append(elapsed)
    return times


def bench_receive(files: list[Path] | Path, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"dicomkit": [], "dcmtk": []}
    for _ in range(rounds):
        for kind in times:
            rx = Receiver(kind, DATA / f"out-{kind}")
            try:
                elapsed, _, _ = run_timed(storescu(rx.port, files))
            finally:
                rx.stop()
            times[kind].append(elapsed)
    return times


def bench_send(files: list[Path] | Path, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"dicomkit": [], "dcmtk": [], "transfer": []}
    for _ in range(rounds):
        for kind in ("dicomkit", "dcmtk"):
            rx = Receiver("dcmtk", DATA / "out-send")
            try:
                cmd = dicomkit_store(rx.port, files) if kind == "dicomkit" else storescu(rx.port, files)
                elapsed, _, out = run_timed(cmd)
            finally:
                rx.stop()
            times[kind].append(elapsed)
            if kind == "dicomkit":  # "sent N of N instances, X MB in S s": the association part alone
                times["transfer"].append(float(out.split(" MB in ")[1].split(" s")[0]))
    return times


def report(title: str, times: dict[str, list[float]], unit: float, unit_name: str) -> None:
    dk, dc = statistics.median(times["dicomkit"]), statistics.median(times["dcmtk"])
    print(f"{title}: dicomkit {unit / dk:.1f} {unit_name} ({dk:.2f} s), DCMTK {unit / dc:.1f} {unit_name} "
          f"({dc:.2f} s): {dc / dk:.2f}x")


def big_file(path: Path, rounds: int) -> None:
    """Both directions, both tools, ``rounds`` times in alternating order; medians of the whole commands."""
    size = path.stat().st_size / 1e6
    for direction in ("receive", "send"):
        times: dict[str, list[float]] = {"dicomkit": [], "dcmtk": []}
        peaks: dict[str, list[int]] = {"dicomkit": [], "dcmtk": []}
        for r in range(rounds):
            for kind in (("dicomkit", "dcmtk") if r % 2 == 0 else ("dcmtk", "dicomkit")):
                if direction == "receive":
                    rx = Receiver(kind, DATA / f"out-big-{kind}")
                    try:
                        elapsed, _, _ = run_timed(storescu(rx.port, path))
                    finally:
                        rss = rx.stop()
                else:
                    rx = Receiver("dcmtk", DATA / "out-big-send")
                    try:
                        cmd = dicomkit_store(rx.port, path) if kind == "dicomkit" else storescu(rx.port, path)
                        elapsed, rss, _ = run_timed(cmd)
                    finally:
                        rx.stop()
                times[kind].append(elapsed)
                peaks[kind].append(rss)
        who = "receiver" if direction == "receive" else "sender"
        for kind in ("dicomkit", "dcmtk"):
            elapsed = statistics.median(times[kind])
            print(f"  {size:.0f} MB {direction:7s} {kind:8s}: {size / elapsed:7.1f} MB/s (median of {rounds}), "
                  f"{who} peak RSS {max(peaks[kind]) / 1024:.0f} MB")
        ratio = statistics.median(times["dcmtk"]) / statistics.median(times["dicomkit"])
        print(f"  {size:.0f} MB {direction:7s} ratio dicomkit/DCMTK: {ratio:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--huge-gb", type=float, default=0)
    parser.add_argument("--peers", default="pynetdicom,orthanc", help="other receivers to send to ('' for none)")
    parser.add_argument("--peer-files", type=int, default=200, help="files sent to the other receivers")
    args = parser.parse_args()
    for tool in ("storescu", "storescp"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (Debian package dcmtk)", file=sys.stderr)
            return 1
    import compileall

    compileall.compile_dir(str(HERE.parent / "dicomkit"), quiet=1)
    files = make_small(args.files)
    mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"{len(files)} files, {mb:.1f} MB; median of {args.rounds} rounds; Python {sys.version.split()[0]}")
    report("receive (storescu -> SCP)", bench_receive(files, args.rounds), len(files), "files/s")
    sent = bench_send(files, args.rounds)
    report("send    (SCU -> storescp)", sent, len(files), "files/s")
    transfer = statistics.median(sent["transfer"])
    print(f"  dicomkit store without Python start-up and file scan: {transfer:.2f} s "
          f"({statistics.median(sent['dcmtk']) / transfer:.2f}x storescu's whole run)")
    for kind in filter(None, args.peers.split(",")):
        if kind == "orthanc" and shutil.which("Orthanc") is None:
            print("orthanc: not installed (Debian package orthanc); skipped")
            continue
        subset = make_small(args.peer_files)
        peer_dir = DATA / f"peer-{len(subset)}"
        if not peer_dir.is_dir() or len(list(peer_dir.glob("*.dcm"))) != len(subset):
            shutil.rmtree(peer_dir, ignore_errors=True)
            peer_dir.mkdir(parents=True)
            for p in subset:
                shutil.copy(p, peer_dir / p.name)
        report(f"send    (SCU -> {kind}, {len(subset)} files)", bench_peer(kind, sorted(peer_dir.glob("*.dcm")),
                                                                            args.rounds), len(subset), "files/s")
    if args.big_mb:
        print("large multi-frame object:")
        big_file(make_big(args.big_mb, f"big-{args.big_mb}mb.dcm"), args.rounds)
    if args.huge_gb:
        path = make_big(int(args.huge_gb * 1000), f"huge-{args.huge_gb:g}gb.dcm")
        rx = Receiver("dicomkit", DATA / "out-huge")
        try:
            elapsed, _, _ = run_timed(storescu(rx.port, path))
        finally:
            rss = rx.stop()
        size = path.stat().st_size
        print(f"{size / 1e9:.2f} GB received by dicomkit: {size / 1e6 / elapsed:.0f} MB/s, "
              f"peak RSS {rss / 1024:.0f} MB (target < 150 MB)")
        shutil.rmtree(DATA / "out-huge", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
