"""``dicomkit print-scp``: a DICOM printer writing each printed film as PNG and PDF into a folder (like dcmprscp).

It answers the Basic Grayscale and Basic Color Print Management Meta SOP Classes and the Presentation LUT SOP
Class (PS3.4 H); each film printed (N-ACTION of a Film Box or of the Film Session) becomes
``OUTPUT/<date>-<time>-<AE>-<n>.png`` and ``.pdf`` at its Film Size ID and orientation, with a ``.json`` note
of the session's and film's attributes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..services.print_management import Defaults, FolderSpooler, PrintedFilm, PrinterInfo, PrintSCP
from ..services.print_management.model import FILM_SIZES, MAGNIFICATION_TYPES, density_ok
from ..services.print_management.spool import FORMATS
from ..services.verification import VerificationSCP
from .netopts import add_tls_arguments, tls_context, until_stopped


def _density(value: str) -> str:
    value = value.upper()
    if not density_ok(value):
        raise argparse.ArgumentTypeError(f"{value!r}: BLACK, WHITE or hundredths of optical density")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=10400, help="TCP port to listen on (default: 10400; 0: any free port)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s)")
    p.add_argument("--aet", default="PRINTSCP", help="our AE title (default: %(default)s)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for the printed films")
    p.add_argument("--dpi", type=int, default=150, help="dots per inch of the films (HIGH resolution: twice as "
                   "many; default: %(default)s)")
    p.add_argument("--formats", default="png,pdf", help="files per film, of png, pdf and dcm (a Secondary Capture "
                   "image), separated by commas (default: %(default)s)")
    p.add_argument("--no-color", action="store_true", help="refuse the Basic Color Print Management Meta SOP Class")
    g = p.add_argument_group("printer defaults, for what an SCU leaves out (PS3.3 C.13)")
    g.add_argument("--film-size", choices=sorted(FILM_SIZES), default="8INX10IN", help="Film Size ID")
    g.add_argument("--orientation", choices=("PORTRAIT", "LANDSCAPE"), default="PORTRAIT", help="Film Orientation")
    g.add_argument("--magnification", choices=MAGNIFICATION_TYPES, default="BILINEAR", help="Magnification Type")
    g.add_argument("--border-density", type=_density, default="BLACK", help="Border Density (default: BLACK)")
    g.add_argument("--empty-density", type=_density, default="BLACK", help="Empty Image Density (default: BLACK)")
    g.add_argument("--printer-name", default="dicomkit", help="Printer Name answered to N-GET of the Printer")
    p.add_argument("--require-aet", action="store_true", help="reject associations not called with our AE title")
    p.add_argument("--max-associations", type=int, default=16, metavar="N",
                   help="simultaneous associations (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="abort associations idle this long (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print each film")
    p.add_argument("-v", "--verbose", action="store_true", help="log associations and print requests")
    add_tls_arguments(p, server=True)


def _formats(text: str) -> Sequence[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    if not formats or set(formats) - set(FORMATS):
        raise DicomError(f"--formats {text!r}: any of {', '.join(FORMATS)}, separated by commas")
    return formats


async def _serve(args: argparse.Namespace) -> int:
    folder = FolderSpooler(Path(args.output), dpi=args.dpi, formats=_formats(args.formats))

    def spool(film: PrintedFilm) -> list[Path]:
        paths = folder(film)
        if not args.quiet:
            shown = ", ".join(str(p) for p in paths if p.suffix != ".json")
            print(f"{film.calling_ae_title}: film {film.number} ({film.film_box.value('ImageDisplayFormat')}, "
                  f"{film.copies} cop{'y' if film.copies == 1 else 'ies'}) -> {shown}", flush=True)
        return paths

    defaults = Defaults(film_size=args.film_size, orientation=args.orientation, magnification=args.magnification,
                        border_density=args.border_density, empty_density=args.empty_density)
    scp = PrintSCP(spool, defaults=defaults, printer=PrinterInfo(name=args.printer_name), color=not args.no_color)
    ae = ApplicationEntity(args.aet, require_called_ae_title=args.require_aet,
                           maximum_associations=args.max_associations, network_timeout=args.timeout)
    ae.add_service(VerificationSCP())
    ae.add_service(scp)
    server = await ae.start_server(args.host, args.port, tls=tls_context(args, server=True))
    print(f"dicomkit print-scp: {args.aet} listening on {args.host}:{server.port}"
          f"{' (TLS)' if args.tls_cert else ''}, printing to {args.output}", flush=True)
    await until_stopped()
    print("dicomkit print-scp: shutting down", file=sys.stderr, flush=True)
    await server.close(grace=10.0)
    await scp.drain()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_serve(args))
    except (DicomError, OSError) as exc:
        print(f"dicomkit print-scp: {exc}", file=sys.stderr)
        return 2
