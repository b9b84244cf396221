"""``dicomkit store``: send DICOM files to a Storage SCP (like storescu): over one association, or as many as
their presentation contexts need (more than 127) or a faulty peer forces."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..core.errors import DicomError
from ..io.files import Kind, walk
from ..net import ApplicationEntity
from ..net.association import Association
from ..net.negotiation import PresentationContext
from ..services.storage import FileInfo, StoreResult, peek
from ..services.storage.scu import store_all
from .netopts import add_peer_arguments, add_tls_arguments, tls_context
from .progress import Progress

EXIT_AT_ONCE = True  # see cli.main.entry: it only reads files, and its associations are released when run returns


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_peer_arguments(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files, or folders of them")
    p.add_argument("-r", "--recursive", action="store_true", help="include files in subfolders")
    p.add_argument("--async-ops", type=int, default=1, metavar="N",
                   help="propose N outstanding C-STOREs (asynchronous operations window, 0 = unlimited)")
    p.add_argument("--allow-lossy", action="store_true",
                   help="compress lossily when the peer accepts only lossy syntaxes for an object (a new SOP "
                        "Instance UID); by default only lossless transcoding is done")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per file")
    add_tls_arguments(p, server=False)


async def _store(args: argparse.Namespace, files: list[FileInfo]) -> int:
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu, max_ops_invoked=args.async_ops)
    tls = tls_context(args, server=False)
    first = True

    async def open_association(contexts: list[PresentationContext]) -> Association:
        nonlocal first
        assoc = await ae.associate(args.host, args.port, contexts, called_ae_title=args.aec, tls=tls)
        assert assoc.info is not None
        window = assoc.info.max_ops_invoked_local
        if first and args.async_ops != 1:
            print(f"asynchronous operations window: {window or 'unlimited'} (proposed {args.async_ops or 'unlimited'})",
                  file=sys.stderr)
        first = False
        return assoc

    with Progress(len(files), "C-STORE", enabled=not args.no_progress and not args.verbose) as progress:
        def on_result(result: StoreResult) -> None:
            progress.advance(result.nbytes if result.ok else 0)
            if args.verbose:
                how = f" ({result.conversion})" if result.conversion and result.ok else ""
                print(f"{'sent  ' if result.ok else 'FAILED'} {result.path}: {result.text}{how}")

        # more than 127 presentation contexts: several associations, one summary
        summary = await store_all(open_association, files, on_result=on_result, allow_lossy=args.allow_lossy)
    if not summary.associations and summary.events:
        raise DicomError(summary.events[0])
    sent, failed = summary.sent, summary.failed
    warnings = [r for r in sent if r.status is not None and r.status.is_warning]
    print(f"sent {len(sent)} of {len(files)} instances, {summary.nbytes / 1e6:.1f} MB in {summary.seconds:.2f} s "
          f"({summary.mb_per_s:.1f} MB/s); {len(failed)} failed" + (f", {len(warnings)} with warnings"
                                                                   if warnings else ""))
    if summary.associations > 1:
        print(f"  {summary.associations} associations were needed:")
    for event in summary.events:
        print(f"  {event}")
    for result in failed:
        print(f"  failed: {result.path}: {result.text}")
    for result in warnings:
        print(f"  warning: {result.path}: {result.text}")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    files: list[FileInfo] = []
    failed = 0
    for found in walk(args.paths, recursive=args.recursive, keep_head=True):
        if found.explicit and found.kind is Kind.MISSING:
            print(f"dicomkit store: {found.path}: no such file or folder", file=sys.stderr)
            failed += 1
        elif found.kind is Kind.UNREADABLE or (found.explicit and found.kind is Kind.SPECIAL):
            print(f"dicomkit store: {found.path}: {found.reason}", file=sys.stderr)
            failed += 1
        elif found.explicit or found.kind is Kind.DICOM:
            files.append(peek(found.path, found.head))  # a file named is sent or fails with its reason
        else:
            print(f"dicomkit store: {found.note}", file=sys.stderr)  # not DICOM, a DICOMDIR, a FIFO, ...
    if not files:
        print("dicomkit store: nothing to send", file=sys.stderr)
        return 1
    try:
        code = asyncio.run(_store(args, files))
    except DicomError as exc:
        print(f"dicomkit store: {exc}", file=sys.stderr)
        return 1
    return 1 if failed else code
