"""``dicomkit security``: the operator's side of issue 14.

    dicomkit security hash-password [--password-stdin]      an scrypt hash for [users.NAME] password
    dicomkit security labels --study UID [--add L ...] [--remove L ...] [--set L ...]   study labels
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ..core.errors import DicomError
from .archive_options import add_archive_options, archive_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    q = sub.add_parser("hash-password", help="print an scrypt hash of a password (for [users.NAME] password)")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    q = sub.add_parser("labels", help="show or change the labels of a study (who sees it)")
    add_archive_options(q)
    q.add_argument("--study", required=True, metavar="UID")
    q.add_argument("--add", nargs="+", default=[], metavar="LABEL")
    q.add_argument("--remove", nargs="+", default=[], metavar="LABEL")
    q.add_argument("--set", nargs="*", default=None, metavar="LABEL", help="replace all labels (none: clear)")


def _hash(args: argparse.Namespace) -> int:
    from ..server.auth.passwords import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("dicomkit security: the passwords differ", file=sys.stderr)
            return 2
    if not password:
        print("dicomkit security: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _labels(args: argparse.Namespace) -> int:
    from ..server.auth.labels import add_labels, labels_of, remove_labels, set_labels
    from ..server.index import Index

    config = archive_config(args, existing=True)
    with Index(config.database_url, durability=config.storage.durability) as index:
        uid = args.study
        if args.set is not None:
            index.write(lambda db: set_labels(db, uid, args.set, source="operator"))
        if args.add:
            index.write(lambda db: add_labels(db, uid, args.add, source="operator"))
        if args.remove:
            index.write(lambda db: remove_labels(db, uid, args.remove))
        labels = labels_of(index.read(), uid)
    print(" ".join(sorted(labels)) if labels else "(no labels: only unrestricted users see this study)")
    return 0


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "action", None):
        print("dicomkit security: name an action: hash-password or labels", file=sys.stderr)
        return 2
    try:
        return _hash(args) if args.action == "hash-password" else _labels(args)
    except DicomError as exc:
        print(f"dicomkit security {args.action}: {exc}", file=sys.stderr)
        return 1
