"""A TLS listener that reports failed handshakes (PS3.15 B.9: DICOM over TLS; the audit trail records a
failed node authentication as a Security Alert).

``loop.create_server(ssl=...)`` drops a connection whose handshake fails without telling the application.
:func:`start_tls_server` accepts plain TCP, runs the handshake itself (``loop.start_tls``), calls
``on_failure(peer, error)`` when it fails or times out, and hands the TLS transport to an association
protocol of the :class:`~dicomkit.net.ae.Server` only once the handshake succeeded (so the association
counters and limits see TLS connections only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.errors import NetworkError

if TYPE_CHECKING:
    from .ae import Server

log = logging.getLogger("dicomkit.net")

HANDSHAKE_TIMEOUT = 30.0
FailureCallback = Callable[[tuple[str, int] | None, BaseException], None]
_handshakes: weakref.WeakKeyDictionary[Server, set[asyncio.Task[None]]] = weakref.WeakKeyDictionary()


class _Handshake(asyncio.Protocol):
    """Stands in for the association protocol while the handshake runs; keeps any data that arrives before
    the association protocol takes over."""

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.data.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class _Acceptor(asyncio.Protocol):
    def __init__(self, server: Server, context: ssl.SSLContext, on_failure: FailureCallback | None,
                 timeout: float) -> None:
        self.server = server
        self.context = context
        self.on_failure = on_failure
        self.timeout = timeout
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.task = asyncio.get_running_loop().create_task(self._upgrade(transport))
        tasks = _handshakes.setdefault(self.server, set())
        tasks.add(self.task)
        self.task.add_done_callback(tasks.discard)

    def data_received(self, data: bytes) -> None:  # pragma: no cover - start_tls takes the transport first
        pass

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        raw_peer = transport.get_extra_info("peername")
        peer = (str(raw_peer[0]), int(raw_peer[1])) if isinstance(raw_peer, tuple) and len(raw_peer) >= 2 else None
        holder = _Handshake()
        try:
            async with asyncio.timeout(self.timeout):
                tls = await loop.start_tls(transport, holder, self.context, server_side=True)
        except (OSError, TimeoutError, ssl.SSLError, ConnectionError) as exc:
            transport.abort()
            log.warning("TLS handshake with %s failed: %s", f"{peer[0]}:{peer[1]}" if peer else "peer",
                        getattr(exc, "reason", None) or exc or "timeout")
            if self.on_failure is not None:
                try:
                    self.on_failure(peer, exc)
                except Exception:
                    log.exception("TLS failure callback failed")
            return
        if tls is None or holder.lost:
            return
        protocol = self.server.protocol_factory()
        assert isinstance(protocol, asyncio.BufferedProtocol)
        tls.set_protocol(protocol)
        protocol.connection_made(tls)
        for chunk in holder.data:  # what arrived with the end of the handshake
            view = memoryview(chunk)
            while view:
                buffer = memoryview(protocol.get_buffer(len(view)))
                n = min(len(buffer), len(view))
                buffer[:n] = view[:n]
                protocol.buffer_updated(n)
                view = view[n:]


async def start_tls_server(server: Server, host: str, port: int, context: ssl.SSLContext, *,
                           on_failure: FailureCallback | None = None,
                           handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
    """Listen with TLS for ``server`` (a :class:`dicomkit.net.ae.Server` not yet listening): sets its
    ``server`` to the asyncio server, so its ``port`` and ``close`` work as for a plaintext listener."""
    loop = asyncio.get_running_loop()
    try:
        listener = await loop.create_server(lambda: _Acceptor(server, context, on_failure, handshake_timeout),
                                            host, port, reuse_address=True)
    except OSError as exc:
        raise NetworkError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    server.server = listener
    log.info("%s listening on %s:%d (TLS)", server.ae.ae_title, host, int(listener.sockets[0].getsockname()[1]))


async def cancel_handshakes(server: Server) -> None:
    """Stop handshakes still running (at shutdown)."""
    for task in list(_handshakes.get(server, ())):
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


__all__ = ["cancel_handshakes", "start_tls_server"]
