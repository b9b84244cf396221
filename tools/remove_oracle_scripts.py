#!/usr/bin/env python3
"""Remove the console scripts of the test oracles (pynetdicom) from the running venv's bin folder.

pynetdicom installs ``storescu``, ``storescp``, ``echoscu``, ``findscu``, ``getscu``, ``movescu``, ... — the names
of DCMTK's tools, which the tests and developers run. With the venv active, the wrong ``storescu`` would run.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

ORACLES = ("pynetdicom",)


def main() -> int:
    bin_dir = Path(sys.executable).parent
    for name in ORACLES:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for entry in dist.entry_points:
            if entry.group == "console_scripts":
                script = bin_dir / entry.name
                if script.exists():
                    script.unlink()
                    print(f"removed {script} ({name}'s console script)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
