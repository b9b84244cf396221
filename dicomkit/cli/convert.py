"""``dicomkit convert``: transcode files or whole folders to another transfer syntax.

A folder is walked with :func:`dicomkit.io.files.walk`: what is not DICOM is skipped with a note, a DICOM
file the reader refuses counts as failed, and a DICOMDIR found in the walk is skipped (its offsets and
references would not survive); a DICOMDIR named as IN is written anew with fresh offsets.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..core.uid import UID, ExplicitVRLittleEndian
from ..io.files import Kind, classify, walk
from ..io.writer import write_atomic
from .reading import InputError, delimiter_warning, describe_error, invented_delimiters, load_all, read_input


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a DICOM file or a folder of them")
    p.add_argument("output", metavar="OUT", help="output file (or folder when IN is a folder)")
    p.add_argument("--ts", required=True, metavar="NAME|UID",
                   help="target transfer syntax: UID, keyword (JPEG2000Lossless) or alias (explicit, implicit, big, "
                        "deflate, rle, jpeg-baseline, jpeg-extended, jpeg-lossless, jpeg-sv1, jpeg-ls, jpeg-ls-near, "
                        "j2k-lossless, j2k, htj2k-lossless, htj2k-rpcl, htj2k, deflate-frames, "
                        "encapsulated-uncompressed)")
    p.add_argument("--offset-table", choices=("basic", "extended", "none"), default="basic",
                   help="offset table of encapsulated output (default basic; extended beyond 4 GiB)")
    p.add_argument("--quality", type=int, default=90, help="JPEG lossy quality 1..100 (default 90)")
    p.add_argument("--predictor", type=int, default=1, help="JPEG lossless (Process 14) predictor 1..7")
    p.add_argument("--near", type=int, default=2, help="JPEG-LS near-lossless NEAR (default 2)")
    p.add_argument("--psnr", type=float, default=70.0, help="JPEG 2000 lossy target PSNR in dB (default 70)")
    p.add_argument("--qstep", type=float, default=0.002, help="HTJ2K lossy quantization step (default 0.002)")
    p.add_argument("--lossless", action="store_true", help="JPEG 2000 / HTJ2K: encode reversibly")
    p.add_argument("--no-mct", action="store_true", help="JPEG 2000 / HTJ2K: no colour transform for RGB")
    p.add_argument("--rgb", action="store_true", help="convert YBR and PALETTE COLOR samples to RGB")
    p.add_argument("-l", "--lenient", action="store_true",
                   help="also convert files read with corrections (truncated values, invalid VRs, a missing "
                        "delimiter), reporting each")
    p.add_argument("-f", "--force", action="store_true",
                   help="accepted for compatibility: raw data sets (no preamble/meta) are read by default")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")


class _Progress:
    """A one-line progress bar on standard error (only when it is a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()

    def show(self, done: int, label: str) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // max(1, self.total)
        rate = done / max(1e-9, time.monotonic() - self.start)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                         f"{rate:5.1f}/s {label[-40:]:<40}")
        sys.stderr.flush()

    def note(self, message: str) -> None:
        """A message on its own line (the bar is redrawn by the next show)."""
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
        print(message, file=sys.stderr)

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _rewrite_dicomdir(src: Path, dst: Path, target: UID, progress: _Progress) -> None:
    """A DICOMDIR named as IN: written anew with its offsets computed afresh (PS3.3 F.3), in Explicit VR Little
    Endian, the only transfer syntax the media profiles allow for it (PS3.11)."""
    from ..io.dicomdir import encode_fileset, read_dicomdir

    fs = read_dicomdir(src)
    data = encode_fileset(fs)
    if str(target) != str(ExplicitVRLittleEndian):
        progress.note(f"dicomkit convert: {src}: a DICOMDIR stays in Explicit VR Little Endian (PS3.11); "
                      "its offsets were rewritten")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dicomkit-", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        read_dicomdir(tmp)  # never leave a DICOMDIR that does not read back
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _plan(source: Path, output: Path, progress: _Progress) -> tuple[list[tuple[Path, Path, bool]], int, int]:
    """(source, destination, is a DICOMDIR) for each file to convert, and how many were skipped and failed
    while walking (each with a note)."""
    if not source.is_dir():
        dst = output / source.name if output.is_dir() else output
        return [(source, dst, classify(source).kind is Kind.DICOMDIR)], 0, 0
    jobs: list[tuple[Path, Path, bool]] = []
    skipped = failed = 0
    for found in walk([source]):
        if found.kind is Kind.DICOM:
            jobs.append((found.path, output / found.path.relative_to(source), False))
        elif found.kind is Kind.DICOMDIR:
            skipped += 1
            progress.note(f"dicomkit convert: {found.path}: skipped, a DICOMDIR (re-encoding it as an image would "
                          "break its offsets; name it as IN to rewrite it, or index the converted files with "
                          "`dicomkit dicomdir create OUT`)")
        elif found.kind is Kind.UNREADABLE:
            failed += 1
            progress.note(f"dicomkit convert: {found.path}: {found.reason}")
        else:
            skipped += 1
            progress.note(f"dicomkit convert: {found.note}")
    return jobs, skipped, failed


def run(args: argparse.Namespace) -> int:
    from ..pixels import EncodeOptions, transcode
    from ..pixels.encode import resolve_transfer_syntax

    try:
        target = resolve_transfer_syntax(args.ts)
        options = EncodeOptions(quality=args.quality, predictor=args.predictor, near=args.near, psnr=args.psnr,
                                qstep=args.qstep, lossless=args.lossless, colour_transform=not args.no_mct)
    except DicomError as exc:
        print(f"dicomkit convert: {exc}", file=sys.stderr)
        return 2
    source = Path(args.input)
    if not source.exists():
        print(f"dicomkit convert: {source}: no such file or folder", file=sys.stderr)
        return 2
    progress = _Progress(0, not args.quiet)
    jobs, skipped, failed = _plan(source, Path(args.output), progress)
    progress.total = len(jobs)
    total = len(jobs) + skipped + failed
    lossy = 0

    def note(line: str) -> None:
        progress.note(f"dicomkit convert: {line}")

    for k, (src, dst, is_dicomdir) in enumerate(jobs, 1):
        try:
            if is_dicomdir:
                _rewrite_dicomdir(src, dst, target, progress)
                progress.show(k, src.name)
                continue
            ds = read_input(src, lenient=args.lenient, note=note)
            load_all(ds)  # nested sequences parsed now: their corrections are known before anything is written
            invented = invented_delimiters(ds)
            for fix in invented:
                progress.note(f"dicomkit convert: {delimiter_warning(str(src), fix)}")
            if invented and not args.lenient:
                failed += 1
                progress.note(f"dicomkit convert: {src}: not converted (--lenient converts it as read)")
                progress.show(k, src.name)
                continue
            if args.lenient:
                for fix in ds.read_corrections:
                    if fix not in invented:
                        progress.note(f"dicomkit convert: {src}: correction: {fix}")
            out_ds = transcode(ds, str(target), options=options, offset_table=args.offset_table,
                               as_rgb=args.rgb) if _has_pixels(ds) else _retarget(ds, str(target))
            if out_ds.get("SOPInstanceUID") != ds.get("SOPInstanceUID"):
                lossy += 1
            write_atomic(out_ds, dst)
        except InputError as exc:  # DICOM, but the reader refuses it: broken
            failed += 1
            progress.note(f"dicomkit convert: {exc}")
        except (DicomError, OSError) as exc:
            failed += 1
            progress.note(f"dicomkit convert: {describe_error(src, exc, lenient=args.lenient)}")
        progress.show(k, src.name)
    progress.end()
    done = total - skipped - failed
    summary = f"converted {done} of {total} file(s) to {target.name}"
    if lossy:
        summary += f"; {lossy} lossy (new SOP Instance UIDs)"
    if skipped:
        summary += f"; {skipped} skipped"
    if failed:
        summary += f"; {failed} failed"
    print(summary, file=sys.stderr)
    return 1 if failed else 0


def _has_pixels(ds: Dataset) -> bool:
    return any(t in ds for t in (0x7FE00010, 0x7FE00008, 0x7FE00009))


def _retarget(ds: Dataset, target: str) -> Dataset:
    """A data set without pixel data: only the encoding of the data set changes."""
    from ..pixels.encode import _set_transfer_syntax

    copy = ds.copy()
    _set_transfer_syntax(copy, UID(target))
    return copy
