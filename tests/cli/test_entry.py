"""The console script's start-up: the collector is paused only while the command's modules import."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import dicomkit.cli.dump as dump
from dicomkit.cli import main as cli
from tests.cli.runner import corpus_file, dicomkit


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, whatever the entry point did to it."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    yield
    if gc.get_freeze_count() > frozen:
        gc.unfreeze()
    (gc.enable if enabled else gc.disable)()
    cli._collector_paused = False


def test_entry_runs_the_command_with_the_collector_on(monkeypatch: pytest.MonkeyPatch, collector: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}
    real_run = dump.run

    def run(args: Any) -> int:
        seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
        return real_run(args)

    def leave(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(dump, "run", run)
    monkeypatch.setattr(sys, "argv", ["dicomkit", "dump", str(corpus_file("MR2_UNCR.dcm"))])
    monkeypatch.setattr(os, "_exit", leave)  # the fast exit would end pytest
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)  # pytest's own exit handlers stay for pytest
    gc.enable()
    with pytest.raises(SystemExit) as left:
        cli.entry()
    assert left.value.code == 0
    assert "(0010,0010)" in capsys.readouterr().out
    # the modules imported while it was paused were moved out of its way, and it ran again for the command
    assert seen["enabled"] is True and seen["frozen"] > 0
    assert gc.isenabled()


def test_main_called_from_python_leaves_the_collector_alone(collector: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    gc.enable()
    frozen = gc.get_freeze_count()
    assert cli.main(["dump", str(corpus_file("MR2_UNCR.dcm"))]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    assert "(0010,0010)" in capsys.readouterr().out


def test_a_command_that_leaves_at_once_prints_everything(capsys: pytest.CaptureFixture[str]) -> None:
    # dump (as echo, find, get, move and store) skips the interpreter's teardown: what it prints is flushed
    # first, to the last line, as the same command run in this process prints it
    files = [str(corpus_file(name)) for name in ("MR2_UNCR.dcm", "OT-PAL-8-face.dcm", "JPEG2000_UNC.dcm")]
    done = dicomkit("dump", *files)
    assert done.code == 0, done.err
    assert cli.main(["dump", *files]) == 0
    assert done.out == capsys.readouterr().out
    assert done.out.count("(0010,0010)") >= 3
