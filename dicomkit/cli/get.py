"""``dicomkit get``: C-GET what the keys identify into a folder (like getscu). The storage roles for what will
arrive are proposed by themselves: the SCP is first asked which SOP Classes the C-GET will send."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ..core.errors import DicomError
from ..services.aetable import RemoteAE
from ..services.query_retrieve.get import get
from ..services.query_retrieve.retrieve import Progress
from .netopts import add_peer_arguments, add_tls_arguments, tls_context
from .progress import Progress as Bar
from .qropts import add_key_arguments, model_epilog, model_name, report

EXIT_AT_ONCE = True  # see cli.main.entry: its files are closed and its association released when run returns


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    add_key_arguments(p)
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for the instances received")
    p.add_argument("--sop-class", dest="sop_classes", action="append", metavar="UID",
                   help="receive these Storage SOP Classes instead of asking the SCP (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = model_epilog("get")
    add_tls_arguments(p, server=False)


async def _get(args: argparse.Namespace) -> int:
    peer = RemoteAE(args.aec, args.host, args.port)
    cancel = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Ctrl-C: C-CANCEL, then the final response
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, cancel.set)
    with Bar(0, "C-GET", enabled=not args.no_progress) as bar:
        def progress(p: Progress) -> None:
            bar.update(p.done, p.done + (p.remaining or 0))

        result = await get(peer, args.keys, output=args.output, model=model_name(args), ae_title=args.aet,
                           sop_classes=args.sop_classes, on_progress=progress, cancel=cancel,
                           tls=tls_context(args, server=False), connect_timeout=args.timeout,
                           acse_timeout=args.timeout, dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    code = report(result, "C-GET")
    print(f"{len(result.received)} instance(s) written to {args.output}")
    return code


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_get(args))
    except DicomError as exc:
        print(f"dicomkit get: {exc}", file=sys.stderr)
        return 1
