"""``dicomkit render``: a frame as a viewer shows it, to PNG or JPEG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal

from ..core.errors import DicomError
from ..io.reader import read


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
    p.add_argument("output", metavar="OUT", help="output image (.png, or .jpg/.jpeg)")
    p.add_argument("--frame", type=int, default=0, help="frame number, 0-based (default 0)")
    p.add_argument("--window", type=lambda t: _pair(t, ","), metavar="C,W",
                   help="window centre and width (default: the file's, else the frame's range)")
    p.add_argument("--voi", type=int, default=0, help="which of several windows in the file (0-based)")
    p.add_argument("--size", type=lambda t: _pair(t, "x", int), metavar="WxH",
                   help="fit inside W x H pixels, keeping the aspect ratio")
    p.add_argument("--format", choices=("png", "jpeg"), help="image format (default: from OUT's extension)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    p.add_argument("-f", "--force", action="store_true", help="read files without preamble/meta (raw data sets)")


def run(args: argparse.Namespace) -> int:
    from ..pixels.render import encode_image, render

    out = Path(args.output)
    fmt: Literal["png", "jpeg"] = args.format or ("jpeg" if out.suffix.lower() in (".jpg", ".jpeg") else "png")
    try:
        ds = read(args.file, force=args.force)
        size = (int(args.size[0]), int(args.size[1])) if args.size else None
        image = render(ds, args.frame, window=args.window, voi_index=args.voi, size=size)
        data = encode_image(image, fmt, quality=args.quality)
        out.write_bytes(data)
    except (DicomError, OSError) as exc:
        print(f"dicomkit render: {args.file}: {exc}", file=sys.stderr)
        return 1
    rows, columns = image.shape[:2]
    print(f"{out}: {columns}x{rows} {'RGB' if image.ndim == 3 else 'grayscale'} {fmt.upper()}, "
          f"frame {args.frame}", file=sys.stderr)
    return 0
