"""``dicomkit receive``: a Storage SCP writing one Part 10 file per instance (like storescp)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from ..core.errors import DicomError
from ..core.uid import UID
from ..net import ApplicationEntity
from ..services.storage import (
    DUPLICATE_POLICIES,
    DirectoryReceiver,
    StorageSCP,
    StoredInstance,
    storage_transfer_syntaxes,
    sweep_temp_files,
)
from ..services.verification import VerificationSCP
from .netopts import add_tls_arguments, tls_context, until_stopped


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on (0: any free port)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s)")
    p.add_argument("--aet", default="DICOMKIT", help="our AE title (default: %(default)s)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for the received files")
    p.add_argument("--require-aet", action="store_true", help="reject associations not called with our AE title")
    p.add_argument("--accept", metavar="UID", nargs="+",
                   help="transfer syntaxes to accept, in order of preference (default: every one dicomkit reads)")
    p.add_argument("--duplicates", choices=DUPLICATE_POLICIES, default="keep-first",
                   help="a SOP Instance UID received again with different content: keep-first (default) refuses it "
                        "with 0xC111 and keeps it in OUTPUT/.dicomkit/quarantine; overwrite replaces the stored "
                        "file (identical content is always answered Success and not written again)")
    p.add_argument("--fsync", action="store_true", help="flush each file to disk before answering Success")
    p.add_argument("--no-validate", action="store_true",
                   help="do not check that each data set parses and matches its C-STORE command")
    p.add_argument("--max-pdu", type=int, default=262144, metavar="N",
                   help="largest PDU we receive (default: %(default)s)")
    p.add_argument("--max-associations", type=int, default=64, metavar="N",
                   help="simultaneous associations; more are rejected as transient (default: %(default)s)")
    p.add_argument("--async-ops", type=int, default=16, metavar="N",
                   help="outstanding operations a peer may have us perform (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="abort associations idle this long (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print each instance")
    p.add_argument("-v", "--verbose", action="store_true", help="log associations")
    add_tls_arguments(p, server=True)


def _transfer_syntaxes(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = []
    for value in values:
        from ..core.uid import by_keyword

        named = by_keyword(value)
        uid = str(named) if named is not None else value
        if not UID(uid).is_transfer_syntax:
            raise DicomError(f"{value} is not a transfer syntax dicomkit knows")
        out.append(uid)
    return out


class _OutputError(DicomError):
    """The --output folder cannot be used (a file, a missing parent, not writable): a usage error."""


async def _serve(args: argparse.Namespace) -> int:
    output = Path(args.output)
    quiet = args.quiet

    def on_stored(item: StoredInstance) -> None:
        if not quiet:
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp} {item.calling_ae_title}: {UID(item.sop_class_uid).name} {item.sop_instance_uid} "
                  f"({item.size / 1024:.0f} KiB, {UID(item.transfer_syntax).name}) -> {item.path}", flush=True)

    try:
        # checks the folder first: it is a folder (or can be made one) and we may write into it
        receiver = DirectoryReceiver(output, fsync=args.fsync, validate=not args.no_validate, on_stored=on_stored,
                                     duplicates=args.duplicates)
    except DicomError as exc:
        raise _OutputError(f"--output: {exc}") from exc
    try:
        for leftover in sweep_temp_files(output):
            print(f"dicomkit receive: removed {leftover}, left by an earlier run that stopped mid-object",
                  file=sys.stderr)
        ae = ApplicationEntity(args.aet, max_pdu=args.max_pdu, require_called_ae_title=args.require_aet,
                               maximum_associations=args.max_associations, max_ops_performed=args.async_ops,
                               network_timeout=args.timeout)
        ae.add_service(VerificationSCP())
        accepted = _transfer_syntaxes(args.accept) or storage_transfer_syntaxes()
        ae.add_service(StorageSCP(receiver, transfer_syntaxes=accepted))
        server = await ae.start_server(args.host, args.port, tls=tls_context(args, server=True))
        print(f"dicomkit receive: {args.aet} listening on {args.host}:{server.port}"
              f"{' (TLS)' if args.tls_cert else ''}, writing to {output}", flush=True)
        await until_stopped()
        print("dicomkit receive: shutting down", file=sys.stderr, flush=True)
        await server.close(grace=10.0)
    finally:
        receiver.close()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_serve(args))
    except _OutputError as exc:
        print(f"dicomkit receive: {exc}", file=sys.stderr)
        return 2
    except (DicomError, OSError) as exc:
        print(f"dicomkit receive: {exc}", file=sys.stderr)
        return 1
