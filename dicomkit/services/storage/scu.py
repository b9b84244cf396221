"""The Storage SCU (PS3.4 B.2): C-STORE one object, or a batch of files over as many associations as it takes.

:func:`store` sends one object on an established association, choosing the accepted context for it
(see ``source``). :func:`store_files` sends many: it proposes the contexts they need
(:func:`storage_contexts`), keeps the negotiated asynchronous operations window full, reads the next file
while earlier requests wait, and does not let one peer fault lose the rest of the batch — a request that
gets no response within the DIMSE timeout fails alone ("no response within N s"), a peer that aborts
mid-batch fails nothing that it did not refuse; a new association is opened and the remaining files go on.
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
    InvalidFileError,
    NetworkError,
    NetworkTimeout,
)
from ...core.uid import TRANSFER_SYNTAXES, UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from ...io.files import Kind, walk
from ...io.raw import probe_part10
from ...io.reader import read, read_file_meta
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import CStoreRQ, CStoreRSP, Priority
from ...net.negotiation import MAX_CONTEXTS, PresentationContext
from ...net.status import Status
from .source import NATIVE_SYNTAXES, StoreSource, choose_context
from .status import STORAGE

log = logging.getLogger("dicomkit.storage")


async def store(assoc: Association, item: Dataset | str | os.PathLike[str] | StoreSource, *,
                priority: int = Priority.MEDIUM, move_originator_aet: str | None = None,
                move_originator_message_id: int | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> CStoreRSP:
    """C-STORE a Dataset or a Part 10 file (PS3.7 9.1.1) on ``assoc``; returns the peer's response.

    A file whose transfer syntax was accepted is sent from disk as it is; otherwise it is re-encoded into an
    accepted uncompressed syntax (compressed pixel data decompressed, losslessly). Raises DimseError when no
    accepted context fits, InvalidFileError / TruncatedError for a file that cannot be sent whole.
    """
    source = item if isinstance(item, StoreSource) else StoreSource.from_item(item)
    if assoc.info is None:
        raise AssociationAborted("the association is not established")
    ctx = choose_context(assoc.info, source)
    payload = source.payload(ctx.transfer_syntax)
    request = CStoreRQ(affected_sop_class_uid=source.sop_class_uid, affected_sop_instance_uid=source.sop_instance_uid,
                       priority=priority, move_originator_aet=move_originator_aet,
                       move_originator_message_id=move_originator_message_id)
    rsp = await assoc.send_request(request, context=ctx, payload=payload, timeout=timeout)
    assert isinstance(rsp, CStoreRSP)
    return rsp


@dataclass
class FileInfo:
    """What a quick look at a file found: enough to propose contexts for it."""

    path: Path
    sop_class_uid: str = ""
    transfer_syntax: str = ""
    error: str | None = None


def find_files(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = False) -> list[Path]:
    """The files named, plus the DICOM files in the folders named (their subfolders with ``recursive``), in a
    stable order. Folders are walked with :func:`dicomkit.io.files.walk`: what is not DICOM (README files,
    JSON, FIFOs, ...) and DICOMDIRs are left out; a file named is always kept (sending it says what is wrong).
    """
    return [found.path for found in walk(paths, recursive=recursive) if found.explicit or found.kind is Kind.DICOM]


def peek(path: Path) -> FileInfo:
    """SOP Class UID and transfer syntax from the File Meta Information (or the data set if it has none)."""
    try:
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


def storage_contexts(files: Iterable[FileInfo]) -> list[PresentationContext]:
    """Contexts for these files: per SOP class one context with the uncompressed syntaxes (the files' own
    first), and one context per compressed syntax in use. The uncompressed context is proposed for
    compressed-only classes too, so a peer that refuses the compressed syntax still gets them (decompressed)."""
    native: dict[str, list[str]] = {}
    compressed: dict[tuple[str, str], None] = {}
    for info in files:
        if info.error or not info.sop_class_uid:
            continue
        ts = info.transfer_syntax
        if ts in NATIVE_SYNTAXES or (ts in TRANSFER_SYNTAXES and not UID(ts).is_encapsulated):
            own = native.setdefault(info.sop_class_uid, [])
            if ts in NATIVE_SYNTAXES and ts not in own:
                own.append(ts)
        else:
            native.setdefault(info.sop_class_uid, [])
            compressed[(info.sop_class_uid, ts)] = None
    contexts = []
    for sop_class, own in native.items():
        syntaxes = own + [str(t) for t in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) if t not in own]
        contexts.append(PresentationContext(sop_class, syntaxes))
    contexts += [PresentationContext(sop_class, [ts]) for sop_class, ts in compressed]
    if len(contexts) > MAX_CONTEXTS - 1:
        raise NetworkError(f"these files need {len(contexts)} presentation contexts; one association holds "
                           f"{MAX_CONTEXTS - 1} besides Verification: send them in several runs")
    return contexts


@dataclass
class StoreResult:
    """The outcome for one file."""

    path: Path
    sop_instance_uid: str = ""
    status: Status | None = None
    error: str | None = None
    nbytes: int = 0
    conversion: str | None = None  # how it went out when not as it is ("decompressed from ... to ...")

    @property
    def ok(self) -> bool:
        return self.status is not None and not self.status.is_failure and self.error is None

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

    @property
    def sent(self) -> list[StoreResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.results if not r.ok]

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.results if r.ok)

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Job:
    info: FileInfo
    source: StoreSource | None = None
    error: str | None = None
    attempts: int = 0


OpenAssociation = Callable[[], Awaitable[Association]]


async def store_files(open_association: OpenAssociation | Association, files: Sequence[FileInfo], *,
                      on_result: Callable[[StoreResult], None] | None = None, max_attempts: int = 2,
                      max_associations: int | None = None) -> StoreSummary:
    """C-STORE every file, keeping as many requests outstanding as the window allows.

    ``open_association`` opens (and negotiates) a new association each time one is needed; given an
    Association instead, the batch uses that one only and the files left when it breaks fail. A file in
    flight when the peer aborted is sent again on the next association, up to ``max_attempts`` times in
    all; the file whose response timed out fails at once (the peer choked on it). ``max_associations``
    bounds the associations opened (default: as many as progress needs).
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
        ended = await _send_batch(assoc, queue, report, max_attempts)
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
    for job in queue:  # what no association could take
        reason = summary.events[-1] if summary.events else "not sent"
        uid = job.source.sop_instance_uid if job.source else ""
        report(StoreResult(job.info.path, uid, error=f"not sent: {reason}"))
    summary.seconds = time.perf_counter() - started
    return summary


async def _close(assoc: Association, summary: StoreSummary) -> None:
    try:
        await assoc.__aexit__(None, None, None)
    except NetworkError as exc:
        summary.events.append(f"the association did not end cleanly: {exc}")


async def _send_batch(assoc: Association, queue: collections.deque[_Job], report: Callable[[StoreResult], None],
                      max_attempts: int) -> str | None:
    """Send jobs from ``queue`` over ``assoc`` until it is empty (None) or the association breaks (what broke
    it; the jobs to send again are back at the front of the queue)."""
    assert assoc.info is not None
    window = assoc.info.max_ops_invoked_local or 64
    broken: list[str] = []
    ready: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=window + 1)

    async def prepare() -> None:
        # read and check the next files while earlier requests wait for their responses
        while queue and not broken:
            job = queue.popleft()
            if job.source is None and job.error is None:
                if job.info.error is not None:
                    job.error = job.info.error
                else:
                    try:
                        job.source = StoreSource.from_path(job.info.path)
                    except InvalidFileError as exc:  # the summary names the file already
                        job.error = f"cannot send: {exc.detail}"
                    except (DicomError, OSError) as exc:
                        job.error = f"cannot send: {exc}"
            try:
                await ready.put(job)
            except asyncio.CancelledError:
                queue.appendleft(job)
                raise
        for _ in range(window):
            await ready.put(None)

    async def send() -> None:
        while (job := await ready.get()) is not None:
            if broken:
                queue.appendleft(job)
                continue
            if job.source is None:
                report(StoreResult(job.info.path, error=job.error))
                continue
            source = job.source
            result = StoreResult(job.info.path, source.sop_instance_uid, nbytes=source.size)
            job.attempts += 1
            try:
                assert assoc.info is not None
                ctx = choose_context(assoc.info, source)
                result.conversion = source.conversion(ctx.transfer_syntax)
                rsp = await store(assoc, source)
                result.status = rsp.status_value
                if rsp.error_comment and result.status.is_failure:
                    result.error = f"{result.text}: {rsp.error_comment}"
            except NetworkTimeout as exc:
                result.error = str(exc).split(";")[0]  # "no response to C-STORE-RQ within N s"
                broken.append(f"no response to the C-STORE of {job.info.path.name} within the DIMSE timeout; "
                              "the association was aborted")
            except (AssociationAborted, AssociationReleased) as exc:
                if not broken:
                    broken.append(f"{exc} while sending {job.info.path.name}")
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


__all__ = ["FileInfo", "StoreResult", "StoreSummary", "find_files", "peek", "storage_contexts", "store",
           "store_files"]
