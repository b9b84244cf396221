"""Verification Service Class (PS3.4 Annex A): C-ECHO as SCU and SCP."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.uid import Verification
from ..net.ae import DEFAULT_TRANSFER_SYNTAXES
from ..net.association import DEFAULT_TIMEOUT, Association, Timeout
from ..net.dimse import CEchoRQ, CEchoRSP, DataSink, Request, Response
from ..net.handlers import DimseHandler, RequestContext, SingleResponse
from ..net.negotiation import PresentationContext
from ..net.status import SUCCESS, Status


class VerificationSCP(SingleResponse):
    """Answers every C-ECHO with Success (PS3.4 A.2), at once (without a task)."""

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(Verification, list(DEFAULT_TRANSFER_SYNTAXES))]

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CEchoRQ: self}

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        return CEchoRSP(status=Status(SUCCESS))

    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        return CEchoRSP(status=Status(SUCCESS))


async def echo(assoc: Association, *, timeout: Timeout = DEFAULT_TIMEOUT) -> Status:
    """C-ECHO (PS3.7 9.1.5) on an established association: the status of the response (0x0000 on success)."""
    rsp = await assoc.send_request(CEchoRQ(affected_sop_class_uid=Verification), timeout=timeout)
    assert isinstance(rsp, CEchoRSP)
    return rsp.status_value
