"""The scripts of examples/ run, on real files, and print what their documentation says they print."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = ("MR2_UNCR.dcm", "693_UNCR.dcm", "US1_J2KR.dcm", "JLSL_RGB_ILV0.dcm")  # the last has no SOP UIDs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "in"
    (out / "sub").mkdir(parents=True)
    for i, name in enumerate(FILES):
        if not (CORPUS / name).exists():
            pytest.skip(f"corpus not found at {CORPUS}")
        shutil.copy(CORPUS / name, out / ("sub" if i % 2 else "") / name)
    (out / "README.txt").write_text("not DICOM\n")
    return out


def run(script: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES.parent)}
    return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


def test_embedded_pacs(folder: Path, tmp_path: Path) -> None:
    done = run("embedded_pacs.py", folder, "--keep", tmp_path / "pacs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "stored 3 of 4 files; 1 refused" in out
    assert "JLSL_RGB_ILV0.dcm: cannot send: no SOP Class UID or SOP Instance UID" in out
    assert "index: 3 studies, 3 instances" in out
    assert re.search(r"CompressedSamples\^MR2 +MR +1 instance\(s\)", out)
    assert re.search(r"C-GET [\d.]+: 0x0000 \(Success.*1 completed, 0 failed, 0 warning; 1 file\(s\) written", out)
    assert "QIDO-RS: 1 series" in out and "WADO-RS metadata: 1 instance(s) described" in out
    assert (tmp_path / "pacs" / "index.sqlite").exists()


def test_ai_node(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    done = run("ai_node.py", folder, "--save", tmp_path / "reports", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # JLSL_RGB_ILV0 has no SOP UIDs (refused by the SCU); US1_J2KR is RGB (the model takes one channel: not analysed)
    assert "modality: 3 of 4 images sent to the node" in out
    assert len(re.findall(r"report 2\.25\.\d+ -> PACS 0x0000 \(Success\)", out)) == 2
    assert "not analysed: only single-channel images are analysed" in out
    assert len(re.findall(r"SR series 'AI node results' \(1 instance\(s\)\)", out)) == 2
    area = re.search(r'NUM:\(42798000,SCT,"Area"\)="([\d.]+)" \(mm2,UCUM,"square millimeter"\)', out)
    assert area is not None and float(area.group(1)) > 0
    assert '(121012,DCM,"Device Observer UID")' in out
    reports = sorted((tmp_path / "reports").glob("*.dcm"))
    assert len(reports) == 2
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        print("dciodvfy (dicom3tools) not installed: the reports' IOD check is skipped")
        return
    for report in reports:
        checked = subprocess.run([dciodvfy, str(report)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], errors


def test_header_census(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    done = run("header_census.py", CORPUS, "--csv", tmp_path / "series.csv", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = len([p for p in CORPUS.iterdir() if p.suffix == ".dcm"])
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{files} DICOM files: ") and "also 1 not DICOM" in first
    assert "  Explicit VR Little Endian" in done.stdout
    rows = (tmp_path / "series.csv").read_text().splitlines()
    assert rows[0] == "PatientID,StudyInstanceUID,StudyDate,SeriesInstanceUID,Modality,SeriesDescription,Instances"
    series = int(re.search(r"(\d+) series", first).group(1))  # type: ignore[union-attr]
    assert len(rows) == 1 + series
    assert sum(int(r.rsplit(",", 1)[1]) for r in rows[1:]) == files


def test_dicomweb_stdlib(folder: Path, tmp_path: Path) -> None:
    done = run("dicomweb_stdlib.py", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "STOW-RS: 4 files, 3 stored, 1 refused" in out
    assert "QIDO-RS: 3 studies" in out
    assert re.search(r"WADO-RS metadata of series [\d.]+: 1 instance\(s\); the first is \d+×\d+, \d+ bits", out)
    frame = re.search(r"WADO-RS frame 1: (\d+) bytes", out)
    assert frame is not None and int(frame.group(1)) > 0


def test_research_export(tmp_path: Path) -> None:
    names = ("MR2_UNCR.dcm", "693_UNCR.dcm", "US1_UNCR.dcm", "emri_small.dcm")
    src = tmp_path / "in"
    src.mkdir()
    for name in names:
        if not (CORPUS / name).exists():
            pytest.skip(f"corpus not found at {CORPUS}")
        shutil.copy(CORPUS / name, src / name)
    done = run("research_export.py", src, tmp_path / "out", "--key", "site secret", "--map", tmp_path / "map.json",
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "held back US1_UNCR.dcm: pixel data may carry burned-in identification" in done.stdout
    summary = re.search(r"exported 3 files to .*; (\d+) identifying values searched for in them; 0 found", done.stdout)
    assert summary is not None and int(summary.group(1)) > 10
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["693_UNCR.dcm", "MR2_UNCR.dcm", "emri_small.dcm"]
    assert json.loads((tmp_path / "map.json").read_text())
    # the same key gives the same pseudonymous UIDs: a second export is the same study
    again = run("research_export.py", src, tmp_path / "again", "--key", "site secret", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    import dicomkit

    for name in ("693_UNCR.dcm", "MR2_UNCR.dcm"):
        a, b = (dicomkit.read(tmp_path / d / name, stop_before_pixels=True) for d in ("out", "again"))
        assert a.StudyInstanceUID == b.StudyInstanceUID and a.SOPInstanceUID == b.SOPInstanceUID
        assert a.SOPInstanceUID != dicomkit.read(src / name, stop_before_pixels=True).SOPInstanceUID
