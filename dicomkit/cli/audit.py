"""``dicomkit audit``: read the server's local audit file.

    dicomkit audit tail [-n N] [-f] | search [--user U] [--study UID] [--since T] [--event E] [--ae AE]
                   [--failures] [--xml | --json]

with ``--config FILE`` / ``--data-dir DIR`` naming the server (the file is ``audit.file``, by default
``<data dir>/audit/audit.log``) or ``--file PATH``. Reading the trail is itself audited (PS3.15 A.5.3.2,
Audit Log Used).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..core.errors import DicomError
from .archive_options import add_archive_options, archive_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        add_archive_options(q, database=False)
        q.add_argument("--file", metavar="PATH", help="the audit file itself")
        q.add_argument("--user", metavar="U", help="only events of this user")
        q.add_argument("--study", metavar="UID", help="only events that touched this study")
        q.add_argument("--since", metavar="T", help="only events since T (2026-01-31, an ISO time, 30m, 2h, 7d)")
        q.add_argument("--event", metavar="E", help="only this kind of event (e.g. instances-stored, security-alert)")
        q.add_argument("--ae", metavar="AE", help="only events of this calling AE")
        q.add_argument("--failures", action="store_true", help="only events that failed")
        out = q.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="the entries as JSON lines")
        out.add_argument("--xml", action="store_true", help="the PS3.15 A.5 messages themselves")

    q = sub.add_parser("tail", help="the last events")
    common(q)
    q.add_argument("-n", type=int, default=20, metavar="N", help="how many (default: 20)")
    q.add_argument("-f", "--follow", action="store_true", help="keep printing events as they are written")
    q = sub.add_parser("search", help="every event that matches the filters")
    common(q)


def _audit_file(args: argparse.Namespace) -> tuple[Path, Any]:
    if args.file:
        return Path(args.file), None
    config = archive_config(args)
    path = config.audit.file_path(config.storage.data_dir)
    if path is None:
        raise DicomError("audit.file is empty: this server writes no local audit file")
    return path, config


def _print(entry: dict[str, Any], args: argparse.Namespace) -> None:
    from ..server.audit.read import summary

    if args.json:
        print(json.dumps(entry, ensure_ascii=False))
    elif args.xml:
        print(entry.get("message", ""))
    else:
        print(summary(entry))


def _record_use(path: Path, config: Any, args: argparse.Namespace) -> None:
    """PS3.15 A.5.3.2: reading the audit trail is an event of its own."""
    from ..server.audit import Auditor, FileSink, Source
    from ..services.sources import Requester

    ae = config.dicom.ae_title if config is not None else "DICOMKIT"
    source = Source(config.audit.source_id or ae if config is not None else ae, ae_title=ae)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    with Auditor(source, [FileSink(path, capacity=1)]) as auditor:
        auditor.record("audit-log-used", requester=Requester(user_identity=user, protocol="local"),
                       description=f"dicomkit audit {args.action}", subject=str(path))


def run(args: argparse.Namespace) -> int:
    from ..server.audit.read import Filter, entries, parse_since, search, tail

    if not getattr(args, "action", None):
        print("dicomkit audit: name an action: tail or search", file=sys.stderr)
        return 2
    try:
        path, config = _audit_file(args)
        where = Filter(user=args.user, study=args.study, since=parse_since(args.since) if args.since else None,
                       event=args.event, calling_ae=args.ae, failures=args.failures)
        if args.action == "tail":
            found = tail(path, args.n, where)
        else:
            found = list(search(path, where))
        _record_use(path, config, args)
        for entry in found:
            _print(entry, args)
        if args.action == "tail" and args.follow:
            seen = sum(1 for _ in entries(path))
            while True:
                time.sleep(1.0)
                current = list(entries(path))
                for entry in current[seen:]:
                    if where(entry):
                        _print(entry, args)
                sys.stdout.flush()
                seen = len(current)
    except DicomError as exc:
        print(f"dicomkit audit: {exc}", file=sys.stderr)
        return 2
    return 0
