"""``dicomkit json2dcm`` and ``dicomkit xml2dcm``: DICOM JSON / Native DICOM Model XML to a Part 10 file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..core.tag import PIXEL_DATA
from ..io.bulk_data import BulkDataFiles
from ..io.encapsulation import EncapsulatedPixelData
from ..io.writer import write


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="the JSON or XML document ('-' for standard input)")
    p.add_argument("output", metavar="OUT", help="the DICOM file to write")
    p.add_argument("-t", "--transfer-syntax", metavar="UID",
                   help="transfer syntax UID or keyword (default: the document's (0002,0010), else Explicit VR "
                        "Little Endian)")
    p.add_argument("--bulk-data-dir", metavar="DIR",
                   help="where relative BulkDataURIs are found (default: the directory of IN)")
    p.add_argument("--allow-partial", action="store_true",
                   help="write even if bulk data could not be read (those values are left empty)")


def add_xml_arguments(p: argparse.ArgumentParser) -> None:
    add_arguments(p)
    p.add_argument("--binary-big-endian", action="store_true",
                   help="InlineBinary words are big endian (as DCMTK's dcm2xml writes them)")


def _read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def _convert(args: argparse.Namespace, kind: str) -> int:
    try:
        data = _read_input(args.input)
        base = Path(args.bulk_data_dir) if args.bulk_data_dir else (
            Path.cwd() if args.input == "-" else Path(args.input).resolve().parent)
        reader = BulkDataFiles(base, base=base).reader
        ds: Dataset
        if kind == "json":
            from ..io.json_model import from_json

            ds = from_json(data, bulk_data_reader=reader, transfer_syntax=args.transfer_syntax)
        else:
            from ..io.xml_model import from_xml

            ds = from_xml(data, bulk_data_reader=reader, transfer_syntax=args.transfer_syntax,
                          binary_byte_order="big" if args.binary_big_endian else "little")
        for fix in ds.read_corrections:
            print(f"dicomkit {kind}2dcm: note: {fix}", file=sys.stderr)
        if _looks_encapsulated(ds):
            print(f"dicomkit {kind}2dcm: Pixel Data holds encapsulated (compressed) fragments but the document "
                  "names no encapsulated transfer syntax; give it with -t (or include the File Meta Information)",
                  file=sys.stderr)
            return 1
        write(ds, args.output, transfer_syntax=args.transfer_syntax, allow_partial=args.allow_partial)
    except (DicomError, OSError) as exc:
        print(f"dicomkit {kind}2dcm: {exc}", file=sys.stderr)
        return 1
    return 0


def _looks_encapsulated(ds: Dataset) -> bool:
    """Native Pixel Data whose bytes are a valid item stream (PS3.5 A.4): written natively it would be garbage."""
    elem = ds.get(PIXEL_DATA)
    if elem is None or elem.is_undefined_length or elem.vr.value != "OB":
        return False
    data = elem.value or b""
    if data[:4] != b"\xfe\xff\x00\xe0":
        return False
    try:
        EncapsulatedPixelData.parse(data)
    except DicomError:
        return False
    return True


def run_json(args: argparse.Namespace) -> int:
    return _convert(args, "json")


def run_xml(args: argparse.Namespace) -> int:
    return _convert(args, "xml")
