"""``dicomkit serve`` runs the PACS (tests/server runs it against real peers); its help names the options."""

from __future__ import annotations

from tests.cli.runner import dicomkit as run


def test_serve_help_names_the_options():
    result = run("serve", "--help")
    assert result.code == 0
    for option in ("--data-dir", "--aet", "--dicom-port", "--http-port", "--database", "--config", "--durability",
                   "--http-allow-remote", "--remote"):
        assert option in result.out
