"""``dicomkit serve``: the PACS server."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="configuration file (TOML)")


def run(args: argparse.Namespace) -> int:
    print("dicomkit serve: the PACS server is not built yet; it arrives with its issue "
          "(storage, query/retrieve, DICOMweb). The library and `dicomkit dump` work today.")
    return 0
