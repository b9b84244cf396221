#!/usr/bin/env python3
"""C-FIND latency benchmark (issue 11): the dicomkit archive's index at 10^5 studies vs Orthanc at 10^4.

- 10^5 generated single-instance studies (``--studies``): 10 family names x 8 given names, a Patient ID
  shared by 3 studies, study dates from 2015 to 2026; imported with ``dicomkit archive import`` into an
  archive on SQLite and (``--postgres URL``, or a throw-away cluster when PostgreSQL's binaries are
  installed) one on PostgreSQL; Orthanc (temporary JSON configuration, loopback ports) gets the first 10^4
  by storescu (8 associations).
- Three queries at STUDY level, each timed as a whole ``findscu -S`` command, median of 5: an exact Patient ID
  (3 hits), ``PatientName=SMITH^ANNA*`` (1 study in 80) and a one-month StudyDate range.
- dicomkit: the same queries in-process — the query plan through :class:`dicomkit.server.sources.IndexQuerySource`,
  every response Identifier encoded as the SCP sends it — and as findscu commands against ``dicomkit serve``
  (its Study Root C-FIND SCP on the index), on each database.

Usage: python bench/find.py [--studies 100000] [--orthanc-studies 10000] [--rounds 5] [--postgres URL]
The generated files, archives and Orthanc's database are kept in bench/data/find/ for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from store import DICOMKIT, ENV, free_port, wait_port  # noqa: E402

import dicomkit  # noqa: E402
from dicomkit import Dataset  # noqa: E402

WORK = HERE / "data" / "find"
FAMILIES = ["SMITH", "JONES", "MULLER", "GARCIA", "ROSSI", "DUBOIS", "NOVAK", "TANAKA", "SILVA", "KOWALSKI"]
GIVENS = ["ANNA", "JOHN", "MARIA", "PETER", "LENA", "DAVID", "SOFIA", "KARL"]
PATIENT_ID = "P{:06d}"
QUERY_ID = 1234  # the Patient ID of the exact query: studies 3702, 3703, 3704 (3 hits, within the first 10^4)
MONTH = ("20200301", "20200331")
ROOT = "1.2.826.0.1.3680043.10.543"


def study(n: int) -> Dataset:
    rng = random.Random(n)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    ds.StudyInstanceUID = f"{ROOT}.{n}"
    ds.SeriesInstanceUID = f"{ROOT}.{n}.1"
    ds.SOPInstanceUID = f"{ROOT}.{n}.1.1"
    ds.PatientID = PATIENT_ID.format(n // 3)
    # the same patient has the same name: names go by Patient ID
    prng = random.Random(n // 3)
    ds.PatientName = f"{prng.choice(FAMILIES)}^{prng.choice(GIVENS)}"
    ds.PatientBirthDate = f"{1930 + prng.randrange(80)}0101"
    ds.PatientSex = prng.choice("MF")
    day = rng.randrange(12 * 365 + 3)  # 2015-01-01 ... 2026-12-31
    date = time.strftime("%Y%m%d", time.gmtime(1420070400 + day * 86400))
    ds.StudyDate = date
    ds.StudyTime = f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}00"
    ds.AccessionNumber = f"A{n:07d}"
    ds.StudyID = str(n % 1000)
    ds.StudyDescription = rng.choice(["CT HEAD", "MR KNEE", "CR CHEST", "US ABDOMEN"])
    ds.ReferringPhysicianName = "REF^DOCTOR"
    ds.Modality = ds.StudyDescription[:2]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = 8, 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(64)
    return ds


def generate(count: int) -> Path:
    folder = WORK / "files"
    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    for n in range(count):
        sub = folder / f"{n // 1000:03d}"
        path = sub / f"{n:06d}.dcm"
        if path.exists():
            continue
        sub.mkdir(exist_ok=True)
        dicomkit.write(study(n), path, transfer_syntax="1.2.840.10008.1.2.1")
        made += 1
    if made:
        print(f"generated {made} files in {folder}")
    return folder


def file_folders(count: int) -> list[Path]:
    return [WORK / "files" / f"{k:03d}" for k in range((count + 999) // 1000)]


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=ENV, **kw)


# -- the archives -------------------------------------------------------------------------------------------
def archive(name: str, count: int, database: str | None) -> Path:
    """An archive with the first ``count`` studies, imported by ``dicomkit archive import`` (kept)."""
    data = WORK / f"archive-{name}-{count}"
    marker = data / ".complete"
    if marker.exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    config = data.parent / f"{data.name}.toml"
    config.write_text(f'[storage]\ndata_dir = "{data}"\ndurability = "os"\n'
                      + (f'[database]\nurl = "{database}"\n' if database else ""))
    from dicomkit.server.index import Index

    Index(database or f"sqlite:///{data / 'index.sqlite'}").close()  # a new, empty archive
    started = time.perf_counter()
    result = run([*DICOMKIT, "archive", "import", "--config", str(config), "-q", "--workers", "4",
                  *map(str, file_folders(count))], timeout=7200)
    if result.returncode != 0:
        raise SystemExit(f"dicomkit archive import failed: {result.stderr[-2000:]}")
    print(f"imported {count} studies into the {name} archive in {time.perf_counter() - started:.0f} s")
    marker.write_text("done\n")
    return data


def plan_for(keys: dict[str, str]) -> Any:
    from dicomkit.services.query_retrieve import STUDY_ROOT, Operation, plan_from_identifier

    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    for k, v in keys.items():
        setattr(q, k, v)
    return plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)


RETURN_KEYS = {"StudyInstanceUID": "", "PatientName": "", "PatientID": "", "StudyDate": "", "StudyTime": "",
               "AccessionNumber": "", "StudyDescription": "", "ModalitiesInStudy": "",
               "NumberOfStudyRelatedInstances": ""}
QUERIES = {
    "PatientID exact": {"PatientID": PATIENT_ID.format(QUERY_ID)},
    "PatientName=SMITH^ANNA*": {"PatientName": "SMITH^ANNA*"},
    "StudyDate one month": {"StudyDate": f"{MONTH[0]}-{MONTH[1]}"},
}


def in_process(url: str, rounds: int) -> dict[str, tuple[float, int]]:
    """Median seconds and hits of each query through IndexQuerySource, every response Identifier encoded as
    the C-FIND SCP sends it (the index rows, IdentifierEncoder, Explicit VR Little Endian)."""
    from dicomkit.server.index import Index
    from dicomkit.server.sources import IndexQuerySource
    from dicomkit.services.query_retrieve.rows import IdentifierEncoder
    from dicomkit.services.sources import LOCAL

    out = {}
    with Index(url) as index:
        source = IndexQuerySource(index, retrieve_ae_title="DICOMKIT")

        async def one(plan: Any) -> int:
            n = 0
            encoder = IdentifierEncoder(plan, "1.2.840.10008.1.2.1", retrieve_ae_title="DICOMKIT")
            async for match in source.find_rows(plan, LOCAL):
                encoder.encode(match)
                n += 1
            return n

        for name, keys in QUERIES.items():
            plan = plan_for({**RETURN_KEYS, **keys})
            hits, times = 0, []
            asyncio.run(one(plan))  # warm the caches
            for _ in range(rounds):
                started = time.perf_counter()
                hits = asyncio.run(one(plan))
                times.append(time.perf_counter() - started)
            out[name] = (statistics.median(times), hits)
    return out


CLIENT_CPU: dict[str, dict[str, float]] = {}  # findscu's own CPU seconds (user + system), median, per row


def findscu(port: int, aet: str, keys: dict[str, str], verbose: bool = False) -> tuple[float, int, str, float]:
    """(seconds, responses, error, findscu's CPU seconds) of one findscu command (responses counted with
    ``verbose`` only: findscu then prints every response, which the timed runs do not)."""
    args = ["findscu", "-S", "-aec", aet, "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=STUDY"]
    for k, v in {**RETURN_KEYS, **keys}.items():
        args += ["-k", f"{k}={v}" if v else k]
    if verbose:
        args.append("-v")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = run(args, timeout=600)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    errors = [line for line in result.stderr.splitlines() if line.startswith(("E:", "F:"))]
    return elapsed, result.stderr.count("(Pending)"), errors[-1] if errors else "", cpu


def over_findscu(port: int, aet: str, rounds: int, label: str = "") -> dict[str, tuple[float, int]] | str:
    """Median seconds and hits of each query as a findscu command; the reason when the SCP cannot. The
    median CPU findscu itself spent goes to :data:`CLIENT_CPU` under ``label``."""
    out = {}
    for name, keys in QUERIES.items():
        _, hits, error, _ = findscu(port, aet, keys, verbose=True)  # warms the caches too
        if error:
            return error
        times, cpus = [], []
        for _ in range(rounds):
            elapsed, _, error, cpu = findscu(port, aet, keys)
            if error:
                return error
            times.append(elapsed)
            cpus.append(cpu)
        out[name] = (statistics.median(times), hits)
        CLIENT_CPU.setdefault(label, {})[name] = statistics.median(cpus)
    return out


class Serve:
    def __init__(self, data: Path, database: str | None) -> None:
        self.port = free_port()
        args = [*DICOMKIT, "serve", "--data-dir", str(data), "--dicom-port", str(self.port), "--no-http"]
        if database:
            args += ["--database", database]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        deadline = time.monotonic() + 1800  # the first start after an import sweeps every new series folder
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("dicomkit serve exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("dicomkit serve did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Orthanc:
    def __init__(self, count: int) -> None:
        self.folder = WORK / f"orthanc-{count}"
        self.port, self.http = free_port(), free_port()
        complete = self.folder / ".complete"
        fresh = not complete.exists()
        if fresh:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps({
            "Name": "bench", "StorageDirectory": str(self.folder / "db"), "IndexDirectory": str(self.folder / "db"),
            "DicomAet": "ORTHANC", "DicomPort": self.port, "HttpPort": self.http, "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False,
            "DicomAlwaysAllowFind": True, "LimitFindResults": 0, "LimitFindInstances": 0}))
        env = dict(ENV)
        env.pop("TCP_NODELAY", None)
        self.proc = subprocess.Popen(["Orthanc", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     env=env)
        wait_port(self.port, self.proc)
        if fresh:
            started = time.perf_counter()
            folders = file_folders(count)
            parts = [folders[k::8] for k in range(8)]
            procs = [subprocess.Popen(["storescu", "-aec", "ORTHANC", "+sd", "127.0.0.1", str(self.port),
                                       *map(str, part)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
                     for part in parts if part]
            for p in procs:
                _, err = p.communicate()
                if p.returncode != 0:
                    raise SystemExit(f"storescu to Orthanc failed: {err.decode(errors='replace')[-1000:]}")
            print(f"stored {count} studies in Orthanc in {time.perf_counter() - started:.0f} s")
            complete.write_text("done\n")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def postgres_url(given: str | None) -> tuple[str | None, Path | None]:
    if given:
        return given, None
    sys.path.insert(0, str(HERE.parent / "tests" / "server"))
    try:
        from postgres import start_cluster  # type: ignore[import-not-found]

        url, folder = start_cluster(Path(tempfile.mkdtemp(prefix="dicomkit-find-pg-")))
    except (RuntimeError, OSError) as exc:
        print(f"no PostgreSQL: {exc}")
        return None, None
    return url, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--orthanc-studies", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (default: a throw-away cluster)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-orthanc", action="store_true")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    generate(max(args.studies, args.orthanc_studies))
    rows: list[tuple[str, dict[str, tuple[float, int]] | str]] = []

    sqlite_data = archive("sqlite", args.studies, None)
    rows.append((f"dicomkit, SQLite, {args.studies} studies, in-process",
                 in_process(f"sqlite:///{sqlite_data / 'index.sqlite'}", args.rounds)))
    report(rows, args.rounds)
    serve = Serve(sqlite_data, None)
    try:
        label = f"dicomkit serve, SQLite, {args.studies} studies, findscu"
        rows.append((label, over_findscu(serve.port, "DICOMKIT", args.rounds, label)))
    finally:
        serve.stop()

    cluster = None
    if not args.no_postgres:
        url, cluster = postgres_url(args.postgres)
        if url:
            try:
                import psycopg

                name = f"dicomkit_find_{args.studies}"
                with psycopg.connect(url, autocommit=True) as conn:
                    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                        conn.execute(f"CREATE DATABASE {name}")
                        shutil.rmtree(WORK / f"archive-postgresql-{args.studies}", ignore_errors=True)
                db_url = url.rsplit("/", 1)[0] + f"/{name}"
                pg_data = archive("postgresql", args.studies, db_url)
                rows.append((f"dicomkit, PostgreSQL, {args.studies} studies, in-process",
                             in_process(db_url, args.rounds)))
                report(rows, args.rounds)
                serve = Serve(pg_data, db_url)
                try:
                    label = f"dicomkit serve, PostgreSQL, {args.studies} studies, findscu"
                    rows.append((label, over_findscu(serve.port, "DICOMKIT", args.rounds, label)))
                finally:
                    serve.stop()
            finally:
                if cluster is not None:
                    from postgres import stop_cluster

                    stop_cluster(cluster)
                    shutil.rmtree(WORK / f"archive-postgresql-{args.studies}", ignore_errors=True)

    if not args.no_orthanc:
        orthanc = Orthanc(args.orthanc_studies)
        try:
            label = f"Orthanc, {args.orthanc_studies} studies, findscu"
            rows.append((label, over_findscu(orthanc.port, "ORTHANC", args.rounds, label)))
            floor = statistics.median(findscu(orthanc.port, "ORTHANC", {"PatientID": "NO-SUCH-ID"})[0]
                                      for _ in range(args.rounds))
            print(f"findscu against Orthanc with no match (the command's own cost): {1000 * floor:.1f} ms")
        finally:
            orthanc.stop()

    report(rows, args.rounds)


def report(rows: list[tuple[str, dict[str, tuple[float, int]] | str]], rounds: int) -> None:
    print(f"\nC-FIND at STUDY level, median of {rounds}, milliseconds (hits):")
    print(f"{'':58}" + "".join(f"{q:>26}" for q in QUERIES))
    for label, result in rows:
        if isinstance(result, str):
            print(f"{label:58}  not measured: {result}")
            continue
        print(f"{label:58}" + "".join(f"{1000 * result[q][0]:>18.1f} ({result[q][1]:>5})" for q in QUERIES))
    if CLIENT_CPU:
        print("\nfindscu's own CPU (user + system) per command, median, milliseconds:")
        for label, cpus in CLIENT_CPU.items():
            print(f"{label:58}" + "".join(f"{1000 * cpus[q]:>26.1f}" for q in QUERIES if q in cpus))
    orthanc_row = next((r for label, r in rows if label.startswith("Orthanc") and not isinstance(r, str)), None)
    if orthanc_row is not None:
        for label, result in rows:
            if label.startswith("dicomkit") and not isinstance(result, str):
                ratios = ", ".join(f"{q}: {result[q][0] / orthanc_row[q][0]:.2f}x" for q in QUERIES)
                print(f"{label} / Orthanc: {ratios} (target <= 1.0)")


if __name__ == "__main__":
    main()
