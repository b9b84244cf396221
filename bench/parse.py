#!/usr/bin/env python3
"""Parse benchmark: dicomkit vs pydicom reading the same 1000 files.

Two workloads, each timed as the median of several rounds over all files:
- metadata: read with stop_before_pixels and access six attributes a PACS indexes
- all values: read the whole file and decode every element value, recursively

Usage: python bench/parse.py [--files N] [--rounds R] [--corpus DIR]
The files are made once in bench/data/parse/ from the corpus (each corpus file copied with new UIDs, in turn,
until N files exist), so both libraries read exactly the same bytes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import dicomkit  # noqa: E402

KEYWORDS = ["PatientName", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality"]


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
        if ds.file_meta is None or "SOPInstanceUID" not in ds:
            continue  # raw data sets: pydicom needs force for them
        sources.append(ds)
    files = []
    for i in range(count):
        ds = sources[i % len(sources)]
        ds.SOPInstanceUID = dicomkit.generate_uid()
        path = out / f"{i:05d}.dcm"
        ds.save(path)
        files.append(path)
    return files


def dicomkit_metadata(path: Path) -> None:
    ds = dicomkit.read(path, stop_before_pixels=True)
    for kw in KEYWORDS:
        ds.get(kw)


def dicomkit_all(path: Path) -> None:
    ds = dicomkit.read(path)
    for elem in ds.iterall():
        elem.value  # noqa: B018


def pydicom_metadata(path: Path) -> None:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    for kw in KEYWORDS:
        ds.get(kw)


def pydicom_all(path: Path) -> None:
    import pydicom

    ds = pydicom.dcmread(path)
    for elem in ds.iterall():
        elem.value  # noqa: B018


def rate(fn: Callable[[Path], None], files: list[Path], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for f in files:
            fn(f)
        times.append(time.perf_counter() - start)
    return len(files) / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    args = parser.parse_args()
    try:
        import pydicom
    except ImportError:
        print("pydicom is needed as the peer: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    files = make_files(args.corpus, HERE / "data" / "parse", args.files)
    size = sum(f.stat().st_size for f in files) / 1e6
    print(f"{len(files)} files, {size:.0f} MB; dicomkit {dicomkit.__version__}, pydicom {pydicom.__version__}; "
          f"median of {args.rounds} rounds")
    for name, ours, theirs in (("metadata", dicomkit_metadata, pydicom_metadata),
                               ("all values", dicomkit_all, pydicom_all)):
        for f in files[:50]:  # warm the page cache and imports
            ours(f)
            theirs(f)
        a = rate(ours, files, args.rounds)
        b = rate(theirs, files, args.rounds)
        print(f"{name:<11} dicomkit {a:8.0f} files/s   pydicom {b:8.0f} files/s   ratio {a / b:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
