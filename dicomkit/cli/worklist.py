"""``dicomkit worklist``: the Modality Worklist items a dicomkit archive serves, whether its server runs or not.

    dicomkit worklist add FILE...        DICOM JSON (.json) or DICOM files, one item each
    dicomkit worklist list [--json]
    dicomkit worklist remove ID...       an id as ``list`` shows it (or a unique prefix)

with ``--data-dir DIR`` / ``--database URL`` / ``--config FILE`` naming the archive (as for ``serve``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.errors import DicomError
from .archive_options import add_archive_options, archive_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")

    common = add_archive_options

    q = sub.add_parser("add", help="add worklist items from DICOM JSON or DICOM files")
    common(q)
    q.add_argument("files", nargs="+", metavar="FILE")
    q = sub.add_parser("list", help="list the worklist items")
    common(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q = sub.add_parser("remove", help="remove worklist items by id")
    common(q)
    q.add_argument("ids", nargs="+", metavar="ID")


def _index(args: argparse.Namespace) -> Any:
    from ..server.index import Index

    config = archive_config(args)
    if not config.database.url:
        config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    return Index(config.database_url, durability=config.storage.durability)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "action", None):
        print("dicomkit worklist: name an action: add, list or remove", file=sys.stderr)
        return 2
    from ..server.sources.worklist import add_items, list_items, read_item, remove_items

    try:
        index = _index(args)
    except (DicomError, OSError) as exc:
        print(f"dicomkit worklist: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "add":
            code = 0
            for path in args.files:
                try:
                    ds = read_item(path)
                except DicomError as exc:
                    print(f"dicomkit worklist add: {exc}", file=sys.stderr)
                    code = 1
                    continue
                [(item_id, added)] = add_items(index, [(ds, f"cli:{path}")])
                print(f"{item_id} {'added' if added else 'already there'} ({path})")
            return code
        if args.action == "list":
            items = list_items(index)
            if args.json:
                print(json.dumps([i.as_dict() for i in items], indent=1))
                return 0
            for i in items:
                date = f"{i.start_date[:4]}-{i.start_date[4:6]}-{i.start_date[6:]}" if i.start_date else "-"
                print(f"{i.item_id}  {date}  {i.station_ae_title or '-':16} {i.modality or '-':4} "
                      f"{i.accession_number or '-':16} {i.patient_id or '-'}  {i.patient_name or ''}")
            print(f"{len(items)} item(s)")
            return 0
        removed = remove_items(index, args.ids)
        for item_id in removed:
            print(f"{item_id} removed")
        missing = len(args.ids) - len(removed)
        if missing:
            print(f"dicomkit worklist remove: {missing} id(s) not found", file=sys.stderr)
            return 1
        return 0
    except DicomError as exc:
        print(f"dicomkit worklist {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        index.close()
