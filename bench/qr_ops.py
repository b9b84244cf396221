#!/usr/bin/env python3
"""The Python work of the SCU commands of ``bench/qr.py`` per message, in bytecode operations, for two trees.

The CPU seconds of ``dicomkit find`` / ``dicomkit get`` move with the load of a shared machine; the number of
bytecode operations the interpreter runs for the same answers does not. This script starts DCMTK's
``dcmqrscp`` on the data of ``bench/qr.py`` (made there once), then runs, for each tree in a process of its
own, ``dicomkit find`` (C-FIND, the 10⁴ series), ``dicomkit get --sop-class`` and ``dicomkit get`` (C-GET, the
1000 CT instances) in-process: each command once to load its modules and fill the first-use caches, then again
under ``sys.settrace`` (opcode events), and prints the operations per match / instance of each tree, the
change, and (``--by-file``) where they are. C work (system calls, struct, bytes joins) counts as one operation
per call: it shows in ``bench/qr.py``'s CPU times.

Usage: python bench/qr_ops.py [--base /path/to/old/tree] [--tree .] [--by-file 12] [--only get]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from qr import DATA, ENV, Peer, free_port, index_dcmqrscp, make_data, our_find, our_get  # noqa: E402

CHILD = r"""
import collections, io, json, os, shutil, sys
tree, commands = sys.argv[1], json.loads(sys.argv[2])
# this tree's dicomkit, whatever the environment has installed (an editable install finds its own first)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, tree)
import dicomkit
assert dicomkit.__file__.startswith(tree), dicomkit.__file__
from dicomkit.cli.main import main
counts = collections.Counter()
def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    if event == "opcode":
        code = frame.f_code
        counts[f"{code.co_filename}\0{code.co_name}:{code.co_firstlineno}"] += 1

    return tracer
def fresh(out):
    if out:  # outside the count: the folder of the run before goes
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
def run(argv, traced):
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        if traced:
            sys.settrace(tracer)
        code = main(argv)
    finally:
        sys.settrace(None)
        text, sys.stdout = sys.stdout.getvalue(), saved
    assert code == 0, text[-2000:]
    return text
result = {}
for name, argv, out in commands:
    fresh(out)
    run(argv, False)  # imports and first-use caches out of the count
    fresh(out)
    counts.clear()
    run(argv, True)
    result[name] = dict(counts)
print(json.dumps(result))
"""


def count(tree: Path, commands: list[tuple[str, list[str], str]]) -> dict[str, dict[str, int]]:
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), json.dumps(commands)], capture_output=True,
                          text=True, env=env, cwd=tree)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr[-3000:]}")
    result: dict[str, dict[str, int]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def where(filename: str, tree: Path) -> str:
    """A short name for the file a count belongs to: its path in the tree, else the standard library's name."""
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(tree.resolve()))
    except ValueError:
        return path.name if path.suffix == ".py" else filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the tree to compare with (e.g. a git worktree of main)")
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--ct", type=int, default=1000)
    parser.add_argument("--by-file", type=int, default=0, metavar="N", help="show the N files with most operations")
    parser.add_argument("--by-function", type=int, default=0, metavar="N",
                        help="show the N functions with most operations")
    parser.add_argument("--only", action="append", choices=("find", "get --sop-class", "get"),
                        help="count this command only (repeat for several; default: all three)")
    args = parser.parse_args()
    for tool in ("dcmqrscp", "dcmqridx"):
        if shutil.which(tool) is None:
            print(f"{tool} not installed (Debian package dcmtk)")
            return 1
    folder, _ = make_data(args.series, args.ct)
    db = DATA / f"dcmqrscp-{args.series}-{args.ct}"
    index_dcmqrscp(folder, db)
    port = free_port()
    config = DATA / f"dcmqrscp-ops-{os.getpid()}.cfg"
    config.write_text(f"NetworkTCPPort = {port}\nMaxPDUSize = 131072\nMaxAssociations = 16\n"
                      f"HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                      f"AETable BEGIN\nARCHIVE {db} RW (10, 4096mb) ANY\nAETable END\n")
    work = Path(tempfile.mkdtemp(prefix="qr-ops-", dir=DATA))
    out = work / "out"
    commands = [("find", our_find(port, "ARCHIVE")[3:], ""),
                ("get --sop-class", our_get(port, "ARCHIVE", out, told=True)[3:], str(out)),
                ("get", our_get(port, "ARCHIVE", out)[3:], str(out))]
    if args.only:
        commands = [c for c in commands if c[0] in args.only]
    per = {"find": args.series, "get --sop-class": args.ct, "get": args.ct}
    dcmqrscp = Peer(["dcmqrscp", "-c", str(config)], port)
    try:
        trees = {"tree": args.tree.resolve()}
        if args.base is not None:
            trees = {"base": args.base.resolve(), **trees}
        counts = {name: count(tree, commands) for name, tree in trees.items()}
    finally:
        dcmqrscp.stop()
        shutil.rmtree(work, ignore_errors=True)
        config.unlink(missing_ok=True)
    print("bytecode operations of the whole command after its imports, per match (find) or instance (get)")
    print(f"{'command':<18}" + "".join(f" {name:>10}" for name in trees) + ("   change" if args.base else ""))
    for command, _, _ in commands:
        totals = [sum(counts[name][command].values()) / per[command] for name in trees]
        change = f" {100 * (totals[-1] / totals[0] - 1):+7.1f}%" if args.base else ""
        print(f"{command:<18}" + "".join(f" {t:10.0f}" for t in totals) + change)
    for top, what in ((args.by_file, "file"), (args.by_function, "function")):
        if not top:
            continue
        for command, _, _ in commands:
            print(f"\n{command}: operations per {'match' if command == 'find' else 'instance'} by {what}")
            for name, tree in trees.items():
                by: dict[str, float] = {}
                for key, n in counts[name][command].items():
                    filename, function = key.split("\0")
                    label = where(filename, tree) + (f" {function}" if what == "function" else "")
                    by[label] = by.get(label, 0) + n / per[command]
                print(f"  {name}:")
                for label, n in sorted(by.items(), key=lambda kv: -kv[1])[:top]:
                    print(f"    {n:8.0f}  {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
