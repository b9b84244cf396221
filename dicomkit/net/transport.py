"""The asyncio side of the upper layer: a ``BufferedProtocol`` that feeds received bytes to the PDU
reader and the state machine, and carries out the machine's effects (send, close, ARTIM timer).

Received bytes go straight into the reader's buffer (no copy); PDUs to send are gathered and written
with one call per batch; TCP_NODELAY is set on every connection (PS3.8 9.1.3 leaves it to us, and
without it each small PDU can wait 40 ms for a delayed ACK).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any, Protocol

from ..core.errors import PDUError
from .fsm import (
    DT_2_IN_STA6,
    PDU_EVENTS,
    CloseTransport,
    Effect,
    Event,
    Indicate,
    InvalidTransition,
    Primitive,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
)
from .pdu import PDataTF, PDUReader

log = logging.getLogger("dicomkit.net")

WRITE_HIGH_WATER = 1 << 20  # pause a sender when this much is queued in the transport
_QUICKACK: int = getattr(socket, "TCP_QUICKACK", 0)  # Linux only (0: not available)
_STA6 = State.STA6 if DT_2_IN_STA6 else None  # the shortcut of buffer_updated follows the table


class UpperLayerUser(Protocol):
    """Receives the indications and confirmations of one association."""

    def on_primitive(self, primitive: Primitive, payload: object) -> None: ...

    def on_closed(self) -> None: ...


class UpperLayerProtocol(asyncio.BufferedProtocol):
    """One TCP (or TLS) connection running the PS3.8 state machine."""

    def __init__(self, user: UpperLayerUser, *, requestor: bool, max_pdu: int, artim_timeout: float,
                 network_timeout: float | None = None) -> None:
        self.user = user
        self.fsm = StateMachine(requestor=requestor)
        self.reader = PDUReader(max_pdu)
        self.transport: asyncio.Transport | None = None
        self.artim_timeout = artim_timeout
        self.network_timeout = network_timeout
        self.peer: tuple[str, int] | None = None
        self._loop = asyncio.get_running_loop()
        self._artim: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._last_activity = self._loop.time()
        self._out: list[bytes | memoryview] = []
        self._out_bytes = 0
        self._flush_scheduled = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._broken = False  # after an invalid PDU the byte stream cannot be trusted
        self.on_connected: Callable[[], None] | None = None
        self._quickack: socket.socket | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio callbacks ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if _QUICKACK:
                self._quickack = sock
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), int(peer[1]))
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._arm_idle_timer()
        if self.on_connected is not None:
            self.on_connected()
        if self.fsm.requestor:
            self.handle(Event.EVT2)  # AE-2: send the A-ASSOCIATE-RQ
        else:
            self.handle(Event.EVT5)  # AE-5: start ARTIM, await the A-ASSOCIATE-RQ
        self.flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if self._quickack is not None:
            # Acknowledge at once (Linux resets this after a while, so after every read): a peer that sends
            # a small PDU in two writes without TCP_NODELAY (DCMTK's default, Orthanc, pynetdicom) would
            # otherwise hold the second part until our delayed ACK, 40 ms per message.
            try:
                self._quickack.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                self._quickack = None
        self.reader.buffer_updated(nbytes)
        self._last_activity = self._loop.time()
        if self._broken:
            return
        reader = self.reader
        try:
            while True:
                try:
                    pdu = reader.next_pdu()
                except PDUError as exc:
                    self._broken = True
                    log.warning("invalid PDU from %s: %s", self.peer_text, exc)
                    self.handle(Event.EVT19, exc)
                    break
                if pdu is None:
                    break
                if pdu.__class__ is PDataTF and self.fsm.state is _STA6:
                    # Evt10 in Sta6 is DT-2 (DT_2_IN_STA6): indicate P-DATA, stay in Sta6 — the one effect the
                    # machine would return, carried out without building it (every P-DATA-TF received)
                    self.user.on_primitive(Primitive.P_DATA, pdu)
                    continue
                self.handle(PDU_EVENTS[pdu.pdu_type], pdu)
                if self.fsm.state == State.STA1:
                    break  # connection closed by this PDU: nothing after it is significant
        finally:
            self.flush()

    def eof_received(self) -> bool | None:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        self._writable.set()
        if self.fsm.state != State.STA1:
            with contextlib.suppress(InvalidTransition):  # every state with a connection has Evt17
                self.handle(Event.EVT17, exc)
        if not self.closed.done():
            self.closed.set_result(None)
        self.user.on_closed()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- driving the state machine ------------------------------------------------------------------------
    def handle(self, event: Event, payload: object = None) -> None:
        """Apply an event and carry out its effects."""
        effects = self.fsm.handle(event, payload)
        self._carry_out(effects)

    def _carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            if effect.__class__ is SendPDU:
                self.queue(effect.pdu.encode())
            elif effect.__class__ is Indicate:
                self.user.on_primitive(effect.primitive, effect.payload)
            elif effect.__class__ is CloseTransport:
                self.flush()
                if self.transport is not None:
                    self.transport.close()
            elif effect.__class__ is StartARTIM:
                self._start_artim()
            elif effect.__class__ is StopARTIM and self._artim is not None:
                self._artim.cancel()
                self._artim = None

    def send_pdata(self, *parts: bytes | memoryview) -> None:
        """Queue one already-encoded P-DATA-TF PDU, given as consecutive pieces (header, fragment).

        It is Evt9 (DT-1 in Sta6, AR-7 in Sta8); the action's effect is this queueing, done here so the
        fragment is not copied into a PDU object first.
        """
        self.fsm.handle(Event.EVT9)
        for data in parts:
            self._out.append(data)
            self._out_bytes += len(data)

    def send_pdatas(self, parts: list[bytes | memoryview], count: int, nbytes: int) -> None:
        """Queue ``count`` already-encoded P-DATA-TF PDUs given as consecutive pieces (``nbytes`` in all).

        Each is Evt9; the machine is asked once for them all when that leaves the state as it was (DT-1 in
        Sta6, AR-7 in Sta8: the only cells of Evt9), so a message of many PDUs costs one transition."""
        if not count:
            return
        fsm = self.fsm
        before = fsm.state
        fsm.handle(Event.EVT9)
        if fsm.state is not before:  # not a self-loop: every PDU goes through the machine
            for _ in range(count - 1):
                fsm.handle(Event.EVT9)
        self._out += parts
        self._out_bytes += nbytes

    def queue(self, data: bytes | memoryview) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

    def flush(self) -> None:
        if not self._out:
            return
        out, self._out, self._out_bytes = self._out, [], 0
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if len(out) == 1:
            transport.write(out[0])
        else:
            transport.write(b"".join(out))

    def flush_soon(self) -> None:
        """Write what is queued at the end of this turn of the event loop: messages queued one after another
        without waiting (C-FIND matches, pending responses) go out in one write instead of one each."""
        if not self._flush_scheduled and self._out:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    @property
    def writable(self) -> bool:
        """False while the transport's buffer is above its high-water mark (the peer reads slower)."""
        return self._writable.is_set()

    @property
    def queued(self) -> int:
        return self._out_bytes

    async def drain(self) -> None:
        """Wait until the transport has room (flow control for large data sets)."""
        self.flush()
        if not self._writable.is_set():
            await self._writable.wait()

    def abort_transport(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    @property
    def peer_text(self) -> str:
        return f"{self.peer[0]}:{self.peer[1]}" if self.peer else "peer"

    # -- timers --------------------------------------------------------------------------------------
    def _start_artim(self) -> None:
        if self._artim is not None:
            self._artim.cancel()
        self._artim = self._loop.call_later(self.artim_timeout, self._artim_expired)

    def _artim_expired(self) -> None:
        self._artim = None
        if self.fsm.action_for(Event.EVT18) is not None:
            log.info("ARTIM timer expired (%s, %s)", self.peer_text, self.fsm.state.label)
            self.handle(Event.EVT18)
            self.flush()

    def _arm_idle_timer(self) -> None:
        if self.network_timeout is not None:
            self._idle = self._loop.call_later(self.network_timeout, self._idle_check)

    def _idle_check(self) -> None:
        self._idle = None
        if self.network_timeout is None or self.fsm.state == State.STA1:
            return
        idle = self._loop.time() - self._last_activity
        if idle < self.network_timeout:
            self._idle = self._loop.call_later(self.network_timeout - idle, self._idle_check)
            return
        log.warning("no data from %s for %.0f s: aborting the association", self.peer_text, idle)
        if self.fsm.action_for(Event.EVT15) is not None:
            self.user.on_primitive(Primitive.A_P_ABORT, "network timeout: no data received")
            self.handle(Event.EVT15)
            self.flush()
        else:
            self.abort_transport()

    def _cancel_timers(self) -> None:
        for handle in (self._artim, self._idle):
            if handle is not None:
                handle.cancel()
        self._artim = self._idle = None


def socket_info(transport: Any) -> dict[str, Any]:
    """Addresses and TLS details of a connection (for logs and handlers)."""
    info: dict[str, Any] = {"peer": transport.get_extra_info("peername"), "local": transport.get_extra_info("sockname")}
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        info["tls_version"] = ssl_object.version()
        info["cipher"] = ssl_object.cipher()
        info["peer_certificate"] = ssl_object.getpeercert()
    return info
