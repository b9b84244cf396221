"""``dicomkit receive``: an unusable --output is a one-line usage error (exit 2), and --duplicates chooses what a
second, different object with the same SOP Instance UID does."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dicomkit
from tests.cli.runner import corpus_file
from tests.cli.runner import dicomkit as run
from tests.cli.test_walks import _receiver, _stop
from tests.helpers import wait_until


def _usage_error(result_err: str) -> None:
    assert result_err.count("\n") == 1 and "Traceback" not in result_err
    assert result_err.startswith("dicomkit receive: --output: ")


def test_output_naming_a_file_or_a_missing_parent(tmp_path: Path):
    (tmp_path / "afile").write_text("not a folder")
    result = run("receive", "--port", "0", "--output", tmp_path / "afile", timeout=60)
    assert result.code == 2
    _usage_error(result.err)
    assert f"{tmp_path / 'afile'} is not a folder" in result.err
    result = run("receive", "--port", "0", "--output", tmp_path / "missing" / "in", timeout=60)
    assert result.code == 2
    _usage_error(result.err)
    assert f"its parent folder {tmp_path / 'missing'} does not exist" in result.err


@pytest.fixture
def read_only_folder() -> Iterator[tuple[Path, int | None]]:
    """A folder we may not write into, and the user to run as (root writes anywhere: run as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="dicomkit-ro-"))
    os.chmod(base, 0o755)
    folder = base / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    user = None
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: cannot test a read-only folder")
        user = 65534  # nobody
        probe = run("--version", user=user, timeout=60)
        if probe.code != 0:
            pytest.skip(f"cannot run dicomkit as user nobody here: {probe.err.strip()[:200]}")
    try:
        yield folder, user
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(base)


def test_output_without_write_permission(read_only_folder: tuple[Path, int | None]):
    folder, user = read_only_folder
    result = run("receive", "--port", "0", "--output", folder, user=user, timeout=60)
    assert result.code == 2
    _usage_error(result.err)
    assert f"{folder} is not writable" in result.err
    result = run("receive", "--port", "0", "--output", folder / "sub", user=user, timeout=60)
    assert result.code == 2
    _usage_error(result.err)
    assert f"cannot create {folder / 'sub'}" in result.err


def _two_versions(tmp_path: Path) -> tuple[Path, Path, str]:
    first = tmp_path / "first.dcm"
    shutil.copy(corpus_file("MR2_UNCR.dcm"), first)
    ds = dicomkit.read(first)
    ds.PatientName = "Someone^Else"
    second = tmp_path / "second.dcm"
    ds.save(second)
    return first, second, str(ds.SOPInstanceUID)


@pytest.mark.parametrize("policy", ["keep-first", "overwrite"])
def test_duplicates(tmp_path: Path, policy: str):
    first, second, uid = _two_versions(tmp_path)
    out = tmp_path / "out"
    options = [] if policy == "keep-first" else ["--duplicates", policy]
    process, port = _receiver(out, *options)
    try:
        sent = run("store", "127.0.0.1", port, "--aec", "WALK", "--no-progress", first, timeout=120)
        assert sent.code == 0, sent.out + sent.err
        again = run("store", "127.0.0.1", port, "--aec", "WALK", "--no-progress", first, timeout=120)
        assert again.code == 0  # the same data set again: Success, nothing written
        other = run("store", "127.0.0.1", port, "--aec", "WALK", "--no-progress", second, timeout=120)
        stored = out / f"{uid}.dcm"
        quarantine = out / ".dicomkit" / "quarantine"
        if policy == "keep-first":
            assert other.code == 1
            assert "0xC111" in other.out, other.out
            assert dicomkit.read(stored).PatientName == "CompressedSamples^MR2"
            wait_until(lambda: quarantine.is_dir() and len(list(quarantine.iterdir())) == 1,
                       what="the offered object kept in the quarantine folder")
            kept = next(quarantine.iterdir())
            assert dicomkit.read(kept).PatientName == "Someone^Else"
        else:
            assert other.code == 0, other.out
            assert dicomkit.read(stored).PatientName == "Someone^Else"
            assert not quarantine.exists() or not list(quarantine.iterdir())
    finally:
        _stop(process)


def test_duplicates_takes_only_the_two_policies(tmp_path: Path):
    result = run("receive", "--port", "0", "--output", tmp_path, "--duplicates", "replace", timeout=60)
    assert result.code == 2 and "invalid choice: 'replace'" in result.err
