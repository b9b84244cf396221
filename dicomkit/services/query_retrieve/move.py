"""C-MOVE (PS3.4 C.4.2): the SCP, which stores the instances to the Move Destination over sub-associations,
and the SCU.

**SCP.** :class:`MoveSCP` looks the Move Destination up in its :class:`~..aetable.AETable` (unknown:
0xA801 "unknown move destination ABC"; the table may also refuse the requestor the ``move`` service:
0x0124), lists the instances (the shared engine of :mod:`.retrieve`) and opens sub-associations to the
destination as the AE that was called, proposing for each SOP Class the instances' own transfer syntaxes plus
Explicit and Implicit VR Little Endian (more than 128 contexts: one association per group, transparently;
:func:`~..storage.scu.store_all`). Each C-STORE carries the Move Originator AE Title and Message ID. With
``associations=N`` (or the destination's ``associations`` in the AE table) N sub-associations share the work,
for a destination that is slow per object. A destination that refuses or cannot be reached fails every
sub-operation: the final response is 0xA702 with the reason as Error Comment.

**SCU.** :func:`move` sends the C-MOVE-RQ and returns a :class:`~.retrieve.RetrieveResult`; ``on_progress``
sees the counts of each Pending response, and setting ``cancel`` sends a C-CANCEL-RQ::

    result = await move(assoc, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={uid}"], "STORESCP",
                        on_progress=lambda p: print(p))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...core.errors import DicomError
from ...net.ae import ApplicationEntity
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import CMoveRQ, Priority, Request, Response
from ...net.handlers import DimseHandler, RequestContext
from ...net.negotiation import PresentationContext
from ..aetable import AETable, RemoteAE
from ..sources import RetrieveSource, StoredObject, SyncRetrieveSource
from ..wire import context_for, requester_of
from .keys import identifier as make_identifier
from .levels import InformationModel, Operation, model_named
from .retrieve import (
    MOVE_DESTINATION_UNKNOWN,
    MOVE_STATUSES,
    NOT_AUTHORIZED,
    OnProgress,
    RetrieveResult,
    RetrieveSCP,
    Sending,
    _Tally,
    run_retrieve,
)

if TYPE_CHECKING:  # the SCP's sending side: the SCU (``dicomkit move``) starts without it
    from ..storage.scu import StoreSummary
    from .find import Keys

log = logging.getLogger("dicomkit.services.qr")


class MoveSCP(RetrieveSCP):
    """The C-MOVE SCP over a :class:`~..sources.RetrieveSource` and an :class:`~..aetable.AETable` of
    destinations (see the module documentation).

    ``check_requester``: when True, the calling AE must be in the table with the ``move`` service
    (default False: anyone may ask, the destination must be known). ``associations``: sub-associations in
    parallel (default: the destination's entry says, else 1). ``ae_options`` configure the sub-associations'
    Application Entity (timeouts, ``max_pdu``, ``max_ops_invoked`` for asynchronous C-STOREs)."""

    operation = Operation.MOVE
    statuses = MOVE_STATUSES

    def __init__(self, source: RetrieveSource | SyncRetrieveSource, ae_table: AETable, *,
                 check_requester: bool = False, associations: int | None = None,
                 ae_options: dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(source, **options)
        self.ae_table = ae_table
        self.check_requester = check_requester
        self.associations = associations
        self.ae_options = dict(ae_options or {})

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CMoveRQ: self}

    async def begin(self, request: Request, rc: RequestContext) -> Sending | Response:
        destination = str(request.move_destination or "").strip()
        requester = requester_of(rc)
        if self.check_requester and not self.ae_table.permits(rc.calling_ae_title, "move"):
            comment = f"{rc.calling_ae_title or '(no AE title)'} may not use C-MOVE here"
            log.warning("%s: C-MOVE from %s refused: %s", rc.association_id, requester, comment)
            return self._response(request, NOT_AUTHORIZED, comment=comment)
        remote = self.ae_table.get(destination)
        if remote is None:
            comment = f"unknown move destination {destination or '(empty)'}"
            log.warning("%s: C-MOVE from %s refused: %s (the AE table lists %s)", rc.association_id, requester,
                        comment, ", ".join(r.ae_title for r in self.ae_table) or "no AE")
            return self._response(request, MOVE_DESTINATION_UNKNOWN, comment=comment)
        return Sending(f" to {remote.ae_title} at {remote.address}", remote)

    async def send(self, sending: Sending, items: Sequence[StoredObject], request: Request, rc: RequestContext,
                   tally: _Tally, stop: asyncio.Event) -> StoreSummary:
        from ..storage.scu import store_all

        remote: RemoteAE = sending.state
        ae = ApplicationEntity(rc.called_ae_title or "DICOMKIT", **self.ae_options)

        async def connect(contexts: list[PresentationContext]) -> Association:
            return await remote.associate(ae, contexts)

        parallel = self.associations or remote.associations
        return await store_all(connect, items, on_result=tally.record, parallel=parallel,
                               allow_lossy=self.allow_lossy, move_originator_aet=rc.calling_ae_title,
                               move_originator_message_id=request.message_id, stop=stop)


async def move(assoc: Association, keys: Keys, destination: str, *, model: InformationModel | str = "study",
               priority: int = Priority.MEDIUM, on_progress: OnProgress | None = None,
               cancel: asyncio.Event | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> RetrieveResult:
    """C-MOVE what ``keys`` identify (unique keys at a Query/Retrieve Level) to the AE ``destination``."""
    m = model_named(model)
    if m.move_uid is None:
        raise DicomError(f"the {m.name} model has no C-MOVE")
    ctx = context_for(assoc, str(m.move_uid))
    request = CMoveRQ(affected_sop_class_uid=str(m.move_uid), priority=priority, move_destination=destination)
    return await run_retrieve(assoc, request, make_identifier(keys), context=ctx, on_progress=on_progress,
                              cancel=cancel, timeout=timeout)


__all__ = ["MOVE_STATUSES", "MoveSCP", "move"]
