"""``dicomkit print HOST PORT FILES...``: print DICOM images on a DICOM printer (like dcmprscu).

The images (files or folders, one film box per ``--format`` worth of them; a file that cannot be read or
rendered is named and left out, and the exit status is 1) are rendered as a viewer shows
them (Modality and VOI LUT, 8 bits) and sent as Basic Grayscale (``--color``: Basic Color) Image Boxes; each
film is printed with N-ACTION of its Film Box (``--session-print``: one N-ACTION of the Film Session).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..io.files import Kind, walk
from ..net import ApplicationEntity
from ..services.print_management import PrinterEvents, image_item, print_contexts, print_items
from ..services.print_management.model import FILM_SIZES, MAGNIFICATION_TYPES, MEDIUM_TYPES, layout
from .netopts import add_peer_arguments, add_tls_arguments, tls_context
from .print_scp import _density
from .reading import describe_error, read_input


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="DICOM images (or folders of them) to print")
    p.add_argument("--format", default="STANDARD\\1,1", metavar="FORMAT",
                   help="Image Display Format: STANDARD\\C,R, ROW\\n1,n2,... or COL\\n1,n2,... (default: %(default)s)")
    p.add_argument("--color", action="store_true", help="use the Basic Color Print Management Meta SOP Class")
    g = p.add_argument_group("Film Session")
    g.add_argument("--copies", type=int, help="Number of Copies")
    g.add_argument("--priority", choices=("HIGH", "MED", "LOW"), help="Print Priority")
    g.add_argument("--medium", choices=MEDIUM_TYPES, help="Medium Type")
    g.add_argument("--destination", help="Film Destination (MAGAZINE, PROCESSOR, BIN_i)")
    g.add_argument("--label", help="Film Session Label")
    g = p.add_argument_group("Film Box")
    g.add_argument("--orientation", choices=("PORTRAIT", "LANDSCAPE"), help="Film Orientation")
    g.add_argument("--film-size", choices=sorted(FILM_SIZES), help="Film Size ID")
    g.add_argument("--magnification", choices=MAGNIFICATION_TYPES, help="Magnification Type")
    g.add_argument("--border-density", type=_density, help="Border Density: BLACK, WHITE or hundredths of OD")
    g.add_argument("--empty-density", type=_density, help="Empty Image Density")
    g.add_argument("--trim", choices=("YES", "NO"), help="Trim")
    g.add_argument("--resolution", choices=("STANDARD", "HIGH"), help="Requested Resolution ID")
    g.add_argument("--presentation-lut", choices=("IDENTITY", "LIN OD"),
                   help="create a Presentation LUT of this shape and reference it from each Film Box")
    g = p.add_argument_group("Image Box")
    g.add_argument("--polarity", choices=("NORMAL", "REVERSE"), help="Polarity")
    p.add_argument("--session-print", action="store_true",
                   help="print with one N-ACTION of the Film Session instead of one per Film Box")
    add_tls_arguments(p, server=False)


def _files(names: list[str]) -> list[Path]:
    out: list[Path] = []
    for found in walk(names):
        if found.kind is Kind.DICOM:
            out.append(found.path)
        elif found.explicit:
            raise DicomError(f"{found.path}: {found.reason or found.kind.value}")
        else:
            print(f"dicomkit print: {found.note}", file=sys.stderr)
    if not out:
        raise DicomError("no DICOM files to print")
    return out


def _attributes(pairs: dict[str, object]) -> Dataset | None:
    ds = Dataset()
    for keyword, value in pairs.items():
        if value is not None:
            setattr(ds, keyword, str(value) if keyword == "NumberOfCopies" else value)
    return ds if len(ds) else None


async def _run(args: argparse.Namespace) -> int:
    layout(args.format)  # a bad format is refused before anything is read or sent
    items, failed = [], 0
    for path in _files(args.files):  # every image rendered before the association: a bad one fails alone
        try:
            items.append(image_item(read_input(path), color=args.color))
        except DicomError as exc:
            failed += 1
            print(f"dicomkit print: {describe_error(path, exc)}", file=sys.stderr)
    if not items:
        raise DicomError("nothing could be printed")
    session = _attributes({"NumberOfCopies": args.copies, "PrintPriority": args.priority, "MediumType": args.medium,
                           "FilmDestination": args.destination, "FilmSessionLabel": args.label})
    film = _attributes({"FilmOrientation": args.orientation, "FilmSizeID": args.film_size,
                        "MagnificationType": args.magnification, "BorderDensity": args.border_density,
                        "EmptyImageDensity": args.empty_density, "Trim": args.trim,
                        "RequestedResolutionID": args.resolution})
    image_box = _attributes({"Polarity": args.polarity})
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    events = PrinterEvents.install(ae)
    contexts = print_contexts(color=args.color, presentation_lut=args.presentation_lut is not None)
    async with ae.connect(args.host, args.port, contexts, called_ae_title=args.aec,
                          tls=tls_context(args, server=False)) as assoc:
        report = await print_items(assoc, items, display_format=args.format, color=args.color, session=session,
                                    film=film, image_box=image_box, presentation_lut=args.presentation_lut,
                                    session_print=args.session_print, timeout=args.timeout)
    printer = report.printer
    status = printer.value("PrinterStatus", "") if printer is not None else ""
    print(f"printed {len(items)} image(s) on {report.films} film(s) ({args.format}) at {args.aec}@{args.host}:"
          f"{args.port}; printer status {status or 'unknown'}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    for event, info in events.events:
        print(f"  printer event: {event} ({info})")
    if failed:
        print(f"  {failed} file(s) could not be printed")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (DicomError, OSError) as exc:
        print(f"dicomkit print: {exc}", file=sys.stderr)
        return 1
