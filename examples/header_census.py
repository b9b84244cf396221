#!/usr/bin/env python3
"""What is in a folder of DICOM files: one CSV row per series, and a summary, from the headers alone.

    python examples/header_census.py FOLDER [--csv series.csv] [--workers N]

Each file's header is read without its pixel data (``stop_before_pixels``; values decode only when asked
for), so a folder of thousands of files takes seconds; ``--workers`` reads in that many processes. Files
that are not DICOM are counted, and the ones that do not read say why: a census of a real archive's export
meets both.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dicomkit
from dicomkit import DicomError
from dicomkit.io.files import Kind, walk

COLUMNS = ("PatientID", "StudyInstanceUID", "StudyDate", "SeriesInstanceUID", "Modality", "SeriesDescription")


def header(path: Path) -> tuple[str, ...] | str:
    """The series' columns and the transfer syntax of one file, or why it cannot be read."""
    try:
        ds = dicomkit.read(path, stop_before_pixels=True, force=True)  # force: raw data sets too
        meta = ds.file_meta  # None for a raw data set (no File Meta Information)
        syntax = meta.TransferSyntaxUID.name if meta is not None and "TransferSyntaxUID" in meta else "(no meta)"
        return (*(str(ds.get(keyword, "") or "") for keyword in COLUMNS), syntax)
    except DicomError as exc:
        return f"{path}: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--csv", type=Path, help="write one row per series here")
    parser.add_argument("--workers", type=int, default=1, help="processes reading headers (default 1)")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    found = list(walk([args.folder]))
    files = [f.path for f in found if f.kind is Kind.DICOM]
    kinds = Counter(f.kind.value for f in found if f.kind is not Kind.DICOM)
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            headers = list(pool.map(header, files, chunksize=64))
    else:
        headers = [header(path) for path in files]

    series: dict[str, list[object]] = {}
    syntaxes: Counter[str] = Counter()
    failures = [h for h in headers if isinstance(h, str)]
    for row in headers:
        if isinstance(row, str):
            continue
        *columns, syntax = row
        syntaxes[syntax] += 1
        entry = series.setdefault(columns[3] or f"(no series UID) {len(series)}", [*columns, 0])
        entry[-1] = int(str(entry[-1])) + 1
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow([*COLUMNS, "Instances"])
            out.writerows(series.values())

    studies = {str(row[1]) for row in series.values()}
    patients = {str(row[0]) for row in series.values()}
    modalities = Counter(str(row[4]) or "-" for row in series.values())
    print(f"{len(files)} DICOM files: {len(patients)} patients, {len(studies)} studies, {len(series)} series"
          + (f"; also {', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}" if kinds else ""))
    print("series by modality: " + ", ".join(f"{m} {n}" for m, n in modalities.most_common()))
    print("files by transfer syntax:")
    for name, n in syntaxes.most_common():
        print(f"  {n:6}  {name}")
    for failure in failures:
        print(f"unreadable: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
