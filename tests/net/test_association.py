"""Association negotiation (PS3.8 9.3.2-9.3.4, PS3.7 D.3.3) as pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dicomkit.core.errors import NetworkError
from dicomkit.net import pdu as P
from dicomkit.net.negotiation import (
    PresentationContext,
    accept_response,
    assign_context_ids,
    build_request,
    negotiate,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ILE, ELE, BE, J2K = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.90"


@dataclass
class Settings:
    ae_title: str = "SCP"
    require_called_ae_title: bool = False
    calling_ae_titles: frozenset[str] | None = None
    max_pdu: int = 32768
    max_ops_invoked: int = 1
    max_ops_performed: int = 8
    contexts: list[PresentationContext] = field(default_factory=lambda: [
        PresentationContext(CT, [ELE, ILE]),  # our preference: explicit first
        PresentationContext(MR, [J2K, ILE], scu_role=True, scp_role=True),
    ])

    def supported_contexts(self):
        return self.contexts


def request(contexts, **kw):
    return build_request("SCU", "SCP", assign_context_ids(contexts), **kw)


def test_scp_preference_order_decides_transfer_syntax():
    rq = request([PresentationContext(CT, [ILE, ELE, BE])])
    ac, info = negotiate(rq, Settings())
    assert ac.presentation_contexts[0].result == P.ContextResult.ACCEPTANCE
    assert ac.presentation_contexts[0].transfer_syntax == ELE  # the SCP's first choice, not the SCU's
    assert info.contexts[1].transfer_syntax == ELE and info.contexts[1].local_scp


def test_context_rejections():
    rq = request([PresentationContext(CT, [BE]), PresentationContext("1.2.3.4", [ILE]), PresentationContext(MR, [ELE])])
    ac, info = negotiate(rq, Settings())
    assert [c.result for c in ac.presentation_contexts] == [
        P.ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED, P.ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED,
        P.ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED]
    assert info.accepted_contexts == []
    # the requestor reads the same answer
    mine = accept_response(rq, P.decode(ac.encode()))
    assert [c.result_text for c in mine.rejected_contexts] == [
        "transfer-syntaxes-not-supported", "abstract-syntax-not-supported", "transfer-syntaxes-not-supported"]


@pytest.mark.parametrize("change,source,reason", [
    ({"application_context": "1.2.3"}, 1, 2),
    ({"called_ae_title": "OTHER"}, 1, 7),
    ({"calling_ae_title": "INTRUDER"}, 1, 3),
])
def test_association_rejections(change, source, reason):
    rq = request([PresentationContext(CT, [ELE])])
    for k, v in change.items():
        setattr(rq, k, v)
    settings = Settings(require_called_ae_title=True, calling_ae_titles=frozenset({"SCU"}))
    rj, info = negotiate(rq, settings)
    assert info is None and isinstance(rj, P.AAssociateRJ)
    assert (rj.result, rj.source, rj.reason) == (1, source, reason)


def test_user_identity_verification():
    ident = P.UserIdentityRQ(P.UserIdentityType.USERNAME_AND_PASSCODE, b"alice", b"pw", True)
    rq = request([PresentationContext(CT, [ELE])], user_identity=ident)
    seen = []

    def verifier(identity, req):
        seen.append(identity)
        return identity.secondary == b"pw", b"welcome"

    ac, info = negotiate(rq, Settings(), identity_verifier=verifier)
    assert seen == [ident] and info.user_identity == ident
    assert ac.user_information.user_identity == P.UserIdentityAC(b"welcome")
    assert accept_response(rq, ac).user_identity_response == b"welcome"
    rq.user_information.user_identity = P.UserIdentityRQ(2, b"alice", b"wrong", True)
    rj, _ = negotiate(rq, Settings(), identity_verifier=verifier)
    assert (rj.result, rj.source, rj.reason) == (1, 1, 1)


def test_role_selection():
    both = PresentationContext(MR, [ILE], scu_role=True, scp_role=True)
    rq = request([both, PresentationContext(CT, [ELE], scu_role=False, scp_role=True)])
    ac, info = negotiate(rq, Settings())
    roles = {r.sop_class_uid: (r.scu_role, r.scp_role) for r in ac.user_information.role_selections}
    assert roles[MR] == (True, True)  # the SCP allows both for MR
    assert roles[CT] == (False, False)  # CT support has no role settings: the SCP role is not granted
    assert ac.presentation_contexts[1].result == P.ContextResult.USER_REJECTION  # no role left
    mine = accept_response(rq, ac)
    assert (mine.contexts[1].local_scu, mine.contexts[1].local_scp) == (True, True)
    assert (info.contexts[1].local_scu, info.contexts[1].local_scp) == (True, True)


@pytest.mark.parametrize("offered,ours,expected", [((5, 3), (1, 8), (5, 1)), ((0, 0), (2, 4), (4, 2)),
                                                     ((16, 1), (1, 0), (16, 1)), ((1, 1), (1, 8), (1, 1))])
def test_async_operations_window(offered, ours, expected):
    rq = request([PresentationContext(CT, [ELE])], max_ops_invoked=offered[0], max_ops_performed=offered[1])
    ac, info = negotiate(rq, Settings(max_ops_invoked=ours[0], max_ops_performed=ours[1]))
    window = ac.user_information.async_ops_window
    if offered == (1, 1):
        assert window is None  # PS3.7 D.3.3.3: not in the AC when absent from the RQ
        assert (info.max_ops_invoked_peer, info.max_ops_invoked_local) == (1, 1)
        return
    assert (window.max_invoked, window.max_performed) == expected
    mine = accept_response(rq, ac)
    assert (mine.max_ops_invoked_local, mine.max_ops_invoked_peer) == expected
    assert (info.max_ops_invoked_peer, info.max_ops_invoked_local) == expected


def test_max_pdu_both_ways():
    rq = request([PresentationContext(CT, [ELE])], max_pdu=20000)
    ac, info = negotiate(rq, Settings(max_pdu=8192))
    assert info.peer_max_pdu == 20000 and info.send_fragment_size == 20000 - 6
    mine = accept_response(rq, ac)
    assert mine.peer_max_pdu == 8192 and mine.send_fragment_size == 8192 - 6
    rq.user_information.max_length = 0  # no limit: our own cap applies
    _, info = negotiate(rq, Settings())
    assert info.send_fragment_size == (1 << 22) - 6


def test_even_and_duplicate_context_ids_are_refused_not_fatal():
    """PS3.8 7.1.1.14: one result per proposed context. An even ID (9.3.2.2) and a repeated one (7.1.1.13:
    each proposal needs an unused ID) are answered no-reason (provider rejection); the first proposal of a
    repeated ID is the context, on both sides."""
    rq = request([PresentationContext(CT, [ELE])])
    rq.presentation_contexts += [P.PresentationContextRQ(2, CT, [ELE]), P.PresentationContextRQ(1, MR, [ELE]),
                                 P.PresentationContextRQ(3, CT, [ILE, ELE])]
    ac, info = negotiate(rq, Settings())
    assert [(c.context_id, c.result) for c in ac.presentation_contexts] == [(1, 0), (2, 2), (1, 2), (3, 0)]
    assert list(info.contexts) == [1, 3] and info.contexts[1].abstract_syntax == CT
    wire = P.decode(ac.encode())  # through the codec, as the requestor receives it
    mine = accept_response(rq, wire)
    assert [(c.context_id, c.abstract_syntax, c.accepted) for c in mine.contexts.values()] == [
        (1, CT, True), (2, CT, False), (3, CT, True)]


def test_requestor_ignores_a_transfer_syntax_it_never_proposed():
    rq = request([PresentationContext(CT, [ELE])])
    ac = P.AAssociateAC("SCP", "SCU", [P.PresentationContextAC(1, 0, J2K)], P.UserInformation(max_length=0))
    info = accept_response(rq, ac)
    assert info.accepted_contexts == [] and info.peer_max_pdu == 0


def test_context_ids():
    ids = [c.context_id for c in assign_context_ids([PresentationContext(CT, [ELE])] * 3)]
    assert ids == [1, 3, 5]
    with pytest.raises(NetworkError):
        assign_context_ids([PresentationContext(CT, [ELE])] * 129)
    with pytest.raises(NetworkError):
        assign_context_ids([PresentationContext(CT, [ELE], context_id=2)])
