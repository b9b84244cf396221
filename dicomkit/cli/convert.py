"""``dicomkit convert``: transcode files or whole folders to another transfer syntax."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..core.uid import UID
from ..io.reader import read
from ..io.writer import write_atomic


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
    p.add_argument("-f", "--force", action="store_true", help="read files without preamble/meta (raw data sets)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def _inputs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


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
    if source.is_dir():
        pairs = [(p, Path(args.output) / p.relative_to(source)) for p in _inputs(source)]
    else:
        out = Path(args.output)
        pairs = [(source, out / source.name if out.is_dir() else out)]
    progress = _Progress(len(pairs), not args.quiet)
    failed = skipped = lossy = 0
    for k, (src, dst) in enumerate(pairs, 1):
        try:
            ds = read(src, force=args.force)
        except DicomError as exc:
            if source.is_dir():
                skipped += 1  # not DICOM: leave it out of a folder conversion, but say so
                progress.note(f"dicomkit convert: {src}: skipped, not readable as DICOM: {exc}")
            else:
                failed += 1
                progress.note(f"dicomkit convert: {src}: {exc}")
            progress.show(k, src.name)
            continue
        try:
            out_ds = transcode(ds, str(target), options=options, offset_table=args.offset_table,
                               as_rgb=args.rgb) if _has_pixels(ds) else _retarget(ds, str(target))
            if out_ds.get("SOPInstanceUID") != ds.get("SOPInstanceUID"):
                lossy += 1
            write_atomic(out_ds, dst)
        except (DicomError, OSError) as exc:
            failed += 1
            progress.note(f"dicomkit convert: {src}: {exc}")
        progress.show(k, src.name)
    progress.end()
    done = len(pairs) - failed - skipped
    summary = f"converted {done} of {len(pairs)} file(s) to {target.name}"
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
