"""The PS3.8 state machine: every (state, event) cell of Table 9-10, without sockets."""

from __future__ import annotations

import pytest

from dicomkit.core.errors import PDUError
from dicomkit.net import pdu as P
from dicomkit.net.fsm import (
    Event,
    Indicate,
    InvalidTransition,
    Primitive,
    ProviderAbort,
    SendPDU,
    State,
    StateMachine,
)

# PS3.8 Table 9-10 transcribed per event as {action: [states]}; every other state is an empty cell.
TABLE = {
    1: {"AE-1": [1]},
    2: {"AE-2": [4]},
    3: {"AA-1": [2], "AA-8": [3, 6, 7, 8, 9, 10, 11, 12], "AE-3": [5], "AA-6": [13]},
    4: {"AA-1": [2], "AA-8": [3, 6, 7, 8, 9, 10, 11, 12], "AE-4": [5], "AA-6": [13]},
    5: {"AE-5": [1]},
    6: {"AE-6": [2], "AA-8": [3, 5, 6, 7, 8, 9, 10, 11, 12], "AA-7": [13]},
    7: {"AE-7": [3]},
    8: {"AE-8": [3]},
    9: {"DT-1": [6], "AR-7": [8]},
    10: {"AA-1": [2], "AA-8": [3, 5, 8, 9, 10, 11, 12], "DT-2": [6], "AR-6": [7], "AA-6": [13]},
    11: {"AR-1": [6]},
    12: {"AA-1": [2], "AA-8": [3, 5, 8, 9, 10, 11, 12], "AR-2": [6], "AR-8": [7], "AA-6": [13]},
    13: {"AA-1": [2], "AA-8": [3, 5, 6, 8, 9, 12], "AR-3": [7, 11], "AR-10": [10], "AA-6": [13]},
    14: {"AR-4": [8, 12], "AR-9": [9]},
    15: {"AA-1": [3, 5, 6, 7, 8, 9, 10, 11, 12], "AA-2": [4]},
    16: {"AA-2": [2, 13], "AA-3": [3, 5, 6, 7, 8, 9, 10, 11, 12]},
    17: {"AA-5": [2], "AA-4": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "AR-5": [13]},
    18: {"AA-2": [2, 13]},
    19: {"AA-1": [2], "AA-8": [3, 5, 6, 7, 8, 9, 10, 11, 12], "AA-7": [13]},
}

RQ = P.AAssociateRQ("SCP", "SCU", [P.PresentationContextRQ(1, "1.2.840.10008.1.1", ["1.2.840.10008.1.2"])],
                    P.UserInformation(max_length=16384))
AC = P.AAssociateAC("SCP", "SCU", [P.PresentationContextAC(1, 0, "1.2.840.10008.1.2")], P.UserInformation())
RJ = P.AAssociateRJ(1, 1, 7)
PDATA = P.PDataTF([P.PDV(1, True, True, b"\x00")])
PAYLOADS = {1: RQ, 3: AC, 4: RJ, 6: RQ, 7: AC, 8: RJ, 9: PDATA, 10: PDATA, 16: P.AAbort(0, 0),
            19: PDUError("bad", reason=P.AbortReason.UNRECOGNIZED_PDU)}


def kinds(effects):
    out = []
    for e in effects:
        if isinstance(e, SendPDU):
            out.append(("send", type(e.pdu).__name__))
        elif isinstance(e, Indicate):
            out.append(("indicate", e.primitive))
        else:
            out.append(type(e).__name__)
    return out


def expected(action: str, event: int, state: int, requestor: bool):
    """Next state and effects of each action, from PS3.8 Tables 9-6 to 9-9."""
    send_abort = ("send", "AAbort")
    table = {
        "AE-1": (4, ["OpenTransport"]),
        "AE-2": (5, [("send", "AAssociateRQ")]),
        "AE-3": (6, [("indicate", Primitive.A_ASSOCIATE_ACCEPT)]),
        "AE-4": (1, [("indicate", Primitive.A_ASSOCIATE_REJECT), "CloseTransport"]),
        "AE-5": (2, ["StartARTIM"]),
        "AE-6": (3, ["StopARTIM", ("indicate", Primitive.A_ASSOCIATE_INDICATION)]),
        "AE-7": (6, [("send", "AAssociateAC")]),
        "AE-8": (13, [("send", "AAssociateRJ"), "StartARTIM"]),
        "DT-1": (6, [("send", "PDataTF")]),
        "DT-2": (6, [("indicate", Primitive.P_DATA)]),
        "AR-1": (7, [("send", "AReleaseRQ")]),
        "AR-2": (8, [("indicate", Primitive.A_RELEASE_INDICATION)]),
        "AR-3": (1, [("indicate", Primitive.A_RELEASE_CONFIRMATION), "CloseTransport"]),
        "AR-4": (13, [("send", "AReleaseRP"), "StartARTIM"]),
        "AR-5": (1, ["StopARTIM"]),
        "AR-6": (7, [("indicate", Primitive.P_DATA)]),
        "AR-7": (8, [("send", "PDataTF")]),
        "AR-8": (9 if requestor else 10, [("indicate", Primitive.A_RELEASE_COLLISION)]),
        "AR-9": (11, [("send", "AReleaseRP")]),
        "AR-10": (12, [("indicate", Primitive.A_RELEASE_CONFIRMATION)]),
        "AA-1": (13, [send_abort, "StartARTIM"]),
        "AA-2": (1, ["CloseTransport"]),  # ARTIM stopped only if running (checked separately)
        "AA-3": (1, [("indicate", Primitive.A_ABORT), "CloseTransport"]),
        "AA-4": (1, [("indicate", Primitive.A_P_ABORT)]),
        "AA-5": (1, ["StopARTIM"]),
        "AA-6": (13, []),
        "AA-7": (13, [send_abort]),
        "AA-8": (13, [send_abort, ("indicate", Primitive.A_P_ABORT), "StartARTIM"]),
    }
    return table[action]


CELLS = [(s, e) for e in range(1, 20) for s in range(1, 14)]


@pytest.mark.parametrize("requestor", [True, False], ids=["requestor", "acceptor"])
@pytest.mark.parametrize("state,event", CELLS, ids=[f"Sta{s}-Evt{e}" for s, e in CELLS])
def test_every_cell(state, event, requestor):
    m = StateMachine(requestor=requestor)
    m.state = State(state)
    m.pending_request = RQ
    action = next((a for a, states in TABLE[event].items() if state in states), None)
    assert m.action_for(Event(event)) == action
    if action is None:
        with pytest.raises(InvalidTransition):
            m.handle(Event(event), PAYLOADS.get(event))
        assert m.state == State(state)  # nothing changed
        return
    effects = m.handle(Event(event), PAYLOADS.get(event))
    next_state, effect_kinds = expected(action, event, state, requestor)
    assert m.state == State(next_state)
    assert kinds(effects) == effect_kinds


def test_aa2_stops_artim_only_when_running():
    m = StateMachine(requestor=False)
    m.handle(Event.EVT5)  # AE-5 starts ARTIM
    assert m.artim_running
    assert kinds(m.handle(Event.EVT18)) == ["StopARTIM", "CloseTransport"]


def test_ae6_rejects_unsupported_protocol_version():
    m = StateMachine(requestor=False)
    m.handle(Event.EVT5)
    rq = P.AAssociateRQ("SCP", "SCU", RQ.presentation_contexts, RQ.user_information, protocol_version=2)
    effects = m.handle(Event.EVT6, rq)
    assert m.state == State.STA13
    rj = next(e.pdu for e in effects if isinstance(e, SendPDU))
    # PS3.8 Table 9-21: rejected-permanent, service-provider (ACSE), protocol-version-not-supported
    assert (rj.result, rj.source, rj.reason) == (1, 2, 2)


@pytest.mark.parametrize("state,event,payload,source,reason", [
    (6, Event.EVT19, PDUError("x", reason=P.AbortReason.UNRECOGNIZED_PDU), 2, P.AbortReason.UNRECOGNIZED_PDU),
    (6, Event.EVT3, AC, 2, P.AbortReason.UNEXPECTED_PDU),  # AA-8 for an unexpected PDU
    (2, Event.EVT10, PDATA, 2, P.AbortReason.UNEXPECTED_PDU),  # AA-1 triggered by a PDU in Sta2
    (13, Event.EVT6, RQ, 2, P.AbortReason.UNEXPECTED_PDU),  # AA-7
    (6, Event.EVT15, None, 0, 0),  # AA-1 on the local user's request: service-user source
])
def test_abort_source_and_reason(state, event, payload, source, reason):
    m = StateMachine(requestor=True)
    m.state = State(state)
    effects = m.handle(event, payload)
    abort = next(e.pdu for e in effects if isinstance(e, SendPDU))
    assert (abort.source, abort.reason) == (source, reason)
    if state == 6 and event != Event.EVT15:
        indication = next(e for e in effects if isinstance(e, Indicate))
        assert isinstance(indication.payload, ProviderAbort)


def test_aa3_distinguishes_user_and_provider_aborts():
    m = StateMachine(requestor=True)
    m.state = State.STA6
    assert kinds(m.handle(Event.EVT16, P.AAbort(2, 1)))[0] == ("indicate", Primitive.A_P_ABORT)


def exchange(a: StateMachine, b: StateMachine, effects):
    """Deliver the PDUs one machine sends to the other; return the other side's effects."""
    out = []
    for e in effects:
        if isinstance(e, SendPDU):
            event = {P.AReleaseRQ: Event.EVT12, P.AReleaseRP: Event.EVT13}[type(e.pdu)]
            out += b.handle(event, e.pdu)
    return out


def test_release_collision_both_sides():
    """Both sides send A-RELEASE-RQ at once (PS3.8 7.2): each must end in Sta1 after the documented steps."""
    req, acc = StateMachine(requestor=True), StateMachine(requestor=False)
    req.state = acc.state = State.STA6
    r1 = req.handle(Event.EVT11)  # AR-1: Sta7
    a1 = acc.handle(Event.EVT11)  # AR-1: Sta7
    a2 = exchange(req, acc, r1)  # acceptor receives RQ in Sta7: AR-8 -> Sta10
    r2 = exchange(acc, req, a1)  # requestor receives RQ in Sta7: AR-8 -> Sta9
    assert (req.state, acc.state) == (State.STA9, State.STA10)
    assert ("indicate", Primitive.A_RELEASE_COLLISION) in kinds(a2) + kinds(r2)
    r3 = req.handle(Event.EVT14)  # requestor answers: AR-9 sends RP -> Sta11
    a3 = exchange(req, acc, r3)  # acceptor gets RP in Sta10: AR-10 -> Sta12
    assert (req.state, acc.state) == (State.STA11, State.STA12)
    assert kinds(a3) == [("indicate", Primitive.A_RELEASE_CONFIRMATION)]
    a4 = acc.handle(Event.EVT14)  # AR-4 sends RP -> Sta13
    r4 = exchange(acc, req, a4)  # requestor gets RP in Sta11: AR-3 -> Sta1
    assert req.state == State.STA1 and "CloseTransport" in kinds(r4)
    acc.handle(Event.EVT17)  # the requestor closed: AR-5
    assert acc.state == State.STA1


def test_full_happy_path_both_sides():
    req, acc = StateMachine(requestor=True), StateMachine(requestor=False)
    assert kinds(req.handle(Event.EVT1, RQ)) == ["OpenTransport"]
    acc.handle(Event.EVT5)
    sent = req.handle(Event.EVT2)
    assert kinds(acc.handle(Event.EVT6, sent[0].pdu)) == ["StopARTIM", ("indicate", Primitive.A_ASSOCIATE_INDICATION)]
    ac = acc.handle(Event.EVT7, AC)[0].pdu
    req.handle(Event.EVT3, ac)
    assert req.state == acc.state == State.STA6
    # and the orderly release (PS3.8 Table 9-8): AR-1, AR-2, AR-4, AR-3; the acceptor waits with ARTIM
    rq = req.handle(Event.EVT11)
    assert kinds(rq) == [("send", "AReleaseRQ")] and req.state == State.STA7
    assert kinds(acc.handle(Event.EVT12, rq[0].pdu)) == [("indicate", Primitive.A_RELEASE_INDICATION)]
    rp = acc.handle(Event.EVT14)
    assert kinds(rp) == [("send", "AReleaseRP"), "StartARTIM"] and acc.state == State.STA13
    assert kinds(req.handle(Event.EVT13, rp[0].pdu)) == [("indicate", Primitive.A_RELEASE_CONFIRMATION),
                                                         "CloseTransport"]
    assert req.state == State.STA1


def test_the_transport_shortcut_for_p_data_follows_the_table():
    """The transport indicates a P-DATA-TF received in Sta6 without asking the machine: the table's cell must be
    DT-2, whose effect is that indication and whose next state is Sta6."""
    from dicomkit.net import fsm as F
    from dicomkit.net.pdu import PDV, PDataTF

    assert F.DT_2_IN_STA6
    machine = F.StateMachine(requestor=True)
    machine.state = F.State.STA6
    pdu = PDataTF([PDV(1, True, True, b"\x00\x00")])
    effects = machine.handle(F.Event.EVT10, pdu)
    assert machine.state is F.State.STA6
    assert len(effects) == 1 and isinstance(effects[0], F.Indicate)
    assert effects[0].primitive is F.Primitive.P_DATA and effects[0].payload is pdu
