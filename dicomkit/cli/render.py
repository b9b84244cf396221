"""``dicomkit render``: a frame as a viewer shows it, to PNG or JPEG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal

from ..core.errors import DicomError
from ..io.writer import write_bytes_atomic
from .reading import InputError, read_input, stderr_note

# The image formats written, by file name extension.
FORMATS: dict[str, Literal["png", "jpeg"]] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


def _pair(text: str, sep: str, kind: type = float) -> tuple[float, float]:
    parts = text.lower().split(sep)
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers separated by {sep!r}, got {text!r}")
    try:
        return kind(parts[0]), kind(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="DICOM file")
    p.add_argument("output", metavar="OUT", help="output image: .png, or .jpg/.jpeg")
    p.add_argument("--frame", type=int, default=0, help="frame number, 0-based (default 0)")
    p.add_argument("--window", type=lambda t: _pair(t, ","), metavar="C,W",
                   help="window centre and width (default: the file's, else the frame's range)")
    p.add_argument("--voi", type=int, metavar="N",
                   help="which of the file's windows (or VOI LUTs) to apply, 0-based (default 0)")
    p.add_argument("--overlays", action="store_true", help="draw the overlay planes (60xx) that apply to the frame")
    p.add_argument("--size", type=lambda t: _pair(t, "x", int), metavar="WxH",
                   help="fit inside W x H pixels, keeping the aspect ratio")
    p.add_argument("--format", choices=("png", "jpeg"), help="image format (default: from OUT's extension)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality, 1-100 (default 90)")
    p.add_argument("-f", "--force", action="store_true", help="accepted for compatibility: raw data sets (no "
                   "preamble/meta) are read by default")
    p.add_argument("-l", "--lenient", action="store_true", help="also read files with defects (truncated values, "
                   "invalid VRs), listing each correction")


def _usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the options themselves (checked before the file is read), if anything."""
    suffix = Path(args.output).suffix
    if args.format is None and suffix.lower() not in FORMATS:
        what = suffix[1:].upper() if suffix else f"{args.output!r} (no extension)"
        return f"cannot write {what}; use .png or .jpg"
    if not 1 <= args.quality <= 100:
        return f"--quality must be 1-100, not {args.quality}"
    if args.voi is not None and args.window is not None:
        return "--voi and --window exclude each other (--window replaces the file's VOI)"
    return None


def _write(path: Path, data: bytes) -> None:
    """``path`` is left untouched or complete (written beside it, synced, renamed over it)."""
    write_bytes_atomic(path, data, parents=False)


def run(args: argparse.Namespace) -> int:
    problem = _usage_error(args)
    if problem:
        print(f"dicomkit render: {problem}", file=sys.stderr)
        return 2
    from ..pixels.overlays import overlay_groups
    from ..pixels.render import encode_image, render

    out = Path(args.output)
    fmt: Literal["png", "jpeg"] = args.format or FORMATS[out.suffix.lower()]
    try:
        ds = read_input(args.file, lenient=args.lenient, note=stderr_note("render"))
    except InputError as exc:
        print(f"dicomkit render: {exc}", file=sys.stderr)
        return 1
    try:
        size = (int(args.size[0]), int(args.size[1])) if args.size else None
        image = render(ds, args.frame, window=args.window, voi_index=args.voi or 0, size=size,
                       overlays=args.overlays)
        data = encode_image(image, fmt, quality=args.quality)
    except (DicomError, OSError) as exc:
        print(f"dicomkit render: {args.file}: {exc}", file=sys.stderr)
        return 1
    try:
        _write(out, data)
    except OSError as exc:
        print(f"dicomkit render: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    rows, columns = image.shape[:2]
    drawn = ""
    if args.overlays:
        groups = overlay_groups(ds)
        drawn = f", overlays {' '.join(f'{g:04X}' for g in groups)}" if groups else ", the file has no overlays"
    print(f"{out}: {columns}x{rows} {'RGB' if image.ndim == 3 else 'grayscale'} {fmt.upper()}, "
          f"frame {args.frame}{drawn}", file=sys.stderr)
    return 0
