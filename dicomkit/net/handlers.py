"""The SCP handler API: what a service implements to perform requests received on an association.

One handler instance serves one kind of request (``ae.add_handler(CEchoRQ, handler)``). For each request
the association asks the handler where the request's data set goes (:meth:`DimseHandler.data_sink`, so a
C-STORE streams to its file as P-DATA arrives), then for the response(s) (:meth:`DimseHandler.responses`,
run in a task of its own so that a slow handler never stalls the association's other requests). A handler
that can answer without waiting opts in to :meth:`DimseHandler.handle_now`, which saves that task.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from .dimse import RESPONSE_FOR, CEchoRSP, DataSink, MemorySink, Request, Response
from .negotiation import NegotiatedContext
from .payload import Payload
from .status import SOP_CLASS_NOT_SUPPORTED, Status

if TYPE_CHECKING:
    from .association import Association
    from .pdu import UserIdentityRQ


@dataclass
class RequestContext:
    """What a handler knows about the request it serves: the association, the presentation context, who
    asked, and whether the requestor cancelled it (C-CANCEL-RQ, PS3.7 9.3.2.3)."""

    association: Association
    context: NegotiatedContext
    request: Request
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    failure: Response | None = None  # set when the request is refused before its handler runs
    unsent: Response | None = None  # the final response a handler had when its requester was gone (not sent)

    @property
    def transfer_syntax(self) -> str:
        return self.context.transfer_syntax

    @property
    def calling_ae_title(self) -> str:
        return self.association.peer_ae_title

    @property
    def called_ae_title(self) -> str:
        return self.association.local_ae_title

    @property
    def peer_address(self) -> tuple[str, int] | None:
        return self.association.peer_address

    @property
    def user_identity(self) -> UserIdentityRQ | None:
        info = self.association.info
        return info.user_identity if info is not None else None

    @property
    def association_id(self) -> str:
        return self.association.id


class DimseHandler(abc.ABC):
    """Base of SCP handlers: override :meth:`responses` (several responses) or use :class:`SingleResponse`."""

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        """Where the request's data set goes (default: memory)."""
        return MemorySink()

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        """The response at once, when it needs no waiting; None to run :meth:`responses` in a task.

        The default answers nothing at once. A handler opts in by overriding it (most C-STOREs and every
        C-ECHO are answered this way)."""
        return None

    @abc.abstractmethod
    def responses(self, request: Request, data: DataSink | None,
                  rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        """Every response to ``request``, pending ones first, each with its data set (or None)."""


class SingleResponse(DimseHandler):
    """A handler whose requests get exactly one response, from :meth:`handle`."""

    @abc.abstractmethod
    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        """The one response to ``request``."""

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        yield await self.handle(request, data, rc), None


class SopClassRouter(DimseHandler):
    """One handler per SOP Class for one kind of request: several services share a request type (C-FIND for
    the Query/Retrieve models and the Modality Worklist, N-ACTION for Storage Commitment and others, ...).
    The request goes to the handler registered for its presentation context's abstract syntax; a request on
    a context no handler claims is refused (0x0122 SOP Class not supported)."""

    def __init__(self, routes: dict[str, DimseHandler] | None = None) -> None:
        self.routes: dict[str, DimseHandler] = dict(routes or {})

    def route(self, rc: RequestContext) -> DimseHandler | None:
        return self.routes.get(rc.context.abstract_syntax)

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        handler = self.route(rc)
        return handler.data_sink(request, rc) if handler is not None else MemorySink(limit=0)

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        handler = self.route(rc)
        return handler.handle_now(request, data, rc) if handler is not None else None

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        handler = self.route(rc)
        if handler is None:
            cls = RESPONSE_FOR.get(type(request), CEchoRSP)
            yield cls(status=Status(SOP_CLASS_NOT_SUPPORTED),
                      error_comment=f"no {request.name} service for this SOP Class"), None
            return
        async with closing(handler.responses(request, data, rc)) as responses:
            async for item in responses:
                yield item


T = TypeVar("T")


@contextlib.asynccontextmanager
async def closing(responses: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """``responses`` closed on leaving, in this task, even when the loop over them stops early (a response
    that cannot be sent, a cancel): a handler's clean-up (``finally``) then runs now and in the context it
    started in, not later from a task that asyncio makes for an abandoned generator."""
    try:
        yield responses
    finally:
        close = getattr(responses, "aclose", None)
        if close is not None:
            await close()


__all__ = ["DimseHandler", "RequestContext", "SingleResponse", "SopClassRouter", "closing"]
