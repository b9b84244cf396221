"""The Python example of docs/print.md runs, in a folder holding the corpus files it names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import CORPUS, ROOT

DOC = ROOT / "docs" / "print.md"


def test_the_example_runs(tmp_path: Path):
    for name in ("MR2_UNCR.dcm", "693_UNCR.dcm"):
        if not (CORPUS / name).exists():
            pytest.skip(f"corpus not found at {CORPUS}")
        shutil.copy(CORPUS / name, tmp_path / name)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    (tmp_path / "example.py").write_text(blocks[0])
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 NORMAL"  # what the example's comment says
    assert len(list((tmp_path / "films").glob("*.png"))) == 1 and len(list((tmp_path / "films").glob("*.pdf"))) == 1
