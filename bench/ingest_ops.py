#!/usr/bin/env python3
"""The Python work of ``dicomkit serve`` per received object, counted in bytecode operations, for two trees.

CPU seconds per object move with the load of a shared machine (the other core's work slows this one); the
number of bytecode operations the interpreter runs for the same objects does not. This script starts
``dicomkit serve`` from each tree in turn under ``sys.settrace`` (opcode events, every thread), sends 20 files
with DCMTK storescu to warm it up, then counts while storescu sends ``--files`` more over one association, and
prints the operations per object of each tree, the change, and where they are (by module). C work (hashing,
zlib, SQLite, system calls) counts as one operation per call: it shows in ``bench/ingest.py``'s CPU times.

``--parallel N`` sends the counted files over N associations at once (the stores of one group commit share
their transaction: the count then moves a little with how the batches fall).

Usage: python bench/ingest_ops.py --base /path/to/old/tree [--tree .] [--files 300] [--durability os] [--parallel N]
       [--functions N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from store import ENV, free_port, make_small, wait_port  # noqa: E402

CHILD = r"""
import collections, json, signal, sys, threading
tree, out, by_function = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
# this tree's dicomkit, whatever the environment has installed (an editable install finds its own first)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, tree)
counts = collections.Counter()
counting = [False]
def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    if event == "opcode" and counting[0]:
        code = frame.f_code
        counts[f"{code.co_filename}:{code.co_name}" if by_function else code.co_filename] += 1
    return tracer
def toggle(*_):
    if counting[0]:
        counting[0] = False
        with open(out, "w") as f:
            json.dump(counts, f)
    else:
        counts.clear()
        counting[0] = True
signal.signal(signal.SIGUSR1, toggle)
sys.settrace(tracer)
threading.settrace(tracer)
import dicomkit
assert dicomkit.__file__.startswith(tree), dicomkit.__file__
from dicomkit.cli.main import main
sys.exit(main(sys.argv[4:]))
"""


def count(tree: Path, files: list[Path], warm: list[Path], durability: str, work: Path,
          by_function: bool = False, parallel: int = 1) -> dict[str, int]:
    out = work / "counts.json"
    out.unlink(missing_ok=True)
    folders = {}
    groups = [("warm", warm)] + [(f"counted{i}", files[i::parallel]) for i in range(parallel)]
    for name, group in groups:
        folder = work / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for f in group:
            os.link(f, folder / f.name)
        folders[name] = folder
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tree), str(out), "1" if by_function else "0", "serve",
                             "--data-dir", str(data), "--dicom-port", str(port), "--http-port", str(free_port()),
                             "--durability", durability],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        for attempt in range(6):  # a traced start-up is slow
            try:
                wait_port(port, proc)
                break
            except TimeoutError:
                if attempt == 5:
                    raise
        time.sleep(3)  # the start-up sweep and HTTP come up after the DIMSE port (slowly, traced)

        def send(*names: str) -> None:
            senders = [subprocess.Popen(["storescu", "-aec", "DICOMKIT", "+sd", "127.0.0.1", str(port),
                                         str(folders[name])], env=ENV, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for name in names]
            for sender in senders:
                if sender.wait() != 0:
                    raise RuntimeError(f"storescu exited with {sender.returncode}")

        send("warm")
        time.sleep(1)
        proc.send_signal(signal.SIGUSR1)
        send(*(f"counted{i}" for i in range(parallel)))  # at once: their stores share group commits
        time.sleep(2)  # the last answers' bookkeeping (metrics, after the response)
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    result: dict[str, int] = json.loads(out.read_text())
    return result


def area(filename: str) -> str:
    filename = filename.rsplit(":", 1)[0]
    if "/dicomkit/" in filename:
        return "dicomkit/" + filename.rsplit("/dicomkit/", 1)[1].rsplit("/", 1)[0]
    if "asyncio" in filename:
        return "asyncio"
    if "concurrent" in filename or "threading" in filename:
        return "threads (concurrent.futures, threading)"
    return "other (stdlib, generated __init__)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare with (e.g. a git worktree)")
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--durability", choices=("os", "full"), default="os")
    parser.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="send the counted files over N associations at once (group commit batches them)")
    parser.add_argument("--functions", type=int, default=0, metavar="N",
                        help="also list the N functions of the tree with the most operations per object")
    args = parser.parse_args()
    if shutil.which("storescu") is None:
        print("storescu (DCMTK) is not installed", file=sys.stderr)
        return 1
    small = make_small(max(1000, args.files + 20))
    files, warm = small[:args.files], small[-20:]
    totals = {}
    by_area = {}
    functions: dict[str, collections.Counter[str]] = {}
    with tempfile.TemporaryDirectory(dir=HERE / "data") as tmp:
        for name, tree in (("base", args.base.resolve()), ("tree", args.tree.resolve())):
            counts = count(tree, files, warm, args.durability, Path(tmp), by_function=args.functions > 0,
                           parallel=args.parallel)
            totals[name] = sum(counts.values()) / len(files)
            areas: collections.Counter[str] = collections.Counter()
            for filename, n in counts.items():
                areas[area(filename)] += n
            by_area[name] = areas
            functions[name] = collections.Counter(
                {f.replace(str(tree), "", 1): n for f, n in counts.items()})
    over = "one association" if args.parallel == 1 else f"{args.parallel} associations at once"
    print(f"dicomkit serve (durability {args.durability}), {len(files)} objects of "
          f"{files[0].stat().st_size / 1000:.1f} KB over {over}; bytecode operations per object, all threads")
    print(f"base {totals['base']:.0f}   tree {totals['tree']:.0f}   change {totals['tree'] / totals['base'] - 1:+.1%}")
    for name, n in by_area["tree"].most_common(12):
        print(f"  {name:<44}{by_area['base'][name] / len(files):>8.0f} ->{n / len(files):>7.0f}")
    if args.functions:
        print(f"the {args.functions} functions of the tree with the most operations per object (base -> tree):")
        for name, n in functions["tree"].most_common(args.functions):
            short = name.rsplit("/dicomkit/", 1)[-1] if "/dicomkit/" in name else name.rsplit("/", 1)[-1]
            print(f"  {short:<60}{functions['base'][name] / len(files):>8.0f} ->{n / len(files):>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
