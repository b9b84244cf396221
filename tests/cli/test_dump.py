from __future__ import annotations

from pathlib import Path

import pytest

from dicomkit.cli.main import main
from tests.conftest import CORPUS


@pytest.fixture
def mr2() -> Path:
    path = CORPUS / "MR2_UNCR.dcm"
    if not path.exists():
        pytest.skip("corpus not found")
    return path


def test_dump_lists_meta_and_data_set(mr2: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["dump", str(mr2)]) == 0
    out = capsys.readouterr().out
    assert "# Dicom-Meta-Information-Header" in out
    assert "(0002,0010) UI =ExplicitVRLittleEndian" in out
    assert "(0010,0010) PN [CompressedSamples^MR2]" in out
    assert "#  22, 1 PatientName" in out
    assert "(7fe0,0010) OW" in out


def test_dump_options(mr2: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["dump", "--meta", str(mr2)]) == 0
    out = capsys.readouterr().out
    assert "(0002,0010)" in out and "(0010,0010)" not in out
    assert main(["dump", "-s", "--no-meta", str(mr2)]) == 0
    out = capsys.readouterr().out
    assert "(0002,0010)" not in out and "(7fe0,0010)" not in out and "(0010,0010)" in out
    assert main(["dump", "--all", str(mr2)]) == 0
    long_out = capsys.readouterr().out
    assert max(len(line) for line in long_out.splitlines()) > 1000  # Pixel Data shown whole


def test_dump_error_is_one_line_and_nonzero(tmp_path: Path, mr2: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all" * 20)
    assert main(["dump", str(bad), str(mr2)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "bad.dcm" in captured.err
    assert "(0010,0010)" in captured.out  # the good file is still listed


def test_dump_raw_data_set_needs_force(capsys: pytest.CaptureFixture[str]):
    raw = CORPUS / "OT-PAL-8-face.dcm"
    if not raw.exists():
        pytest.skip("corpus not found")
    assert main(["dump", str(raw)]) == 1
    capsys.readouterr()
    assert main(["dump", "--force", "--corrections", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "# correction:" in out and "(0028,0004) CS [PALETTE COLOR]" in out
