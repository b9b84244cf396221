"""Verification Service Class (PS3.4 Annex A): C-ECHO as SCU and SCP."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.uid import Verification
from ..net.ae import DEFAULT_TRANSFER_SYNTAXES
from ..net.assoc import Association, DimseHandler, RequestContext
from ..net.association import PresentationContext
from ..net.dimse import CEchoRQ, CEchoRSP, DataSink, Request, Response
from ..net.status import SUCCESS, Status


class VerificationSCP(DimseHandler):
    """Answers every C-ECHO with Success (PS3.4 A.2)."""

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(Verification, list(DEFAULT_TRANSFER_SYNTAXES))]

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CEchoRQ: self}

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        if type(self).handle is not VerificationSCP.handle:
            return None  # a subclass changed handle(): let it run
        return CEchoRSP(status=Status(SUCCESS))

    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        return CEchoRSP(status=Status(SUCCESS))


async def echo(assoc: Association, *, timeout: float | None = -1.0) -> Status:
    """C-ECHO on an established association; the status of the response."""
    return await assoc.echo(timeout=timeout)
