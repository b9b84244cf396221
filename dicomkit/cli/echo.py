"""``dicomkit echo``: C-ECHO a peer (like echoscu)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..services.verification import echo
from .netopts import add_peer_arguments, add_tls_arguments, tls_context

EXIT_AT_ONCE = True  # see cli.main.entry: its association is released when run returns


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    p.add_argument("-n", "--repeat", type=int, default=1, metavar="N", help="send N C-ECHO requests")
    add_tls_arguments(p, server=False)


async def _echo(args: argparse.Namespace) -> int:
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    where = f"{args.aec}@{args.host}:{args.port}"
    async with ae.connect(args.host, args.port, called_ae_title=args.aec,
                          tls=tls_context(args, server=False)) as assoc:
        failed = 0
        for _ in range(max(1, args.repeat)):
            started = time.perf_counter()
            status = await echo(assoc)
            ms = (time.perf_counter() - started) * 1000
            print(f"C-ECHO {where}: {status.meaning()} ({status}) in {ms:.1f} ms")
            failed += not status.is_success
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_echo(args))
    except DicomError as exc:
        print(f"dicomkit echo: {exc}", file=sys.stderr)
        return 1
