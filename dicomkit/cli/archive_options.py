"""The options that name an archive (``--config``, ``--data-dir``, ``--database``) for the commands that work
on one whether its server runs or not: ``archive``, ``worklist``, ``security labels``, ``audit``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..core.errors import DicomError

if TYPE_CHECKING:
    from ..server.config import Config


def add_archive_options(q: argparse.ArgumentParser, *, database: bool = True) -> None:
    q.add_argument("--config", metavar="FILE", help="the server's configuration file (TOML)")
    q.add_argument("--data-dir", metavar="DIR", help="the archive's data folder (default: ./dicomkit-data)")
    if database:
        q.add_argument("--database", metavar="URL", help="the index database (default: SQLite in the data folder)")


def archive_config(args: argparse.Namespace, *, existing: bool = False) -> Config:
    """The configuration the options name; ``existing``: an SQLite archive must already be there."""
    from ..server.config import load_config

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["storage.data_dir"] = args.data_dir
    if getattr(args, "database", None):
        overrides["database.url"] = args.database
    config = load_config(args.config, overrides)
    if existing and not config.database.url and not (config.storage.data_dir / "index.sqlite").exists():
        raise DicomError(f"no archive in {config.storage.data_dir} (no index.sqlite); name it with --data-dir "
                         "or --database")
    return config
