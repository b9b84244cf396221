#!/usr/bin/env python3
"""The work of ``bench/parse.py`` counted in bytecode operations rather than seconds, for two source trees.

On a shared, loaded machine the files/s of one tree move by a factor of three between runs; the number of
bytecode operations the interpreter executes for the same work does not move at all. This script runs the
*metadata* and *all values* work of ``bench/parse.py`` (each tree's own functions, on the same files, read
from memory so that the file system is out of it) under ``sys.settrace`` with opcode events, and prints the
count per file for each tree and the change. It measures Python-level work only (C calls count as one
operation), which is where a change to the reader shows.

Usage: python bench/opcount.py --base /path/to/old/tree [--tree .] [--files 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import io, json, sys
from pathlib import Path
tree, files = Path(sys.argv[1]), [Path(p) for p in json.loads(sys.argv[2])]
sys.path.insert(0, str(tree)); sys.path.insert(0, str(tree / "bench"))
import dicomkit, parse
KEYWORDS = parse.KEYWORDS
blobs = [p.read_bytes() for p in files]
def metadata(blob):
    ds = dicomkit.read(io.BytesIO(blob), stop_before_pixels=True)
    for kw in KEYWORDS:
        ds.get(kw)
def all_values(blob):
    ds = dicomkit.read(io.BytesIO(blob))
    for elem in ds.iterall():
        elem.value
for blob in blobs[:3]:  # imports and first-use caches out of the count
    metadata(blob); all_values(blob)
count = 0
def tracer(frame, event, arg):
    global count
    frame.f_trace_opcodes = True
    if event == "opcode":
        count += 1
    return tracer
out = {}
for name, fn in (("metadata", metadata), ("all values", all_values)):
    count = 0
    sys.settrace(tracer)
    for blob in blobs:
        fn(blob)
    sys.settrace(None)
    out[name] = count / len(blobs)
print(json.dumps(out))
"""


def count(tree: Path, files: list[Path]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), json.dumps([str(f) for f in files])],
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare with (e.g. a git worktree)")
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    data = HERE / "data" / "parse"
    files = sorted(data.glob("*.dcm"))[: args.files]
    if not files:
        print(f"no files in {data}: run bench/parse.py once first", file=sys.stderr)
        return 1
    base, tree = count(args.base.resolve(), files), count(args.tree.resolve(), files)
    print(f"{len(files)} files of bench/data/parse, read from memory; bytecode operations per file")
    print(f"{'work':<12} {'base':>12} {'tree':>12} {'change':>8}")
    for name in base:
        print(f"{name:<12} {base[name]:12.0f} {tree[name]:12.0f} {100 * (tree[name] / base[name] - 1):+7.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
