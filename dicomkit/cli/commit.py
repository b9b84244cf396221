"""``dicomkit commit``: ask a Storage Commitment SCP to commit files (N-ACTION, PS3.4 J) and wait for its
report — on the same association, or with ``--listen PORT`` on one the SCP opens to us (it must know our AE
title, host and port)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from ..core.errors import DicomError
from ..io.reader import read
from ..net import ApplicationEntity
from ..services.commitment import SOP_CLASS, CommitmentListener, CommitmentReport, SopReference, request_commitment
from ..services.storage import find_files
from .netopts import add_peer_arguments, add_tls_arguments, tls_context


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="the files (or folders of them) to commit")
    p.add_argument("-r", "--recursive", action="store_true", help="include files in subfolders")
    p.add_argument("--listen", type=int, metavar="PORT", help="also receive the report on associations the SCP "
                   "opens to this port (our AE title is --aet)")
    p.add_argument("--wait", type=float, default=300.0, metavar="S",
                   help="how long to wait for the report (default: %(default)s s)")
    add_tls_arguments(p, server=False)


def references(paths: list[str], recursive: bool) -> list[SopReference]:
    out = []
    for path in find_files(paths, recursive=recursive):
        try:
            ds = read(path, stop_before_pixels=True)
        except (DicomError, OSError) as exc:
            raise DicomError(f"{path}: {exc}") from None
        sop_class, sop_instance = ds.value(0x00080016), ds.value(0x00080018)
        if not sop_class or not sop_instance:
            raise DicomError(f"{path}: no SOP Class / SOP Instance UID")
        out.append(SopReference(str(sop_class), str(sop_instance)))
    return out


@contextlib.asynccontextmanager
async def _listening(title: str, port: int | None) -> AsyncIterator[CommitmentListener | None]:
    if port is None:
        yield None
        return
    async with CommitmentListener(title, port=port) as listener:
        yield listener


async def _commit(args: argparse.Namespace) -> int:
    refs = references(args.paths, args.recursive)
    if not refs:
        raise DicomError("no files to commit")
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    async with _listening(args.aet, args.listen) as listener, ae.connect(
            args.host, args.port, [str(SOP_CLASS)], called_ae_title=args.aec,
            tls=tls_context(args, server=False)) as assoc:
        report = await request_commitment(assoc, refs, listener=listener, timeout=args.wait)
    assert isinstance(report, CommitmentReport)
    print(f"transaction {report.transaction_uid}: {len(report.committed)} committed, {len(report.failed)} failed")
    for r in report.failed:
        print(f"  failed: {r.reference.sop_instance_uid}: {r.reason_text}")
    return 1 if report.failed else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_commit(args))
    except DicomError as exc:
        print(f"dicomkit commit: {exc}", file=sys.stderr)
        return 1
