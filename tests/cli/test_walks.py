"""Folder walks of ``dicomdir create`` and ``store -r`` through the one io walker: FIFOs are never opened (no
hang), what is not DICOM is skipped with a note, a broken DICOM file is a failure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import dicomkit
from dicomkit.io.dicomdir import read_dicomdir
from dicomkit.services.storage import find_files
from tests.cli.runner import corpus_file, icc_profile, make_fifo, truncated_copy
from tests.cli.runner import dicomkit as run
from tests.conftest import ROOT
from tests.helpers import wait_until


def mixed_folder(root: Path) -> Path:
    """Two instances among what export folders hold besides them."""
    (root / "series").mkdir(parents=True)
    shutil.copy(corpus_file("MR2_UNCR.dcm"), root / "series" / "mr.dcm")
    shutil.copy(corpus_file("US1_UNCR.dcm"), root / "us.dcm")
    (root / "README").write_text("Exported 2024-05-01\n")
    (root / "series" / "meta.json").write_text('{"00100010": {"vr": "PN"}}')
    icc_profile(root / "series" / "sRGB.icc")
    make_fifo(root / "series" / "fifo")
    return root


def test_dicomdir_create_does_not_open_a_fifo(tmp_path: Path):
    source = mixed_folder(tmp_path / "in")
    result = run("dicomdir", "create", tmp_path / "cd", source, timeout=60)  # used to block on the FIFO forever
    assert result.code == 0, result.err
    assert result.out.count("added    DICOM\\") == 2
    assert f"note: {source / 'series' / 'fifo'}: skipped, not a regular file (a FIFO)" in result.out
    assert f"note: {source / 'README'}: skipped, not a DICOM file" in result.out
    assert f"note: {source / 'series' / 'meta.json'}: skipped, not a DICOM file" in result.out
    assert f"note: {source / 'series' / 'sRGB.icc'}: skipped, not a DICOM file" in result.out
    assert len(read_dicomdir(tmp_path / "cd" / "DICOMDIR").instances()) == 2


def test_dicomdir_create_refuses_a_broken_file_found_in_a_walk(tmp_path: Path):
    source = mixed_folder(tmp_path / "in")
    truncated_copy("liver.dcm", source / "series" / "broken.dcm")
    result = run("dicomdir", "create", tmp_path / "cd", source, timeout=60)
    assert result.code == 1
    assert f"{source / 'series' / 'broken.dcm'}: not a readable DICOM file" in result.err
    assert not (tmp_path / "cd" / "DICOMDIR").exists()  # nothing half made
    result = run("dicomdir", "create", tmp_path / "cd2", source / "series" / "fifo", timeout=60)
    assert result.code == 1 and "not a regular file (a FIFO)" in result.err


def test_find_files_uses_the_walker(tmp_path: Path):
    source = mixed_folder(tmp_path / "in")
    named = source / "README"
    assert find_files([source]) == [source / "us.dcm"]
    assert find_files([source, named], recursive=True) == [source / "series" / "mr.dcm", source / "us.dcm", named]


def _receiver(folder: Path, *options: str) -> tuple[subprocess.Popen[str], int]:
    """``dicomkit receive`` on a free port of the loopback address (called WALK), and that port."""
    process = subprocess.Popen([sys.executable, "-m", "dicomkit.cli.main", "receive", "--port", "0", "--host",
                                "127.0.0.1", "--aet", "WALK", "--output", str(folder), "-q", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    assert match, line + (process.stderr.read() if process.stderr else "")
    return process, int(match.group(1))


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_store_recursive_skips_what_is_not_dicom(tmp_path: Path):
    source = mixed_folder(tmp_path / "in")
    dicomkit.io.dicomdir.create_fileset(source / "cd", [corpus_file("liver.dcm")])
    process, port = _receiver(tmp_path / "out")
    try:
        result = run("store", "127.0.0.1", port, "--aec", "WALK", "-r", "--no-progress", source, timeout=120)
        assert result.code == 0, result.out + result.err
        assert result.out.startswith("sent 3 of 3 instances")
        assert f"{source / 'series' / 'fifo'}: skipped, not a regular file (a FIFO)" in result.err
        assert f"{source / 'cd' / 'DICOMDIR'}: skipped, a DICOMDIR" in result.err
        assert f"{source / 'README'}: skipped, not a DICOM file" in result.err
        wait_until(lambda: len(list((tmp_path / "out").glob("*.dcm"))) == 3, what="three files received")
        truncated_copy("MR2_UNCR.dcm", source / "cut.dcm")
        result = run("store", "127.0.0.1", port, "--aec", "WALK", "--no-progress", source, timeout=120)
        assert result.code == 1  # a broken DICOM file found in a folder is a failure, not a skip
        assert result.out.startswith("sent 1 of 2 instances") and f"failed: {source / 'cut.dcm'}" in result.out
    finally:
        _stop(process)
