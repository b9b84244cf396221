"""``dicomkit move``: C-MOVE what the keys identify to a destination AE (like movescu), with the progress the
SCP's pending responses report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..services.query_retrieve.find import query_contexts
from ..services.query_retrieve.levels import Operation
from ..services.query_retrieve.move import move
from ..services.query_retrieve.retrieve import Progress
from .netopts import add_peer_arguments, add_tls_arguments, tls_context
from .progress import Progress as Bar
from .qropts import add_key_arguments, model_epilog, model_name, report

EXIT_AT_ONCE = True  # see cli.main.entry: its files are closed and its association released when run returns


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    p.add_argument("--dest", required=True, metavar="AE", help="the Move Destination's AE title (known to the SCP)")
    add_key_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = model_epilog("move")
    add_tls_arguments(p, server=False)


async def _move(args: argparse.Namespace) -> int:
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    model = model_name(args)
    cancel = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Ctrl-C: C-CANCEL, then the final response
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, cancel.set)
    with Bar(0, "C-MOVE", enabled=not args.no_progress) as bar:
        def progress(p: Progress) -> None:
            bar.update(p.done, p.done + (p.remaining or 0))

        async with ae.connect(args.host, args.port, query_contexts(model, operations=[Operation.MOVE]),
                              called_ae_title=args.aec, tls=tls_context(args, server=False)) as assoc:
            result = await move(assoc, args.keys, args.dest, model=model, on_progress=progress, cancel=cancel)
    return report(result, "C-MOVE")


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_move(args))
    except DicomError as exc:
        print(f"dicomkit move: {exc}", file=sys.stderr)
        return 1
