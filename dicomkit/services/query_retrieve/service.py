"""What the C-FIND, C-MOVE and C-GET SCPs (and the worklist SCP) share: their SOP Classes and contexts, the
answer to SOP Class Extended Negotiation, and reading a request into a plan (or into the refusal to send).

A request is read in three steps, each of which may refuse it with the standard status and an Error Comment
(logged with who asked; the association goes on):

1. the Identifier is decoded in the presentation context's transfer syntax (0xC000-range "Unable to
   process" when it cannot be: C003);
2. the options negotiated for its SOP Class on this association (PS3.4 C.5) and the SCP's own choices give
   the :class:`~.plan.PlanOptions`;
3. :func:`~.plan.plan_from_identifier` builds the plan (a :class:`~.errors.QueryError` carries the status,
   Error Comment and Offending Element of PS3.4 Tables C.4-1 to C.4-3 and K.4-1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ...core.dataset import Dataset
from ...core.uid import UID
from ...net.ae import DEFAULT_TRANSFER_SYNTAXES
from ...net.dimse import RESPONSE_FOR, DataSink, Request, Response
from ...net.handlers import RequestContext
from ...net.negotiation import PresentationContext
from ...net.status import Status
from ..sources import Requester
from ..wire import UnreadableDataSet, received, requester_of
from . import negotiation
from .errors import QueryError, Reason
from .levels import InformationModel, Operation, model_for_sop_class
from .negotiation import (
    SUPPORTED_FIND,
    SUPPORTED_RETRIEVE,
    SUPPORTED_WORKLIST,
    FindOptions,
    RetrieveOptions,
    WorklistOptions,
)

if TYPE_CHECKING:
    from .plan import PlanOptions, QueryPlan

log = logging.getLogger("dicomkit.services.qr")

_CHOICES = frozenset({"pn_case_insensitive", "strict_hierarchy", "unknown_values_match"})


@dataclass
class ReadRequest:
    """A request read by :meth:`QueryRetrieveService.read`: its plan, or the response refusing it."""

    plan: QueryPlan | None
    refusal: Response | None
    requester: Requester
    identifier: Dataset | None = None


class QueryRetrieveService:
    """Base of the Query/Retrieve and worklist SCPs: ``operation`` and ``models`` name the SOP Classes served.

    ``choices`` are the SCP's own :class:`~.plan.PlanOptions` (``strict_hierarchy``, ``pn_case_insensitive``,
    ``unknown_values_match``); ``supported_find`` / ``supported_retrieve`` / ``supported_worklist`` what it
    accepts in extended negotiation (default: everything dicomkit matches)."""

    operation: Operation = Operation.FIND

    def __init__(self, models: Iterable[InformationModel], *, transfer_syntaxes: Sequence[str] | None = None,
                 supported_find: FindOptions = SUPPORTED_FIND, supported_retrieve: RetrieveOptions = SUPPORTED_RETRIEVE,
                 supported_worklist: WorklistOptions = SUPPORTED_WORKLIST, **choices: Any) -> None:
        unknown = set(choices) - _CHOICES
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}; the SCP's choices are "
                            f"{', '.join(sorted(_CHOICES))}")
        from ..registry import REGISTRY

        self.models = tuple(models)
        wanted = {str(u) for u in (self._sop_class(m) for m in self.models) if u is not None}
        # the SOP Classes come from the registry (one table for negotiation, help and conformance)
        self.sop_classes = [r.sop_class_uid for r in REGISTRY.entries(role="scp") if r.sop_class_uid in wanted]
        self.transfer_syntaxes = list(transfer_syntaxes or DEFAULT_TRANSFER_SYNTAXES)
        self.supported_find = supported_find
        self.supported_retrieve = supported_retrieve
        self.supported_worklist = supported_worklist
        self.choices = choices

    def _sop_class(self, model: InformationModel) -> UID | None:
        return {Operation.FIND: model.find_uid, Operation.MOVE: model.move_uid,
                Operation.GET: model.get_uid}[self.operation]

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(u, list(self.transfer_syntaxes)) for u in self.sop_classes]

    def extended_negotiation(self, sop_class_uid: str, requested: bytes) -> bytes | None:
        """The A-ASSOCIATE-AC's SOP Class Extended Negotiation item (PS3.4 C.5, K.5.1): each option offered
        answered 1 when dicomkit honours it, 0 when not (never left out)."""
        return negotiation.answer(sop_class_uid, requested, find=self.supported_find,
                                  retrieve=self.supported_retrieve, worklist=self.supported_worklist)

    def options_for(self, rc: RequestContext) -> PlanOptions:
        """The plan options of requests on this association: what was negotiated for the SOP Class, and the
        SCP's choices."""
        from .plan import PlanOptions

        sop_class = rc.context.abstract_syntax
        accepted = None
        info = rc.association.info
        for item in info.extended_negotiation if info is not None else ():
            if item.sop_class_uid == sop_class:
                accepted = negotiation.parse(sop_class, item.application_information)
        return PlanOptions.from_negotiation(accepted, **self.choices)

    def read(self, request: Request, data: DataSink | None, rc: RequestContext) -> ReadRequest:
        """The plan of a C-FIND/C-MOVE/C-GET request, or the response refusing it (see the module doc)."""
        requester = requester_of(rc)
        sop_class = str(request.affected_sop_class_uid or rc.context.abstract_syntax)
        try:
            identifier = received(data, rc.transfer_syntax)
            if identifier is None:
                raise UnreadableDataSet("the request has no Identifier")
        except UnreadableDataSet as exc:
            error = QueryError(Reason.INVALID_VALUE, str(exc), comment=str(exc))
            return ReadRequest(None, self.refusal(request, error, rc, requester), requester)
        found = model_for_sop_class(sop_class)
        if found is None or found[1] is not self.operation:
            error = QueryError(Reason.INVALID_VALUE, f"{UID(sop_class).name} is not served here",
                               comment="SOP Class not served here")
            return ReadRequest(None, self.refusal(request, error, rc, requester, status=0x0122), requester)
        from .plan import plan_from_identifier

        try:
            plan = plan_from_identifier(identifier, sop_class, options=self.options_for(rc))
        except QueryError as error:
            return ReadRequest(None, self.refusal(request, error, rc, requester), requester, identifier)
        return ReadRequest(plan, None, requester, identifier)

    def refusal(self, request: Request, error: QueryError, rc: RequestContext, requester: Requester, *,
                status: int | None = None) -> Response:
        """The failure response for ``error`` (status, Error Comment, Offending Element), logged."""
        code = status if status is not None else error.status
        log.warning("%s: %s from %s refused: 0x%04X %s", rc.association_id, request.name, requester, code, error)
        cls = RESPONSE_FOR[type(request)]
        return cls(status=Status(code), error_comment=error.error_comment,
                   offending_element=tuple(error.offending) or None)


def plan_choice_names() -> list[str]:
    """The PlanOptions an SCP chooses (for documentation and command lines)."""
    from .plan import PlanOptions

    return [f.name for f in fields(PlanOptions) if f.name in _CHOICES]


__all__ = ["QueryRetrieveService", "ReadRequest", "plan_choice_names"]
