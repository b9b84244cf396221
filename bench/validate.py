#!/usr/bin/env python3
"""IOD validation benchmark: `dicomkit validate` vs dicom3tools' `dciodvfy` on the corpus, whole commands.

dciodvfy takes one file per run, so it runs once per file; `dicomkit validate` takes them all in one run
(and, for the per-file comparison, once per file too). The time is the wall clock of the commands, start-up
included, median of several rounds that alternate between the tools.

Usage: python bench/validate.py [--rounds R] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("DICOMKIT_SHARED", ROOT.parent / "shared"))
RAW = {"JLSL_RGB_ILV0.dcm", "JLSL_RGB_ILV1.dcm", "JLSL_RGB_ILV2.dcm", "JLSN_RGB_ILV0.dcm", "OT-PAL-8-face.dcm"}


def _timed(commands: list[list[str]]) -> float:
    start = time.perf_counter()
    for cmd in commands:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    args = parser.parse_args()
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        print("dciodvfy not installed (Debian package dicom3tools)", file=sys.stderr)
        return 1
    dicomkit = [sys.executable, "-m", "dicomkit.cli.main", "validate", "-q"]
    files = [str(p) for p in sorted(args.corpus.glob("*.dcm")) if p.name not in RAW]
    env_note = "PYTHONDONTWRITEBYTECODE unset" if "PYTHONDONTWRITEBYTECODE" not in os.environ else "bytecode off"
    ours_all, ours_each, theirs_each = [], [], []
    for _ in range(args.rounds):
        theirs_each.append(_timed([[dciodvfy, f] for f in files]))
        ours_all.append(_timed([[*dicomkit, *files]]))
        ours_each.append(_timed([[*dicomkit, f] for f in files]))
    t, a, e = (statistics.median(x) for x in (theirs_each, ours_all, ours_each))
    n = len(files)
    print(f"{n} corpus files, median of {args.rounds} rounds ({env_note})")
    print(f"dciodvfy, one run per file:          {t:6.2f} s  ({n / t:6.1f} files/s)")
    print(f"dicomkit validate, one run per file: {e:6.2f} s  ({n / e:6.1f} files/s)  {t / e:5.2f}x dciodvfy")
    print(f"dicomkit validate, one run:          {a:6.2f} s  ({n / a:6.1f} files/s)  {t / a:5.2f}x dciodvfy")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
