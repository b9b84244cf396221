"""``dicomkit conformance``: the DICOM Conformance Statement (PS3.2) of dicomkit, generated from the code and
the server's configuration, as Markdown or HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import DicomError
from ..io.writer import write_bytes_atomic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="the server's configuration (TOML) to describe (default: the "
                   "defaults)")
    p.add_argument("--format", choices=("markdown", "html"), help="default: from --output's suffix, else markdown")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    from ..server.config import load_config
    from ..server.conformance import statement, to_html, to_markdown

    fmt = args.format or ("html" if args.output and Path(args.output).suffix.lower() in (".html", ".htm")
                          else "markdown")
    try:
        config = load_config(args.config) if args.config else None
        doc = statement(config)
        text = to_html(doc) if fmt == "html" else to_markdown(doc)
        if args.output:
            write_bytes_atomic(args.output, text.encode("utf-8"))
        else:
            sys.stdout.write(text)
    except (DicomError, OSError) as exc:
        print(f"dicomkit conformance: {exc}", file=sys.stderr)
        return 1
    return 0
