"""C-FIND (PS3.4 C.4.1, and K.4.1 for worklists): the SCP over a query source, and the SCU.

**SCP.** :class:`FindSCP` reads each C-FIND-RQ into a plan (:mod:`.service`), asks its source which matching
keys it cannot match (those are matched universally and every match answered Pending 0xFF01, C.4.1.1.4),
then streams the source's matches: each becomes a response Identifier
(:func:`~.matching.response_identifier`) sent as a Pending response as soon as it comes — from a source of
rows (:class:`~..sources.RowQuerySource`, the archive's index) written straight from the row's values by
:class:`~.rows.IdentifierEncoder`, the same bytes without a data set per match — so 10⁴ matches never sit
in memory together, and the association's send path waits while the peer reads (the transport's
high-water mark). A C-CANCEL-RQ stops the stream at once — also while the source is still looking for its
next match — closes the source's iterator and answers Cancel 0xFE00. Then Success, or the failure of the
source (0xC000 "Unable to process", with the reason as Error Comment). Each request runs in a task of its
own: a slow source on one association stalls nothing else, and the negotiated asynchronous operations window
bounds how many C-FINDs one association runs at once.

**SCU.** :func:`find` sends a C-FIND on an association and is an async iterator of the response
Identifiers; leaving the loop early cancels the request (C-CANCEL-RQ) and drains the responses still in
flight. A failure status raises :class:`QueryFailed` (status, Error Comment, Offending Element). From
synchronous code: ``for match in assoc.iterate(find, keys)`` or ``assoc.call(find_all, keys)``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ...core.dataset import Dataset
from ...core.errors import DicomError, NetworkError
from ...net.ae import DEFAULT_TRANSFER_SYNTAXES
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import CFindRQ, CFindRSP, DataSink, Priority, Request, Response
from ...net.handlers import DimseHandler, RequestContext
from ...net.negotiation import PresentationContext
from ...net.payload import BytesPayload, DatasetPayload, Payload
from ...net.status import CANCEL, SUCCESS, Status, StatusTable
from ..cancel import CancelRequested, CancelWatch, close_iterator
from ..sources import QuerySource, Requester, SyncQuerySource, ThreadedQuerySource, iterate_in_thread
from ..wire import context_for, decode
from .keys import identifier as make_identifier
from .levels import QUERY_RETRIEVE_MODELS, RETRIEVE_AE_TITLE, InformationModel, Operation, model_named
from .service import QueryRetrieveService

if TYPE_CHECKING:  # the SCP's: the SCU (``dicomkit find``, ``get``) starts without them
    from .plan import QueryPlan
    from .rows import RowMatch

log = logging.getLogger("dicomkit.services.qr")

PENDING = 0xFF00
PENDING_UNSUPPORTED_KEYS = 0xFF01  # PS3.4 C.4.1.1.4: optional keys not supported
OUT_OF_RESOURCES = 0xA700
UNABLE_TO_PROCESS = 0xC000

# PS3.4 Table C.4-1 (C-FIND) and K.4-1 (worklist): the statuses, as data
FIND_STATUSES = StatusTable("C-FIND", codes={
    OUT_OF_RESOURCES: "Refused: out of resources",
    0x0122: "Refused: SOP Class not supported",
    0xA900: "Failed: Identifier does not match SOP Class",
    CANCEL: "Cancel: matching terminated due to Cancel request",
    PENDING: "Pending: matches are continuing",
    PENDING_UNSUPPORTED_KEYS: "Pending: matches are continuing, one or more optional keys were not supported",
}, ranges=((0xC000, 0xCFFF, "Failed: unable to process"),))

Keys = Dataset | Mapping[str, Any] | Iterable[str]


class _AnyQuerySource:
    """A query source whose ``find`` gives an async iterator (used as it is) or a plain one (drained from
    worker threads, so that a blocking source never stalls the event loop)."""

    def __init__(self, source: QuerySource | SyncQuerySource) -> None:
        self.source = source

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return self.source.unsupported_keys(plan)

    def find_rows(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[RowMatch] | None:
        """The source's rows (:class:`~..sources.RowQuerySource`), None when it yields data sets only."""
        find_rows = getattr(self.source, "find_rows", None)
        return find_rows(plan, requester) if find_rows is not None else None

    def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        find = self.source.find
        if inspect.isgeneratorfunction(find):  # even its first step runs in a thread
            return iterate_in_thread(lambda: iter(find(plan, requester)))
        result: Any = find(plan, requester)
        if hasattr(result, "__aiter__"):
            return cast(AsyncIterator[Dataset], result)
        return iterate_in_thread(lambda: iter(result))


def as_query_source(source: QuerySource | SyncQuerySource) -> QuerySource:
    """The source as the SCP runs it: async iterators as they are, plain iterators in worker threads."""
    if isinstance(source, _AnyQuerySource | ThreadedQuerySource):
        return source
    return _AnyQuerySource(source)


class FindSCP(QueryRetrieveService, DimseHandler):
    """The C-FIND SCP of the Query/Retrieve models (all three by default) over a :class:`~..sources.QuerySource`.

    ``retrieve_ae_title``: what Retrieve AE Title (0008,0054) says when a query asks for it (default: the AE
    title the association called, i.e. this SCP, when it also serves C-MOVE/C-GET); ``instance_availability``:
    what Instance Availability (0008,0056) says (PS3.4 C.4.1.1.3.2: ONLINE, NEARLINE, OFFLINE, UNAVAILABLE;
    default: empty, not known). Other options: see :class:`~.service.QueryRetrieveService` (the SCP's plan
    choices and extended negotiation)."""

    operation = Operation.FIND

    def __init__(self, source: QuerySource | SyncQuerySource, *,
                 models: Iterable[InformationModel] = QUERY_RETRIEVE_MODELS, retrieve_ae_title: str | None = None,
                 instance_availability: str | None = None, **options: Any) -> None:
        super().__init__(models, **options)
        self.source = as_query_source(source)
        self.retrieve_ae_title = retrieve_ae_title
        self.instance_availability = instance_availability

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CFindRQ: self}

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        from .matching import response_identifier
        from .rows import IdentifierEncoder

        read = self.read(request, data, rc)
        if read.plan is None:
            assert read.refusal is not None
            yield read.refusal, None
            return
        plan = read.plan
        try:
            unsupported = self.source.unsupported_keys(plan)
        except DicomError as exc:
            yield self._failure(rc, request, read.requester, f"the source cannot take the query: {exc}"), None
            return
        pending = PENDING
        if unsupported:
            plan = plan.relaxed(unsupported)
            pending = PENDING_UNSUPPORTED_KEYS
        retrieve_ae = self.retrieve_ae_title or (rc.called_ae_title if RETRIEVE_AE_TITLE in plan else None)
        ts = rc.transfer_syntax
        started = time.perf_counter()
        count = 0
        # a source of rows: each Identifier is written from the row's values (no data set per match)
        rows = self.source.find_rows(plan, read.requester) if isinstance(self.source, _AnyQuerySource) else None
        matches: AsyncIterator[Dataset | RowMatch] = rows if rows is not None else self.source.find(plan,
                                                                                                read.requester)
        availability = self.instance_availability
        encoder = IdentifierEncoder(plan, ts, retrieve_ae_title=retrieve_ae,
                                    instance_availability=availability) if rows is not None else None
        outcome = "completed"
        try:
            async with CancelWatch(rc) as watch:
                while True:
                    try:
                        match = await watch.next(matches)
                    except StopAsyncIteration:
                        break
                    count += 1
                    # stored values are answered as they are stored (one that breaks its VR fails no query)
                    if encoder is not None:
                        yield CFindRSP(status=Status(pending)), BytesPayload(encoder.encode(match), ts)
                        continue
                    response = response_identifier(plan, match, retrieve_ae_title=retrieve_ae,
                                                   instance_availability=availability)
                    yield CFindRSP(status=Status(pending)), DatasetPayload(response, ts, validate=False)
        except CancelRequested:
            outcome = "cancelled"
            yield CFindRSP(status=Status(CANCEL)), None
            return
        except DicomError as exc:
            outcome = "failed"
            yield self._failure(rc, request, read.requester, f"the query failed: {exc}"), None
            return
        except Exception as exc:  # a source bug answers Unable to process; the association goes on
            outcome = "failed"
            log.exception("%s: the query source failed", rc.association_id)
            yield self._failure(rc, request, read.requester, f"the query source failed: {exc}"), None
            return
        finally:
            await close_iterator(matches)
            log.info("%s: C-FIND %s at %s from %s: %d match(es), %s in %.3f s", rc.association_id, plan.model.name,
                     plan.level.value if plan.level else "worklist", read.requester, count, outcome,
                     time.perf_counter() - started)
        yield CFindRSP(status=Status(SUCCESS)), None

    @staticmethod
    def _failure(rc: RequestContext, request: Request, requester: object, comment: str) -> CFindRSP:
        from ..dimse_n import error_comment

        log.warning("%s: %s from %s: 0x%04X %s", rc.association_id, request.name, requester, UNABLE_TO_PROCESS,
                    comment)
        return CFindRSP(status=Status(UNABLE_TO_PROCESS), error_comment=error_comment(comment))


# -- the SCU ------------------------------------------------------------------------------------------------
class QueryFailed(DicomError):
    """A C-FIND (or C-MOVE / C-GET) answered with a failure status; ``status``, ``error_comment`` and
    ``offending`` are the response's."""

    def __init__(self, operation: str, response: Response, table: StatusTable | None = None) -> None:
        status = response.status_value
        text = f"{operation} failed: {status} ({status.meaning(table)})"
        if response.error_comment:
            text += f": {response.error_comment}"
        if response.offending_element:
            text += " [" + ", ".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in response.offending_element) + "]"
        super().__init__(text)
        self.status = status
        self.error_comment = response.error_comment
        self.offending = tuple(response.offending_element or ())
        self.response = response


@dataclass
class _State:
    """What a C-FIND's responses said so far (shared by :class:`Query` and its generator, which must not hold
    the Query: a Query dropped mid-stream is then closed by the event loop's generator finalizer)."""

    status: Status | None = None
    response: Response | None = None
    matches: int = 0
    unsupported_keys: bool = False
    request: CFindRQ | None = None


class Query:
    """A C-FIND in progress (what :func:`find` returns): ``async for identifier in query``.

    After the loop: ``status`` (the final status), ``matches`` (how many), ``unsupported_keys`` (the SCP
    answered 0xFF01: some optional keys were not matched). :meth:`cancel` sends C-CANCEL-RQ; the loop then
    ends with the Cancel response. Leaving the loop early (``break``) leaves the C-FIND outstanding until the
    query is closed: use ``async with find(...) as query:`` (or ``await query.aclose()``), which cancels it
    and reads the responses still in flight."""

    def __init__(self, assoc: Association, identifier: Dataset, model: InformationModel, *,
                 priority: int = Priority.MEDIUM, timeout: Timeout = DEFAULT_TIMEOUT,
                 raise_on_failure: bool = True) -> None:
        self.association = assoc
        self.identifier = identifier
        self.model = model
        self._state = _State()
        self._gen: AsyncGenerator[Dataset, None] | None = None
        self._options = (priority, timeout, raise_on_failure)

    @property
    def status(self) -> Status | None:
        return self._state.status

    @property
    def response(self) -> Response | None:
        return self._state.response

    @property
    def matches(self) -> int:
        return self._state.matches

    @property
    def unsupported_keys(self) -> bool:
        return self._state.unsupported_keys

    def __aiter__(self) -> Query:
        return self

    async def __anext__(self) -> Dataset:
        if self._gen is None:
            self._gen = _run_find(self.association, self.identifier, self.model, self._state, *self._options)
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()

    async def __aenter__(self) -> Query:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def cancel(self) -> None:
        """Ask the SCP to stop (PS3.7 9.3.2.3); the responses end with Cancel 0xFE00."""
        request = self._state.request
        if request is not None and request.message_id is not None and self._state.status is None:
            await self.association.cancel(request.message_id)

    async def all(self) -> list[Dataset]:
        async with self:
            return [ds async for ds in self]


async def _run_find(assoc: Association, identifier: Dataset, model: InformationModel, state: _State, priority: int,
                    timeout: Timeout, raise_on_failure: bool) -> AsyncGenerator[Dataset, None]:
    ctx = context_for(assoc, str(model.find_uid))
    ts = ctx.transfer_syntax
    state.request = request = CFindRQ(affected_sop_class_uid=str(model.find_uid), priority=priority)
    # the Identifier goes as written (validate=False): the SCP judges its values and answers with a status
    replies = assoc.requests(request, context=ctx, payload=DatasetPayload(identifier, ts, validate=False),
                             timeout=timeout)
    finished = False
    try:
        async for reply in replies:
            code = reply.response.status
            if code != PENDING and code != PENDING_UNSUPPORTED_KEYS:  # the final response (PS3.4 C.4.1.1.4)
                finished = True
                state.status, state.response = reply.response.status_value, reply.response
                break
            if code == PENDING_UNSUPPORTED_KEYS:
                state.unsupported_keys = True
            state.matches += 1
            yield decode(reply.data, ts)
    finally:
        if not finished:
            await _abandon(assoc, state, replies)
        else:
            await close_iterator(replies)  # it holds a place of the operations window until closed
    if raise_on_failure and state.status is not None and state.status.is_failure:
        assert state.response is not None
        raise QueryFailed("C-FIND", state.response, FIND_STATUSES)


async def _abandon(assoc: Association, state: _State, replies: AsyncIterator[Any]) -> None:
    """The caller left the loop early: cancel, and read the responses still coming (PS3.7 9.3.2.3)."""
    with contextlib.suppress(NetworkError, DicomError):
        if state.request is not None and state.request.message_id is not None and assoc.is_established:
            await assoc.cancel(state.request.message_id)
            async for reply in replies:
                if not reply.response.status_value.is_pending:
                    state.status, state.response = reply.response.status_value, reply.response
                    break
    await close_iterator(replies)


def find(assoc: Association, keys: Keys, *, model: InformationModel | str = "study", priority: int = Priority.MEDIUM,
         timeout: Timeout = DEFAULT_TIMEOUT, raise_on_failure: bool = True) -> Query:
    """C-FIND ``keys`` (a Dataset, a mapping or ``-k`` style texts, see :mod:`.keys`) in ``model``
    (``patient``, ``study``, ``patient-study``, ``worklist`` or an InformationModel): ``async for match in
    find(assoc, ["QueryRetrieveLevel=STUDY", "PatientName=DOE*", "StudyInstanceUID"])``."""
    return Query(assoc, make_identifier(keys), model_named(model), priority=priority, timeout=timeout,
                 raise_on_failure=raise_on_failure)


async def find_all(assoc: Association, keys: Keys, **options: Any) -> list[Dataset]:
    """Every match of :func:`find` as a list (for ``SyncAssociation.call(find_all, keys)``)."""
    return await find(assoc, keys, **options).all()


def query_contexts(*models: InformationModel | str, operations: Sequence[Operation] = (Operation.FIND,),
                   ) -> list[PresentationContext]:
    """Presentation contexts an SCU proposes for these models and operations (uncompressed syntaxes; from the
    registry of SOP Classes)."""
    from ..registry import REGISTRY

    out = []
    for m in (model_named(x) for x in models or ("study",)):
        for op in operations:
            uid = {Operation.FIND: m.find_uid, Operation.MOVE: m.move_uid, Operation.GET: m.get_uid}[op]
            row = REGISTRY.get(str(uid)) if uid is not None else None
            if row is not None and row.scu:
                out.append(PresentationContext(row.sop_class_uid, list(DEFAULT_TRANSFER_SYNTAXES)))
    return out


__all__ = ["FIND_STATUSES", "FindSCP", "Query", "QueryFailed", "as_query_source", "find", "find_all",
           "query_contexts"]
