"""``dicomkit validate FILE...``: IOD validation like dciodvfy; exit 1 when any file has an error."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="DICOM files")
    p.add_argument("--json", action="store_true", help="one JSON document with the findings of every file")
    p.add_argument("--notes", action="store_true", help="also list what could not be checked (conditions in "
                                                         "prose, modules without tables)")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("-f", "--force", action="store_true", help="read files without preamble/meta (raw data sets)")


def run(args: argparse.Namespace) -> int:
    from ..validate import ERROR, validate_file

    reports = [validate_file(path, force=args.force) for path in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for report in reports:
            if len(reports) > 1:
                print(f"== {report.source}")
            lines = report.to_text(notes=args.notes).splitlines()
            if args.quiet:
                lines = [line for line in lines[1:] if line.startswith(ERROR)]
            for line in lines:
                print(line)
    errors = sum(len(r.errors) for r in reports)
    if len(reports) > 1 or errors:
        print(f"{len(reports)} file(s): {errors} error(s), {sum(len(r.warnings) for r in reports)} warning(s)",
              file=sys.stderr)
    return 1 if errors else 0
