"""Opening an input as every ``dicomkit`` command does (dump, convert, render, the JSON/XML dumps).

- Part 10 files and raw data sets (no preamble, no File Meta Information) are both read by default, as
  ``dcmdump`` does; a raw data set gets a note on standard error naming the transfer syntax guessed for it.
- ``-`` is standard input.
- What is not DICOM at all (no ``DICM`` prefix and no plausible data set start, see
  :func:`dicomkit.io.files.sniff`) is refused before the reader guesses anything.
- Error messages name the path once and speak the command line: the library's ``lenient=True`` becomes
  ``--lenient``; a truncated input's error says that ``--lenient`` reads what is there.
- :func:`invented_delimiters` lists the read corrections where the reader had to supply a missing
  delimiter (the data may have been cut short). The default reader refuses such data, as DCMTK does, so
  they come with ``--lenient``: commands show them as warnings (and fail on any that a default read
  would have had).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..core.dataset import Correction, Dataset
from ..core.errors import DicomError, InvalidFileError, TruncatedError
from ..core.uid import UID
from ..io.files import HEAD_SIZE, Kind, classify, sniff
from ..io.reader import read

STDIN = "-"
STDIN_NAME = "standard input"

# Corrections where the reader supplied a delimiter that the data lacked (PS3.5 7.5: items and sequences of
# undefined length end with one); the wording is the reader's (dicomkit.io.reader).
_INVENTED_DELIMITER = re.compile(
    r"missing Item Delimitation Item|Sequence Delimitation Item missing|ended by a Sequence Delimitation Item")
_LIBRARY_OPTION = re.compile(r"\b(force|lenient|strict|stop_before_pixels)=True\b")


class InputError(DicomError):
    """An input a command cannot use; the message is the whole line after ``dicomkit COMMAND:``."""


def display_name(path: str | os.PathLike[str]) -> str:
    return STDIN_NAME if os.fspath(path) == STDIN else os.fspath(path)


def cli_text(text: str, options: frozenset[str] = frozenset({"lenient"})) -> str:
    """A library message in command-line words: ``lenient=True`` -> ``--lenient`` (for the options the
    command has; any other mention is left as it is)."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"--{name.replace('_', '-')}" if name in options else match.group(0)

    return _LIBRARY_OPTION.sub(replace, text)


def describe_error(path: str | os.PathLike[str], exc: BaseException, *, lenient: bool = False,
                   options: frozenset[str] = frozenset({"lenient"})) -> str:
    """``PATH: [offset N (0xN): ]what went wrong[; hint]`` — the path named once, in CLI words."""
    name = display_name(path)
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, InvalidFileError):
        text = exc.detail
        if exc.offset is not None:
            text = f"offset {exc.offset} (0x{exc.offset:X}): {text}"
    elif isinstance(exc, OSError):
        text = exc.strerror or str(exc)
    else:
        text = str(exc)
    for prefix in (f"{os.fspath(path)}: ", "input: "):  # the library named the source already
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = cli_text(text, options)
    if isinstance(exc, TruncatedError) and not lenient and "lenient" in options and "--lenient" not in text:
        text += "; --lenient reads what is there"
    return f"{name}: {text}"


def read_input(path: str | os.PathLike[str], *, lenient: bool = False, stop_before_pixels: bool = False,
               note: Callable[[str], None] | None = None, stdin: BinaryIO | None = None) -> Dataset:
    """Read a file (or ``-``: standard input) as the commands do; raises :class:`InputError` with the line
    to print. ``note`` receives informational lines (``PATH: note: ...``); ``stdin`` is the binary stream
    read for ``-`` (default: the process's standard input)."""
    name = display_name(path)
    try:
        if os.fspath(path) == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read()
            if sniff(data[:HEAD_SIZE], len(data)) is Kind.NOT_DICOM:
                raise InputError(f"{name}: not a DICOM file (no 'DICM' prefix and no data set at the start)")
            ds = read(bytes(data), force=True, lenient=lenient, stop_before_pixels=stop_before_pixels)
        else:
            target = Path(path)
            if target.is_dir():
                raise InputError(f"{name}: a folder (give -r to read the DICOM files under it)")
            found = classify(target)
            if found.kind is Kind.NOT_DICOM or found.kind in (Kind.MISSING, Kind.UNREADABLE):
                raise InputError(f"{name}: {found.reason}")
            # a FIFO or a terminal named by the user is read as a stream (e.g. `dicomkit dump <(...)`)
            ds = read(target, force=True, lenient=lenient, stop_before_pixels=stop_before_pixels)
    except InputError:
        raise
    except (DicomError, OSError) as exc:
        raise InputError(describe_error(path, exc, lenient=lenient)) from exc
    if note is not None and ds.file_meta is None:
        ts = ds.read_transfer_syntax
        guessed = UID(str(ts)).name if ts else "an encoding guessed from the data"
        note(f"{name}: note: no File Meta Information; read as a raw data set in {guessed} (guessed from "
             "the data)")
    return ds


def invented_delimiters(ds: Dataset) -> list[Correction]:
    """The read corrections of ``ds`` where the reader supplied a missing delimiter. Sequences are parsed on
    first access: call this after the data set has been used whole (listed, written)."""
    return [c for c in ds.read_corrections if _INVENTED_DELIMITER.search(c.message)]


def load_all(ds: Dataset) -> None:
    """Parse every nested sequence now, so that the corrections they need are known."""
    for _ in ds.iterall():
        pass


def delimiter_warning(name: str, correction: Correction) -> str:
    return f"{name}: warning: {correction} (the reader supplied it; the data may have been cut short)"


def stderr_note(command: str) -> Callable[[str], None]:
    """A ``note`` callback printing ``dicomkit COMMAND: LINE`` on standard error."""
    def note(line: str) -> None:
        print(f"dicomkit {command}: {line}", file=sys.stderr)

    return note


__all__ = ["STDIN", "InputError", "cli_text", "delimiter_warning", "describe_error", "display_name",
           "invented_delimiters", "load_all", "read_input", "stderr_note"]
