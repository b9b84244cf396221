"""The DIMSE-N services (PS3.7 10): N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE.

As an SCU, one coroutine per operation (:func:`n_get`, :func:`n_set`, :func:`n_action`, :func:`n_create`,
:func:`n_delete`, :func:`n_event_report`), each returning an :class:`NResult` (status, the response's
fields and its data set); ``meta_sop_class`` sends a SOP Class of a Meta SOP Class (Print Management) on the
Meta SOP Class's context. As an SCP, :class:`NServiceSCP` performs the N-requests of its SOP Classes by
calling a hook per operation with an :class:`NRequest`; a hook returns an :class:`NOutcome` (status, data
set, Error Comment / Error ID / Offending Element / Attribute Identifier List) and may be a plain function or
a coroutine. Service classes built on DIMSE-N (MPPS, Storage Commitment, ...) subclass it.

:data:`STATUSES` is PS3.7 10.1 as data: per operation, the statuses it may answer, and
:data:`STATUS_FIELDS` which response fields go with which status (PS3.7 Annex C). ::

    result = await n_get(assoc, MPPS_RETRIEVE, uid, attributes=[0x00400252])
    if result.ok:
        print(result.dataset.PerformedProcedureStepStatus)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.dataset import Dataset
from ..core.errors import DicomError, DimseError
from ..core.uid import UID
from ..net.ae import DEFAULT_TRANSFER_SYNTAXES
from ..net.association import DEFAULT_TIMEOUT, Association, Timeout
from ..net.dimse import (
    RESPONSE_FOR,
    DataSink,
    NActionRQ,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
    Request,
    Response,
)
from ..net.handlers import DimseHandler, RequestContext
from ..net.negotiation import PresentationContext
from ..net.payload import Payload
from ..net.status import PROCESSING_FAILURE, SUCCESS, Status, StatusTable
from .sources import Requester
from .wire import UnreadableDataSet, context_for, decode, payload, received, requester_of

if TYPE_CHECKING:
    from ..net.ae import ApplicationEntity

log = logging.getLogger("dicomkit.services")

# -- PS3.7 10.1: the statuses of each operation -----------------------------------------------------------
ATTRIBUTE_LIST_ERROR = 0x0107
ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
NO_SUCH_ATTRIBUTE = 0x0105
INVALID_ATTRIBUTE_VALUE = 0x0106
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
NO_SUCH_EVENT_TYPE = 0x0113
NO_SUCH_ARGUMENT = 0x0114
INVALID_ARGUMENT_VALUE = 0x0115
INVALID_SOP_INSTANCE = 0x0117
NO_SUCH_SOP_CLASS = 0x0118
CLASS_INSTANCE_CONFLICT = 0x0119
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
SOP_CLASS_NOT_SUPPORTED = 0x0122
NO_SUCH_ACTION = 0x0123
NOT_AUTHORIZED = 0x0124
DUPLICATE_INVOCATION = 0x0210
UNRECOGNIZED_OPERATION = 0x0211
MISTYPED_ARGUMENT = 0x0212
RESOURCE_LIMITATION = 0x0213

_COMMON = (CLASS_INSTANCE_CONFLICT, DUPLICATE_INVOCATION, INVALID_SOP_INSTANCE, MISTYPED_ARGUMENT, NO_SUCH_SOP_CLASS,
           NO_SUCH_SOP_INSTANCE, PROCESSING_FAILURE, RESOURCE_LIMITATION, UNRECOGNIZED_OPERATION)
# operation -> the statuses PS3.7 lists for its response (10.1.1.1.8, 10.1.2.1.9, 10.1.3.1.9, 10.1.4.1.10,
# 10.1.5.1.6, 10.1.6.1.7); 0x0122 and 0x0124 are the general refusals of PS3.7 C.5 every SCP may send.
ALLOWED: dict[str, frozenset[int]] = {
    "N-EVENT-REPORT": frozenset({SUCCESS, *_COMMON, INVALID_ARGUMENT_VALUE, NO_SUCH_ARGUMENT, NO_SUCH_EVENT_TYPE,
                                 SOP_CLASS_NOT_SUPPORTED}),
    "N-GET": frozenset({SUCCESS, ATTRIBUTE_LIST_ERROR, *_COMMON, NOT_AUTHORIZED, SOP_CLASS_NOT_SUPPORTED}),
    "N-SET": frozenset({SUCCESS, ATTRIBUTE_LIST_ERROR, ATTRIBUTE_VALUE_OUT_OF_RANGE, *_COMMON, INVALID_ATTRIBUTE_VALUE,
                        MISSING_ATTRIBUTE_VALUE, NO_SUCH_ATTRIBUTE, NOT_AUTHORIZED, SOP_CLASS_NOT_SUPPORTED}),
    "N-ACTION": frozenset({SUCCESS, *_COMMON, INVALID_ARGUMENT_VALUE, NO_SUCH_ACTION, NO_SUCH_ARGUMENT, NOT_AUTHORIZED,
                           SOP_CLASS_NOT_SUPPORTED}),
    "N-CREATE": frozenset({SUCCESS, ATTRIBUTE_LIST_ERROR, ATTRIBUTE_VALUE_OUT_OF_RANGE, DUPLICATE_INVOCATION,
                           DUPLICATE_SOP_INSTANCE, INVALID_ATTRIBUTE_VALUE, INVALID_SOP_INSTANCE, MISSING_ATTRIBUTE,
                           MISSING_ATTRIBUTE_VALUE, MISTYPED_ARGUMENT, NO_SUCH_ATTRIBUTE, NO_SUCH_SOP_CLASS,
                           NOT_AUTHORIZED, PROCESSING_FAILURE, RESOURCE_LIMITATION, SOP_CLASS_NOT_SUPPORTED,
                           UNRECOGNIZED_OPERATION}),
    "N-DELETE": frozenset({SUCCESS, *_COMMON, NOT_AUTHORIZED, SOP_CLASS_NOT_SUPPORTED}),
}

# PS3.7 Annex C: the response fields that go with a status (besides Error Comment, allowed with any failure).
STATUS_FIELDS: dict[int, tuple[str, ...]] = {
    ATTRIBUTE_LIST_ERROR: ("affected_sop_class_uid", "affected_sop_instance_uid", "attribute_identifier_list"),
    ATTRIBUTE_VALUE_OUT_OF_RANGE: ("affected_sop_class_uid", "affected_sop_instance_uid", "attribute_identifier_list"),
    NO_SUCH_ATTRIBUTE: ("attribute_identifier_list",),
    INVALID_ATTRIBUTE_VALUE: ("attribute_identifier_list",),
    MISSING_ATTRIBUTE: ("attribute_identifier_list",),
    MISSING_ATTRIBUTE_VALUE: ("attribute_identifier_list",),
    PROCESSING_FAILURE: ("error_comment", "error_id"),
    DUPLICATE_SOP_INSTANCE: ("affected_sop_instance_uid",),
    NO_SUCH_SOP_INSTANCE: ("affected_sop_instance_uid",),
    INVALID_SOP_INSTANCE: ("affected_sop_instance_uid",),
    NO_SUCH_SOP_CLASS: ("affected_sop_class_uid",),
    CLASS_INSTANCE_CONFLICT: ("affected_sop_class_uid", "affected_sop_instance_uid"),
    NO_SUCH_EVENT_TYPE: ("event_type_id",),
    NO_SUCH_ACTION: ("action_type_id",),
    INVALID_ARGUMENT_VALUE: ("event_type_id", "action_type_id"),
    NO_SUCH_ARGUMENT: ("event_type_id", "action_type_id"),
}

STATUSES = StatusTable("DIMSE-N", codes={
    ATTRIBUTE_LIST_ERROR: "Warning: attribute list error (unsupported attributes listed)",
    ATTRIBUTE_VALUE_OUT_OF_RANGE: "Warning: attribute value out of range",
})


# -- the SCU side ---------------------------------------------------------------------------------------------
@dataclass
class NResult:
    """The answer to an N-request: status, the whole response command and its data set (if any)."""

    response: Response
    dataset: Dataset | None = None

    @property
    def status(self) -> Status:
        return self.response.status_value

    @property
    def ok(self) -> bool:
        return not self.status.is_failure

    @property
    def error_comment(self) -> str | None:
        return self.response.error_comment

    @property
    def affected_sop_instance_uid(self) -> str | None:
        return self.response.affected_sop_instance_uid

    def describe(self) -> str:
        s = self.status
        text = f"{s} ({s.meaning(STATUSES)})"
        if self.response.error_id is not None:
            text += f", Error ID 0x{self.response.error_id:04X}"
        if self.response.error_comment:
            text += f": {self.response.error_comment}"
        tags = self.response.attribute_identifier_list or self.response.offending_element
        if tags:
            text += " [" + ", ".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in tags) + "]"
        return text

    def raise_for_status(self) -> NResult:
        """Raise :class:`NServiceFailed` unless the status is Success or a Warning."""
        if not self.ok:
            raise NServiceFailed(self)
        return self


class NServiceFailed(DicomError):
    """An N-request answered with a failure status."""

    def __init__(self, result: NResult) -> None:
        super().__init__(f"{result.response.name} failed: {result.describe()}")
        self.result = result
        self.status = result.status


async def _exchange(assoc: Association, request: Request, sop_class_uid: str, ds: Dataset | None, *,
                    as_scu: bool = True, meta_sop_class: str | None = None,
                    timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    # PS3.7 D.3.3.2: the SOP Classes of a Meta SOP Class travel on the Meta SOP Class's context
    negotiated = str(meta_sop_class or sop_class_uid)
    ctx = None
    if not as_scu and assoc.info is not None:  # N-EVENT-REPORT: the SCP's context, else any accepted one
        ctx = assoc.info.find_context(negotiated, as_scu=False) or assoc.info.find_context(negotiated)
    ctx = ctx or context_for(assoc, negotiated, as_scu=as_scu)
    final = None
    async for reply in assoc.requests(request, context=ctx, payload=payload(ds, ctx.transfer_syntax),
                                      timeout=timeout):
        final = reply
    assert final is not None
    data = decode(final.data, ctx.transfer_syntax) if final.data else None
    return NResult(final.response, data)


async def n_get(assoc: Association, sop_class_uid: str, sop_instance_uid: str, attributes: Iterable[int] = (), *,
                meta_sop_class: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-GET (PS3.7 10.1.2): the attributes of ``sop_instance_uid`` (all of them when ``attributes`` is empty)."""
    tags = tuple(int(t) for t in attributes)
    request = NGetRQ(requested_sop_class_uid=str(sop_class_uid), requested_sop_instance_uid=str(sop_instance_uid),
                     attribute_identifier_list=tags or None)
    return await _exchange(assoc, request, sop_class_uid, None, meta_sop_class=meta_sop_class, timeout=timeout)


async def n_set(assoc: Association, sop_class_uid: str, sop_instance_uid: str, modification: Dataset, *,
                meta_sop_class: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-SET (PS3.7 10.1.3): replace the attributes of ``modification`` in ``sop_instance_uid``."""
    request = NSetRQ(requested_sop_class_uid=str(sop_class_uid), requested_sop_instance_uid=str(sop_instance_uid))
    return await _exchange(assoc, request, sop_class_uid, modification, meta_sop_class=meta_sop_class, timeout=timeout)


async def n_action(assoc: Association, sop_class_uid: str, sop_instance_uid: str, action_type_id: int,
                   information: Dataset | None = None, *, meta_sop_class: str | None = None,
                   timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-ACTION (PS3.7 10.1.4): ask the SCP to perform action ``action_type_id`` with Action Information."""
    request = NActionRQ(requested_sop_class_uid=str(sop_class_uid), requested_sop_instance_uid=str(sop_instance_uid),
                        action_type_id=action_type_id)
    return await _exchange(assoc, request, sop_class_uid, information, meta_sop_class=meta_sop_class, timeout=timeout)


async def n_create(assoc: Association, sop_class_uid: str, attributes: Dataset | None = None, *,
                   sop_instance_uid: str | None = None, meta_sop_class: str | None = None,
                   timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-CREATE (PS3.7 10.1.5): a new instance with ``attributes``; without ``sop_instance_uid`` the SCP
    assigns one (``result.affected_sop_instance_uid``)."""
    request = NCreateRQ(affected_sop_class_uid=str(sop_class_uid), affected_sop_instance_uid=sop_instance_uid)
    result = await _exchange(assoc, request, sop_class_uid, attributes, meta_sop_class=meta_sop_class,
                             timeout=timeout)
    if result.response.affected_sop_instance_uid is None and sop_instance_uid is not None:
        result.response.affected_sop_instance_uid = sop_instance_uid
    return result


async def n_delete(assoc: Association, sop_class_uid: str, sop_instance_uid: str, *,
                   meta_sop_class: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-DELETE (PS3.7 10.1.6)."""
    request = NDeleteRQ(requested_sop_class_uid=str(sop_class_uid), requested_sop_instance_uid=str(sop_instance_uid))
    return await _exchange(assoc, request, sop_class_uid, None, meta_sop_class=meta_sop_class, timeout=timeout)


async def n_event_report(assoc: Association, sop_class_uid: str, sop_instance_uid: str, event_type_id: int,
                         information: Dataset | None = None, *, meta_sop_class: str | None = None,
                         timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-EVENT-REPORT (PS3.7 10.1.1): report event ``event_type_id`` to the peer. The SCP of the SOP Class
    reports; on an association whose roles say nothing of it, any accepted context of the class is used."""
    request = NEventReportRQ(affected_sop_class_uid=str(sop_class_uid), affected_sop_instance_uid=str(sop_instance_uid),
                             event_type_id=event_type_id)
    return await _exchange(assoc, request, sop_class_uid, information, as_scu=False, meta_sop_class=meta_sop_class,
                           timeout=timeout)


# -- the SCP side -------------------------------------------------------------------------------------------
OPERATIONS: dict[type[Request], str] = {NEventReportRQ: "N-EVENT-REPORT", NGetRQ: "N-GET", NSetRQ: "N-SET",
                                        NActionRQ: "N-ACTION", NCreateRQ: "N-CREATE", NDeleteRQ: "N-DELETE"}
_HOOKS: dict[str, str] = {"N-EVENT-REPORT": "n_event_report", "N-GET": "n_get", "N-SET": "n_set",
                          "N-ACTION": "n_action", "N-CREATE": "n_create", "N-DELETE": "n_delete"}


@dataclass
class NRequest:
    """An N-request as a hook sees it: the command, its data set (decoded), who asked, the request context."""

    request: Request
    dataset: Dataset | None
    rc: RequestContext
    requester: Requester

    @property
    def operation(self) -> str:
        return OPERATIONS[type(self.request)]

    @property
    def sop_class_uid(self) -> str:
        r = self.request
        return str(r.affected_sop_class_uid or r.requested_sop_class_uid or self.rc.context.abstract_syntax)

    @property
    def sop_instance_uid(self) -> str | None:
        r = self.request
        return r.affected_sop_instance_uid or r.requested_sop_instance_uid

    @property
    def attribute_identifiers(self) -> tuple[int, ...]:
        """N-GET: the attributes asked for (empty: all)."""
        return tuple(self.request.attribute_identifier_list or ())

    @property
    def action_type_id(self) -> int | None:
        return self.request.action_type_id

    @property
    def event_type_id(self) -> int | None:
        return self.request.event_type_id


@dataclass
class NOutcome:
    """What to answer an N-request with (see PS3.7 10.1 and Annex C for the fields of each status)."""

    status: int = SUCCESS
    dataset: Dataset | None = None
    error_comment: str | None = None
    error_id: int | None = None
    attribute_identifier_list: tuple[int, ...] | None = None
    offending_element: tuple[int, ...] | None = None
    affected_sop_instance_uid: str | None = None
    detail: str | None = None  # the whole reason, for the log (the Error Comment holds 64 characters)

    @classmethod
    def failure(cls, status: int, comment: str, *, tags: Sequence[int] = (), error_id: int | None = None) -> NOutcome:
        fields = STATUS_FIELDS.get(status, ())
        tag_tuple = tuple(tags) or None
        return cls(status, None, error_comment(comment), error_id,
                   tag_tuple if "attribute_identifier_list" in fields else None,
                   tag_tuple if "attribute_identifier_list" not in fields else None, detail=comment)


def attributes_outcome(current: Dataset, asked: Iterable[int]) -> NOutcome:
    """The answer to an N-GET of ``current`` (PS3.7 10.1.2.1.3): the attributes asked for, all when none is
    named; those the instance does not have listed with 0107H Attribute List Error."""
    tags = [int(t) for t in asked]
    if not tags:
        return NOutcome(dataset=current)
    out, missing = Dataset(), []
    for tag in tags:
        elem = current.get(tag)
        if elem is None:
            missing.append(tag)
        else:
            out.add(elem)
    if missing:
        return NOutcome(ATTRIBUTE_LIST_ERROR, out, attribute_identifier_list=tuple(missing))
    return NOutcome(dataset=out)


def error_comment(text: str) -> str:
    """Text for Error Comment (0000,0902): LO of the Default Character Repertoire, at most 64 characters."""
    text = text.encode("ascii", "replace").decode("ascii").replace("\\", "/")
    return text if len(text) <= 64 else text[:61] + "..."


Hook = Callable[[NRequest], "NOutcome | Awaitable[NOutcome]"]
_SCP = TypeVar("_SCP", bound="NServiceSCP")


class NServiceSCP(DimseHandler):
    """The SCP of DIMSE-N SOP Classes: ``NServiceSCP(sop_classes, n_get=..., n_set=...)`` with a hook per
    operation it performs (or a subclass defining the methods of the same names). Requests without a hook get
    0x0211 Unrecognized Operation from the association; a hook that raises DicomError is answered 0x0110 with
    the error as Error Comment (its ``status`` attribute, when it has one, is used instead), and logged."""

    def __init__(self, sop_classes: Iterable[str], *, transfer_syntaxes: Sequence[str] | None = None,
                 scp_role: bool | None = None, **hooks: Hook | None) -> None:
        self.sop_classes = [str(u) for u in sop_classes]
        self.transfer_syntaxes = list(transfer_syntaxes or DEFAULT_TRANSFER_SYNTAXES)
        self.scp_role = scp_role
        unknown = set(hooks) - set(_HOOKS.values())
        if unknown:
            raise TypeError(f"unknown DIMSE-N hook(s): {', '.join(sorted(unknown))}")
        self._hooks: dict[str, Hook] = {name: hook for name, hook in hooks.items() if hook is not None}

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(u, list(self.transfer_syntaxes), scu_role=True if self.scp_role else None,
                                    scp_role=self.scp_role) for u in self.sop_classes]

    @classmethod
    def install(cls: type[_SCP], ae: ApplicationEntity) -> _SCP:
        """The AE's handler of this class, added on first use: how an SCU receives the N-EVENT-REPORTs (and other
        requests) its peers send on the associations it requests. For subclasses made without arguments."""
        for handler in ae.handlers.values():
            for candidate in (handler, *getattr(handler, "routes", {}).values()):
                if isinstance(candidate, cls):
                    return candidate
        made = cls()  # type: ignore[call-arg]
        ae.add_service(made)
        return made

    def hook(self, operation: str) -> Hook | None:
        name = _HOOKS[operation]
        if name in self._hooks:
            return self._hooks[name]
        method = getattr(type(self), name, None)
        return getattr(self, name) if method is not None else None

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {rq: self for rq, op in OPERATIONS.items() if self.hook(op) is not None}

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        operation = OPERATIONS[type(request)]
        response_class = RESPONSE_FOR[type(request)]
        requester = requester_of(rc)
        try:
            dataset = received(data, rc.transfer_syntax)
        except UnreadableDataSet as exc:
            outcome = NOutcome.failure(INVALID_ARGUMENT_VALUE if operation in ("N-ACTION", "N-EVENT-REPORT")
                                       else INVALID_ATTRIBUTE_VALUE, str(exc))
            dataset = None
        else:
            outcome = await self.perform(NRequest(request, dataset, rc, requester))
        if Status(outcome.status).is_failure:
            instance = request.affected_sop_instance_uid or request.requested_sop_instance_uid or ""
            log.warning("%s: %s of %s %s from %s refused: 0x%04X %s", rc.association_id, operation,
                        UID(str(rc.context.abstract_syntax)).name, instance, requester, outcome.status,
                        outcome.detail or outcome.error_comment or "")
        response = response_class(status=Status(outcome.status), error_comment=outcome.error_comment,
                                  error_id=outcome.error_id,
                                  attribute_identifier_list=outcome.attribute_identifier_list,
                                  offending_element=outcome.offending_element)
        _fill(response, request, outcome)
        yield response, payload(outcome.dataset, rc.transfer_syntax)

    async def perform(self, req: NRequest) -> NOutcome:
        hook = self.hook(req.operation)
        if hook is None:
            return NOutcome.failure(UNRECOGNIZED_OPERATION, f"{req.operation} is not supported here")
        try:
            result: Any = hook(req)
            if inspect.isawaitable(result):
                result = await result
        except DicomError as exc:
            status = getattr(exc, "status", PROCESSING_FAILURE)
            log.warning("%s: %s hook failed: %s", req.rc.association_id, req.operation, exc)
            return NOutcome.failure(status if isinstance(status, int) else PROCESSING_FAILURE, str(exc),
                                    tags=getattr(exc, "offending", ()) or ())
        if not isinstance(result, NOutcome):
            raise DimseError(f"the {req.operation} hook returned {type(result).__name__}, not NOutcome")
        return result


def _fill(response: Response, request: Request, outcome: NOutcome) -> None:
    """Command fields of the response (PS3.7 Tables 10.3-2 ... 10.3-12): the affected instance, the type IDs."""
    response.affected_sop_class_uid = request.affected_sop_class_uid or request.requested_sop_class_uid
    response.affected_sop_instance_uid = (outcome.affected_sop_instance_uid or request.affected_sop_instance_uid
                                          or request.requested_sop_instance_uid)
    if isinstance(request, NEventReportRQ):
        response.event_type_id = request.event_type_id
    elif isinstance(request, NActionRQ):
        response.action_type_id = request.action_type_id


__all__ = [
    "ALLOWED",
    "STATUSES",
    "STATUS_FIELDS",
    "NOutcome",
    "NRequest",
    "NResult",
    "NServiceFailed",
    "NServiceSCP",
    "attributes_outcome",
    "n_action",
    "n_create",
    "n_delete",
    "n_event_report",
    "n_get",
    "n_set",
    "requester_of",
]
