"""A live association: DIMSE messaging over the upper layer, for both the requestor and the acceptor.

Requests are sent with :meth:`Association.requests` / :meth:`Association.send_request` on a presentation
context, with an optional payload (the service classes in ``dicomkit.services`` build them: C-ECHO,
C-STORE, ...); up to the negotiated asynchronous operations window may be outstanding at once (PS3.7
D.3.3.3). Requests from the peer are dispatched to the handler registered on the Application Entity for
their message type (see :mod:`dicomkit.net.handlers`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..core.errors import (
    AssociationAborted,
    AssociationRejected,
    AssociationReleased,
    DicomError,
    DimseError,
    NetworkError,
    NetworkTimeout,
    PDUError,
)
from ..core.uid import UID
from .dimse import (
    RESPONSE_FOR,
    CCancelRQ,
    CEchoRSP,
    DataSink,
    DimseMessage,
    DiscardSink,
    MemorySink,
    MessageAssembler,
    NEventReportRQ,
    Request,
    Response,
    command_fragments,
)
from .fsm import Event, InvalidTransition, Primitive, ProviderAbort, State
from .handlers import RequestContext, closing
from .negotiation import (
    AssociationGrant,
    AssociationInfo,
    NegotiatedContext,
    PeerInfo,
    Rejection,
    accept_response,
    negotiate,
)
from .payload import Payload
from .pdu import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    MessageControl,
    PDataTF,
    RejectReason,
    RejectResult,
    RejectSource,
    pdata_header,
    pdata_header_two,
)
from .status import PROCESSING_FAILURE, SOP_CLASS_NOT_SUPPORTED, UNRECOGNIZED_OPERATION, Status
from .transport import UpperLayerProtocol

if TYPE_CHECKING:
    from .ae import ApplicationEntity

log = logging.getLogger("dicomkit.net")

FLUSH_BYTES = 1 << 18  # write out queued PDUs of a large data set every this many bytes
# A message that leaves at least this much queued is written at once, not at the end of the loop's turn: the
# callbacks queued before that end (reading the next file to send, ...) would delay it, and a peer answering
# one message at a time (a synchronous C-GET or C-STORE peer) waits for every byte of it. Smaller messages
# sent one after another (C-FIND matches, Pending responses) still share one write.
WRITE_NOW_BYTES = 1 << 15

_PDATA_OVERHEAD = 12  # the PDU header and PDV item header before each fragment (pdata_header)
# PS3.8 E.2 Message Control Headers, as plain ints for the send path
_DATA = int(MessageControl.DATA)
_DATA_LAST = int(MessageControl.LAST)
_COMMAND = int(MessageControl.COMMAND)
_COMMAND_LAST = int(MessageControl.COMMAND | MessageControl.LAST)


class _Default(enum.Enum):
    TIMEOUT = "the Application Entity's timeout"


# "Use the AE's timeout for this exchange" (its dimse_timeout or acse_timeout); None waits forever.
DEFAULT_TIMEOUT = _Default.TIMEOUT
Timeout = float | None | Literal[_Default.TIMEOUT]

_association_ids = itertools.count(1)


class Reply(NamedTuple):
    """One response to a request, with its data set (encoded in the context's transfer syntax) if any."""

    response: Response
    data: bytes | None


_P_DATA = Primitive.P_DATA


class _Pending:
    """Replies to one outstanding request, as they arrive (a light queue: one reader, one writer).

    :meth:`get` bounds each wait by a timeout with one timer that outlives the waits: a wait only moves the
    deadline, and the timer, when it fires early (the replies kept coming), is set again for the deadline then.
    A C-GET waits for a response per instance; a timer of its own per wait (``asyncio.timeout``) costs more than
    the rest of the wait."""

    __slots__ = ("context_id", "deadline", "items", "timer", "waiter")

    def __init__(self, context_id: int) -> None:
        self.context_id = context_id
        self.items: collections.deque[Reply | BaseException] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def put(self, item: Reply | BaseException) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self, loop: asyncio.AbstractEventLoop, timeout: float | None = None) -> Reply | BaseException:
        """The next reply; TimeoutError when none came within ``timeout`` seconds (None: no limit)."""
        while not self.items:
            waiter = self.waiter = loop.create_future()
            if timeout is not None:
                deadline = self.deadline = loop.time() + timeout
                timer = self.timer
                if timer is None or timer.when() > deadline:
                    if timer is not None:
                        timer.cancel()
                    self.timer = loop.call_at(deadline, self._expire, loop)
            try:
                await waiter
            finally:
                self.waiter = None
        return self.items.popleft()

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # no wait now: the next one sets a timer
        if loop.time() >= self.deadline:
            waiter.set_exception(TimeoutError())
        else:
            self.timer = loop.call_at(self.deadline, self._expire, loop)

    def close(self) -> None:
        """The request is done: its timer goes."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Association:
    """An association with a peer AE; create one with :func:`dicomkit.net.connect` or a server."""

    def __init__(self, ae: ApplicationEntity, *, requestor: bool, request: AAssociateRQ | None = None,
                 overloaded: bool = False) -> None:
        self.ae = ae
        self.is_requestor = requestor
        self._rq = request
        self._overloaded = overloaded
        self.info: AssociationInfo | None = None
        self._accepted_ids: frozenset[int] = frozenset()  # the accepted presentation contexts' IDs (of info)
        self._loop = asyncio.get_running_loop()
        self.established: asyncio.Future[AssociationInfo] = self._loop.create_future()
        self._release_done: asyncio.Future[None] | None = None
        self.protocol = UpperLayerProtocol(self, requestor=requestor, max_pdu=ae.max_pdu,
                                           artim_timeout=ae.artim_timeout, network_timeout=ae.network_timeout)
        self._assembler = MessageAssembler(self._on_command, self._on_message)
        self._pending: dict[int, _Pending] = {}
        self._send_lock = asyncio.Lock()
        self._invoke_slots: asyncio.Semaphore | None = None
        self._perform_slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[int, RequestContext] = {}
        self._message_id = 0
        self._ended: NetworkError | None = None
        self.released = False
        self._closed_event = asyncio.Event()
        self.id = f"A{next(_association_ids)}"  # names the association in logs and audit records
        self.performed = 0  # requests from the peer answered with a final response
        if requestor:
            self.protocol.handle(Event.EVT1, request)  # AE-1; the connection is opened by connect()

    # -- properties -------------------------------------------------------------------------------------
    @property
    def peer_ae_title(self) -> str:
        if self.info is not None:
            return self.info.peer_ae_title
        return self._rq.called_ae_title if self._rq and self.is_requestor else (
            self._rq.calling_ae_title if self._rq else "")

    @property
    def local_ae_title(self) -> str:
        return self.info.local_ae_title if self.info is not None else self.ae.ae_title

    @property
    def peer_address(self) -> tuple[str, int] | None:
        return self.protocol.peer

    @property
    def accepted_contexts(self) -> list[NegotiatedContext]:
        return self.info.accepted_contexts if self.info else []

    @property
    def rejected_contexts(self) -> list[NegotiatedContext]:
        return self.info.rejected_contexts if self.info else []

    @property
    def is_established(self) -> bool:
        return self.protocol.fsm.state == State.STA6 and self._ended is None

    @property
    def state(self) -> State:
        return self.protocol.fsm.state

    def __repr__(self) -> str:
        role = "requestor" if self.is_requestor else "acceptor"
        return f"<Association {self.local_ae_title} -> {self.peer_ae_title} ({role}, {self.state.label})>"

    # -- upper layer indications -------------------------------------------------------------------------
    def on_primitive(self, primitive: Primitive, payload: object) -> None:
        try:
            if primitive is _P_DATA:  # the one of every PDU after the negotiation: before the others
                self._on_pdata(payload)  # type: ignore[arg-type]  # P-DATA carries a P-DATA-TF
            else:
                self._on_primitive(primitive, payload)
        except DimseError as exc:
            log.warning("%s: DIMSE protocol error: %s; aborting", self, exc)
            self._abort_now(AAbort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED), f"DIMSE protocol error: {exc}")
        except Exception as exc:  # never let a handler bug escape into the event loop
            log.exception("%s: internal error while handling %s", self, primitive.value)
            self._abort_now(AAbort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED), f"internal error: {exc}")

    def _on_pdata(self, pdata: PDataTF) -> None:
        accepted = self._accepted_ids
        receive = self._assembler.receive
        for pdv in pdata.pdvs:
            if pdv.context_id not in accepted:
                # PS3.8 9.3.5.1: a PDV must use an accepted presentation context
                self.protocol.handle(Event.EVT19, PDUError(
                    f"PDV on presentation context {pdv.context_id}, which was not accepted",
                    reason=AbortReason.INVALID_PDU_PARAMETER_VALUE))
                return
            receive(pdv)

    def _on_primitive(self, primitive: Primitive, payload: object) -> None:
        if primitive is Primitive.P_DATA:
            assert isinstance(payload, PDataTF)
            self._on_pdata(payload)
        elif primitive is Primitive.A_ASSOCIATE_INDICATION:
            assert isinstance(payload, AAssociateRQ)
            self._answer_request(payload)
        elif primitive is Primitive.A_ASSOCIATE_ACCEPT:
            assert isinstance(payload, AAssociateAC) and self._rq is not None
            self._set_info(accept_response(self._rq, payload))
        elif primitive is Primitive.A_ASSOCIATE_REJECT:
            assert isinstance(payload, AAssociateRJ)
            self._end(AssociationRejected(f"association rejected by {self.peer_ae_title}: {payload.description}",
                                          result=payload.result, source=payload.source, reason=payload.reason))
        elif primitive is Primitive.A_RELEASE_INDICATION:
            self._spawn(self._answer_release())
        elif primitive is Primitive.A_RELEASE_COLLISION:
            if self.is_requestor:
                self.protocol.handle(Event.EVT14)  # Sta9 -> AR-9
            # the acceptor waits for the A-RELEASE-RP (Sta10 -> AR-10 -> Sta12)
        elif primitive is Primitive.A_RELEASE_CONFIRMATION:
            if self.protocol.fsm.state == State.STA12:
                self.protocol.handle(Event.EVT14)  # AR-4
            self._end(AssociationReleased("association released"), released=True)
        elif primitive is Primitive.A_ABORT:
            text = payload.description if isinstance(payload, AAbort) else "aborted by the peer"
            self._end(AssociationAborted(f"association {text}", source=getattr(payload, "source", None),
                                         reason=getattr(payload, "reason", None)), by_peer=True)
        elif primitive is Primitive.A_P_ABORT:
            if isinstance(payload, AAbort):  # the peer's provider aborted (AA-3)
                self._end(AssociationAborted(f"association {payload.description}", source=payload.source,
                                             reason=payload.reason), by_peer=True)
            elif isinstance(payload, ProviderAbort):  # we aborted on a protocol error (AA-8)
                self._end(AssociationAborted(f"association aborted: {payload}", source=payload.sent.source,
                                             reason=payload.sent.reason))
            else:  # the connection went away (AA-4) or went idle
                detail = f": {payload}" if payload else ""
                self._end(AssociationAborted(f"connection to {self.protocol.peer_text} lost{detail}"), by_peer=True)

    def on_closed(self) -> None:
        self._end(AssociationAborted(f"connection to {self.protocol.peer_text} closed"), by_peer=True)
        self._closed_event.set()

    def _set_info(self, info: AssociationInfo) -> None:
        self.info = info
        self._accepted_ids = frozenset(cid for cid, ctx in info.contexts.items() if ctx.accepted)
        # PS3.7 D.3.3.3: 1 (the default) is synchronous operation; 0 is unlimited
        self._invoke_slots = asyncio.Semaphore(info.max_ops_invoked_local or 1 << 16)
        self._perform_slots = asyncio.Semaphore(info.max_ops_invoked_peer or 1 << 16)
        if not self.established.done():
            self.established.set_result(info)

    def _end(self, error: NetworkError, released: bool = False, by_peer: bool = False) -> None:
        """The association is over (or never was): fail whatever still waits on it."""
        first = self._ended is None
        if first:
            self._ended = error
            self.released = released
        if not self.established.done():
            self.established.set_exception(error)
            self.established.exception()  # mark retrieved; connect() re-raises it
        for pending in self._pending.values():
            pending.put(error)
        if self._release_done is not None and not self._release_done.done():
            if released:
                self._release_done.set_result(None)
            else:
                self._release_done.set_exception(error)
                self._release_done.exception()
        if not released:
            dropped = self._assembler.discard_all()
            if first and by_peer and self.info is not None:
                # an association killed under us is worth a line whatever the log level asks
                log.warning("%s: %s; peer %s at %s; %d request(s) answered, %d outstanding%s", self.id, error,
                            self.peer_ae_title or "?", self.protocol.peer_text, self.performed, len(self._pending),
                            f"; discarded {', '.join(dropped)}" if dropped else "")

    # -- acceptor: answering A-ASSOCIATE-RQ -----------------------------------------------------------------
    def _answer_request(self, rq: AAssociateRQ) -> None:
        self._rq = rq
        if self._overloaded:
            log.warning("rejecting association from %s (%s): association limit of %d reached",
                        rq.calling_ae_title, self.protocol.peer_text, self.ae.maximum_associations)
            # PS3.8 Table 9-21: rejected-transient, service-provider (presentation), local-limit-exceeded
            self._reject(AAssociateRJ(RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
                                      RejectReason.LOCAL_LIMIT_EXCEEDED))
            return
        if self.ae.association_check is None:
            self._negotiate_answer(rq, None)
            return
        try:
            outcome = self.ae.association_check(rq, self._peer_info())
        except Rejection as exc:
            self._refuse(rq, exc)
            return
        if isinstance(outcome, AssociationGrant):
            self._negotiate_answer(rq, outcome)
        else:  # a check that waits (a password hash, a JWKS fetch): answer when it is done, in Sta3
            self._spawn(self._answer_after_check(rq, outcome))

    async def _answer_after_check(self, rq: AAssociateRQ, pending: Awaitable[AssociationGrant]) -> None:
        try:
            grant = await pending
        except Rejection as exc:
            if self.protocol.fsm.state == State.STA3:
                self._refuse(rq, exc)
                self.protocol.flush()
            return
        except Exception as exc:
            log.exception("%s: association check failed", self)
            self._abort_now(AAbort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED), f"internal error: {exc}")
            return
        if self.protocol.fsm.state != State.STA3:
            return  # the peer aborted or went away while the check ran
        self._negotiate_answer(rq, grant)
        self.protocol.flush()

    def _refuse(self, rq: AAssociateRQ, exc: Rejection) -> None:
        log.info("rejecting association from %s (%s): %s", rq.calling_ae_title, self.protocol.peer_text, exc)
        self._reject(exc.rj)

    def _negotiate_answer(self, rq: AAssociateRQ, grant: AssociationGrant | None) -> None:
        verifier = self.ae.identity_verifier
        if grant is not None and grant.identity_response is not None:
            response = grant.identity_response
            verifier = lambda identity, request: (True, response)  # noqa: E731 - the check accepted it
        answer, info = negotiate(rq, self.ae, identity_verifier=verifier,
                                 extended_negotiator=self.ae.extended_negotiator)
        if isinstance(answer, AAssociateRJ):
            log.info("rejecting association from %s (%s): %s", rq.calling_ae_title, self.protocol.peer_text,
                     answer.description)
            self._reject(answer)
            return
        assert info is not None
        if grant is not None:
            info.authorization = grant.authorization
        self.protocol.handle(Event.EVT7, answer)  # AE-7
        self._set_info(info)
        log.info("association accepted: %s -> %s from %s, %d of %d contexts", info.peer_ae_title,
                 info.local_ae_title, self.protocol.peer_text, len(info.accepted_contexts), len(info.contexts))

    def _peer_info(self) -> PeerInfo:
        transport = self.protocol.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return PeerInfo(self.protocol.peer, self.id)
        return PeerInfo(self.protocol.peer, self.id, ssl_object.version(), ssl_object.getpeercert() or None)

    def _reject(self, rj: AAssociateRJ) -> None:
        self.protocol.handle(Event.EVT8, rj)  # AE-8
        self._end(AssociationRejected(f"rejected: {rj.description}", result=rj.result, source=rj.source,
                                      reason=rj.reason))

    async def _answer_release(self) -> None:
        # Finish what the peer asked for before answering (AR-7 allows P-DATA in Sta8), then AR-4.
        running = [t for t in self._tasks if t is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=self.ae.dimse_timeout)
        if self.protocol.fsm.state == State.STA8:
            self.protocol.handle(Event.EVT14)
            self.protocol.flush()
        self._end(AssociationReleased("association released by the peer"), released=True)

    # -- DIMSE: receiving ----------------------------------------------------------------------------------
    def _on_command(self, context_id: int, message: DimseMessage) -> DataSink | None:
        if isinstance(message, Response):
            if message.message_id_being_responded_to not in self._pending:
                raise DimseError(f"{message.name} answers message {message.message_id_being_responded_to}, "
                                 "which is not outstanding")
            return MemorySink() if message.has_dataset else None
        if isinstance(message, CCancelRQ):
            return DiscardSink() if message.has_dataset else None
        assert isinstance(message, Request) and self.info is not None
        ctx = self.info.contexts[context_id]
        rc = RequestContext(self, ctx, message)
        if message.message_id is not None:
            self._running[message.message_id] = rc
        handler = self.ae.handlers.get(type(message))
        response_class = RESPONSE_FOR.get(type(message))
        if handler is None or response_class is None:
            rc.failure = _failure(message, UNRECOGNIZED_OPERATION, f"{message.name} is not supported here")
        elif not ctx.local_scp and not isinstance(message, NEventReportRQ):
            # N-EVENT-REPORT goes the other way: the SCP of a SOP Class reports to its SCU (PS3.7 10.1.1), on
            # the association of the request or on one the SCP opens (PS3.4 J.3.3, with or without role
            # selection in practice): any accepted context of the SOP Class may carry it.
            rc.failure = _failure(message, SOP_CLASS_NOT_SUPPORTED,
                                  "the SCP role was not negotiated for this presentation context")
        if not message.has_dataset:
            return None
        if rc.failure is not None or handler is None:
            return DiscardSink()
        try:
            return handler.data_sink(message, rc)
        except Exception as exc:  # refused before its data (a wrong SOP Class, a full disk): a status, keep going
            if isinstance(exc, DicomError):
                log.warning("%s: %s refused: %s", self, message.name, exc)
            else:
                log.exception("%s: cannot receive the data set of %s", self, message.name)
            rc.failure = _failure(message, getattr(exc, "status", PROCESSING_FAILURE), str(exc))
            return DiscardSink()

    def _on_message(self, context_id: int, message: DimseMessage, sink: DataSink | None) -> None:
        if isinstance(message, Response):
            pending = self._pending.get(message.message_id_being_responded_to or 0)
            if pending is not None:
                if isinstance(sink, MemorySink) and sink.overflow:
                    pending.put(DimseError(f"the data set of {message.name} exceeds {sink.limit} bytes"))
                    return
                data = bytes(sink.data) if isinstance(sink, MemorySink) else None
                pending.put(Reply(message, data))
            return
        if isinstance(message, CCancelRQ):
            rc = self._running.get(message.message_id_being_responded_to or 0)
            if rc is not None:
                rc.cancelled.set()
            return
        assert isinstance(message, Request)
        rc = self._running.get(message.message_id) if message.message_id is not None else None
        if rc is None:
            assert self.info is not None
            rc = RequestContext(self, self.info.contexts[context_id], message)
        if self._answer_now(rc, sink):
            return
        self._spawn(self._perform(rc, sink))

    def _answer_now(self, rc: RequestContext, sink: DataSink | None) -> bool:
        """Answer at once when the handler can and nothing is queued before it (keeps the window's order)."""
        handler = self.ae.handlers.get(type(rc.request))
        if (handler is None or rc.failure is not None or self._send_lock.locked()
                or (self._perform_slots is not None and self._perform_slots.locked())):
            return False
        request = rc.request
        try:
            response = handler.handle_now(request, sink, rc)
        except Exception as exc:  # a handler bug answers Processing Failure; the association goes on
            log.exception("%s: handler for %s failed", self, request.name)
            response = _failure(request, PROCESSING_FAILURE, str(exc))
        if response is None:
            return False
        if request.message_id is not None:
            self._running.pop(request.message_id, None)
        self._fill_response(request, response, None)
        try:
            self._check_usable()
            command = response.encode()
            size = self.info.send_fragment_size if self.info else len(command)
            context_id = rc.context.context_id
            if len(command) <= size:  # one fragment, as command_fragments gives it: the usual case
                self.protocol.send_pdata(pdata_header(context_id, _COMMAND_LAST, len(command)), command)
            else:
                for fragment, last in command_fragments(command, size):
                    self.protocol.send_pdata(pdata_header(context_id, _COMMAND_LAST if last else _COMMAND,
                                                          len(fragment)),
                                             fragment)
            self.performed += 1
        except (NetworkError, InvalidTransition) as exc:
            log.info("%s: response to %s not sent: %s", self, request.name, exc)
        return True

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _perform(self, rc: RequestContext, sink: DataSink | None) -> None:
        request = rc.request
        try:
            if self._perform_slots is not None:
                async with self._perform_slots:
                    await self._run_handler(rc, sink)
            else:
                await self._run_handler(rc, sink)
        finally:
            if request.message_id is not None:
                self._running.pop(request.message_id, None)

    async def _run_handler(self, rc: RequestContext, sink: DataSink | None) -> None:
        request = rc.request
        cid = rc.context.context_id
        try:
            if rc.failure is not None:
                await self._send_response(cid, request, rc.failure, None)
                return
            handler = self.ae.handlers[type(request)]
            async with closing(handler.responses(request, sink, rc)) as responses:
                async for response, payload in responses:
                    await self._send_response(cid, request, response, payload)
        except NetworkError as exc:
            log.info("%s: response to %s not sent: %s", self, request.name, exc)
        except Exception as exc:
            log.exception("%s: handler for %s failed", self, request.name)
            with contextlib.suppress(NetworkError):
                await self._send_response(cid, request, _failure(request, PROCESSING_FAILURE, str(exc)), None)

    async def _send_response(self, context_id: int, request: Request, response: Response,
                             payload: Payload | None) -> None:
        self._fill_response(request, response, payload)
        await self._send_message(context_id, response, payload)
        if not response.status_value.is_pending:
            self.performed += 1

    @staticmethod
    def _fill_response(request: Request, response: Response, payload: Payload | None) -> None:
        response.message_id_being_responded_to = request.message_id
        if response.affected_sop_class_uid is None:
            response.affected_sop_class_uid = request.affected_sop_class_uid
        if response.affected_sop_instance_uid is None and request.affected_sop_instance_uid is not None:
            response.affected_sop_instance_uid = request.affected_sop_instance_uid
        response.has_dataset = payload is not None

    # -- DIMSE: sending ------------------------------------------------------------------------------------
    async def _send_message(self, context_id: int, message: DimseMessage, payload: Payload | None) -> None:
        command = message.encode()
        protocol = self.protocol
        async with self._send_lock:
            self._check_usable()
            assert self.info is not None
            size = self.info.send_fragment_size
            # the PDUs (header, fragment, header, ...) are queued together, every FLUSH_BYTES for a large data set
            parts: list[bytes | memoryview] = []
            count = nbytes = 0
            try:
                if (payload is not None and len(command) + payload.nbytes + 6 <= size
                        and self.info.peer_reads_several_pdvs):
                    # a small message (a C-FIND match, an N-GET answer) goes as one PDU of two PDVs
                    data = next(iter(payload.fragments(size)), b"")
                    first, second = pdata_header_two(context_id, len(command), len(data))
                    parts, count, nbytes = [first, command, second, data], 1, 18 + len(command) + len(data)
                else:
                    for fragment, last in command_fragments(command, size):
                        flags = _COMMAND_LAST if last else _COMMAND
                        parts += (pdata_header(context_id, flags, len(fragment)), fragment)
                        count += 1
                        nbytes += _PDATA_OVERHEAD + len(fragment)
                    if payload is not None:
                        previous: bytes | memoryview | None = None
                        for fragment in payload.fragments(size):
                            if previous is not None:
                                parts += (pdata_header(context_id, _DATA, len(previous)), previous)
                                count += 1
                                nbytes += _PDATA_OVERHEAD + len(previous)
                                if protocol.queued + nbytes >= FLUSH_BYTES:
                                    protocol.send_pdatas(parts, count, nbytes)
                                    parts, count, nbytes = [], 0, 0
                                    await protocol.drain()
                                    self._check_usable()
                            previous = fragment
                        last_fragment = previous if previous is not None else b""
                        parts += (pdata_header(context_id, _DATA_LAST, len(last_fragment)), last_fragment)
                        count += 1
                        nbytes += _PDATA_OVERHEAD + len(last_fragment)
                protocol.send_pdatas(parts, count, nbytes)
            except InvalidTransition:
                raise self._ended or AssociationAborted("the association is no longer established") from None
            finally:
                if protocol.queued >= WRITE_NOW_BYTES:
                    protocol.flush()
                else:
                    protocol.flush_soon()  # messages sent one after another share one write
            # many small messages (C-FIND matches, pending responses) must not pile up in the transport
            # faster than the peer reads them: wait here while it is above its high-water mark
            if not protocol.writable:
                await protocol.drain()

    def _check_usable(self) -> None:
        if self._ended is not None:
            raise self._ended
        if self.protocol.fsm.state not in (State.STA6, State.STA8):
            raise AssociationAborted(f"the association is not established ({self.protocol.fsm.state.label})")

    def _next_message_id(self) -> int:
        # PS3.7 9.1.1.1: unique among outstanding requests; wraps within 16 bits, skipping 0 and busy IDs
        for _ in range(0x10000):
            self._message_id = self._message_id % 0xFFFF + 1
            if self._message_id not in self._pending:
                return self._message_id
        raise DimseError("no free message ID")

    async def requests(self, request: Request, *, context: NegotiatedContext | None = None,
                       payload: Payload | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> AsyncIterator[Reply]:
        """Send ``request`` and yield every response (pending ones, then the final one).

        ``timeout`` bounds the wait for each response (default: the AE's ``dimse_timeout``); when it passes,
        the association is aborted and NetworkTimeout raised."""
        ctx = context or self._context_for(request)
        wait = self.ae.dimse_timeout if timeout is DEFAULT_TIMEOUT else timeout
        slots = self._invoke_slots
        if slots is not None:
            await slots.acquire()
        try:
            message_id, pending = await self._invoke(ctx, request, payload)
            try:
                while True:
                    reply = await self._reply(request, pending, wait)
                    yield reply
                    if not reply.response.status_value.is_pending:
                        return
            finally:
                self._pending.pop(message_id, None)
                pending.close()
        finally:
            if slots is not None:
                slots.release()

    async def send_request(self, request: Request, *, context: NegotiatedContext | None = None,
                           payload: Payload | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> Response:
        """Send ``request`` and return its final response (pending responses are passed over)."""
        final: Reply | None = None
        async for reply in self.requests(request, context=context, payload=payload, timeout=timeout):
            final = reply
        assert final is not None  # requests() ends only after a final (non-pending) response
        return final.response

    async def _invoke(self, ctx: NegotiatedContext, request: Request,
                      payload: Payload | None) -> tuple[int, _Pending]:
        self._check_usable()
        request.has_dataset = payload is not None
        message_id = request.message_id = self._next_message_id()
        pending = self._pending[message_id] = _Pending(ctx.context_id)
        try:
            await self._send_message(ctx.context_id, request, payload)
        except BaseException:
            self._pending.pop(message_id, None)
            raise
        return message_id, pending

    async def _reply(self, request: Request, pending: _Pending, timeout: float | None) -> Reply:
        if pending.items:  # already here (a stream of responses): no timer to arm
            item = pending.items.popleft()
            if isinstance(item, BaseException):
                raise item
            return item
        try:
            item = await pending.get(self._loop, timeout)
        except TimeoutError:
            await self.abort()
            raise NetworkTimeout(f"no response to {request.name} within {timeout} s (DIMSE timeout); "
                                 "association aborted") from None
        if isinstance(item, BaseException):
            raise item
        return item

    async def cancel(self, message_id: int) -> None:
        """C-CANCEL-RQ (PS3.7 9.3.2.3) for an outstanding request; its responses still arrive (Cancel status)."""
        pending = self._pending.get(message_id)
        if pending is None:
            raise DimseError(f"message {message_id} is not outstanding")
        await self._send_message(pending.context_id, CCancelRQ(message_id_being_responded_to=message_id), None)

    def _context_for(self, request: Request) -> NegotiatedContext:
        sop_class = request.affected_sop_class_uid or request.requested_sop_class_uid
        if self.info is None:
            raise AssociationAborted("the association is not established")
        ctx = self.info.find_context(str(sop_class)) if sop_class else None
        if ctx is None and sop_class and isinstance(request, NEventReportRQ):
            ctx = self.info.find_context(str(sop_class), as_scu=False)  # the SCP reports (PS3.7 10.1.1)
        if ctx is None:
            raise DimseError(f"no accepted presentation context for {UID(str(sop_class)).name}")
        return ctx

    # -- release and abort -------------------------------------------------------------------------------
    async def release(self, *, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        """A-RELEASE (PS3.8 7.2): ask the peer to end the association and wait for its answer (default:
        the AE's ``acse_timeout``)."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.ae.acse_timeout
        if self.protocol.fsm.state != State.STA6:
            await self.wait_closed(timeout)
            return
        self._release_done = self._loop.create_future()
        self.protocol.handle(Event.EVT11)  # AR-1
        self.protocol.flush()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._release_done)
                await self._closed_event.wait()
        except TimeoutError:
            await self.abort()
            raise NetworkTimeout(f"no A-RELEASE-RP from {self.peer_ae_title} within {timeout} s; aborted") from None
        except AssociationReleased:
            return

    async def abort(self) -> None:
        """A-ABORT (PS3.8 7.3): end the association at once."""
        self._abort_now(AAbort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED), "association aborted locally")
        await self.wait_closed(self.ae.artim_timeout)

    def _abort_now(self, abort: AAbort, reason: str) -> None:
        self._end(AssociationAborted(reason))
        if self.protocol.fsm.action_for(Event.EVT15) is not None:
            self.protocol.handle(Event.EVT15, abort)
            self.protocol.flush()
            # the peer closes on receipt (AA-3); we close too rather than wait for ARTIM
            if self.protocol.transport is not None:
                self._loop.call_later(0.5, self.protocol.abort_transport)
        elif self.protocol.fsm.state != State.STA1:
            self.protocol.abort_transport()

    async def wait_closed(self, timeout: float | None = None) -> None:
        if self.protocol.fsm.state == State.STA1 and self.protocol.transport is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._closed_event.wait()
        except TimeoutError:
            self.protocol.abort_transport()

    async def __aenter__(self) -> Association:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is None or (isinstance(exc, DicomError)
                           and not isinstance(exc, AssociationAborted | AssociationReleased | NetworkTimeout)):
            try:
                await self.release()
                return
            except NetworkError:
                pass
        if self.protocol.fsm.state not in (State.STA1, State.STA13):
            await self.abort()


def _failure(request: Request, status: int, comment: str) -> Response:
    cls = RESPONSE_FOR.get(type(request), CEchoRSP)
    return cls(status=Status(status), error_comment=comment or None)  # the encoder keeps LO's 64 characters
