#!/usr/bin/env python3
"""Archive ingest benchmark (issue 11): DCMTK storescu into ``dicomkit serve`` (indexed), DCMTK storescp
(files only, no fsync) and Orthanc (indexed, SQLite), in one run.

- one association: 1000 files of ~42 KB (the files of bench/store.py), timed is the storescu run;
- 8 parallel associations × 125 files each (``--parallel``), timed until the last storescu ends;
- dicomkit runs with ``durability = "full"`` (fsync of each file and its folder, a FULL SQLite commit,
  grouped across associations) and with ``durability = "os"``;
- the machine's durability floor: median of (write 42 KB + fsync file + fsync folder + one SQLite insert
  committed with synchronous=FULL in WAL mode), measured here first;
- the receiver's CPU time (user + system, from /proc) per object for the same work: the part of the result
  that the load of a shared machine moves least.

Every DCMTK tool runs with TCP_NODELAY=1; Orthanc runs as deployed (no TCP_NODELAY in its environment).
``--fifty``: instead, three rounds of 50 associations at once × 200 new files each (3 × 10^4 distinct
instances) into one ``dicomkit serve`` (durability full), its RSS after each round: everything must be stored
with flat memory.
``--base TREE``: also ``dicomkit serve`` from another tree (e.g. a git worktree of main), as the receivers
``base`` and ``base-os``, run in turn with the others round by round: a before/after on the same load.
``receive`` (in ``--peers``): ``dicomkit receive``, our files-only receiver (no index, no fsync), as storescp is:
what our receive path costs before the archive's work.
Usage: python bench/ingest.py [--files 1000] [--rounds 3] [--parallel 8] [--peers ...] [--base TREE] [--fifty]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from store import DICOMKIT, ENV, free_port, make_small, wait_port  # noqa: E402

WORK = HERE / "data" / "ingest"


def durability_floor(folder: Path, rounds: int = 200) -> float:
    """Median seconds of: write 42 KB, fsync it, fsync its folder, commit one SQLite row (FULL, WAL)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "floor.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    data = os.urandom(42_000)
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        path = folder / f"f{i}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        dfd = os.open(folder, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        db.execute("BEGIN")
        db.execute("INSERT INTO t (v) VALUES (?)", (path.name,))
        db.execute("COMMIT")
        times.append(time.perf_counter() - started)
        os.unlink(path)
    db.close()
    return statistics.median(times)


class Peer:
    def __init__(self, kind: str, folder: Path, base: Path | None = None) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.kind = kind
        self.port = free_port()
        self.aet = "ANY-SCP"
        env = dict(ENV)
        cwd = None
        if kind.startswith("base"):  # dicomkit serve from the tree of --base (found first: cwd and path)
            if base is None:
                raise ValueError("the receivers base and base-os need --base")
            cwd, env["PYTHONPATH"] = str(base), str(base)
        if kind == "receive":  # dicomkit's files-only receiver (no index, no fsync): the floor of our receive path
            self.aet = "DICOMKIT"
            args = [*DICOMKIT, "receive", "--port", str(self.port), "--aet", self.aet, "--output", str(folder)]
        elif kind.startswith(("dicomkit", "base")):
            self.aet = "DICOMKIT"
            durability = "os" if kind.endswith("os") else "full"
            args = [*DICOMKIT, "serve", "--data-dir", str(folder / "data"), "--dicom-port", str(self.port),
                    "--http-port", str(free_port()), "--durability", durability]
        elif kind == "orthanc":
            self.aet = "ORTHANC"
            config = folder / "orthanc.json"
            config.write_text(json.dumps({
                "Name": "bench", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
                "DicomAet": self.aet, "DicomPort": self.port, "HttpPort": free_port(), "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False}))
            args = ["Orthanc", str(config)]
            env.pop("TCP_NODELAY", None)
        else:
            args = ["storescp", "+xa", "-od", str(folder), str(self.port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        wait_port(self.port, self.proc)
        if kind.startswith(("dicomkit", "base")):
            time.sleep(0.5)  # the start-up sweep and HTTP come up after the DIMSE port
        if kind == "receive":
            time.sleep(0.2)  # its spare files are made as it starts

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def send(peer: Peer, folders: list[Path]) -> float:
    """Seconds until every storescu (one per folder, all at once) has finished."""
    started = time.perf_counter()
    procs = [subprocess.Popen(["storescu", "-aec", peer.aet, "+sd", "127.0.0.1", str(peer.port), str(f)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV) for f in folders]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"storescu to {peer.kind} failed: {err.decode(errors='replace')[-1000:]}")
    return time.perf_counter() - started


def split(files: list[Path], parts: int) -> list[Path]:
    folders = []
    for k in range(parts):
        folder = WORK / f"part{parts}-{k}"
        if not folder.is_dir() or len(list(folder.iterdir())) != len(files[k::parts]):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for f in files[k::parts]:
                os.link(f, folder / f.name)
        folders.append(folder)
    return folders


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def fifty(rounds: int = 3) -> None:
    """``rounds`` times 50 associations × 200 new files into one dicomkit serve: all stored, and its RSS
    after each round — flat memory means the later rounds add (next to) nothing (issue 11)."""
    files = make_small(10_000 * rounds)
    peer = Peer("dicomkit", WORK / "recv" / "fifty")
    try:
        pid = peer.proc.pid
        line = [f"RSS at start {rss_kib(pid) / 1024:.1f} MB"]
        total = 0.0
        for r in range(rounds):
            part = files[r * 10_000:(r + 1) * 10_000]
            folders = []
            for k in range(50):
                folder = WORK / f"fifty-{r}-{k}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                for f in part[k::50]:
                    os.link(f, folder / f.name)
                folders.append(folder)
            seconds = send(peer, folders)
            total += seconds
            line.append(f"after round {r + 1} ({seconds:.1f} s) {rss_kib(pid) / 1024:.1f} MB")
        peak = rss_kib(pid, "VmHWM")
    finally:
        peer.stop()
    db = sqlite3.connect(WORK / "recv" / "fifty" / "data" / "index.sqlite")
    stored = db.execute("SELECT count(*) FROM instances").fetchone()[0]
    db.close()
    print(f"{rounds} x (50 associations x 200 files): {stored} of {len(files)} stored in {total:.1f} s "
          f"({len(files) / total:.0f}/s)")
    print("; ".join(line) + f"; peak {peak / 1024:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--peers", default="dicomkit,dicomkit-os,storescp,orthanc")
    parser.add_argument("--fifty", action="store_true", help="50 associations x 200 files, memory sampled")
    parser.add_argument("--base", type=Path, help="also dicomkit serve from this tree (receivers base, base-os)")
    args = parser.parse_args()
    if args.fifty:
        fifty()
        return
    files = make_small(args.files)
    one = [files[0].parent]
    many = split(files, args.parallel)
    with tempfile.TemporaryDirectory(dir=HERE / "data") as tmp:
        floor = durability_floor(Path(tmp))
    print(f"{len(files)} files of {files[0].stat().st_size / 1000:.1f} KB; durability floor of this machine "
          f"(file fsync + folder fsync + FULL commit): {floor * 1000:.2f} ms")
    kinds = [k for k in args.peers.split(",") if k]
    if args.base is not None:
        kinds += [k for k in ("base", "base-os") if k not in kinds]
        args.base = args.base.resolve()
    if "orthanc" in kinds and shutil.which("Orthanc") is None:
        print("orthanc: not installed (Debian package orthanc); skipped")
        kinds.remove("orthanc")
    results: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}  # the receiver's CPU seconds for the work (dicomkit only)
    for _ in range(args.rounds):
        for kind in kinds:  # alternate the receivers round by round
            for parts, folders in ((1, one), (args.parallel, many)):
                peer = Peer(kind, WORK / "recv" / kind, args.base)
                try:
                    before = cpu_seconds(peer.proc.pid)
                    results.setdefault((kind, parts), []).append(send(peer, folders))
                    cpu.setdefault((kind, parts), []).append(cpu_seconds(peer.proc.pid) - before)
                finally:
                    peer.stop()
    median = {key: statistics.median(v) for key, v in results.items()}
    print(f"\nmedian of {args.rounds} rounds, seconds (files/s):")
    print(f"{'receiver':<16}{'1 association':>22}{f'{args.parallel} associations':>24}")
    for kind in kinds:
        a, b = median[(kind, 1)], median[(kind, args.parallel)]
        print(f"{kind:<16}{a:>10.2f} ({len(files) / a:>6.0f}/s){b:>12.2f} ({len(files) / b:>6.0f}/s)")
    print(f"\nthe receiver's CPU (user + system) per object, median of {args.rounds} rounds, ms:")
    for kind in kinds:
        a, b = (statistics.median(cpu[(kind, n)]) * 1000 / len(files) for n in (1, args.parallel))
        print(f"{kind:<16}{a:>10.2f} ms{b:>21.2f} ms")
    for tree, base in (("dicomkit", "base"), ("dicomkit-os", "base-os")):
        if tree in kinds and base in kinds:
            change = [statistics.median(cpu[(tree, n)]) / statistics.median(cpu[(base, n)]) - 1
                      for n in (1, args.parallel)]
            print(f"CPU per object, {tree} vs {base} ({args.base}): {change[0]:+.1%} (1 association), "
                  f"{change[1]:+.1%} ({args.parallel} associations)")
    if "dicomkit" in kinds:
        full = median[("dicomkit", 1)]
        if "orthanc" in kinds:
            print(f"dicomkit (full) / Orthanc time: {full / median[('orthanc', 1)]:.2f}x (target <= 0.4)")
        if "storescp" in kinds:
            scp = median[("storescp", 1)]
            budget = scp + len(files) * floor
            print(f"dicomkit (full): {full:.2f} s vs storescp + {len(files)} x floor = {budget:.2f} s "
                  f"({'within' if full <= budget else 'over'})")
            print(f"dicomkit with {args.parallel} associations: {len(files) / median[('dicomkit', args.parallel)]:.0f}"
                  f" files/s vs storescp's {len(files) / median[('storescp', args.parallel)]:.0f}")
            if "dicomkit-os" in kinds:
                print(f"dicomkit (os) / storescp time: {median[('dicomkit-os', 1)] / scp:.2f}x (target <= 1.0)")
            if "receive" in kinds:
                print(f"dicomkit receive (files only) / storescp time: {median[('receive', 1)] / scp:.2f}x")


if __name__ == "__main__":
    main()
