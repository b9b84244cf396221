"""``dicomkit serve``: the PACS server (archive, index, DIMSE Verification and Storage, HTTP health and
metrics). Options override the configuration file; see docs/server.md."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..core.errors import DicomError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="configuration file (TOML; see docs/server.md)")
    p.add_argument("--data-dir", metavar="DIR", help="where the archive keeps its data (default: ./dicomkit-data)")
    p.add_argument("--database", metavar="URL", help="index database: sqlite:///PATH or postgresql://... "
                   "(default: SQLite in the data folder)")
    p.add_argument("--aet", metavar="AE", help="our AE title (default: DICOMKIT)")
    p.add_argument("--dicom-port", type=int, metavar="P", help="DIMSE port (default: 11112; 0: any free port)")
    p.add_argument("--http-port", type=int, metavar="P", help="HTTP port (default: 8042; 0: any free port)")
    p.add_argument("--no-http", action="store_true", help="do not start the HTTP server")
    p.add_argument("--durability", choices=("full", "os"),
                   help="full: fsync objects and commit durably before answering (default); os: leave it "
                        "to the operating system (faster, may lose recent objects on power loss)")
    p.add_argument("--http-allow-remote", action="store_true",
                   help="answer HTTP clients on other machines (default: loopback only)")
    p.add_argument("--remote", action="append", default=[], metavar="AE=HOST:PORT",
                   help="add a remote AE to the AE table (repeatable)")
    p.add_argument("--log-format", choices=("text", "json"), help="log lines as text (default) or JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log every stored object")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (("storage.data_dir", getattr(args, "data_dir", None)),
                       ("database.url", getattr(args, "database", None)),
                       ("dicom.ae_title", getattr(args, "aet", None)),
                       ("dicom.port", getattr(args, "dicom_port", None)),
                       ("http.port", getattr(args, "http_port", None)),
                       ("storage.durability", getattr(args, "durability", None)),
                       ("logging.format", getattr(args, "log_format", None))):
        if value is not None:
            out[key] = value
    if getattr(args, "http_allow_remote", False):
        out["http.allow_remote"] = True
    if getattr(args, "no_http", False):
        out["http.enabled"] = False
    if getattr(args, "verbose", False):
        out["logging.level"] = "debug"
    return out


def run(args: argparse.Namespace) -> int:
    from ..server.app import serve
    from ..server.config import load_config
    from ..server.logs import configure_logging
    from ..services.aetable import RemoteAE

    try:
        config = load_config(args.config, overrides(args))
        if args.remote:
            config.remotes = config.remotes.with_remotes(RemoteAE.parse(text) for text in args.remote)
    except DicomError as exc:
        print(f"dicomkit serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.logging.format, config.logging.level)

    def ready(pacs: Any) -> None:
        for line in pacs.describe():
            print(f"dicomkit serve: {line}", flush=True)
        if pacs.sweep is not None:
            for line in pacs.sweep.lines():
                print(f"dicomkit serve: start-up sweep: {line}", flush=True)

    try:
        return asyncio.run(serve(config, ready=ready))
    except DicomError as exc:
        print(f"dicomkit serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
