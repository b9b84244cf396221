"""``dicomkit find``: C-FIND a Query/Retrieve or Modality Worklist SCP (like findscu).

The answers print as a table whose columns are the keys asked for (nested keys as ``Sequence.Keyword``, from
the first item), or with ``--json`` as a JSON array of DICOM JSON objects (PS3.18 F), written as they come.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..core.dataset import Dataset
from ..core.dictionary import keyword_for_tag
from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..services.query_retrieve.find import FIND_STATUSES, find, query_contexts
from ..services.query_retrieve.keys import identifier
from .netopts import add_peer_arguments, add_tls_arguments, tls_context
from .qropts import add_key_arguments, model_epilog, model_name

EXIT_AT_ONCE = True  # see cli.main.entry: its files are closed and its association released when run returns

SIZE_ROWS = 50  # rows read before the table's column widths are fixed
MAX_WIDTH = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    add_key_arguments(p, worklist=True)
    p.add_argument("--json", action="store_true", help="print a JSON array of DICOM JSON objects")
    p.add_argument("--limit", type=int, metavar="N", help="cancel the query (C-CANCEL) after N answers")
    p.add_argument("--priority", choices=["low", "medium", "high"], default="medium")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = model_epilog("find", "worklist")
    add_tls_arguments(p, server=False)


def _columns(query: Dataset) -> list[tuple[str, list[int]]]:
    """(heading, tag path) of each key asked for: top-level keys, and the keys of sequence items."""
    out: list[tuple[str, list[int]]] = []
    for elem in query:
        tag = int(elem.tag)
        if tag in (0x00080005, 0x00080052):
            continue
        name = elem.keyword or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if elem.vr == "SQ" and elem.value:
            for sub in elem.value[0]:
                out.append((f"{name}.{sub.keyword or keyword_for_tag(int(sub.tag))}", [tag, int(sub.tag)]))
        else:
            out.append((name, [tag]))
    return out


def _cell(ds: Dataset, path: list[int]) -> str:
    target: Dataset | None = ds
    for tag in path[:-1]:
        outer = target.get(tag) if target is not None else None
        items = outer.value if outer is not None else None
        target = items[0] if items else None
    found = target.peek(path[-1]) if target is not None else None
    return "" if found is None else _text(*found)


def _reader(path: list[int]) -> Callable[[Dataset], str]:
    """The cell of a column: a top-level key straight from the data set (one per match and column), its value
    decoded once from the received bytes (``Dataset.peek``: no element kept for it)."""
    if len(path) > 1:
        return lambda ds: _cell(ds, path)
    tag = path[0]

    def top(ds: Dataset) -> str:
        found = ds.peek(tag)
        return "" if found is None else _text(*found)
    return top


def _text(vr: str, value: Any) -> str:
    if isinstance(value, str):  # most cells (text, UIDs, names, dates): what the last line gives, sooner
        return str(value)
    if vr == "SQ":
        return f"({len(value)} item{'s' if len(value) != 1 else ''})"
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


class Table:
    """Rows printed as they come; the widths are those of the first rows (longer cells are cut)."""

    def __init__(self, columns: list[tuple[str, list[int]]], out: TextIO) -> None:
        self.columns = columns
        self.readers = [_reader(path) for _, path in columns]
        self.out = out
        self.pending: list[list[str]] = []
        self.widths: list[int] | None = None
        self._line: Callable[..., str] | None = None

    def add(self, ds: Dataset) -> None:
        row = [read(ds) for read in self.readers]
        if self.widths is None:
            self.pending.append(row)
            if len(self.pending) >= SIZE_ROWS:
                self._start()
        else:
            self._print(row)

    def _start(self) -> None:
        heads = [h for h, _ in self.columns]
        self.widths = [max(len(h), min(MAX_WIDTH, max([0] + [len(r[i]) for r in self.pending])))
                       for i, h in enumerate(heads)]
        self._print(heads)
        self._print(["-" * w for w in self.widths])
        for row in self.pending:
            self._print(row)
        self.pending = []

    def _print(self, row: list[str]) -> None:
        """One line; a cell longer than its column ends in an ellipsis."""
        widths = self.widths
        assert widths is not None
        if self._line is None:
            # the line's layout, once the widths are known: "{:<w}" per column (str.format pads as ljust does)
            self._line = "  ".join(f"{{:<{w}}}" for w in widths).format
        if all(map(int.__le__, map(len, row), widths)):  # every cell fits (the usual case): no loop in Python
            self.out.write(self._line(*row).rstrip() + "\n")
            return
        cells = [(c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(row, widths)]
        self.out.write("  ".join(cells).rstrip() + "\n")

    def close(self) -> None:
        if self.widths is None and (self.pending or self.columns):
            self._start()


async def _find(args: argparse.Namespace) -> int:
    query = identifier(args.keys)
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    model = model_name(args)
    priority = {"low": 2, "medium": 0, "high": 1}[args.priority]
    out = sys.stdout
    table = None if args.json else Table(_columns(query), out)
    if args.json:
        import json  # only here: start-up of the table output need not pay for it
    count = 0
    connection = ae.connect(args.host, args.port, query_contexts(model), called_ae_title=args.aec,
                            tls=tls_context(args, server=False))
    async with connection as assoc, find(assoc, query, model=model, priority=priority,
                                         raise_on_failure=False) as answers:
        async for match in answers:
            count += 1
            if table is not None:
                table.add(match)
            else:
                item = json.dumps(match.to_json_dict(), ensure_ascii=False)
                out.write(("[\n  " if count == 1 else ",\n  ") + item)
            if args.limit is not None and count >= args.limit:
                await answers.cancel()
                args.limit = None  # once
    if table is not None:
        table.close()
    else:
        out.write("[]\n" if count == 0 else "\n]\n")
    status = answers.status
    response = answers.response
    assert status is not None and response is not None
    note = " (some optional keys were not matched: 0xFF01)" if answers.unsupported_keys else ""
    text = f"{status} ({status.meaning(FIND_STATUSES)})"
    if response.error_comment:
        text += f": {response.error_comment}"
    print(f"{count} match{'es' if count != 1 else ''}; {text}{note}", file=sys.stderr)
    return 1 if status.is_failure else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_find(args))
    except DicomError as exc:
        print(f"dicomkit find: {exc}", file=sys.stderr)
        return 1
