"""DICOM JSON conversion speed: dicomkit against pydicom on the same data sets, in one run.

    .venv/bin/python bench/json_convert.py [--repeat 7] [--pixels] [FILE_OR_DIR ...]

(Not named json.py: run as a script, that name would shadow the standard library's json module.)

Default input: every file of ../shared/corpus, headers only (without Pixel Data, as a DICOMweb metadata
response carries them); --pixels includes Pixel Data as InlineBinary. Each measurement converts the whole
set once; the median of --repeat runs is printed for both libraries with their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dicomkit

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def _files(args: list[str]) -> list[Path]:
    paths = [Path(a) for a in args] or [CORPUS]
    out: list[Path] = []
    for path in paths:
        out += sorted(path.glob("*.dcm")) if path.is_dir() else [path]
    return out


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pixels", action="store_true", help="include Pixel Data (InlineBinary)")
    args = parser.parse_args()
    try:
        import pydicom
    except ImportError:
        print("pydicom is needed as the peer (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # pydicom's warnings about the corpus' deliberately odd files
    files = _files(args.paths)
    ours, theirs = [], []
    for path in files:
        try:
            a = dicomkit.read(path, force=True, stop_before_pixels=not args.pixels)
            b = pydicom.dcmread(path, force=True, stop_before_pixels=not args.pixels)
            a.to_json()
            b.to_json()
        except Exception as exc:  # a file one of the two cannot convert is left out of both
            print(f"left out {path.name}: {type(exc).__name__}: {str(exc)[:100]}", file=sys.stderr)
            continue
        ours.append(a)
        theirs.append(b)
    our_json = [ds.to_json() for ds in ours]
    their_json = [ds.to_json() for ds in theirs]
    size = sum(len(t) for t in our_json)
    print(f"{len(ours)} data sets ({'with' if args.pixels else 'without'} Pixel Data), "
          f"{size / 1e6:.1f} MB of JSON, median of {args.repeat} runs")
    print(f"{'':12} {'dicomkit':>10} {'pydicom':>10} {'pydicom/dicomkit':>17}")
    rows = [
        ("to_json", lambda: [ds.to_json() for ds in ours], lambda: [ds.to_json() for ds in theirs]),
        ("from_json", lambda: [dicomkit.Dataset.from_json(t) for t in our_json],
         lambda: [pydicom.Dataset.from_json(t) for t in their_json]),
    ]
    for name, mine, peer in rows:
        a, b = _median(mine, args.repeat), _median(peer, args.repeat)
        print(f"{name:12} {a * 1e3:8.1f}ms {b * 1e3:8.1f}ms {b / a:16.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
