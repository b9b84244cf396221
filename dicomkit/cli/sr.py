"""``dicomkit sr show FILE [--html]``: a Structured Report as indented text (like dsrdump) or an HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import DicomError
from .reading import InputError, read_input, stderr_note


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="sr_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the content tree of an SR document",
                          description="print the content tree of an SR document (like dsrdump)")
    show.add_argument("file", metavar="FILE", help="SR or Key Object Selection file (- for standard input)")
    show.add_argument("--html", action="store_true", help="write an HTML page instead of text")
    show.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of standard output")
    show.add_argument("--no-header", action="store_true", help="only the content tree")
    show.add_argument("-n", "--numbered", action="store_true", help="position numbers instead of indentation")


def run(args: argparse.Namespace) -> int:
    from ..sr import SRDocument, to_html, to_text

    try:
        doc = SRDocument.from_dataset(read_input(args.file, note=stderr_note("sr")))
        out = to_html(doc) if args.html else to_text(doc, header=not args.no_header, numbered=args.numbered)
        if args.output:
            Path(args.output).write_text(out, encoding="utf-8")
        else:
            sys.stdout.write(out)
    except InputError as exc:
        print(f"dicomkit sr: {exc}", file=sys.stderr)
        return 1
    except (DicomError, OSError) as exc:
        print(f"dicomkit sr: {args.file}: {exc}", file=sys.stderr)
        return 1
    return 0
