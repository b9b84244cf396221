"""Running ``python -m dicomkit.cli.main`` as a user does: a separate process, real files, a timeout."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT


@dataclass
class Result:
    code: int
    out: str
    err: str


def dicomkit(*args: str | os.PathLike[str], input: bytes | None = None, timeout: float = 120.0,
             cwd: Path | None = None, user: int | None = None) -> Result:
    """Run the command; a hang fails the test (``timeout``) instead of blocking the suite."""
    command = [sys.executable, "-m", "dicomkit.cli.main", *map(str, args)]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(command, input=input if input is not None else b"", capture_output=True,
                              timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"dicomkit {' '.join(map(str, args))} did not finish within {timeout} s") from exc
    return Result(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus not found at {CORPUS} (CI provides ../shared/corpus)")
    return path


def truncated_copy(name: str, target: Path, size: int = 5000) -> Path:
    """The first ``size`` bytes of a corpus file: a DICOM file cut short, as a failed copy leaves it."""
    target.write_bytes(corpus_file(name).read_bytes()[:size])
    return target


def icc_profile(target: Path) -> Path:
    """An ICC profile as viewers leave beside exported images (ICC.1 7.2: 128-byte header, 'acsp' at 36)."""
    header = bytearray(128)
    struct.pack_into(">I4sI4s4s4s", header, 0, 132, b"lcms", 0x04300000, b"mntr", b"RGB ", b"XYZ ")
    header[36:40] = b"acsp"
    target.write_bytes(bytes(header) + struct.pack(">I", 0))
    return target


def make_fifo(target: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(target)
    return target


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package dcmtk; .ci/run installs it)")
    return path
