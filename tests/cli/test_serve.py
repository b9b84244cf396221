"""``make serve`` / ``dicomkit serve`` says what works today until the server issue replaces it."""

from __future__ import annotations

from dicomkit.cli.main import COMMANDS
from tests.cli.runner import dicomkit as run


def test_serve_lists_the_commands_that_work():
    result = run("serve")
    assert result.code == 0
    assert "not built yet" in result.out and "dump works today" not in result.out
    working = next(line for line in result.out.splitlines() if line.startswith("Working today: "))
    for name in ("dump", "convert", "render", "store", "receive", "echo", "dicomdir", "json2dcm", "xml2dcm"):
        assert f"dicomkit {name}" in working
    assert "dicomkit serve" not in working
    assert ("anonymize soon" in working) != ("anonymize" in COMMANDS)
