"""The examples of docs/core.md run; those that print print what the page says (its ``# `` lines)."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from ..conftest import ROOT

PAGE = ROOT / "docs" / "core.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{i + 1}" for i in range(len(BLOCKS))])
def test_example(code: str) -> None:
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_example"})
    if "print(" in code:  # the others show values as a session would, in comments
        assert [line.rstrip() for line in out.getvalue().splitlines()] == expected


def test_every_example_is_checked() -> None:
    assert len(BLOCKS) >= 1
