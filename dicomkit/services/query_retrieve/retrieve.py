"""What C-MOVE and C-GET share (PS3.4 C.4.2, C.4.3): statuses, sub-operation counts, the SCP's engine, the
SCU's reading of the responses.

**SCP.** :class:`RetrieveSCP` reads a request into a plan (only unique keys identify what to retrieve),
lists the instances from its :class:`~..sources.RetrieveSource` and hands them to :meth:`RetrieveSCP.send`
(C-MOVE: sub-associations to the Move Destination; C-GET: the same association), which stores them through
the storage SCU (:func:`~..storage.scu.store_files`: the instance's own transfer syntax if accepted, else a
lossless transcode; a peer fault fails only what it concerns). Meanwhile Pending responses go back with the
Number of Remaining / Completed / Failed / Warning Sub-operations (C.4.2.1.5): after the first sub-operation,
then at most every ``progress_interval`` (50 ms; 0: after each), with the counts of that moment, and once the
last sub-operation is answered if the sub-association is still being released. A C-CANCEL-RQ stops new
sub-operations; the outstanding ones are answered, and the final response is Cancel 0xFE00 with the counts.
The final response otherwise:

=============================  =================================================================================
Success 0x0000                 every sub-operation succeeded
Warning 0xB000                 some failed or had warnings (the Failed SOP Instance UID List (0008,0058) names
                               the failed ones in the Identifier)
Failure 0xA702                 every sub-operation failed (Error Comment: why, e.g. the destination refused)
=============================  =================================================================================

**SCU.** :class:`RetrieveResult` gathers the responses of a C-MOVE or C-GET: the final status, the counts,
the Failed SOP Instance UID List and the Error Comment; ``on_progress`` is called with each Pending
response's counts (:class:`Progress`).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from ...core.dataset import Dataset
from ...core.errors import DicomError, NetworkError
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import RESPONSE_FOR, DataSink, Request, Response
from ...net.handlers import DimseHandler, RequestContext
from ...net.payload import DatasetPayload, Payload
from ...net.status import CANCEL, SUCCESS, Status, StatusTable
from ..cancel import CancelRequested, CancelWatch, close_iterator
from ..sources import (
    Requester,
    RetrieveSource,
    StoredObject,
    SyncRetrieveSource,
    ThreadedRetrieveSource,
    iterate_in_thread,
)
from ..wire import decode
from .service import QueryRetrieveService

if TYPE_CHECKING:  # the SCP's: an SCU (``dicomkit get``, ``move``) starts without them
    from ..storage.scu import StoreResult, StoreSummary
    from .plan import QueryPlan

log = logging.getLogger("dicomkit.services.qr")

PENDING = 0xFF00
STOP_GRACE = 5.0  # seconds the sub-operations of a retrieval whose requester went away get to end cleanly
UNABLE_TO_CALCULATE_MATCHES = 0xA701
UNABLE_TO_PERFORM_SUBOPERATIONS = 0xA702
MOVE_DESTINATION_UNKNOWN = 0xA801
WARNING_SUBOPERATION_FAILURES = 0xB000
UNABLE_TO_PROCESS = 0xC000
FAILED_SOP_INSTANCE_UID_LIST = 0x00080058
NOT_AUTHORIZED = 0x0124

_COMMON = {
    0x0122: "Refused: SOP Class not supported",
    UNABLE_TO_CALCULATE_MATCHES: "Refused: out of resources, unable to calculate number of matches",
    UNABLE_TO_PERFORM_SUBOPERATIONS: "Refused: out of resources, unable to perform sub-operations",
    0xA900: "Failed: Identifier does not match SOP Class",
    0xAA00: "Failed: none of the frames requested were found in the SOP Instance",
    0xAA01: "Failed: unable to create new object for this SOP Class",
    0xAA02: "Failed: unable to extract frames",
    0xAA03: "Failed: time-based request received for a non-time-based original SOP Instance",
    0xAA04: "Failed: invalid request",
    CANCEL: "Cancel: sub-operations terminated due to Cancel indication",
    WARNING_SUBOPERATION_FAILURES: "Warning: sub-operations complete, one or more failures or warnings",
    SUCCESS: "Success: sub-operations complete, no failures",
    PENDING: "Pending: sub-operations are continuing",
}
# PS3.4 Table C.4-2 (C-MOVE) and C.4-3 (C-GET)
MOVE_STATUSES = StatusTable("C-MOVE", codes={**_COMMON, MOVE_DESTINATION_UNKNOWN: "Refused: Move Destination unknown"},
                            ranges=((0xC000, 0xCFFF, "Failed: unable to process"),))
GET_STATUSES = StatusTable("C-GET", codes=dict(_COMMON), ranges=((0xC000, 0xCFFF, "Failed: unable to process"),))


class _AnyRetrieveSource:
    """A retrieve source whose ``retrieve`` and ``count`` may be async or plain (plain ones run in threads)."""

    def __init__(self, source: RetrieveSource | SyncRetrieveSource) -> None:
        self.source = source

    def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        retrieve = self.source.retrieve
        if inspect.isgeneratorfunction(retrieve):
            return iterate_in_thread(lambda: iter(retrieve(plan, requester)))
        result: Any = retrieve(plan, requester)
        if hasattr(result, "__aiter__"):
            return cast(AsyncIterator[StoredObject], result)
        return iterate_in_thread(lambda: iter(result))

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        result: Any = self.source.count(plan, requester)
        return int(await result) if inspect.isawaitable(result) else int(result)


def as_retrieve_source(source: RetrieveSource | SyncRetrieveSource) -> RetrieveSource:
    """The source as the SCP runs it: async iterators as they are, plain iterators in worker threads."""
    if isinstance(source, _AnyRetrieveSource | ThreadedRetrieveSource):
        return source
    return _AnyRetrieveSource(source)


@dataclass
class Progress:
    """Sub-operation counts, as in the responses (PS3.7 9.3.3.2 / 9.3.4.2)."""

    remaining: int | None = None
    completed: int = 0
    failed: int = 0
    warning: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.warning

    @classmethod
    def of(cls, response: Response) -> Progress:
        return cls(response.number_of_remaining_suboperations, response.number_of_completed_suboperations or 0,
                   response.number_of_failed_suboperations or 0, response.number_of_warning_suboperations or 0)

    def __str__(self) -> str:
        left = f", {self.remaining} remaining" if self.remaining is not None else ""
        return f"{self.completed} completed, {self.failed} failed, {self.warning} warning{left}"


class _Tally:
    """The SCP's running counts; :meth:`changed` wakes the response loop after each sub-operation."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.completed = self.failed = self.warning = 0
        self.failed_uids: list[str] = []
        self.reasons: list[str] = []
        self._event = asyncio.Event()
        self.reported = -1

    def record(self, result: StoreResult) -> None:
        if result.not_sent and result.error == "not sent: stopped":
            return  # left by a C-CANCEL: still remaining
        if result.warning:
            self.warning += 1
        elif result.ok:
            self.completed += 1
        else:
            self.failed += 1
            if result.sop_instance_uid:
                self.failed_uids.append(result.sop_instance_uid)
            if result.error and len(self.reasons) < 4 and result.error not in self.reasons:
                self.reasons.append(result.error)
        self._event.set()

    def wake(self) -> None:
        self._event.set()

    async def changed(self) -> None:
        await self._event.wait()
        self._event.clear()

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.warning

    @property
    def remaining(self) -> int:
        return max(self.total - self.done, 0)


@dataclass
class Sending:
    """What :meth:`RetrieveSCP.begin` prepared for the sub-operations (the SCP subclass's own state)."""

    describe: str
    state: Any = None


class RetrieveSCP(QueryRetrieveService, DimseHandler):
    """The engine of the C-MOVE and C-GET SCPs (see the module documentation); subclasses say where the
    sub-operations go (:meth:`begin`, :meth:`send`)."""

    statuses: StatusTable = GET_STATUSES

    def __init__(self, source: RetrieveSource | SyncRetrieveSource, *, models: Sequence[Any] = (),
                 allow_lossy: bool = False, progress_interval: float = 0.05, **options: Any) -> None:
        from .levels import QUERY_RETRIEVE_MODELS

        super().__init__(models or QUERY_RETRIEVE_MODELS, **options)
        self.source = as_retrieve_source(source)
        self.allow_lossy = allow_lossy
        self.progress_interval = progress_interval  # seconds between two Pending responses (0: after each)

    @abc.abstractmethod
    def handlers(self) -> dict[type[Request], DimseHandler]:
        """C-MOVE-RQ or C-GET-RQ to this SCP (the subclass's)."""

    async def begin(self, request: Request, rc: RequestContext) -> Sending | Response:
        """Check what the request needs before anything is listed (C-MOVE: the destination); a Response
        refuses it."""
        return Sending("")

    @abc.abstractmethod
    async def send(self, sending: Sending, items: Sequence[StoredObject], request: Request, rc: RequestContext,
                   tally: _Tally, stop: asyncio.Event) -> StoreSummary:
        """Send ``items`` (C-MOVE: to the destination on a sub-association; C-GET: on this association)."""

    def _response(self, request: Request, status: int, tally: _Tally | None = None, *, remaining: bool = True,
                  comment: str | None = None) -> Response:
        from ..dimse_n import error_comment

        rsp = RESPONSE_FOR[type(request)](status=Status(status),
                                          error_comment=error_comment(comment) if comment else None)
        if tally is not None:
            if remaining:
                rsp.number_of_remaining_suboperations = tally.remaining
            rsp.number_of_completed_suboperations = tally.completed
            rsp.number_of_failed_suboperations = tally.failed
            rsp.number_of_warning_suboperations = tally.warning
        return rsp

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        read = self.read(request, data, rc)
        if read.plan is None:
            assert read.refusal is not None
            yield read.refusal, None
            return
        plan = read.plan
        begun = await self.begin(request, rc)
        if isinstance(begun, Response):
            yield begun, None
            return
        started = time.perf_counter()
        name = request.name.replace("-RQ", "")
        items: list[StoredObject] = []
        listing = self.source.retrieve(plan, read.requester)
        try:
            async with CancelWatch(rc) as watch:
                while True:
                    try:
                        items.append(await watch.next(listing))
                    except StopAsyncIteration:
                        break
        except CancelRequested:
            log.info("%s: %s from %s cancelled while listing", rc.association_id, name, read.requester)
            yield self._response(request, CANCEL, _Tally(0)), None
            return
        except DicomError as exc:
            log.warning("%s: %s from %s: cannot list the instances: %s", rc.association_id, name, read.requester, exc)
            comment = f"cannot list the instances: {exc}"
            yield self._response(request, UNABLE_TO_CALCULATE_MATCHES, comment=comment), None
            return
        finally:
            await close_iterator(listing)
        tally = _Tally(len(items))
        if not items:
            log.info("%s: %s %s from %s: nothing matches", rc.association_id, name, plan.level, read.requester)
            yield self._response(request, SUCCESS, tally, remaining=False), None
            return
        stop = asyncio.Event()
        sender = asyncio.ensure_future(self.send(begun, items, request, rc, tally, stop))
        sender.add_done_callback(lambda _: tally.wake())
        cancelled = finished = False
        try:
            async with CancelWatch(rc) as watch:
                while not sender.done():
                    try:
                        if cancelled:
                            await tally.changed()
                        else:
                            await watch.wait(tally.changed())
                    except CancelRequested:
                        cancelled = True
                        stop.set()
                        continue
                    # a Pending response also after the last sub-operation, while the sub-association is being
                    # released: a single-threaded SCU (GDCM's) reads its C-MOVE association for one after each
                    # C-STORE it took, and answers our A-RELEASE-RQ only then (dcmqrscp sends one per sub-operation)
                    if not sender.done() and tally.done != tally.reported:
                        tally.reported = tally.done
                        yield self._response(request, PENDING, tally), None
                        if self.progress_interval and not sender.done():
                            # the next Pending response no sooner than this (PS3.4 C.4.2.1.4 leaves them to
                            # the SCP): a peer storing fast is not held up reading one per sub-operation
                            pause = asyncio.wait([sender], timeout=self.progress_interval)
                            try:
                                await (pause if cancelled else watch.wait(pause))
                            except CancelRequested:
                                cancelled = True
                                stop.set()
            finished = True
        finally:
            if not sender.done():
                # the association went away: no new sub-operation; the outstanding ones are answered and the
                # sub-association released when the destination does so in time, else it is aborted
                stop.set()
                task = asyncio.current_task()
                if task is None or not task.cancelling():  # not when the server itself is shutting down
                    await asyncio.wait([sender], timeout=STOP_GRACE)
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender
            if not finished and sender.done() and not sender.cancelled() and sender.exception() is None:
                # what the final response would have said, for the log and the audit trail
                rc.unsent = self._final(request, rc, tally, sender.result(), True, begun, started,
                                        read.requester)[0]
        try:
            summary = sender.result()
        except Exception as exc:  # a bug in a sender must not leave the requestor waiting
            log.exception("%s: %s sub-operations failed", rc.association_id, name)
            yield self._response(request, UNABLE_TO_PROCESS, tally, comment=f"sub-operations failed: {exc}"), None
            return
        yield self._final(request, rc, tally, summary, cancelled or summary.stopped, begun, started, read.requester)

    def _final(self, request: Request, rc: RequestContext, tally: _Tally, summary: StoreSummary, cancelled: bool,
               sending: Sending, started: float, requester: object) -> tuple[Response, Payload | None]:
        if cancelled and tally.remaining:
            status, comment = CANCEL, None
        elif not tally.failed and not tally.warning:
            status, comment = SUCCESS, None
        elif tally.completed or tally.warning:
            status, comment = WARNING_SUBOPERATION_FAILURES, "; ".join(tally.reasons) or None
        else:
            status = UNABLE_TO_PERFORM_SUBOPERATIONS
            comment = "; ".join(dict.fromkeys(summary.events[:1] + tally.reasons)) or "every sub-operation failed"
        rsp = self._response(request, status, tally, remaining=status == CANCEL, comment=comment)
        identifier = None
        if tally.failed_uids:
            identifier = Dataset()
            identifier.add_new(FAILED_SOP_INSTANCE_UID_LIST, "UI", list(tally.failed_uids))
        level = logging.INFO if status in (SUCCESS, CANCEL) else logging.WARNING
        log.log(level, "%s: %s from %s%s: %s in %.2f s over %d association(s)%s", rc.association_id,
                request.name.replace("-RQ", ""), requester, sending.describe, _counts(tally),
                time.perf_counter() - started, summary.associations, f"; {comment}" if comment else "")
        return rsp, DatasetPayload(identifier, rc.transfer_syntax) if identifier is not None else None


def _counts(tally: _Tally) -> str:
    return (f"{tally.completed} completed, {tally.failed} failed, {tally.warning} warning"
            + (f", {tally.remaining} not sent" if tally.remaining else ""))


# -- the SCU -------------------------------------------------------------------------------------------------
@dataclass
class RetrieveResult:
    """The outcome of a C-MOVE or C-GET as the SCU saw it."""

    status: Status | None = None
    progress: Progress = field(default_factory=Progress)
    failed_sop_instance_uids: list[str] = field(default_factory=list)
    error_comment: str | None = None
    response: Response | None = None
    notes: list[str] = field(default_factory=list)  # what the SCU itself adds (e.g. classes it could not take)
    received: list[str] = field(default_factory=list)  # C-GET: where the instances that arrived were written
    requests: int = 0  # C-GET: how many C-GET requests it took (one per group of storage classes)
    operation: str = ""  # "C-MOVE" or "C-GET"

    @property
    def ok(self) -> bool:
        return self.status is not None and (self.status.is_success or self.status.is_warning)

    @property
    def completed(self) -> int:
        return self.progress.completed

    @property
    def failed(self) -> int:
        return self.progress.failed

    @property
    def warning(self) -> int:
        return self.progress.warning

    def describe(self, table: StatusTable | None = None) -> str:
        if self.status is None:
            return "no final response"
        table = table or (MOVE_STATUSES if self.operation == "C-MOVE" else GET_STATUSES)
        text = f"{self.status} ({self.status.meaning(table)}): {self.progress}"
        if self.error_comment:
            text += f"; {self.error_comment}"
        return text

    def merge(self, other: RetrieveResult) -> None:
        """Add the counts of another request (a C-GET split over groups of storage classes)."""
        p, q = self.progress, other.progress
        self.progress = Progress(None, p.completed + q.completed, p.failed + q.failed, p.warning + q.warning)
        self.failed_sop_instance_uids += other.failed_sop_instance_uids
        self.notes += other.notes
        self.received += other.received
        self.requests += other.requests
        self.operation = self.operation or other.operation
        if other.error_comment and other.error_comment != self.error_comment:
            self.error_comment = "; ".join(x for x in (self.error_comment, other.error_comment) if x)
        if _severity(other.status) > _severity(self.status):
            self.status = other.status
        if self.status is not None and self.status.is_failure and (self.completed or self.warning):
            self.status = Status(WARNING_SUBOPERATION_FAILURES)  # some groups delivered: a partial success


def _severity(status: Status | None) -> int:
    if status is None:
        return -1
    if status.is_failure:
        return 3
    return 2 if status == CANCEL else 1 if status.is_warning else 0


OnProgress = Callable[[Progress], None]


async def run_retrieve(assoc: Association, request: Request, identifier: Dataset, *, context: Any,
                       on_progress: OnProgress | None = None, cancel: asyncio.Event | None = None,
                       timeout: Timeout = DEFAULT_TIMEOUT) -> RetrieveResult:
    """Send a C-MOVE-RQ / C-GET-RQ and read its responses into a :class:`RetrieveResult`; when ``cancel`` is
    set, a C-CANCEL-RQ goes out (once) and the responses are read to their end."""
    result = RetrieveResult(requests=1, operation=request.name.replace("-RQ", ""))
    ts = context.transfer_syntax
    replies = assoc.requests(request, context=context, payload=DatasetPayload(identifier, ts, validate=False),
                             timeout=timeout)
    canceller: asyncio.Task[None] | None = None
    if cancel is not None:
        async def watch() -> None:
            await cancel.wait()
            if request.message_id is not None and assoc.is_established:
                with contextlib.suppress(NetworkError, DicomError):
                    await assoc.cancel(request.message_id)
        canceller = asyncio.ensure_future(watch())
    try:
        async for reply in replies:
            rsp = reply.response
            progress = Progress.of(rsp)
            if rsp.status_value.is_pending:
                result.progress = progress
                if on_progress is not None:
                    on_progress(progress)
                continue
            result.status, result.response, result.error_comment = rsp.status_value, rsp, rsp.error_comment
            result.progress = Progress(progress.remaining, progress.completed or result.progress.completed,
                                       progress.failed or result.progress.failed,
                                       progress.warning or result.progress.warning) \
                if rsp.number_of_completed_suboperations is None else progress
            if reply.data:
                try:
                    ds = decode(reply.data, ts)
                    value = ds.value(FAILED_SOP_INSTANCE_UID_LIST) if FAILED_SOP_INSTANCE_UID_LIST in ds else None
                    if value:
                        result.failed_sop_instance_uids = [str(v) for v in (value if isinstance(value, tuple)
                                                                            else (value,))]
                except DicomError as exc:
                    result.notes.append(f"the final response's Identifier cannot be read: {exc}")
    finally:
        if canceller is not None:
            canceller.cancel()
        await close_iterator(replies)
    return result


__all__ = ["GET_STATUSES", "MOVE_STATUSES", "Progress", "RetrieveResult", "RetrieveSCP", "Sending",
           "as_retrieve_source", "run_retrieve"]
