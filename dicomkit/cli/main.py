"""Entry point of the ``dicomkit`` command: one subcommand per module of this package.

Only the module of the subcommand being run is imported (``dicomkit dump`` never loads asyncio or numpy),
so every command starts as fast as Python allows; ``dicomkit --help`` loads them all.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import __version__

# name -> (module, its add-arguments function, its run function, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "dump": ("dump", "add_arguments", "run", "list the elements of DICOM files (like dcmdump)"),
    "convert": ("convert", "add_arguments", "run", "transcode files or folders to another transfer syntax"),
    "render": ("render", "add_arguments", "run", "render a frame to PNG or JPEG as a viewer shows it"),
    "echo": ("echo", "add_arguments", "run", "verify a DICOM peer with C-ECHO (like echoscu)"),
    "store": ("store", "add_arguments", "run", "send DICOM files to a Storage SCP (like storescu)"),
    "receive": ("receive", "add_arguments", "run", "receive DICOM objects into a folder (like storescp)"),
    "find": ("find", "add_arguments", "run", "query a Query/Retrieve or worklist SCP with C-FIND (like findscu)"),
    "move": ("move", "add_arguments", "run", "C-MOVE studies, series or instances to an AE (like movescu)"),
    "get": ("get", "add_arguments", "run", "C-GET studies, series or instances into a folder (like getscu)"),
    "mpps": ("mpps", "add_arguments", "run", "create, set or get Modality Performed Procedure Steps"),
    "commit": ("commit", "add_arguments", "run", "ask for Storage Commitment of files and wait for the report"),
    "serve": ("serve", "add_arguments", "run", "run the dicomkit PACS"),
    "archive": ("archive", "add_arguments", "run", "archive operations: stats, verify, reindex, import, delete"),
    "worklist": ("worklist", "add_arguments", "run", "the archive's Modality Worklist items: add, list, remove"),
    "audit": ("audit", "add_arguments", "run", "read the server's audit trail: tail, search"),
    "security": ("security", "add_arguments", "run", "security operations: hash-password, study labels"),
    "json2dcm": ("model_to_dcm", "add_arguments", "run_json", "DICOM JSON (PS3.18 F) to a DICOM file"),
    "xml2dcm": ("model_to_dcm", "add_xml_arguments", "run_xml", "Native DICOM Model XML to a DICOM file"),
    "dicomdir": ("dicomdir", "add_arguments", "run", "create, list, add to and remove from DICOMDIR File-sets"),
    "anonymize": ("anonymize", "add_arguments", "run", "de-identify files and folders (PS3.15 Annex E profile)"),
    "sr": ("sr", "add_arguments", "run", "show Structured Reports as text (like dsrdump) or HTML"),
    "validate": ("validate", "add_arguments", "run", "validate files against their IOD (like dciodvfy)"),
    "print": ("print_scu", "add_arguments", "run", "print DICOM images on a DICOM printer (like dcmprscu)"),
    "print-scp": ("print_scp", "add_arguments", "run", "a DICOM printer writing films as PNG and PDF (like dcmprscp)"),
    "printscp": ("print_scp", "add_arguments", "run", "the same as print-scp"),
    "conformance": ("conformance", "add_arguments", "run", "write dicomkit's DICOM Conformance Statement (PS3.2)"),
}


def _module(name: str) -> Any:
    return importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that subcommand's module is imported and configured."""
    parser = argparse.ArgumentParser(prog="dicomkit", description="DICOM toolkit: files, pixels, network, PACS.")
    parser.add_argument("--version", action="version", version=f"dicomkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, add_name, run_name, help_text) in COMMANDS.items():
        if only and name != only:
            continue  # the others' parsers are not needed to run this one (each costs a start-up ~0.3 ms)
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = _module(name)
            getattr(module, add_name)(p)
            p.set_defaults(run=getattr(module, run_name))
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


_exit_at_once = False  # set by main() when the command run allows it (see entry)
_collector_paused = False  # set by entry() (see there)


def main(argv: Sequence[str] | None = None) -> int:
    global _exit_at_once, _collector_paused
    args_list = list(sys.argv[1:] if argv is None else argv)
    only = _command_in(args_list)
    parser = build_parser(only if only is not None or "--version" not in args_list else "")
    if _collector_paused:  # the command's modules are in: out of the collector's way, which runs again
        gc.freeze()
        gc.enable()
        _collector_paused = False
    args = parser.parse_args(args_list)
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
    _exit_at_once = only is not None and getattr(_module(only), "EXIT_AT_ONCE", False)
    return code


def entry() -> NoReturn:
    """The ``dicomkit`` command (the console script, ``python -m dicomkit.cli.main``).

    A command whose module sets ``EXIT_AT_ONCE`` (its files are written unbuffered and closed, its
    associations released, its threads joined before it returns) leaves without the interpreter's teardown
    of every module and object, which costs a network command tens of milliseconds: the exit handlers
    (:mod:`atexit`, which flushes and closes the logging handlers) run, the standard streams are flushed,
    then the process ends. Not while another thread is still running (the usual exit joins it), nor when a
    stream cannot be flushed (the usual exit reports it).

    The cyclic garbage collector is paused while the command's modules are imported: they make ~10⁵ objects
    that live until exit, which it would scan some thirty times and free nothing (~5 ms of a network
    command's start-up); they are then moved out of its way (:func:`gc.freeze`). Only here, for the process
    this command is: ``main()`` called from Python leaves the collector alone."""
    global _collector_paused
    if gc.isenabled():
        gc.disable()
        _collector_paused = True
    code = main()
    if _exit_at_once and threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # e.g. a closed pipe: the usual exit reports it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
