"""``dicomkit dump``: a dcmdump-like listing of DICOM files, or their DICOM JSON / Native DICOM Model XML.

Part 10 files and raw data sets are both read (as dcmdump does); ``-`` is standard input; folders are
walked with ``-r``; ``+P TAG`` shows only the elements with that tag, wherever they are nested.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from ..core.dataset import Dataset
from ..core.display import DEFAULT_CUT, dump_lines, search_lines
from ..core.errors import DicomError
from ..core.tag import parse_tag_string
from ..io.files import Kind, walk
from .reading import (
    STDIN,
    InputError,
    delimiter_warning,
    display_name,
    invented_delimiters,
    read_input,
    stderr_note,
)

EXIT_AT_ONCE = True  # see cli.main.entry: it only reads files and writes to the standard output


def _search_tag(text: str) -> int:
    try:
        return parse_tag_string(text)
    except DicomError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (give a keyword such as PatientName or gggg,eeee)") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.prefix_chars = "-+"  # dcmdump's +P; set before the options are added
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="DICOM files (Part 10 or raw data sets), folders with -r, or - for standard input")
    p.add_argument("+P", "--search", action="append", type=_search_tag, metavar="TAG", dest="search",
                   help="show only elements with this tag (keyword or gggg,eeee), nested ones with the path of "
                        "sequences leading to them; may be repeated")
    p.add_argument("-r", "--recursive", action="store_true", help="dump the DICOM files under the folders given")
    p.add_argument("-a", "--all", action="store_true", help="show long values whole instead of cut")
    p.add_argument("-m", "--meta", action="store_true", help="show only the File Meta Information")
    p.add_argument("--no-meta", action="store_true", help="leave out the File Meta Information")
    p.add_argument("-s", "--stop-before-pixels", action="store_true", help="do not read Pixel Data")
    p.add_argument("-f", "--force", action="store_true",
                   help="accepted for compatibility: raw data sets (no preamble/meta) are read by default")
    p.add_argument("-l", "--lenient", action="store_true",
                   help="read common defects (truncated values, invalid VRs), report each fix, and exit 0 when "
                        "the reader had to supply a missing delimiter")
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


def _model_text(ds: Dataset, args: argparse.Namespace) -> str:
    from ..io.bulk_data import BulkDataFiles

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


def _inputs(args: argparse.Namespace) -> Iterator[str]:
    """The inputs to dump: the files given, and the DICOM files under the folders given with -r (what a
    walk skips gets a note)."""
    for given in args.files:
        if given != STDIN and args.recursive and Path(given).is_dir():
            for found in walk([given]):
                if found.kind is Kind.DICOM or found.kind is Kind.DICOMDIR:
                    yield str(found.path)
                elif found.kind is Kind.UNREADABLE:
                    raise InputError(f"{found.path}: {found.reason}")
                else:
                    print(f"dicomkit dump: {found.note}", file=sys.stderr)
        else:
            yield given


def run(args: argparse.Namespace) -> int:
    cut = None if args.all else DEFAULT_CUT
    model = args.json or args.xml or args.dcmtk_xml
    if (args.file_meta or args.bulk_data_dir) and not model:
        print("dicomkit dump: --file-meta and --bulk-data-dir go with --json, --xml or --dcmtk-xml", file=sys.stderr)
        return 2
    if model and args.search:
        print("dicomkit dump: --search goes with the listing, not with --json/--xml", file=sys.stderr)
        return 2
    if args.files.count(STDIN) > 1:
        print("dicomkit dump: standard input (-) can be read only once", file=sys.stderr)
        return 2
    many = len(args.files) > 1 or args.recursive
    inputs = _inputs(args)
    if model:
        listed = list(inputs)  # the notes of a walk come first
        if len(listed) != 1:
            print(f"dicomkit dump: --json/--xml take one file at a time ({len(listed)} given)", file=sys.stderr)
            return 2
        inputs = iter(listed)
    status = 0
    note = stderr_note("dump")
    first = True
    try:
        for path in inputs:
            name = display_name(path)
            try:
                ds = read_input(path, lenient=args.lenient, stop_before_pixels=args.stop_before_pixels,
                                note=note)
                if model:
                    text = _model_text(ds, args)
                elif args.search:
                    text = "\n".join(search_lines(ds, args.search, cut=cut, meta=not args.no_meta))
                else:
                    text = "\n".join(dump_lines(ds, cut=cut, meta=not args.no_meta, dataset=not args.meta))
            except InputError as exc:
                print(f"dicomkit dump: {exc}", file=sys.stderr)
                status = 1
                continue
            except (DicomError, OSError) as exc:
                print(f"dicomkit dump: {name}: {exc}", file=sys.stderr)
                status = 1
                continue
            if many and not model:
                if not first:
                    print()
                print(f"# {name}")
            first = False
            if model:
                sys.stdout.write(text)
            elif text:
                sys.stdout.write(text + "\n")
            if not model and (args.corrections or args.lenient):
                for fix in ds.read_corrections:
                    print(f"# correction: {fix}")
            for fix in invented_delimiters(ds):
                print(f"dicomkit dump: {delimiter_warning(name, fix)}", file=sys.stderr)
                if not args.lenient:
                    status = 1
    except InputError as exc:  # a folder that cannot be listed
        print(f"dicomkit dump: {exc}", file=sys.stderr)
        return 1
    return status
