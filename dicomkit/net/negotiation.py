"""Association negotiation (PS3.8 7.1, 9.3.2-9.3.4; PS3.7 Annex D.3.3): pure functions over PDUs.

The requestor builds an A-ASSOCIATE-RQ from its :class:`PresentationContext` proposals
(:func:`build_request`) and reads the answer (:func:`accept_response`). The acceptor answers a request
with an A-ASSOCIATE-AC or -RJ (:func:`negotiate`) following its own settings: which abstract syntaxes it
supports with which transfer syntaxes, in its order of preference, which roles it allows, its maximum
PDU length and asynchronous operations window. Both sides end with an :class:`AssociationInfo`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..core.errors import NetworkError
from ..core.uid import DICOMKIT_ROOT, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID, ImplicitVRLittleEndian
from .pdu import (
    APPLICATION_CONTEXT_NAME,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AsyncOperationsWindow,
    ContextResult,
    PresentationContextAC,
    PresentationContextRQ,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    validate_ae_title,
)

DEFAULT_MAX_PDU = 262144  # what we announce we can receive (PS3.8 D.1)
FALLBACK_PEER_MAX_PDU = 16384  # a peer that announces nothing gets PDUs no larger than this
MAX_SEND_PDU = 1 << 22  # our cap on P-DATA PDUs we send when the peer allows more (or "no limit")
MAX_CONTEXTS = 128  # odd context IDs 1..255 (PS3.8 9.3.2.2)


@dataclass
class PresentationContext:
    """A presentation context: an abstract syntax and its transfer syntaxes.

    As a requestor's proposal, ``transfer_syntaxes`` are offered in that order and ``scu_role`` /
    ``scp_role`` (when not None) propose SCP/SCU role selection (PS3.7 D.3.3.4). As an acceptor's
    support, ``transfer_syntaxes`` are in order of preference and ``scu_role`` / ``scp_role`` say whether
    the requestor may take that role when it proposes role selection (None: only the default roles).
    """

    abstract_syntax: str
    transfer_syntaxes: list[str]
    context_id: int | None = None
    scu_role: bool | None = None
    scp_role: bool | None = None

    def __post_init__(self) -> None:
        self.abstract_syntax = str(self.abstract_syntax)
        self.transfer_syntaxes = [str(ts) for ts in self.transfer_syntaxes]
        if not self.transfer_syntaxes:
            raise NetworkError(f"presentation context for {UID(self.abstract_syntax).name} has no transfer syntax")

    def __repr__(self) -> str:
        ts = ", ".join(UID(t).name for t in self.transfer_syntaxes)
        cid = f"{self.context_id}: " if self.context_id is not None else ""
        return f"PresentationContext({cid}{UID(self.abstract_syntax).name} [{ts}])"


@dataclass(frozen=True)
class NegotiatedContext:
    """The outcome for one presentation context, from the local AE's point of view."""

    context_id: int
    abstract_syntax: str
    transfer_syntax: str
    result: int
    local_scu: bool = True  # the local AE may send requests on it (act as SCU)
    local_scp: bool = False  # the local AE may perform requests received on it (act as SCP)

    @property
    def accepted(self) -> bool:
        return self.result == ContextResult.ACCEPTANCE

    @property
    def result_text(self) -> str:
        try:
            return ContextResult(self.result).name.lower().replace("_", "-")
        except ValueError:
            return f"result {self.result}"


# Implementation Class UID roots of peers known to read a P-DATA-TF PDU that holds several PDVs (PS3.8 9.3.5
# allows it): DCMTK (and Orthanc, built on it) and dicomkit. A command and its data set go to them in one PDU
# when both fit; everyone else gets one PDV per PDU, as most implementations send (GDCM 3.0's SCU takes the
# PDU after a command for its data set, and then waits for ever for the final C-FIND response).
SEVERAL_PDVS_READ_BY = ("1.2.276.0.7230010.3.", DICOMKIT_ROOT)


@dataclass
class AssociationInfo:
    """What both sides agreed: contexts, PDU sizes, operation windows, identities."""

    local_ae_title: str
    peer_ae_title: str
    is_requestor: bool
    contexts: dict[int, NegotiatedContext]
    peer_max_pdu: int  # largest P-DATA-TF variable field the peer accepts (0: no limit)
    local_max_pdu: int  # what we announced
    max_ops_invoked_local: int = 1  # outstanding requests the local AE may have (0: unlimited)
    max_ops_invoked_peer: int = 1  # outstanding requests the peer may have us perform (0: unlimited)
    peer_implementation_class_uid: str = ""
    peer_implementation_version_name: str = ""
    user_identity: UserIdentityRQ | None = None  # acceptor side: what the requestor presented
    user_identity_response: bytes | None = None  # requestor side: server response, when one came
    extended_negotiation: list[SOPClassExtendedNegotiation] = field(default_factory=list)
    common_extended_negotiation: list[SOPClassCommonExtendedNegotiation] = field(default_factory=list)
    # acceptor side: what the AE's association check granted (opaque here: the server's policy reads it)
    authorization: object = None

    @property
    def accepted_contexts(self) -> list[NegotiatedContext]:
        return [c for c in self.contexts.values() if c.accepted]

    @property
    def rejected_contexts(self) -> list[NegotiatedContext]:
        return [c for c in self.contexts.values() if not c.accepted]

    @property
    def peer_reads_several_pdvs(self) -> bool:
        """Whether the peer is known to read a P-DATA-TF PDU of several PDVs (see SEVERAL_PDVS_READ_BY)."""
        return self.peer_implementation_class_uid.startswith(SEVERAL_PDVS_READ_BY)

    @property
    def send_fragment_size(self) -> int:
        """Largest fragment of a PDV we may send: the peer's maximum minus the PDV item header (PS3.8 9.3.5)."""
        limit = self.peer_max_pdu if self.peer_max_pdu else MAX_SEND_PDU
        return max(min(limit, MAX_SEND_PDU) - 6, 1)

    def find_context(self, abstract_syntax: str, transfer_syntax: str | None = None, *,
                     as_scu: bool = True) -> NegotiatedContext | None:
        """An accepted context for ``abstract_syntax`` (and ``transfer_syntax``, when given)."""
        for ctx in self.contexts.values():
            if (ctx.accepted and ctx.abstract_syntax == abstract_syntax
                    and (transfer_syntax is None or ctx.transfer_syntax == transfer_syntax)
                    and (ctx.local_scu if as_scu else ctx.local_scp)):
                return ctx
        return None


# -- requestor ---------------------------------------------------------------------------------------------


def assign_context_ids(contexts: Sequence[PresentationContext]) -> list[PresentationContext]:
    """Give each proposal an odd ID 1, 3, 5, ... (PS3.8 9.3.2.2); keeps IDs already set if valid."""
    if len(contexts) > MAX_CONTEXTS:
        raise NetworkError(f"{len(contexts)} presentation contexts proposed; at most {MAX_CONTEXTS} fit in one "
                           "association (PS3.8 9.3.2.2)")
    used = {c.context_id for c in contexts if c.context_id is not None}
    for cid in used:
        if cid is None or not (1 <= cid <= 255 and cid & 1):
            raise NetworkError(f"presentation context ID {cid} must be odd, 1 to 255")
    if len(used) != sum(1 for c in contexts if c.context_id is not None):
        raise NetworkError("presentation context IDs must be unique")
    free = (i for i in range(1, 256, 2) if i not in used)
    out = []
    for c in contexts:
        if c.context_id is None:
            c = PresentationContext(c.abstract_syntax, list(c.transfer_syntaxes), next(free), c.scu_role, c.scp_role)
        out.append(c)
    return out


def build_request(calling_ae: str, called_ae: str, contexts: Sequence[PresentationContext], *,
                  max_pdu: int = DEFAULT_MAX_PDU, max_ops_invoked: int = 1, max_ops_performed: int = 1,
                  user_identity: UserIdentityRQ | None = None,
                  extended_negotiation: Iterable[SOPClassExtendedNegotiation] = (),
                  common_extended_negotiation: Iterable[SOPClassCommonExtendedNegotiation] = (),
                  implementation_class_uid: str = IMPLEMENTATION_CLASS_UID,
                  implementation_version_name: str = IMPLEMENTATION_VERSION_NAME) -> AAssociateRQ:
    """The A-ASSOCIATE-RQ for these proposals (context IDs must be assigned)."""
    validate_ae_title(calling_ae, "calling AE title")
    validate_ae_title(called_ae, "called AE title")
    if not contexts:
        raise NetworkError("an association needs at least one presentation context")
    pcs = []
    roles = {}
    for c in contexts:
        if c.context_id is None:
            raise NetworkError("presentation context IDs must be assigned (assign_context_ids)")
        pcs.append(PresentationContextRQ(c.context_id, c.abstract_syntax, list(c.transfer_syntaxes)))
        if c.scu_role is not None or c.scp_role is not None:
            # PS3.7 D.3.3.4: one role selection item per SOP class.
            roles[c.abstract_syntax] = RoleSelection(c.abstract_syntax, bool(c.scu_role), bool(c.scp_role))
    window = None
    if (max_ops_invoked, max_ops_performed) != (1, 1):
        window = AsyncOperationsWindow(max_ops_invoked, max_ops_performed)
    ui = UserInformation(max_length=max_pdu, implementation_class_uid=implementation_class_uid,
                         implementation_version_name=implementation_version_name, async_ops_window=window,
                         role_selections=list(roles.values()), extended_negotiation=list(extended_negotiation),
                         common_extended_negotiation=list(common_extended_negotiation),
                         user_identity=user_identity)
    return AAssociateRQ(called_ae, calling_ae, pcs, ui)


def accept_response(rq: AAssociateRQ, ac: AAssociateAC) -> AssociationInfo:
    """The requestor's view of an A-ASSOCIATE-AC answering ``rq``."""
    proposed: dict[int, PresentationContextRQ] = {}
    for item in rq.presentation_contexts:
        proposed.setdefault(item.context_id, item)  # a repeated ID means its first proposal (as the acceptor reads)
    roles = {r.sop_class_uid: r for r in ac.user_information.role_selections}
    proposed_roles = {r.sop_class_uid: r for r in rq.user_information.role_selections}
    contexts: dict[int, NegotiatedContext] = {}
    for result in ac.presentation_contexts:
        found = proposed.get(result.context_id)
        if found is None or result.context_id in contexts:
            continue  # an answer to nothing we proposed, or a second answer for one ID: not usable
        pc = found
        accepted = result.result == ContextResult.ACCEPTANCE
        ts = result.transfer_syntax if accepted else ""
        outcome = result.result
        if accepted and ts not in pc.transfer_syntaxes:
            outcome = ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED  # peer chose a syntax we never offered
            ts = ""
        local_scu, local_scp = True, False
        role = roles.get(pc.abstract_syntax)
        if role is not None and pc.abstract_syntax in proposed_roles:
            offer = proposed_roles[pc.abstract_syntax]
            local_scu, local_scp = role.scu_role and offer.scu_role, role.scp_role and offer.scp_role
        contexts[result.context_id] = NegotiatedContext(result.context_id, pc.abstract_syntax, ts, outcome,
                                                        local_scu, local_scp)
    for cid, pc in proposed.items():
        if cid not in contexts:  # PS3.8 9.3.3: every proposal should be answered; treat silence as refusal
            contexts[cid] = NegotiatedContext(cid, pc.abstract_syntax, "", ContextResult.NO_REASON)
    ui = ac.user_information
    rq_window = rq.user_information.async_ops_window
    invoked_local, invoked_peer = 1, 1
    if ui.async_ops_window is not None and rq_window is not None:
        # PS3.7 D.3.3.3: the acceptor's invoked is what we may invoke; its performed is what it may invoke.
        invoked_local, invoked_peer = ui.async_ops_window.max_invoked, ui.async_ops_window.max_performed
    identity = ui.user_identity
    return AssociationInfo(
        local_ae_title=rq.calling_ae_title, peer_ae_title=rq.called_ae_title, is_requestor=True,
        contexts=dict(sorted(contexts.items())),
        peer_max_pdu=ui.max_length if ui.max_length is not None else FALLBACK_PEER_MAX_PDU,
        local_max_pdu=rq.user_information.max_length or 0,
        max_ops_invoked_local=invoked_local, max_ops_invoked_peer=invoked_peer,
        peer_implementation_class_uid=ui.implementation_class_uid or "",
        peer_implementation_version_name=ui.implementation_version_name or "",
        user_identity_response=identity.server_response if isinstance(identity, UserIdentityAC) else None,
        extended_negotiation=list(ui.extended_negotiation),
    )


# -- acceptor -------------------------------------------------------------------------------------------


class AcceptorSettings(Protocol):
    """What :func:`negotiate` needs from the accepting Application Entity."""

    ae_title: str
    require_called_ae_title: bool
    calling_ae_titles: frozenset[str] | None
    max_pdu: int
    max_ops_invoked: int
    max_ops_performed: int

    def supported_contexts(self) -> Sequence[PresentationContext]: ...


# (identity, request) -> (accepted, server response or None)
IdentityVerifier = Callable[[UserIdentityRQ, AAssociateRQ], tuple[bool, bytes | None]]


@dataclass(frozen=True)
class PeerInfo:
    """What the acceptor knows of the connection an A-ASSOCIATE-RQ came on, for an association check."""

    address: tuple[str, int] | None = None
    association_id: str = ""
    tls_version: str | None = None  # None: plaintext
    certificate: dict[str, object] | None = None  # the client's verified certificate (ssl getpeercert())

    @property
    def tls(self) -> bool:
        return self.tls_version is not None


@dataclass(frozen=True)
class AssociationGrant:
    """An association check's positive answer: the User Identity response to send when the requestor
    asked for one (PS3.7 D.3.3.7.2; None: the identity was not checked by it), and what the handlers
    will find in ``AssociationInfo.authorization``."""

    identity_response: bytes | None = None
    authorization: object = None


# (request, connection) -> grant, or an awaitable of it for a check that must wait (the association answers
# when it is done); raises Rejection to answer A-ASSOCIATE-RJ. Runs before negotiate().
AssociationCheck = Callable[[AAssociateRQ, PeerInfo], "AssociationGrant | Awaitable[AssociationGrant]"]
# the request's SOP class extended negotiation items -> the items to answer with
ExtendedNegotiator = Callable[[list[SOPClassExtendedNegotiation]], list[SOPClassExtendedNegotiation]]


class Rejection(NetworkError):
    """Raised inside negotiation to answer with A-ASSOCIATE-RJ."""

    def __init__(self, message: str, result: int, source: int, reason: int) -> None:
        super().__init__(message)
        self.rj = AAssociateRJ(result, source, reason)


def _echo_syntax(proposed: str) -> str:
    return proposed if UID(proposed).is_valid else str(ImplicitVRLittleEndian)


def _window(offered: int, ours: int) -> int:
    # 0 is unlimited on both sides (PS3.7 D.3.3.3); the answer never exceeds what was offered
    if offered == 0:
        return ours
    if ours == 0:
        return offered
    return min(offered, ours)


def negotiate(rq: AAssociateRQ, settings: AcceptorSettings, *, identity_verifier: IdentityVerifier | None = None,
              extended_negotiator: ExtendedNegotiator | None = None,
              ) -> tuple[AAssociateAC, AssociationInfo] | tuple[AAssociateRJ, None]:
    """Answer an A-ASSOCIATE-RQ: an AC with the agreed contexts, or an RJ with result/source/reason."""
    try:
        return _negotiate(rq, settings, identity_verifier, extended_negotiator)
    except Rejection as exc:
        return exc.rj, None


def _negotiate(rq: AAssociateRQ, settings: AcceptorSettings, identity_verifier: IdentityVerifier | None,
               extended_negotiator: ExtendedNegotiator | None) -> tuple[AAssociateAC, AssociationInfo]:
    permanent, user = RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER
    if rq.application_context != APPLICATION_CONTEXT_NAME:
        raise Rejection("unsupported application context", permanent, user, 2)
    if settings.require_called_ae_title and rq.called_ae_title != settings.ae_title:
        raise Rejection(f"called AE title {rq.called_ae_title!r} is not ours", permanent, user, 7)
    if settings.calling_ae_titles is not None and rq.calling_ae_title not in settings.calling_ae_titles:
        raise Rejection(f"calling AE title {rq.calling_ae_title!r} not allowed", permanent, user, 3)
    ui_in = rq.user_information
    identity_ac: UserIdentityAC | None = None
    identity = ui_in.user_identity if isinstance(ui_in.user_identity, UserIdentityRQ) else None
    if identity is not None and identity_verifier is not None:
        ok, response = identity_verifier(identity, rq)
        if not ok:
            # PS3.7 D.3.3.7.2: an identity that is not accepted rejects the association
            raise Rejection("user identity not accepted", permanent, user, 1)
        if identity.positive_response_requested:
            identity_ac = UserIdentityAC(response or b"")

    supported: dict[str, PresentationContext] = {}
    for support in settings.supported_contexts():
        supported.setdefault(support.abstract_syntax, support)
    offered_roles = {r.sop_class_uid: r for r in ui_in.role_selections}
    results: list[PresentationContextAC] = []
    contexts: dict[int, NegotiatedContext] = {}
    answered_roles: dict[str, RoleSelection] = {}
    seen: set[int] = set()
    for pc in rq.presentation_contexts:
        cid = pc.context_id
        if cid in seen or not cid & 1:
            # An even or repeated ID is not a usable context (PS3.8 9.3.2.2, 7.1.1.13). Every proposed context
            # still gets its result (7.1.1.14: one result per proposal): no-reason (provider rejection). A
            # repeat keeps the first proposal of its ID as the negotiated context.
            results.append(PresentationContextAC(cid, ContextResult.NO_REASON, _echo_syntax(pc.transfer_syntaxes[0])))
            continue
        seen.add(cid)
        sc = supported.get(pc.abstract_syntax)
        if sc is None:
            outcome, ts = ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED, ""
        else:
            ts = next((t for t in sc.transfer_syntaxes if t in pc.transfer_syntaxes), "")
            outcome = ContextResult.ACCEPTANCE if ts else ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
        # Roles from the requestor's point of view: by default it is SCU and we are SCP.
        peer_scu, peer_scp = True, False
        offer = offered_roles.get(pc.abstract_syntax)
        if offer is not None and sc is not None:
            peer_scu = offer.scu_role and sc.scu_role is not False
            peer_scp = offer.scp_role and bool(sc.scp_role)
            answered_roles[pc.abstract_syntax] = RoleSelection(pc.abstract_syntax, peer_scu, peer_scp)
            if outcome == ContextResult.ACCEPTANCE and not (peer_scu or peer_scp):
                outcome, ts = ContextResult.USER_REJECTION, ""
        # a refused context still carries one transfer syntax sub-item, not significant (PS3.8 9.3.3.2)
        results.append(PresentationContextAC(cid, outcome, ts or _echo_syntax(pc.transfer_syntaxes[0])))
        contexts[cid] = NegotiatedContext(cid, pc.abstract_syntax, ts if outcome == 0 else "", outcome,
                                          local_scu=peer_scp, local_scp=peer_scu)

    window = None
    invoked_local, invoked_peer = 1, 1
    if ui_in.async_ops_window is not None:
        offered = ui_in.async_ops_window
        window = AsyncOperationsWindow(_window(offered.max_invoked, settings.max_ops_performed),
                                       _window(offered.max_performed, settings.max_ops_invoked))
        invoked_peer, invoked_local = window.max_invoked, window.max_performed
    extended = extended_negotiator(list(ui_in.extended_negotiation)) if (
        extended_negotiator and ui_in.extended_negotiation) else []
    ui = UserInformation(max_length=settings.max_pdu, implementation_class_uid=IMPLEMENTATION_CLASS_UID,
                         implementation_version_name=IMPLEMENTATION_VERSION_NAME, async_ops_window=window,
                         role_selections=list(answered_roles.values()), extended_negotiation=extended,
                         user_identity=identity_ac)
    ac = AAssociateAC(rq.called_ae_title, rq.calling_ae_title, results, ui)
    info = AssociationInfo(
        local_ae_title=rq.called_ae_title, peer_ae_title=rq.calling_ae_title, is_requestor=False,
        contexts=dict(sorted(contexts.items())),
        peer_max_pdu=ui_in.max_length if ui_in.max_length is not None else FALLBACK_PEER_MAX_PDU,
        local_max_pdu=settings.max_pdu, max_ops_invoked_local=invoked_local, max_ops_invoked_peer=invoked_peer,
        peer_implementation_class_uid=ui_in.implementation_class_uid or "",
        peer_implementation_version_name=ui_in.implementation_version_name or "",
        user_identity=identity, extended_negotiation=extended,
        common_extended_negotiation=list(ui_in.common_extended_negotiation),
    )
    return ac, info
