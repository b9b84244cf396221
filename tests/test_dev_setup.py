"""The development set-up keeps the test oracles from shadowing the peers' tools (DCMTK's storescu, ...)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest


def test_no_oracle_script_shadows_a_dcmtk_tool_in_the_venv():
    try:
        dist = importlib.metadata.distribution("pynetdicom")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pynetdicom (a dev oracle) is not installed")
    bin_dir = Path(sys.executable).parent
    left = [e.name for e in dist.entry_points if e.group == "console_scripts" and (bin_dir / e.name).exists()]
    assert not left, f"pynetdicom's scripts {left} in {bin_dir} shadow DCMTK's: run tools/remove_oracle_scripts.py"
