#!/usr/bin/env python3
"""``dicomkit store`` of two source trees and DCMTK ``storescu`` into one DCMTK ``storescp``, alternating.

Times whole commands (start-up, the scan of the folder, the association) for 1000 × 42 KB
(bench/data/store/small, made by bench/store.py), with the bytecode cache on, and prints the medians.
``--no-nodelay`` starts storescp without TCP_NODELAY, as most peers run (Nagle's algorithm meets the
sender's delayed ACKs there).

Usage: python bench/ab_send.py --base /path/to/old/tree [--tree .] [--rounds 9] [--no-nodelay]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-nodelay", action="store_true", help="storescp without TCP_NODELAY")
    args = parser.parse_args()
    files = HERE / "data" / "store" / "small"
    if not files.is_dir():
        print(f"no {files}: run bench/store.py once first", file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    dcmtk_env = {**env, "TCP_NODELAY": "1"}
    trees = {"base": args.base.resolve(), "tree": args.tree.resolve()}
    port = free_port()
    out = Path(tempfile.mkdtemp(prefix="ab-send-"))
    scp = subprocess.Popen(["storescp", "-od", str(out), "--ignore", str(port)],
                           env=env if args.no_nodelay else dcmtk_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: dict[str, list[float]] = {"base": [], "tree": [], "storescu": []}
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        for _ in range(args.rounds):
            for name, tree in trees.items():
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "store", "127.0.0.1", str(port),
                                str(files), "--no-progress", "--aec", "ANY-SCP"], cwd=tree,
                               env={**dcmtk_env, "PYTHONPATH": str(tree)}, check=True, stdout=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(["storescu", "-aec", "ANY-SCP", "127.0.0.1", str(port), "+sd", str(files)],
                           env=dcmtk_env, check=True)
            times["storescu"].append(time.perf_counter() - started)
    finally:
        scp.terminate()
        scp.wait()
        shutil.rmtree(out, ignore_errors=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, values in times.items():
        print(f"{name:<9} median {medians[name]:.3f} s   rounds: {' '.join(f'{t:.2f}' for t in values)}")
    print(f"storescu/dicomkit: base {medians['storescu'] / medians['base']:.2f}x, "
          f"tree {medians['storescu'] / medians['tree']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
