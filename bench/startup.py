"""Start-up: ``dicomkit dump FILE`` against DCMTK's ``dcmdump FILE``, whole commands, process start included.

Run it with an installed dicomkit whose bytecode is compiled (an editable install on a machine that sets
PYTHONDONTWRITEBYTECODE recompiles the 5,000-line dictionary on every start):

    python -m venv /tmp/v && /tmp/v/bin/pip install . && /tmp/v/bin/python bench/startup.py

``--dicomkit PATH`` (repeatable) times other installs' ``dicomkit`` commands in the same rounds, e.g. a
build before and after a change. The files: one without private elements, one with private elements of
known creators in Explicit VR, and an Implicit VR copy of it made with ``dcmconv +ti`` (where the reader
takes private VRs from the private dictionary). Rounds alternate the commands; medians and minima of the
wall time are printed, with the ratio of the medians to dcmdump's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DICOMKIT_SHARED", ROOT.parent / "shared")) / "corpus"


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--dicomkit", action="append", metavar="PATH",
                        help="a dicomkit command to time (default: the one beside this Python)")
    args = parser.parse_args()
    dcmdump, dcmconv = shutil.which("dcmdump"), shutil.which("dcmconv")
    if dcmdump is None or dcmconv is None:
        print("dcmdump and dcmconv (Debian package dcmtk) are needed", file=sys.stderr)
        return 2
    ours = args.dicomkit or [str(Path(sys.executable).parent / "dicomkit")]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # read (and, if missing, write) the bytecode cache
    with tempfile.TemporaryDirectory() as tmp:
        implicit = Path(tmp) / "siemens-implicit.dcm"
        subprocess.run([dcmconv, "+ti", str(CORPUS / "MR-SIEMENS-DICOM-WithOverlays.dcm"), str(implicit)],
                       check=True, capture_output=True)
        files = {"no private elements (MR2_UNCR)": CORPUS / "MR2_UNCR.dcm",
                 "private, Explicit VR (MR-SIEMENS)": CORPUS / "MR-SIEMENS-DICOM-WithOverlays.dcm",
                 "private, Implicit VR (dcmconv +ti)": implicit}
        commands = {**{f"dicomkit[{i}]" if len(ours) > 1 else "dicomkit": [c, "dump"] for i, c in enumerate(ours)},
                    "dcmdump": [dcmdump]}
        print(f"whole-command wall time, median / min of {args.rounds} alternating rounds")
        for label, path in files.items():
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.rounds):
                for name, command in commands.items():
                    times[name].append(_time([*command, str(path)], env))
            reference = statistics.median(times["dcmdump"])
            cells = [f"{name} {statistics.median(t) * 1000:.1f} / {min(t) * 1000:.1f} ms"
                     + (f" ({statistics.median(t) / reference:.1f}x)" if name != "dcmdump" else "")
                     for name, t in times.items()]
            print(f"  {label:36s} " + "   ".join(cells))
    if len(ours) > 1:
        print("  " + "   ".join(f"dicomkit[{i}] = {c}" for i, c in enumerate(ours)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
