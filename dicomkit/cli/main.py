"""Entry point of the ``dicomkit`` command: subcommands register themselves in ``COMMANDS``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from . import convert, dicomdir, dump, echo, model_to_dcm, receive, render, serve, store

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {
    "dump": (dump.add_arguments, dump.run, "list the elements of DICOM files (like dcmdump)"),
    "convert": (convert.add_arguments, convert.run, "transcode files or folders to another transfer syntax"),
    "render": (render.add_arguments, render.run, "render a frame to PNG or JPEG as a viewer shows it"),
    "echo": (echo.add_arguments, echo.run, "verify a DICOM peer with C-ECHO (like echoscu)"),
    "store": (store.add_arguments, store.run, "send DICOM files to a Storage SCP (like storescu)"),
    "receive": (receive.add_arguments, receive.run, "receive DICOM objects into a folder (like storescp)"),
    "serve": (serve.add_arguments, serve.run, "run the dicomkit PACS"),
    "json2dcm": (model_to_dcm.add_arguments, model_to_dcm.run_json, "DICOM JSON (PS3.18 F) to a DICOM file"),
    "xml2dcm": (model_to_dcm.add_xml_arguments, model_to_dcm.run_xml, "Native DICOM Model XML to a DICOM file"),
    "dicomdir": (dicomdir.add_arguments, dicomdir.run, "create, list, add to and remove from DICOMDIR File-sets"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicomkit", description="DICOM toolkit: files, pixels, network, PACS.")
    parser.add_argument("--version", action="version", version=f"dicomkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_arguments, run, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
