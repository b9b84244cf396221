#!/usr/bin/env python3
"""Query/Retrieve benchmark: dicomkit against DCMTK on the same archive, in one run.

The same files — ``--series`` (10⁴) single-instance series and one study of ``--ct`` (1000) CT instances of
256×256×16 bits — are loaded into DCMTK's ``dcmqrscp`` (indexed with ``dcmqridx``) and into a dicomkit
Query/Retrieve SCP over a FolderSource (``bench/peers/dicomkit_qrscp.py``, with dcmqrscp's matching choices).
The 10⁴ single-instance entities are series of one study, not studies: dcmqrscp's index holds at most 500
studies per storage area (DCMTK's DB_UpperMaxStudies; dcmqridx drops the oldest beyond that).
Timed, as whole commands (process start-up included):

- **C-FIND** at SERIES level answering the 10⁴ series: DCMTK ``findscu`` against dcmqrscp, then
  against our SCP (our SCP's speed), and ``dicomkit find`` against dcmqrscp (our SCU's speed);
- **C-GET** of the CT study (1000 instances written to a fresh folder): ``getscu`` against dcmqrscp, then
  against our SCP, and ``dicomkit get`` against dcmqrscp — as it runs by default (it first asks the SCP which
  SOP Classes will come: three C-FINDs against dcmqrscp, which returns no SOP Class UID, then the common
  classes) and told the class with ``--sop-class`` (no C-FIND first, as getscu).

Targets (issue 10): our SCP at least as fast as dcmqrscp; our SCU within 10% of DCMTK's. Every DCMTK tool runs
with TCP_NODELAY=1; data are made once in bench/data/qr/. Medians of ``--rounds``; with each wall time the
command's own CPU time (user + system, from the process's resource usage) is kept, which a loaded machine
moves less. ``--base TREE`` also times the dicomkit SCU commands of another source tree (e.g. a checkout of
main: ``git worktree add --detach /tmp/base main``) in the same rounds, each right after this tree's.
Usage: python bench/qr.py [--series 10000] [--ct 1000] [--rounds 3] [--base TREE]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import dicomkit  # noqa: E402
from dicomkit.core.dataset import Dataset  # noqa: E402

DATA = HERE / "data" / "qr"
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "TCP_NODELAY": "1"}
DICOMKIT = [sys.executable, "-m", "dicomkit.cli.main"]
ELE = "1.2.840.10008.1.2.1"
ROOT = "1.2.826.0.1.3680043.10.1099.77"
SERIES_STUDY = f"{ROOT}.1"
CT_STUDY = f"{ROOT}.2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening")


def header(ds: Dataset, study: str, patient: str, name: str) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName, ds.PatientID = name, patient
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20240115", "101500"
    ds.AccessionNumber, ds.StudyID = "A1", "1"


def make_data(series: int, ct: int) -> tuple[Path, int]:
    """The folder of files (made once): its path and how many files it holds."""
    folder = DATA / f"files-{series}-{ct}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder, series + ct
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "single").mkdir(parents=True)
    (folder / "ct").mkdir()
    small = bytes(range(64)) * 4  # 16x16 8-bit secondary capture
    for i in range(series):
        ds = Dataset()
        header(ds, SERIES_STUDY, "S1", "SERIES^PATIENT")
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = f"{SERIES_STUDY}.{i}", i, "OT"
        ds.SOPClassUID, ds.SOPInstanceUID, ds.InstanceNumber = "1.2.840.10008.5.1.4.1.1.7", f"{SERIES_STUDY}.{i}.1", 1
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = small
        dicomkit.write(ds, folder / "single" / f"{i:05d}.dcm", transfer_syntax=ELE)
    pixels = bytes((i * 7) & 0xFF for i in range(256 * 256 * 2))
    for i in range(ct):
        ds = Dataset()
        header(ds, CT_STUDY, "CT1", "CT^PATIENT")
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = f"{CT_STUDY}.1", 1, "CT"
        ds.SOPClassUID, ds.SOPInstanceUID, ds.InstanceNumber = "1.2.840.10008.5.1.4.1.1.2", f"{CT_STUDY}.1.{i}", i
        ds.Rows = ds.Columns = 256
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.add_new(0x7FE00010, "OW", pixels)
        dicomkit.write(ds, folder / "ct" / f"{i:05d}.dcm", transfer_syntax=ELE)
    stamp.touch()
    return folder, series + ct


def index_dcmqrscp(folder: Path, db: Path) -> None:
    if (db / "index.dat").exists() and (db / ".complete").exists():
        return
    shutil.rmtree(db, ignore_errors=True)
    db.mkdir(parents=True)
    files = sorted(str(p) for p in folder.rglob("*.dcm"))
    for start in range(0, len(files), 500):
        subprocess.run(["dcmqridx", str(db), *files[start:start + 500]], check=True, env=ENV)
    (db / ".complete").touch()


class Peer:
    def __init__(self, args: list[str], port: int, ready: str | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE if ready else subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, env=ENV)
        if ready and self.proc.stdout is not None:
            line = self.proc.stdout.readline().decode()
            if not line.startswith(ready):
                raise RuntimeError(f"{args[:2]}: {line}")
        wait_port(port, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str, float]:
    """Wall time, output, and CPU time (user + system) of the command. ``python -m`` puts its working folder
    first on sys.path: dicomkit commands run in the root of the tree they time (PYTHONPATH, else this one)."""
    env = env or ENV
    # the files the command before wrote (1000 × 128 KB for a C-GET) and its deletions reach the disk first,
    # untimed: otherwise their writeback lands in whichever command runs next, and the order decides
    os.sync()
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, env=env, cwd=env.get("PYTHONPATH", HERE.parent))
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])} ... failed ({done.returncode}):\n{out[-3000:]}")
    return elapsed, out, cpu


FIND_KEYS = ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={SERIES_STUDY}", "SeriesInstanceUID", "Modality",
             "SeriesNumber"]


def findscu(port: int, aec: str, verbose: bool = False) -> list[str]:
    return ["findscu", *(["-v"] if verbose else []), "-S", "-aec", aec, "127.0.0.1", str(port),
            *(x for k in FIND_KEYS for x in ("-k", k))]


def our_find(port: int, aec: str) -> list[str]:
    return [*DICOMKIT, "find", "127.0.0.1", str(port), "--aec", aec, *(x for k in FIND_KEYS for x in ("-k", k))]


def getscu(port: int, aec: str, out: Path) -> list[str]:
    return ["getscu", "-S", "-aec", aec, "-od", str(out), "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={CT_STUDY}"]


def our_get(port: int, aec: str, out: Path, *, told: bool = False) -> list[str]:
    """``dicomkit get``; ``told``: with ``--sop-class`` (no C-FIND first to learn the classes)."""
    return [*DICOMKIT, "get", "127.0.0.1", str(port), "--aec", aec, "--output", str(out), "--no-progress",
            *(["--sop-class", "1.2.840.10008.5.1.4.1.1.2"] if told else []),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={CT_STUDY}"]


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


class Timings:
    """Wall and CPU times of one command over the rounds."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def run(self, args: list[str], check: Callable[[str], None] | None = None, env: dict[str, str] | None = None,
            ) -> None:
        elapsed, out, cpu = timed(args, env)
        if check is not None:
            check(out)
        self.wall.append(elapsed)
        self.cpu.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--ct", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, metavar="TREE",
                        help="also time the dicomkit SCU commands of this source tree, in the same rounds")
    args = parser.parse_args()
    base_env = {**ENV, "PYTHONPATH": str(args.base.resolve())} if args.base else None
    if args.base and not (args.base / "dicomkit" / "__init__.py").exists():
        print(f"{args.base} holds no dicomkit source tree")
        return 1
    for tool in ("dcmqrscp", "dcmqridx", "findscu", "getscu"):
        if shutil.which(tool) is None:
            print(f"{tool} not installed (Debian package dcmtk)")
            return 1
    print(f"making {args.series} single-instance series and {args.ct} CT instances ...", flush=True)
    folder, total = make_data(args.series, args.ct)
    db = DATA / f"dcmqrscp-{args.series}-{args.ct}"
    print("indexing them for dcmqrscp (dcmqridx) ...", flush=True)
    index_dcmqrscp(folder, db)
    qr_port, our_port = free_port(), free_port()
    config = DATA / f"dcmqrscp-{os.getpid()}.cfg"
    config.write_text(f"NetworkTCPPort = {qr_port}\nMaxPDUSize = 131072\nMaxAssociations = 16\n"
                      f"HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                      f"AETable BEGIN\nARCHIVE {db} RW (10, 4096mb) ANY\nAETable END\n")
    dcmqrscp = Peer(["dcmqrscp", "-c", str(config)], qr_port)
    started = time.perf_counter()
    ours = Peer([sys.executable, str(HERE / "peers" / "dicomkit_qrscp.py"), str(our_port), str(folder), "DKQR"],
                our_port, ready="ready")
    print(f"our SCP indexed {total} files in {time.perf_counter() - started:.1f} s", flush=True)
    # the instances received go to a folder of this run's own (bench/data/qr may be shared by checkouts)
    work_root = Path(tempfile.mkdtemp(prefix="qr-out-", dir=DATA))
    work = work_root / "out"
    rows: list[tuple[str, str, Timings, str, Timings]] = []
    try:
        # correctness first: both SCPs answer the same 10^4 series
        for name, port, aec in (("dcmqrscp", qr_port, "ARCHIVE"), ("dicomkit", our_port, "DKQR")):
            _, out, _ = timed(findscu(port, aec, verbose=True))
            found = out.count("Find Response:")
            assert found == args.series, f"{name} answered {found} series, not {args.series}"

        def expect_rows(out: str) -> None:
            assert f"{args.series} matches" in out, out[-500:]

        def fresh() -> Path:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            return work

        def got_all(out: str) -> None:
            assert count_files(work) == args.ct, f"{count_files(work)} files, not {args.ct}: {out[-800:]}"

        for env in (ENV, base_env) if base_env is not None else (ENV,):  # bytecode compiled before timing
            timed(our_find(qr_port, "ARCHIVE"), env)
            timed(our_get(qr_port, "ARCHIVE", fresh()), env)
        # each round runs the three commands of a row in turn: the machine's drift hits all of them alike
        names = ["findscu>dcmqrscp", "findscu>dicomkit", "find>dcmqrscp", "getscu>dcmqrscp", "getscu>dicomkit",
                 "get>dcmqrscp", "get --sop-class>dcmqrscp"]
        if base_env is not None:
            names += ["base find>dcmqrscp", "base get>dcmqrscp", "base get --sop-class>dcmqrscp"]
        t = {name: Timings() for name in names}
        for _ in range(args.rounds):
            t["findscu>dcmqrscp"].run(findscu(qr_port, "ARCHIVE"))
            t["findscu>dicomkit"].run(findscu(our_port, "DKQR"))
            t["find>dcmqrscp"].run(our_find(qr_port, "ARCHIVE"), expect_rows)
            if base_env is not None:
                t["base find>dcmqrscp"].run(our_find(qr_port, "ARCHIVE"), expect_rows, base_env)
            t["getscu>dcmqrscp"].run(getscu(qr_port, "ARCHIVE", fresh()), got_all)
            t["getscu>dicomkit"].run(getscu(our_port, "DKQR", fresh()), got_all)
            t["get>dcmqrscp"].run(our_get(qr_port, "ARCHIVE", fresh()), got_all)
            if base_env is not None:
                t["base get>dcmqrscp"].run(our_get(qr_port, "ARCHIVE", fresh()), got_all, base_env)
            t["get --sop-class>dcmqrscp"].run(our_get(qr_port, "ARCHIVE", fresh(), told=True), got_all)
            if base_env is not None:
                t["base get --sop-class>dcmqrscp"].run(our_get(qr_port, "ARCHIVE", fresh(), told=True), got_all,
                                                       base_env)
        find_qr, get_qr = t["findscu>dcmqrscp"], t["getscu>dcmqrscp"]
        rows = [
            (f"C-FIND, {args.series} matches", "findscu -> dcmqrscp", find_qr, "findscu -> dicomkit SCP",
             t["findscu>dicomkit"]),
            (f"C-FIND, {args.series} matches", "findscu -> dcmqrscp", find_qr, "dicomkit find -> dcmqrscp",
             t["find>dcmqrscp"]),
            (f"C-GET, {args.ct} CT instances", "getscu -> dcmqrscp", get_qr, "getscu -> dicomkit SCP",
             t["getscu>dicomkit"]),
            (f"C-GET, {args.ct} CT instances", "getscu -> dcmqrscp", get_qr, "dicomkit get -> dcmqrscp",
             t["get>dcmqrscp"]),
            (f"C-GET, {args.ct} CT instances", "getscu -> dcmqrscp", get_qr, "dicomkit get --sop-class",
             t["get --sop-class>dcmqrscp"]),
        ]
        if base_env is not None:
            rows += [
                (f"C-FIND, {args.series} matches", "findscu -> dcmqrscp", find_qr, "base find -> dcmqrscp",
                 t["base find>dcmqrscp"]),
                (f"C-GET, {args.ct} CT instances", "getscu -> dcmqrscp", get_qr, "base get -> dcmqrscp",
                 t["base get>dcmqrscp"]),
                (f"C-GET, {args.ct} CT instances", "getscu -> dcmqrscp", get_qr, "base get --sop-class",
                 t["base get --sop-class>dcmqrscp"]),
            ]
    finally:
        ours.stop()
        dcmqrscp.stop()
        shutil.rmtree(work_root, ignore_errors=True)
        config.unlink(missing_ok=True)
    print(f"\nmedians of {args.rounds} rounds, whole commands (s); ratio = DCMTK time / dicomkit time; paired = the "
          "median of that ratio taken round by round (the two commands of a round ran within seconds of each "
          "other, so the machine's drift over the run cancels); cpu = the command's own CPU time (user + system)")
    print("rounds (s): " + "; ".join(f"{name} {', '.join(f'{x:.2f}' for x in times.wall)}"
                                     for name, times in t.items()))
    print(f"{'work':<28} {'DCMTK':<22} {'s':>7}  {'dicomkit':<26} {'s':>7}  {'ratio':>6} {'paired':>6}   "
          f"{'cpu':>5} {'cpu':>5}")
    for work_name, a_name, a, b_name, b in rows:
        paired = statistics.median(x / y for x, y in zip(a.wall, b.wall, strict=True))
        print(f"{work_name:<28} {a_name:<22} {a.median:7.2f}  {b_name:<26} {b.median:7.2f}  {a.median / b.median:6.2f}"
              f" {paired:6.2f}   {a.median_cpu:5.2f} {b.median_cpu:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
