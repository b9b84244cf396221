"""``dicomkit dump``: a dcmdump-like listing of DICOM files, or their DICOM JSON / Native DICOM Model XML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.display import DEFAULT_CUT, dump_lines
from ..core.errors import DicomError
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
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the DICOM JSON Model (PS3.18 F) instead")
    form.add_argument("--xml", action="store_true", help="print the Native DICOM Model XML (PS3.19 A) instead")
    form.add_argument("--dcmtk-xml", action="store_true", help="print DCMTK's XML format (what its xml2dcm reads)")
    p.add_argument("--file-meta", action="store_true",
                   help="with --json/--xml: include the File Meta Information (group 0002)")
    p.add_argument("--bulk-data-dir", metavar="DIR",
                   help="with --json/--xml: write binary values of --bulk-data-threshold bytes or more to files "
                        "in DIR and refer to them by BulkDataURI")
    p.add_argument("--bulk-data-threshold", type=int, default=1024, metavar="BYTES",
                   help="size from which values go to --bulk-data-dir (default 1024)")


def _model_text(ds: object, args: argparse.Namespace) -> str:
    from ..core.dataset import Dataset
    from ..io.bulk_data import BulkDataFiles

    assert isinstance(ds, Dataset)
    handler = None
    if args.bulk_data_dir:
        files = BulkDataFiles(args.bulk_data_dir, base=Path.cwd())
        handler = files.handler
    if args.json:
        from ..io.json_model import to_json

        return to_json(ds, indent=2, include_file_meta=args.file_meta, bulk_data_handler=handler,
                       bulk_data_threshold=args.bulk_data_threshold) + "\n"
    from ..io.xml_model import to_xml

    return to_xml(ds, include_file_meta=args.file_meta, bulk_data_handler=handler,
                  bulk_data_threshold=args.bulk_data_threshold, dialect="dcmtk" if args.dcmtk_xml else "native")


def run(args: argparse.Namespace) -> int:
    status = 0
    cut = None if args.all else DEFAULT_CUT
    model = args.json or args.xml or args.dcmtk_xml
    if (args.file_meta or args.bulk_data_dir) and not model:
        print("dicomkit dump: --file-meta and --bulk-data-dir go with --json, --xml or --dcmtk-xml", file=sys.stderr)
        return 2
    if model and len(args.files) > 1:
        print("dicomkit dump: --json/--xml take one file at a time", file=sys.stderr)
        return 2
    many = len(args.files) > 1
    for path in args.files:
        try:
            ds = read(path, stop_before_pixels=args.stop_before_pixels, force=args.force, lenient=args.lenient)
            if model:
                sys.stdout.write(_model_text(ds, args))
                continue
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
