#!/usr/bin/env python3
"""De-identification benchmark: `dicomkit anonymize` vs `dicognito` on the same 1000 files, whole commands.

Both commands run in the same session on the same input folder, each writing to a fresh output folder;
the time is the wall clock of the whole command (start-up included), median of several rounds that alternate between
the two, each started after a sync(2) so that no round pays for writing back what an earlier one left in
the page cache. dicomkit
uses its default worker processes (one per core); dicognito has no parallel mode.

Afterwards the outputs are checked against PS3.15 Table E.1-1: for each command, the attributes the table
says must go (X) or be emptied (Z) that are still there with their original value, and the private
attributes left, are counted over all files (in the top level and in sequences).

Usage: python bench/anonymize.py [--files N] [--rounds R] [--corpus DIR]
The files are made once in bench/data/anonymize/ from the corpus: each Part 10 corpus file that pydicom can
also write is copied in turn with new UIDs (two studies per patient, ten instances per series) and an
identifying header filled in (names, IDs, dates, institution, free text, a private block, a nested
sequence), until N files exist.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import dicomkit  # noqa: E402
from dicomkit.core.dataset import Dataset  # noqa: E402

SHARED = Path(os.environ.get("DICOMKIT_SHARED", ROOT.parent / "shared"))
IDENTIFYING = {
    "PatientName": "Vantreese^Quillon^M", "PatientID": "QV-7654321", "PatientBirthDate": "19530412",
    "PatientAddress": "12 Harrowgate Lane, Leeds", "OtherPatientIDs": "NHS-998877",
    "InstitutionName": "St. Elsewhere Hospital", "InstitutionAddress": "1 Main Street",
    "ReferringPhysicianName": "Smith^Adam", "PerformingPhysicianName": "Jones^Beth",
    "OperatorsName": "Doe^Carl", "StationName": "CT-ROOM-7", "AccessionNumber": "ACC123456",
    "StudyID": "S4711", "StudyDescription": "CT chest - 55F Dr. Smith", "ImageComments": "call 555-0199-123",
    "StudyDate": "20240229", "SeriesDate": "20240229", "AcquisitionDate": "20240229", "ContentDate": "20240229",
    "DeviceSerialNumber": "SN-0042", "MedicalRecordLocator": "MRL-55", "PatientTelephoneNumbers": "555-0100",
}


def _pydicom_writes(path: Path) -> bool:
    import pydicom

    try:
        pds = pydicom.dcmread(path)
        pds.save_as(io.BytesIO())
        return True
    except Exception:
        return False


def make_files(corpus: Path, out: Path, count: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    existing = sorted(out.glob("*.dcm"))
    if len(existing) >= count:
        return existing[:count]
    sources = []
    for path in sorted(corpus.glob("*.dcm")):
        try:
            ds = dicomkit.read(path)
        except dicomkit.DicomError:
            continue
        if ds.file_meta is None or "SOPInstanceUID" not in ds or not _pydicom_writes(path):
            continue
        sources.append(ds)
    if not sources:
        raise SystemExit(f"no usable DICOM files in {corpus} (set DICOMKIT_SHARED or --corpus)")
    files = []
    for i in range(count):
        ds = sources[i % len(sources)].copy()
        patient, study, series = i // 100, i // 50, i // 10
        for keyword, value in IDENTIFYING.items():
            setattr(ds, keyword, value)
        ds.PatientID = f"QV-{patient:07d}"
        ds.StudyInstanceUID = dicomkit.generate_uid(entropy=f"bench-study-{study}")
        ds.SeriesInstanceUID = dicomkit.generate_uid(entropy=f"bench-series-{series}")
        ds.SOPInstanceUID = dicomkit.generate_uid(entropy=f"bench-instance-{i}")
        ds.BurnedInAnnotation = "NO"
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = dicomkit.generate_uid(entropy=f"bench-instance-{i + 1}")
        ref.PatientName = "Nested^Name"
        ds.ReferencedPerformedProcedureStepSequence = [ref]
        block = ds.private_block(0x0011, "ACME PRIVATE", create=True)
        block.add_new(0x01, "LO", "Vantreese Quillon")
        path = out / f"{i:05d}.dcm"
        ds.save(path)
        files.append(path)
    return files


def _timed(cmd: list[str], out: Path, env: dict[str, str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    # Start with nothing dirty in the page cache: otherwise one tool's fsyncs pay for writing back what the
    # other (or the previous round) left unwritten.
    os.sync()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}", file=sys.stderr)
        raise SystemExit(1)
    return elapsed


def _alternating(ours: tuple[list[str], Path], theirs: tuple[list[str], Path], rounds: int,
                 env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Rounds of one run each, alternating, so that both meet the same load on a shared machine."""
    a, b = [], []
    for _ in range(rounds):
        a.append(_timed(*ours, env))
        b.append(_timed(*theirs, env))
    return a, b


def _table() -> dict[int, tuple[str, str]]:
    rows = json.loads((SHARED / "standard" / "confidentiality_profile_attributes.json").read_text())
    out = {}
    for row in rows:
        tag = row["tag"]
        if "X" in tag.replace("(", "").replace(")", "").split(",")[0][2:] or tag.startswith("(GGGG"):
            continue
        try:
            out[int(tag.strip("()").replace(",", ""), 16)] = (" ".join(row["name"].split()), row["basicProfile"])
        except ValueError:
            continue
    return out


def _walk(ds: Dataset):  # type: ignore[no-untyped-def]
    for elem in ds:
        yield elem
        if elem.vr == "SQ":
            for item in elem.value:
                yield from _walk(item)


def original_values(files: list[Path]) -> dict[int, set[str]]:
    """The values each attribute of Table E.1-1 had in the inputs (anywhere in the data set)."""
    table = _table()
    values: dict[int, set[str]] = {}
    for path in files:
        for elem in _walk(dicomkit.read(path, stop_before_pixels=True)):
            if int(elem.tag) in table and elem.vr != "SQ" and elem.length:
                values.setdefault(int(elem.tag), set()).add(str(elem.value))
    return values


def leftovers(folder: Path, originals: dict[int, set[str]]) -> Counter[str]:
    """What Table E.1-1 says must go: attributes to remove (X) still present, attributes to replace or
    empty (D, Z, U and their combinations) still holding an original value, and private attributes."""
    table = _table()
    left: Counter[str] = Counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = dicomkit.read(path, stop_before_pixels=True)
        except dicomkit.DicomError:
            continue
        for elem in _walk(ds):
            tag = int(elem.tag)
            if elem.tag.is_private and not elem.tag.is_private_creator:
                left["private attributes"] += 1
            entry = table.get(tag)
            if entry is None:
                continue
            name, action = entry
            if action == "X":
                left[f"{name} (X)"] += 1
            elif elem.vr != "SQ" and elem.length and str(elem.value) in originals.get(tag, ()):
                left[f"{name} ({action}), original value"] += 1
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    try:
        import dicognito  # noqa: F401
        import pydicom
    except ImportError:
        print("dicognito and pydicom are the peers: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    from importlib.metadata import version

    data = HERE / "data" / "anonymize"
    files = make_files(args.corpus, data, args.files)
    size = sum(f.stat().st_size for f in files) / 1e6
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    bindir = Path(sys.executable).parent
    ours_out, theirs_out = HERE / "data" / "anonymize-out-dicomkit", HERE / "data" / "anonymize-out-dicognito"
    ours = [str(bindir / "dicomkit"), "anonymize", str(data), str(ours_out), "--key", "bench", "-q"]
    theirs = [sys.executable, "-m", "dicognito", str(data), "-o", str(theirs_out), "--seed", "bench", "-q"]
    print(f"{len(files)} files, {size:.0f} MB; dicomkit {dicomkit.__version__} ({os.cpu_count()} worker processes), "
          f"dicognito {version('dicognito')} (pydicom {pydicom.__version__}); median of {args.rounds} rounds, "
          "whole commands")
    subprocess.run(ours, capture_output=True, env=env)  # warm the page cache and byte-code
    subprocess.run(theirs, capture_output=True, env=env)
    times_a, times_b = _alternating((ours, ours_out), (theirs, theirs_out), args.rounds, env)
    a, b = statistics.median(times_a), statistics.median(times_b)
    print(f"dicomkit anonymize  {a:7.2f} s  {len(files) / a:7.0f} files/s   (rounds: "
          + ", ".join(f"{t:.2f}" for t in times_a) + ")")
    print(f"dicognito           {b:7.2f} s  {len(files) / b:7.0f} files/s   (rounds: "
          + ", ".join(f"{t:.2f}" for t in times_b) + ")")
    print(f"ratio               {b / a:7.2f}x  (per round: "
          + ", ".join(f"{y / x:.1f}" for x, y in zip(times_a, times_b)) + ")")

    originals = original_values(files)
    ours_left = leftovers(ours_out, originals)
    theirs_left = leftovers(theirs_out, originals)
    names = sorted(set(ours_left) | set(theirs_left))
    print()
    print("left in the output of all files that PS3.15 Table E.1-1 says must go:")
    print(f"{'attribute (action)':<70} {'dicomkit':>9} {'dicognito':>10}")
    for name in names:
        print(f"{name:<70} {ours_left.get(name, 0):>9} {theirs_left.get(name, 0):>10}")
    if not names:
        print("(nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
