"""The network API without asyncio: an event loop runs in a background thread, calls wait for it.

>>> from dicomkit.net.sync import connect
>>> from dicomkit.services import echo, store
>>> with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
...     assoc.call(echo)
...     assoc.call(store, "ct.dcm")
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from .ae import ApplicationEntity, ContextSpec, Server
from .association import DEFAULT_TIMEOUT, Association, Timeout
from .dimse import Request, Response
from .negotiation import AssociationInfo, NegotiatedContext
from .payload import Payload
from .pdu import UserIdentityRQ

T = TypeVar("T")
P = ParamSpec("P")


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self, name: str = "dicomkit-net") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (exceptions are re-raised here)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a blocking dicomkit call was made from inside its own event loop thread")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class SyncAssociation:
    """A blocking wrapper around :class:`~dicomkit.net.association.Association`."""

    def __init__(self, runner: LoopThread, assoc: Association, *, owns_runner: bool) -> None:
        self._runner = runner
        self.association = assoc
        self._owns_runner = owns_runner

    @property
    def info(self) -> AssociationInfo | None:
        return self.association.info

    @property
    def accepted_contexts(self) -> list[NegotiatedContext]:
        return self.association.accepted_contexts

    @property
    def rejected_contexts(self) -> list[NegotiatedContext]:
        return self.association.rejected_contexts

    @property
    def is_established(self) -> bool:
        return self.association.is_established

    def call(self, operation: Callable[Concatenate[Association, P], Awaitable[T]], *args: P.args,
             **kwargs: P.kwargs) -> T:
        """Run an async operation that takes the association first (``assoc.call(echo)``,
        ``assoc.call(store, "ct.dcm")``) and wait for its result."""

        async def run() -> T:
            return await operation(self.association, *args, **kwargs)

        return self._runner.run(run())

    def iterate(self, operation: Callable[Concatenate[Association, P], AsyncIterator[T]], *args: P.args,
                **kwargs: P.kwargs) -> Iterator[T]:
        """Run an async iterator that takes the association first (``for match in assoc.iterate(find, q)``),
        one item at a time; leaving the loop early closes it (a C-FIND is then cancelled)."""
        agen = operation(self.association, *args, **kwargs)

        async def step() -> T:
            return await agen.__anext__()

        async def close() -> None:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while True:
                try:
                    item = self._runner.run(step())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            self._runner.run(close())

    def send_request(self, request: Request, *, context: NegotiatedContext | None = None,
                     payload: Payload | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> Response:
        return self._runner.run(self.association.send_request(request, context=context, payload=payload,
                                                              timeout=timeout))

    def release(self) -> None:
        try:
            self._runner.run(self.association.release())
        finally:
            self._done()

    def abort(self) -> None:
        try:
            self._runner.run(self.association.abort())
        finally:
            self._done()

    def _done(self) -> None:
        if self._owns_runner:
            self._runner.stop()

    def __enter__(self) -> SyncAssociation:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._runner.run(self.association.__aexit__(exc_type, exc, tb))
        finally:
            self._done()


def associate(ae: ApplicationEntity, host: str, port: int, contexts: Iterable[ContextSpec] | None = None,
              **options: Any) -> SyncAssociation:
    """``ApplicationEntity.associate`` from synchronous code."""
    runner = LoopThread()
    try:
        assoc = runner.run(ae.associate(host, port, contexts, **options))
    except BaseException:
        runner.stop()
        raise
    return SyncAssociation(runner, assoc, owns_runner=True)


def connect(host: str, port: int, *, ae_title: str = "DICOMKIT", called_ae_title: str = "ANY-SCP",
            contexts: Iterable[ContextSpec] | None = None, tls: ssl.SSLContext | None = None,
            user_identity: UserIdentityRQ | None = None, async_ops: int = 1, **ae_options: Any) -> SyncAssociation:
    """Blocking :func:`dicomkit.net.connect`; use as ``with connect(...) as assoc:``."""
    ae = ApplicationEntity(ae_title, max_ops_invoked=async_ops, **ae_options)
    return associate(ae, host, port, contexts, called_ae_title=called_ae_title, tls=tls, user_identity=user_identity)


class ServerThread:
    """An SCP serving from a background thread: ``with ServerThread(ae, port=0) as server: server.port``."""

    def __init__(self, ae: ApplicationEntity, host: str = "0.0.0.0", port: int = 104, *,
                 tls: ssl.SSLContext | None = None) -> None:
        self.ae = ae
        self._runner = LoopThread("dicomkit-scp")
        try:
            self.server: Server = self._runner.run(ae.start_server(host, port, tls=tls))
        except BaseException:
            self._runner.stop()
            raise

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def active(self) -> int:
        return len(self.server.active)

    def stop(self, grace: float = 10.0) -> None:
        try:
            self._runner.run(self.server.close(grace))
        finally:
            self._runner.stop()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
