"""``dicomkit dicomdir create|list|add|remove``: File-sets and their DICOMDIR (PS3.10, PS3.3 F, PS3.11 D)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..io.dicomdir import (
    DirectoryRecord,
    FileSet,
    FileSetError,
    FileSetReport,
    add_to_fileset,
    create_fileset,
    read_dicomdir,
    remove_from_fileset,
)
from ..io.dicomdir.write import Decompress


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="make a File-set: copy instances into DIR and write DIR/DICOMDIR",
                            description="Copy the DICOM files found under SOURCE (files or directories) into DIR "
                                        "in the File-set layout and write DIR/DICOMDIR (STD-GEN-CD). Without "
                                        "SOURCE, index the files already in DIR where they are.")
    create.add_argument("directory", metavar="DIR", help="the File-set root (created if missing)")
    create.add_argument("sources", nargs="*", metavar="SOURCE", help="DICOM files or directories to copy in")
    create.add_argument("--file-set-id", default="", metavar="ID", help="File-set ID (up to 16 of A-Z 0-9 _ space)")
    _common(create)
    listing = sub.add_parser("list", help="show the records of a DICOMDIR as a tree")
    listing.add_argument("directory", metavar="DIR", help="the File-set root or its DICOMDIR")
    listing.add_argument("--check", action="store_true", help="also check that every referenced file exists")
    add = sub.add_parser("add", help="copy more instances into a File-set and update its DICOMDIR")
    add.add_argument("directory", metavar="DIR", help="the File-set root or its DICOMDIR")
    add.add_argument("sources", nargs="+", metavar="SOURCE", help="DICOM files or directories to copy in")
    _common(add)
    remove = sub.add_parser("remove", help="remove instances from a File-set's DICOMDIR")
    remove.add_argument("directory", metavar="DIR", help="the File-set root or its DICOMDIR")
    remove.add_argument("references", nargs="+", metavar="REF",
                        help="SOP Instance UID, File ID (DICOM\\PAT00001\\...) or path of an instance")
    remove.add_argument("--delete-files", action="store_true", help="also delete the removed files")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--invent", action="store_true",
                   help="make up missing Type 1 keys (PatientID, StudyID, ...) instead of refusing; each is reported")
    p.add_argument("--keep-transfer-syntax", action="store_true",
                   help="copy files as they are (default: re-encode them to Explicit VR Little Endian, as "
                        "STD-GEN-CD asks, decompressing compressed ones when numpy and imagecodecs are installed)")


def _decompress(ds: Dataset) -> Dataset:
    from ..pixels import decompress  # numpy, and the codec library for the codecs that need it

    return decompress(ds)


def decompressor() -> Decompress | None:
    """What decompresses compressed instances for a STD-GEN-CD File-set: dicomkit.pixels when numpy is
    installed (a codec it lacks, e.g. without imagecodecs, is named in that file's note), else nothing."""
    return _decompress if importlib.util.find_spec("numpy") is not None else None


def _describe(record: DirectoryRecord) -> str:
    get = record.dataset.get
    kind = record.record_type
    if kind == "PATIENT":
        return f"PATIENT {get('PatientName') or '(no name)'}  [ID {get('PatientID') or '-'}]"
    if kind == "STUDY":
        return (f"STUDY {get('StudyDate') or '-'} {get('StudyTime') or ''}  {get('StudyDescription') or ''}  "
                f"[ID {get('StudyID') or '-'}, accession {get('AccessionNumber') or '-'}]").replace("   ", " ")
    if kind == "SERIES":
        return f"SERIES {get('Modality') or '-'} #{get('SeriesNumber') or '-'}  [{get('SeriesInstanceUID') or ''}]"
    text = f"{kind}"
    if get("InstanceNumber") is not None:
        text += f" #{get('InstanceNumber')}"
    if record.file_id:
        text += f"  {chr(92).join(record.file_id)}"
    if record.sop_class_uid:
        text += f"  {record.sop_class_uid.name}"
    return text


def _print_tree(fs: FileSet, check: bool) -> int:
    counts: dict[str, int] = {}
    missing = 0
    lines = []
    for root in fs.roots:
        stack: list[tuple[DirectoryRecord, int]] = [(root, 0)]
        while stack:
            record, depth = stack.pop()
            if not record.in_use:
                continue
            counts[record.record_type] = counts.get(record.record_type, 0) + 1
            line = "  " * depth + _describe(record)
            if check and record.file_id is not None:
                path = record.path
                if path is None or not path.is_file():
                    line += "  (MISSING)"
                    missing += 1
            lines.append(line)
            stack.extend((child, depth + 1) for child in reversed(record.children))
    summary = ", ".join(f"{t} {n}" for t, n in counts.items())
    print(f"# {fs.path}  File-set ID {fs.file_set_id!r}; records: {summary or 'none'}")
    print("\n".join(lines))
    for fix in fs.corrections:
        print(f"# correction: {fix}")
    if missing:
        print(f"dicomkit dicomdir: {missing} referenced file(s) missing", file=sys.stderr)
        return 1
    return 0


def _print_report(report: FileSetReport) -> None:
    for source, file_id in report.added:
        print(f"added    {file_id}  <- {source}")
    for file_id in report.removed:
        print(f"removed  {file_id}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {report.dicomdir}")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            target = Path(args.directory)
            return _print_tree(read_dicomdir(target / "DICOMDIR" if target.is_dir() else target), args.check)
        if args.action == "create":
            report = create_fileset(args.directory, args.sources, file_set_id=args.file_set_id, invent=args.invent,
                                    transcode=not args.keep_transfer_syntax, decompress=decompressor())
        elif args.action == "add":
            report = add_to_fileset(args.directory, args.sources, invent=args.invent,
                                    transcode=not args.keep_transfer_syntax, decompress=decompressor())
        else:
            report = remove_from_fileset(args.directory, args.references, delete_files=args.delete_files)
    except FileSetError as exc:
        print(f"dicomkit dicomdir {args.action}: {exc}", file=sys.stderr)
        return 1
    except (DicomError, OSError) as exc:
        print(f"dicomkit dicomdir {args.action}: {exc}", file=sys.stderr)
        return 1
    _print_report(report)
    return 0
