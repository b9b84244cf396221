"""``dicomkit serve``: the PACS server (until its issue lands: what works today)."""

from __future__ import annotations

import argparse

# Arriving with their issues; named here until main.COMMANDS has them.
_SOON = ("anonymize",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="configuration file (TOML)")


def working_commands() -> list[str]:
    """The subcommands of ``dicomkit`` other than ``serve`` (what works today)."""
    from .main import COMMANDS

    return [name for name in COMMANDS if name != "serve"]


def run(args: argparse.Namespace) -> int:
    working = working_commands()
    soon = [name for name in _SOON if name not in working]
    print("dicomkit serve: the PACS server is not built yet; it arrives with its issue (storage, query/retrieve, "
          "DICOMweb).")
    print("Working today: " + ", ".join(f"dicomkit {name}" for name in working)
          + (f" ({', '.join(soon)} soon)" if soon else "") + ".")
    print("`dicomkit COMMAND --help` tells how; README.md and docs/ have examples.")
    return 0
