"""The Storage SCU (PS3.4 B.2): C-STORE one object, or a batch of files over as many associations as it takes.

:func:`store` sends one object on an established association, choosing the accepted context for it
(see ``source``: its own syntax, else a lossless transcode, else that object fails with the reason).
:func:`store_files` sends many: it keeps the negotiated asynchronous operations window full, reads the next
file while earlier requests wait, and does not let one peer fault lose the rest of the batch — a request that
gets no response within the DIMSE timeout fails alone ("no response within N s"), a peer that aborts
mid-batch fails nothing that it did not refuse; a new association is opened and the remaining files go on.
:func:`store_all` is the same for a batch whose SOP Classes and transfer syntaxes need more than the 128
presentation contexts of one association (PS3.8 9.3.2.2): it proposes the contexts the objects need
(:func:`context_groups`), one group per association, and merges the outcomes — the caller sees one call and
one :class:`StoreSummary`. The objects may be files (:class:`FileInfo`) or the
:class:`~dicomkit.services.sources.StoredObject` of a retrieval source (C-MOVE and C-GET sub-operations).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...core.dataset import Dataset
from ...core.errors import (
    AssociationAborted,
    AssociationReleased,
    DicomError,
    DimseError,
    InvalidFileError,
    NetworkError,
    NetworkTimeout,
    PixelDataError,
    UnsupportedTransferSyntaxError,
)
from ...core.uid import TRANSFER_SYNTAXES, UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from ...io.files import Kind, walk
from ...io.raw import probe_part10
from ...io.reader import read, read_file_meta
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import CStoreRQ, CStoreRSP, Priority
from ...net.negotiation import MAX_CONTEXTS, NegotiatedContext, PresentationContext
from ...net.payload import Payload
from ...net.status import Status
from ..sources import StoredObject
from .source import LOSSLESS_ALTERNATIVES, NATIVE_SYNTAXES, StoreSource, can_transcode, choose_context
from .status import STORAGE

log = logging.getLogger("dicomkit.storage")


async def store(assoc: Association, item: Dataset | str | os.PathLike[str] | StoreSource, *,
                priority: int = Priority.MEDIUM, move_originator_aet: str | None = None,
                move_originator_message_id: int | None = None, allow_lossy: bool = False,
                timeout: Timeout = DEFAULT_TIMEOUT) -> CStoreRSP:
    """C-STORE a Dataset or a Part 10 file (PS3.7 9.1.1) on ``assoc``; returns the peer's response.

    The object goes out in its own transfer syntax when that was accepted, else transcoded losslessly into
    an accepted one (re-encoded, decompressed, compressed or recompressed; lossy compression only with
    ``allow_lossy``). Raises DimseError when no accepted context fits, InvalidFileError / TruncatedError for
    a file that cannot be sent whole.
    """
    source = item if isinstance(item, StoreSource) else StoreSource.from_item(item)
    ctx, payload, sop_instance_uid = prepare(assoc, source, allow_lossy=allow_lossy)
    request = CStoreRQ(affected_sop_class_uid=source.sop_class_uid, affected_sop_instance_uid=sop_instance_uid,
                       priority=priority, move_originator_aet=move_originator_aet,
                       move_originator_message_id=move_originator_message_id)
    rsp = await assoc.send_request(request, context=ctx, payload=payload, timeout=timeout)
    assert isinstance(rsp, CStoreRSP)
    return rsp


def prepare(assoc: Association, source: StoreSource, *,
            allow_lossy: bool = False) -> tuple[NegotiatedContext, Payload, str]:
    """The context, the payload and the SOP Instance UID to C-STORE ``source`` with on ``assoc``: the first
    accepted context of :func:`~.source.choose_context` whose encoder takes the pixel data."""
    if assoc.info is None:
        raise AssociationAborted("the association is not established")
    failed: dict[str, str] = {}
    while True:
        try:
            ctx = choose_context(assoc.info, source, allow_lossy=allow_lossy, exclude=frozenset(failed))
        except DimseError as exc:
            if failed:
                raise DimseError(f"{exc}; " + "; ".join(f"{UID(t).name}: {why}" for t, why in failed.items())) \
                    from None
            raise
        try:
            payload, sop_instance_uid = source.prepare(ctx.transfer_syntax, allow_lossy=allow_lossy)
        except (PixelDataError, UnsupportedTransferSyntaxError) as exc:
            failed[ctx.transfer_syntax] = str(exc)
            continue
        return ctx, payload, sop_instance_uid


@dataclass
class FileInfo:
    """What a quick look at a file found: enough to propose contexts for it."""

    path: Path
    sop_class_uid: str = ""
    transfer_syntax: str = ""
    error: str | None = None


StoreItem = FileInfo | StoredObject
"""What a batch sends: a file looked at with :func:`peek`, or an instance a retrieval source gives."""


def find_files(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = False) -> list[Path]:
    """The files named, plus the DICOM files in the folders named (their subfolders with ``recursive``), in a
    stable order. Folders are walked with :func:`dicomkit.io.files.walk`: what is not DICOM (README files,
    JSON, FIFOs, ...) and DICOMDIRs are left out; a file named is always kept (sending it says what is wrong).
    """
    return [found.path for found in walk(paths, recursive=recursive) if found.explicit or found.kind is Kind.DICOM]


def peek(path: Path, head: bytes = b"") -> FileInfo:
    """SOP Class UID and transfer syntax from the File Meta Information (or the data set if it has none);
    ``head``: the file's first bytes when the caller read them already (a folder walk), tried first."""
    try:
        probe = probe_part10(head) if head else None
        if probe is None:
            with open(path, "rb") as f:
                probe = probe_part10(f.read(8192))
        if probe is not None:
            return FileInfo(path, probe.sop_class_uid, probe.transfer_syntax)
        meta = read_file_meta(path)
        sop_class = str(meta.value(0x00020002, "") or "").strip("\x00 ")
        ts = str(meta.value(0x00020010, "") or "").strip("\x00 ")
        if sop_class and ts in TRANSFER_SYNTAXES:
            return FileInfo(path, sop_class, ts)
    except (DicomError, OSError):
        pass
    try:
        ds = read(path, stop_before_pixels=True, force=True)
        sop_class = str(ds.value(0x00080016) or "").strip("\x00 ")
        if not sop_class:
            return FileInfo(path, error="not a DICOM object (no SOP Class UID)")
        return FileInfo(path, sop_class, str(ds.read_transfer_syntax or ""))
    except OSError as exc:
        return FileInfo(path, error=f"cannot read: {exc.strerror or exc}")
    except DicomError as exc:
        return FileInfo(path, error=f"not a readable DICOM file: {exc}")


def _item_syntax(item: StoreItem) -> tuple[str, str] | None:
    if isinstance(item, FileInfo):
        return None if item.error or not item.sop_class_uid else (item.sop_class_uid, item.transfer_syntax)
    return item.sop_class_uid, item.transfer_syntax


def contexts_by_class(items: Iterable[StoreItem], *,
                      alternatives: bool | None = None) -> dict[str, list[PresentationContext]]:
    """The contexts each SOP Class of ``items`` needs: one with the uncompressed syntaxes (the objects' own
    first), one per compressed syntax in use, and — for classes with compressed objects, when pixel data can
    be transcoded here (``alternatives`` None) — one with :data:`~.source.LOSSLESS_ALTERNATIVES`, so that a
    peer refusing an object's own compression can still take it compressed losslessly. The uncompressed
    context is proposed for compressed-only classes too (a peer that refuses compression gets them
    decompressed)."""
    native: dict[str, list[str]] = {}
    compressed: dict[str, dict[str, None]] = {}
    for item in items:
        found = _item_syntax(item)
        if found is None:
            continue
        sop_class, ts = found
        own = native.setdefault(sop_class, [])
        if ts in NATIVE_SYNTAXES or (ts in TRANSFER_SYNTAXES and not UID(ts).is_encapsulated):
            if ts in NATIVE_SYNTAXES and ts not in own:
                own.append(ts)
        else:
            compressed.setdefault(sop_class, {})[ts] = None
    if alternatives is None:
        alternatives = can_transcode()
    out: dict[str, list[PresentationContext]] = {}
    for sop_class, own in native.items():
        syntaxes = own + [str(t) for t in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) if t not in own]
        out[sop_class] = [PresentationContext(sop_class, syntaxes)]
    for sop_class, syntaxes_in_use in compressed.items():
        out[sop_class] += [PresentationContext(sop_class, [ts]) for ts in syntaxes_in_use]
        others = [ts for ts in LOSSLESS_ALTERNATIVES if ts not in syntaxes_in_use]
        if alternatives and others:
            out[sop_class].append(PresentationContext(sop_class, others))
    return out


def storage_contexts(files: Iterable[StoreItem], *, alternatives: bool | None = None) -> list[PresentationContext]:
    """Contexts for these objects, all on one association (see :func:`contexts_by_class`; the compressed
    contexts after the uncompressed ones). NetworkError when they do not fit in one: :func:`store_all`
    spreads them over several associations instead."""
    by_class = contexts_by_class(files, alternatives=alternatives)
    contexts = [ctxs[0] for ctxs in by_class.values()] + [c for ctxs in by_class.values() for c in ctxs[1:]]
    if len(contexts) > MAX_CONTEXTS - 1:
        raise NetworkError(f"these files need {len(contexts)} presentation contexts; one association holds "
                           f"{MAX_CONTEXTS - 1} besides Verification: send them in several runs")
    return contexts


def context_groups(items: Sequence[StoreItem], *, limit: int = MAX_CONTEXTS - 1,
                   alternatives: bool | None = None) -> list[tuple[list[PresentationContext], list[StoreItem]]]:
    """The objects split so that each group's contexts fit in one association (``limit`` contexts; the
    Verification context makes 128): per group its contexts and its objects, the SOP Classes kept whole and
    in the order they first appear. A class whose own contexts exceed ``limit`` keeps its first ``limit``."""
    by_class = contexts_by_class(items, alternatives=alternatives)
    groups: list[tuple[list[PresentationContext], set[str]]] = []
    for sop_class, ctxs in by_class.items():
        ctxs = ctxs[:limit]
        if not groups or len(groups[-1][0]) + len(ctxs) > limit:
            groups.append(([], set()))
        groups[-1][0].extend(ctxs)
        groups[-1][1].add(sop_class)
    out: list[tuple[list[PresentationContext], list[StoreItem]]] = [(ctxs, []) for ctxs, _ in groups]
    where = {sop_class: i for i, (_, classes) in enumerate(groups) for sop_class in classes}
    unplaced: list[StoreItem] = []
    for item in items:
        found = _item_syntax(item)
        if found is None:
            unplaced.append(item)  # unreadable files: reported by the first group
        else:
            out[where[found[0]]][1].append(item)
    if unplaced:
        if not out:
            out.append(([], []))
        out[0][1][:0] = unplaced
    return out


@dataclass
class StoreResult:
    """The outcome for one object (``path`` is the file's, or the SOP Instance UID's for an object that has none)."""

    path: Path
    sop_instance_uid: str = ""
    status: Status | None = None
    error: str | None = None
    nbytes: int = 0
    conversion: str | None = None  # how it went out when not as it is ("decompressed from ... to ...")
    sop_class_uid: str = ""
    not_sent: bool = False  # never offered to the peer (no association could take it, or the batch was stopped)

    @property
    def ok(self) -> bool:
        return self.status is not None and not self.status.is_failure and self.error is None

    @property
    def warning(self) -> bool:
        return self.ok and self.status is not None and self.status.is_warning

    @property
    def text(self) -> str:
        if self.error is not None:
            return self.error
        assert self.status is not None
        return f"{self.status} ({self.status.meaning(STORAGE)})"


@dataclass
class StoreSummary:
    results: list[StoreResult] = field(default_factory=list)
    seconds: float = 0.0
    associations: int = 0  # how many associations the batch took
    events: list[str] = field(default_factory=list)  # what ended an association early, and what followed
    stopped: bool = False  # the caller's ``stop`` event ended the batch

    @property
    def sent(self) -> list[StoreResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.results if not r.ok and not (self.stopped and r.not_sent)]

    @property
    def unsent(self) -> list[StoreResult]:
        """Objects left when the batch was stopped (they are neither sent nor failed)."""
        return [r for r in self.results if r.not_sent and self.stopped]

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.results if r.ok)

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: StoreSummary) -> None:
        self.results += other.results
        self.associations += other.associations
        self.events += other.events
        self.stopped = self.stopped or other.stopped


def _label(item: StoreItem) -> Path:
    if isinstance(item, FileInfo):
        return item.path
    return Path(item.path) if item.path else Path(item.sop_instance_uid)


def source_of(item: StoreItem) -> StoreSource:
    """The :class:`~.source.StoreSource` of a file or a stored object (opened and checked)."""
    if isinstance(item, FileInfo):
        return StoreSource.from_path(item.path)
    if item.path is not None and item.opener is None:
        return StoreSource.from_path(item.path)
    if item.dataset is not None and item.opener is None:
        source = StoreSource.from_dataset(item.dataset)
        source.transfer_syntax = item.transfer_syntax or source.transfer_syntax
        return source
    with item.open() as stream:  # an archive's blob: read whole (one object in memory at a time)
        data = stream.read()
    return StoreSource.from_bytes(data, item.sop_instance_uid)


@dataclass
class _Job:
    info: StoreItem
    source: StoreSource | None = None
    error: str | None = None
    attempts: int = 0
    label: Path | None = None  # _label(info), made once, off the send path


OpenAssociation = Callable[[], Awaitable[Association]]


async def store_files(open_association: OpenAssociation | Association, files: Sequence[StoreItem], *,
                      on_result: Callable[[StoreResult], None] | None = None, max_attempts: int = 2,
                      max_associations: int | None = None, allow_lossy: bool = False,
                      move_originator_aet: str | None = None, move_originator_message_id: int | None = None,
                      stop: asyncio.Event | None = None) -> StoreSummary:
    """C-STORE every object, keeping as many requests outstanding as the window allows.

    ``open_association`` opens (and negotiates) a new association each time one is needed; given an
    Association instead, the batch uses that one only and the objects left when it breaks fail. An object
    in flight when the peer aborted is sent again on the next association, up to ``max_attempts`` times in
    all; the object whose response timed out fails at once (the peer choked on it). ``max_associations``
    bounds the associations opened (default: as many as progress needs). ``move_originator_*`` go into each
    C-STORE-RQ (C-MOVE sub-operations, PS3.7 9.3.1.1); when ``stop`` is set no new object is started, the
    outstanding ones are answered, and the others are reported ``not_sent`` (``summary.stopped``).
    """
    summary = StoreSummary()
    started = time.perf_counter()
    queue = collections.deque(_Job(info) for info in files)

    def report(result: StoreResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    given = open_association if isinstance(open_association, Association) else None
    stalled = 0  # associations in a row that sent nothing
    while queue:
        if stop is not None and stop.is_set():
            summary.stopped = True
            break
        if given is not None and summary.associations:
            break
        if max_associations is not None and summary.associations >= max_associations:
            break
        try:
            if isinstance(open_association, Association):
                assoc = open_association
            else:
                assoc = await open_association()
        except NetworkError as exc:
            summary.events.append(f"cannot open an association: {exc}")
            break
        summary.associations += 1
        done_before = len(summary.results)
        options = _Options(allow_lossy, move_originator_aet, move_originator_message_id)
        ended = await _send_batch(assoc, queue, report, max_attempts, options, stop)
        if stop is not None and stop.is_set() and queue:
            summary.stopped = True
            if given is None:
                await _close(assoc, summary)
            break
        if ended is None:
            if given is None:
                await _close(assoc, summary)
            break
        summary.events.append(ended)
        if given is None:
            await _close(assoc, summary)
        stalled = stalled + 1 if len(summary.results) == done_before else 0
        if stalled >= 3:
            summary.events.append("three associations in a row ended before any file was answered; giving up")
            break
        if queue:
            log.warning("%s; opening a new association for the %d file(s) left", ended, len(queue))
    for job in queue:  # what no association could take (or what a stop left)
        reason = "stopped" if summary.stopped else (summary.events[-1] if summary.events else "not sent")
        uid = job.source.sop_instance_uid if job.source else _uid_of(job.info)
        report(StoreResult(_label(job.info), uid, error=f"not sent: {reason}", sop_class_uid=_class_of(job.info),
                           not_sent=True))
    summary.seconds = time.perf_counter() - started
    return summary


async def _close(assoc: Association, summary: StoreSummary) -> None:
    try:
        await assoc.__aexit__(None, None, None)
    except NetworkError as exc:
        summary.events.append(f"the association did not end cleanly: {exc}")


@dataclass(frozen=True)
class _Options:
    allow_lossy: bool = False
    move_originator_aet: str | None = None
    move_originator_message_id: int | None = None


def _uid_of(item: StoreItem) -> str:
    return "" if isinstance(item, FileInfo) else item.sop_instance_uid


def _class_of(item: StoreItem) -> str:
    return item.sop_class_uid


async def _send_batch(assoc: Association, queue: collections.deque[_Job], report: Callable[[StoreResult], None],
                      max_attempts: int, options: _Options | None = None,
                      stop: asyncio.Event | None = None) -> str | None:
    """Send jobs from ``queue`` over ``assoc`` until it is empty (None) or the association breaks (what broke
    it; the jobs to send again are back at the front of the queue)."""
    assert assoc.info is not None
    window = assoc.info.max_ops_invoked_local or 64
    opts = options or _Options()
    broken: list[str] = []
    ready: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=window + 1)

    async def prepare() -> None:
        # read and check the next files while earlier requests wait for their responses
        while queue and not broken and not (stop is not None and stop.is_set()):
            job = queue.popleft()
            if job.source is None and job.error is None:
                if isinstance(job.info, FileInfo) and job.info.error is not None:
                    job.error = job.info.error
                else:
                    try:
                        job.source = source_of(job.info)
                    except InvalidFileError as exc:  # the summary names the file already
                        job.error = f"cannot send: {exc.detail}"
                    except (DicomError, OSError) as exc:
                        job.error = f"cannot send: {exc}"
            if job.label is None:
                job.label = _label(job.info)
            try:
                await ready.put(job)
            except asyncio.CancelledError:
                queue.appendleft(job)
                raise
        for _ in range(window):
            await ready.put(None)

    # The context each (SOP Class, transfer syntax) goes out on: the same for every object of the pair on
    # this association (choose_context's order depends on nothing else), so it is chosen once.
    chosen: dict[tuple[str, str], NegotiatedContext] = {}

    async def send() -> None:
        while (job := await ready.get()) is not None:
            if broken:
                queue.appendleft(job)
                continue
            label = job.label if job.label is not None else _label(job.info)
            if job.source is None:
                report(StoreResult(label, _uid_of(job.info), error=job.error, sop_class_uid=_class_of(job.info)))
                continue
            source = job.source
            result = StoreResult(label, source.sop_instance_uid, nbytes=source.size,
                                 sop_class_uid=source.sop_class_uid)
            job.attempts += 1
            try:
                rsp = await _store_one(assoc, source, chosen, result, opts)
                result.status = rsp.status_value
                if rsp.error_comment and result.status.is_failure:
                    result.error = f"{result.text}: {rsp.error_comment}"
            except NetworkTimeout as exc:
                result.error = str(exc).split(";")[0]  # "no response to C-STORE-RQ within N s"
                broken.append(f"no response to the C-STORE of {label.name} within the DIMSE timeout; "
                              "the association was aborted")
            except (AssociationAborted, AssociationReleased) as exc:
                if not broken:
                    broken.append(f"{exc} while sending {label.name}")
                if job.attempts < max_attempts:
                    queue.appendleft(job)
                    continue
                result.error = f"{exc} (sent {job.attempts} times)"
            except DicomError as exc:  # no context for it, a peer-side DIMSE error, a file that changed
                result.error = str(exc)
            report(result)

    producer = asyncio.create_task(prepare())
    try:
        await asyncio.gather(*(send() for _ in range(window)))
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
    if broken:
        left = [job for job in (ready.get_nowait() for _ in range(ready.qsize())) if job is not None]
        queue.extendleft(reversed(left))
        return broken[0]
    return None


async def _store_one(assoc: Association, source: StoreSource, chosen: dict[tuple[str, str], NegotiatedContext],
                     result: StoreResult, opts: _Options) -> CStoreRSP:
    """C-STORE ``source`` as :func:`store` does, its context taken from ``chosen`` when one was chosen for its
    SOP Class and transfer syntax before (an object going out as it is: its bytes, no encoder that could
    fail); ``result.conversion`` says how it went out."""
    assert assoc.info is not None
    key = (source.sop_class_uid, source.transfer_syntax)
    ctx = chosen.get(key)
    if ctx is None:
        ctx = chosen[key] = choose_context(assoc.info, source, allow_lossy=opts.allow_lossy)
    if ctx.transfer_syntax == source.transfer_syntax and source.data_offset is not None:
        payload, sop_instance_uid = source.prepare(ctx.transfer_syntax)
    else:  # re-encoded or transcoded: prepare() moves on to the next context when an encoder fails
        ctx, payload, sop_instance_uid = prepare(assoc, source, allow_lossy=opts.allow_lossy)
    result.conversion = source.conversion(ctx.transfer_syntax)
    request = CStoreRQ(affected_sop_class_uid=source.sop_class_uid, affected_sop_instance_uid=sop_instance_uid,
                       priority=Priority.MEDIUM, move_originator_aet=opts.move_originator_aet,
                       move_originator_message_id=opts.move_originator_message_id)
    rsp = await assoc.send_request(request, context=ctx, payload=payload)
    assert isinstance(rsp, CStoreRSP)
    return rsp


OpenWithContexts = Callable[[list[PresentationContext]], Awaitable[Association]]


async def store_all(open_association: OpenWithContexts, items: Sequence[StoreItem], *,
                    on_result: Callable[[StoreResult], None] | None = None, parallel: int = 1,
                    limit: int = MAX_CONTEXTS - 1, max_attempts: int = 2, allow_lossy: bool = False,
                    move_originator_aet: str | None = None, move_originator_message_id: int | None = None,
                    stop: asyncio.Event | None = None) -> StoreSummary:
    """C-STORE every object over as many associations as their presentation contexts need.

    ``open_association(contexts)`` opens an association proposing ``contexts``. The objects are grouped by
    :func:`context_groups` (each group's contexts fit in one association); each group goes through
    :func:`store_files` (so stalled and aborting peers are survived the same way), with ``parallel``
    associations at once sharing its objects. The results of every group come back as one summary.
    The other options are those of :func:`store_files`.
    """
    summary = StoreSummary()
    started = time.perf_counter()
    for contexts, group in context_groups(items, limit=limit):
        if not group:
            continue
        if not contexts:  # nothing readable: store_files reports each file's reason
            contexts = [PresentationContext(str(ExplicitVRLittleEndian), [str(ExplicitVRLittleEndian)])]

        async def connect(contexts: list[PresentationContext] = contexts) -> Association:
            return await open_association(contexts)

        shares = [list(group[i::parallel]) for i in range(max(1, min(parallel, len(group))))]
        parts = await asyncio.gather(*(
            store_files(connect, share, on_result=on_result, max_attempts=max_attempts, allow_lossy=allow_lossy,
                        move_originator_aet=move_originator_aet, move_originator_message_id=move_originator_message_id,
                        stop=stop) for share in shares))
        for part in parts:
            summary.merge(part)
        if stop is not None and stop.is_set():
            summary.stopped = True
    summary.seconds = time.perf_counter() - started
    return summary


__all__ = ["FileInfo", "StoreItem", "StoreResult", "StoreSummary", "context_groups", "contexts_by_class",
           "find_files", "peek", "prepare", "source_of", "storage_contexts", "store", "store_all", "store_files"]
