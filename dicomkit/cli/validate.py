"""``dicomkit validate FILE...``: IOD validation like dciodvfy; exit 1 when any file has an error."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .reading import InputError, read_input

if TYPE_CHECKING:
    from ..validate import Report  # imported when a command runs (the CLI loads only what it runs)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="DICOM files")
    p.add_argument("--json", action="store_true", help="one JSON document with the findings of every file")
    p.add_argument("--notes", action="store_true", help="also list what could not be checked (conditions in "
                                                         "prose, modules without tables)")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("-f", "--force", action="store_true", help="accepted for DCMTK habits: raw data sets (without "
                                                                  "preamble and meta) are read anyway")


def _report(path: str) -> Report:
    from ..validate import ERROR, Finding, Report, validate

    try:
        ds = read_input(path)
    except InputError as exc:
        report = Report(path)
        report.add(Finding(ERROR, "unreadable", f"Dicom dataset read failed: {exc}"))
        return report
    return validate(ds, source=path, file_meta=True)


def run(args: argparse.Namespace) -> int:
    from ..validate import ERROR

    reports = [_report(path) for path in args.files]
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
