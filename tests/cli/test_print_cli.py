"""``dicomkit print`` and ``dicomkit print-scp`` refuse bad input with one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

from ..peers import free_port
from .runner import corpus_file, dicomkit


def test_print_refusals(tmp_path: Path):
    image = corpus_file("MR2_UNCR.dcm")
    port = free_port()  # nothing listens there
    bad = dicomkit("print", "127.0.0.1", port, image, "--format", "SLIDE")
    assert bad.code == 1 and bad.err.startswith("dicomkit print: Image Display Format 'SLIDE'")
    assert len(bad.err.strip().splitlines()) == 1
    missing = dicomkit("print", "127.0.0.1", port, tmp_path / "nothing.dcm")
    assert missing.code == 1 and "nothing.dcm" in missing.err and "Traceback" not in missing.err
    (tmp_path / "notes.txt").write_text("not an image")
    none = dicomkit("print", "127.0.0.1", port, tmp_path / "notes.txt")
    assert none.code == 1 and "Traceback" not in none.err
    refused = dicomkit("print", "127.0.0.1", port, image, "--timeout", "5")
    assert refused.code == 1 and refused.err.startswith("dicomkit print: ") and "Traceback" not in refused.err


def test_print_scp_refuses_an_output_that_is_a_file(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    result = dicomkit("print-scp", "--port", "0", "--output", tmp_path / "file")
    assert result.code == 2 and result.err.strip() == f"dicomkit print-scp: {tmp_path / 'file'} is not a folder"
    formats = dicomkit("print-scp", "--port", "0", "--output", tmp_path / "films", "--formats", "tiff")
    assert formats.code == 2 and "--formats 'tiff'" in formats.err
