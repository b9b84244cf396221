"""``dicomkit dump``: a dcmdump-like listing of DICOM files."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import DicomError
from ..io.dump import DEFAULT_CUT, dump_lines
from ..io.reader import read


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="DICOM files to list")
    p.add_argument("-a", "--all", action="store_true", help="show long values whole instead of cut")
    p.add_argument("-m", "--meta", action="store_true", help="show only the File Meta Information")
    p.add_argument("--no-meta", action="store_true", help="leave out the File Meta Information")
    p.add_argument("-s", "--stop-before-pixels", action="store_true", help="do not read Pixel Data")
    p.add_argument("-f", "--force", action="store_true", help="read files without preamble/meta (raw data sets)")
    p.add_argument("-l", "--lenient", action="store_true", help="read common defects and report each fix")
    p.add_argument("--corrections", action="store_true", help="list deviations found while reading")


def run(args: argparse.Namespace) -> int:
    status = 0
    cut = None if args.all else DEFAULT_CUT
    many = len(args.files) > 1
    for path in args.files:
        try:
            ds = read(path, stop_before_pixels=args.stop_before_pixels, force=args.force, lenient=args.lenient)
            lines = list(dump_lines(ds, cut=cut, meta=not args.no_meta, dataset=not args.meta))
        except (DicomError, OSError) as exc:
            print(f"dicomkit dump: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        if many:
            print(f"# {path}")
        sys.stdout.write("\n".join(lines) + "\n")
        if args.corrections or args.lenient:
            for fix in ds.read_corrections:
                print(f"# correction: {fix}")
        if many:
            print()
    return status


