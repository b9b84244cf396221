"""The Python examples of docs/clinical.md run, in order, in a folder holding the corpus files they name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import CORPUS

DOC = Path(__file__).resolve().parent.parent / "docs" / "clinical.md"


def test_the_examples_run(tmp_path):
    for name in ("693_UNCR.dcm", "explicit_VR-UN.dcm", "MR2_UNCR.dcm"):
        if not (CORPUS / name).exists():
            pytest.skip(f"corpus not found at {CORPUS}")
        shutil.copy(CORPUS / name, tmp_path / name)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 4
    # the reading example reads the report the building example writes
    blocks[0], blocks[1] = blocks[1], blocks[0].replace("report.dcm", "tid1500.dcm")
    script = tmp_path / "examples.py"
    # what the examples' comments claim
    checks = [
        "assert lengths[0].value.number == 12.5 and lengths[0].value.unit == ucum('mm')",
        "assert roi.contours[0].points.shape == (60, 3) and roi.contours[0].image_uids == (ct.SOPInstanceUID,)",
        "assert mask.shape == (1, 512, 512) and 4000 < mask.sum() < 5100",
        "assert report.iod == 'MRImage' and report.ok",
        "assert [(f.kind, f.module, f.path) for f in validate(ds).errors] == "
        "[('missing', 'GeneralStudy', 'StudyInstanceUID')]",
    ]
    script.write_text("\n".join([*blocks, *checks]))
    done = subprocess.run([shutil.which("python3") or "python3", str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(DOC.parent.parent)})
    assert done.returncode == 0, done.stderr
    assert "<contains NUM:(410668003,SCT,\"Length\")=\"12.5\" (mm,UCUM,\"millimeter\")>" in done.stdout
    assert (tmp_path / "kos.dcm").exists() and (tmp_path / "rtstruct.dcm").exists()
