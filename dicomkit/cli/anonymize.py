"""``dicomkit anonymize``: de-identify files and folders (PS3.15 Annex E Basic Profile and its Options).

Files are processed in parallel over the cores (worker processes); every replacement derives from the key,
so the workers share nothing but it. One line per failed file, exit status 1 when any failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import DicomError
from ..deid import DeidentificationError, Deidentifier, MappingTable, Options, Region, read_key_file
from ..deid.files import deidentify_batch, same_file
from ..io.files import Kind, walk
from .progress import Progress

if TYPE_CHECKING:
    from concurrent.futures import Future

CHUNK = 16  # files per task handed to a worker process
SKIPPED = "skipped: not a DICOM file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a DICOM file (or DICOMDIR) or a folder of them")
    p.add_argument("output", metavar="OUT", nargs="?",
                   help="output file, or folder when IN is a folder (omit with --in-place)")
    p.add_argument("--profile", choices=("basic",), default="basic",
                   help="confidentiality profile (PS3.15 E.2 Basic Application Level; the only one)")
    p.add_argument("--retain-uids", action="store_true", help="Retain UIDs Option (E.3.9)")
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--retain-dates", action="store_true",
                       help="Retain Longitudinal Temporal Information with Full Dates Option (E.3.6)")
    dates.add_argument("--shift-dates", action="store_true",
                       help="... with Modified Dates: every date of a patient moves back by the same number of "
                            "days, derived from the key and the Patient ID (E.3.6)")
    p.add_argument("--retain-device-identity", action="store_true", help="Retain Device Identity Option (E.3.8)")
    p.add_argument("--retain-patient-characteristics", action="store_true",
                   help="Retain Patient Characteristics Option (E.3.7)")
    p.add_argument("--retain-institution-identity", action="store_true",
                   help="Retain Institution Identity Option (E.3.11)")
    p.add_argument("--retain-safe-private", action="store_true",
                   help="Retain Safe Private Option (E.3.10): keep the private attributes of Table E.3.10-1")
    p.add_argument("--clean-descriptors", action="store_true",
                   help="Clean Descriptors Option (E.3.5): keep descriptions, with identifiers removed")
    p.add_argument("--clean-structured-content", action="store_true",
                   help="Clean Structured Content Option (E.3.4): keep SR content, cleaned")
    p.add_argument("--clean-graphics", action="store_true", help="Clean Graphics Option (E.3.3)")
    p.add_argument("--keep", nargs="+", default=[], metavar="TAG",
                   help="keep these attributes as they are (keyword or gggg,eeee), overriding the profile")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--key", help="secret key: the same key gives the same replacements in every run")
    key.add_argument("--key-file", metavar="F", help="read the secret key from file F")
    p.add_argument("--map", metavar="FILE",
                   help="mapping table (JSON, or CSV by suffix) of every replacement made, for re-identification; "
                        "an existing one is read first and its replacements reused")
    p.add_argument("--mask", nargs="+", default=[], metavar="X,Y,W,H",
                   help="blank these pixel regions in every frame (Clean Pixel Data Option, E.3.1)")
    p.add_argument("--allow-burned-in", action="store_true",
                   help="write instances that may carry burned-in annotation without masking")
    p.add_argument("-r", "--recursive", action="store_true", help="include files in subfolders")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="worker processes (default: one per core)")
    p.add_argument("--in-place", action="store_true", help="write the output over the input")
    p.add_argument("-f", "--force", action="store_true", help="read files without preamble/meta (raw data sets)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _options(args: argparse.Namespace) -> Options:
    return Options(
        retain_safe_private=args.retain_safe_private, retain_uids=args.retain_uids,
        retain_device_identity=args.retain_device_identity,
        retain_institution_identity=args.retain_institution_identity,
        retain_patient_characteristics=args.retain_patient_characteristics,
        dates="keep" if args.retain_dates else ("shift" if args.shift_dates else "remove"),
        clean_descriptors=args.clean_descriptors, clean_structured_content=args.clean_structured_content,
        clean_graphics=args.clean_graphics, keep=Options.parse_tags(args.keep),
        mask=tuple(Region.parse(m) for m in args.mask), allow_burned_in=args.allow_burned_in,
    )


def _files(root: Path, recursive: bool) -> Iterator[Path]:
    """The regular files under ``root`` (the shared walker: no FIFOs or devices opened, hidden entries left out);
    whether each one is DICOM is decided when it is read, so non-DICOM ones are reported as skipped there."""
    for found in walk([root], recursive=recursive):
        if found.kind in (Kind.SPECIAL, Kind.UNREADABLE):
            print(f"dicomkit anonymize: {found.note}", file=sys.stderr)
        elif found.kind is not Kind.MISSING:
            yield found.path


def _pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    source = Path(args.input)
    if not source.exists():
        raise DeidentificationError(f"{source}: no such file or folder")
    if args.output is None and not args.in_place:
        raise DeidentificationError("OUT is needed (or --in-place to write over the input)")
    target = Path(args.output) if args.output is not None else source
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise DeidentificationError(f"{target}: IN is a folder, so OUT must be one")
        if same_file(source, target) and not args.in_place:
            raise DeidentificationError(f"{target} is the input folder; refusing to write over it (--in-place)")
        if not args.in_place and target.resolve().is_relative_to(source.resolve()) and args.recursive:
            raise DeidentificationError(f"{target} is inside the input folder; choose another OUT")
        return [(p, target / p.relative_to(source)) for p in _files(source, args.recursive)]
    if target.is_dir():
        target = target / source.name
    if same_file(source, target) and not args.in_place:
        raise DeidentificationError(f"{target} is the input; refusing to write over it (--in-place)")
    return [(source, target)]


# -- worker processes ----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(options: Options, key: bytes, seed: MappingTable, in_place: bool, force: bool,
                 skip_non_dicom: bool) -> None:
    _WORKER["deid"] = Deidentifier(options, key=key, table=seed)
    _WORKER["in_place"] = in_place
    _WORKER["force"] = force
    _WORKER["skip"] = skip_non_dicom and not force


def _is_part10(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return True  # let the real read report it


def _run_chunk(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str | None, int]], MappingTable]:
    """De-identify some files; (source, error or None or SKIPPED, bytes written) for each."""
    deid: Deidentifier = _WORKER["deid"]
    results: list[tuple[str, str | None, int]] = []
    todo: list[tuple[str, str]] = []
    for src, dst in pairs:
        if _WORKER["skip"] and not _is_part10(src):
            results.append((src, SKIPPED, 0))
        else:
            todo.append((src, dst))
    results += deidentify_batch(deid, todo, in_place=_WORKER["in_place"], force=_WORKER["force"])
    return results, deid.pseudonyms.take_new()


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
        key = read_key_file(args.key_file) if args.key_file else (args.key.encode() if args.key else None)
        seed = MappingTable.load(args.map) if args.map and Path(args.map).exists() else MappingTable()
        pairs = _pairs(args)
    except DicomError as exc:
        print(f"dicomkit anonymize: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print("dicomkit anonymize: no files to de-identify", file=sys.stderr)
        return 1
    deid = Deidentifier(options, key=key, table=seed)
    table = MappingTable()
    table.update(seed)
    jobs = args.jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, (len(pairs) + CHUNK - 1) // CHUNK))
    failures: list[tuple[str, str]] = []
    done = skipped = 0
    skip = Path(args.input).is_dir()
    chunks = [[(str(s), str(d)) for s, d in pairs[i:i + CHUNK]] for i in range(0, len(pairs), CHUNK)]
    with Progress(len(pairs), "anonymize", enabled=not args.quiet) as progress:
        def collect(results: list[tuple[str, str | None, int]], new: MappingTable) -> None:
            nonlocal done, skipped
            table.update(new)
            for src, error, size in results:
                progress.advance(size)
                if error is None:
                    done += 1
                elif error == SKIPPED:
                    skipped += 1
                    _note(progress, f"dicomkit anonymize: {src}: {error}")
                else:
                    failures.append((src, error))
                    _note(progress, f"dicomkit anonymize: {src}: {error}")

        if jobs == 1:
            _init_worker(options, deid.pseudonyms.key, seed, args.in_place, args.force, skip)
            for chunk in chunks:
                collect(*_run_chunk(chunk))
        else:
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                     initargs=(options, deid.pseudonyms.key, seed, args.in_place,
                                               args.force, skip)) as pool:
                pending: set[Future[Any]] = set()
                queue = iter(chunks)
                for chunk in queue:
                    pending.add(pool.submit(_run_chunk, chunk))
                    if len(pending) >= 2 * jobs:
                        break
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        collect(*future.result())
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(_run_chunk, nxt))
    if args.map:
        try:
            table.save(args.map)
        except DicomError as exc:
            print(f"dicomkit anonymize: {exc}", file=sys.stderr)
            return 1
    summary = f"de-identified {done} of {len(pairs)} file(s)"
    if skipped:
        summary += f"; {skipped} skipped (not DICOM)"
    if failures:
        summary += f"; {len(failures)} failed"
    if args.map:
        summary += f"; mapping table {args.map} ({len(table)} entries)"
    print(summary, file=sys.stderr)
    return 1 if failures else 0


def _note(progress: Progress, message: str) -> None:
    if progress.enabled:
        sys.stderr.write("\r\033[K")
    print(message, file=sys.stderr)
