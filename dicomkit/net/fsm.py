"""The DICOM upper layer state machine (PS3.8 9.2): states Sta1-Sta13, events Evt1-Evt19, actions.

Sans-I/O: :meth:`StateMachine.handle` takes an event (and its PDU or primitive) and returns the effects
the transport must carry out (send a PDU, open/close the connection, start/stop the ARTIM timer, pass an
indication to the local user). The transition table is data, written like the standard's Table 9-10:
one row per event, naming the action for each state where the event is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum

from ..core.errors import NetworkError, PDUError
from .pdu import (
    PDU,
    AAbort,
    AAssociateRJ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    RejectReason,
    RejectResult,
    RejectSource,
)


class State(IntEnum):
    """PS3.8 Table 9-1."""

    STA1 = 1
    STA2 = 2
    STA3 = 3
    STA4 = 4
    STA5 = 5
    STA6 = 6
    STA7 = 7
    STA8 = 8
    STA9 = 9
    STA10 = 10
    STA11 = 11
    STA12 = 12
    STA13 = 13

    @property
    def label(self) -> str:
        return f"Sta{self.value}"

    @property
    def description(self) -> str:
        return _STATE_TEXT[self.value]


_STATE_TEXT = {
    1: "Idle",
    2: "Transport connection open (awaiting A-ASSOCIATE-RQ PDU)",
    3: "Awaiting local A-ASSOCIATE response primitive",
    4: "Awaiting transport connection opening to complete",
    5: "Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU",
    6: "Association established and ready for data transfer",
    7: "Awaiting A-RELEASE-RP PDU",
    8: "Awaiting local A-RELEASE response primitive",
    9: "Release collision requestor side; awaiting A-RELEASE response primitive",
    10: "Release collision acceptor side; awaiting A-RELEASE-RP PDU",
    11: "Release collision requestor side; awaiting A-RELEASE-RP PDU",
    12: "Release collision acceptor side; awaiting A-RELEASE response primitive",
    13: "Awaiting transport connection close indication (association no longer exists)",
}


class Event(IntEnum):
    """PS3.8 Table 9-10, rows."""

    EVT1 = 1  # A-ASSOCIATE request (local user)
    EVT2 = 2  # transport connect confirmation (local transport service)
    EVT3 = 3  # A-ASSOCIATE-AC PDU received
    EVT4 = 4  # A-ASSOCIATE-RJ PDU received
    EVT5 = 5  # transport connection indication (local transport service)
    EVT6 = 6  # A-ASSOCIATE-RQ PDU received
    EVT7 = 7  # A-ASSOCIATE response primitive (accept)
    EVT8 = 8  # A-ASSOCIATE response primitive (reject)
    EVT9 = 9  # P-DATA request primitive
    EVT10 = 10  # P-DATA-TF PDU received
    EVT11 = 11  # A-RELEASE request primitive
    EVT12 = 12  # A-RELEASE-RQ PDU received
    EVT13 = 13  # A-RELEASE-RP PDU received
    EVT14 = 14  # A-RELEASE response primitive
    EVT15 = 15  # A-ABORT request primitive
    EVT16 = 16  # A-ABORT PDU received
    EVT17 = 17  # transport connection closed indication
    EVT18 = 18  # ARTIM timer expired
    EVT19 = 19  # unrecognized or invalid PDU received

    @property
    def label(self) -> str:
        return f"Evt{self.value}"


# Events that a received PDU raises (PS3.8 9.2.3), by PDU type.
PDU_EVENTS = {0x01: Event.EVT6, 0x02: Event.EVT3, 0x03: Event.EVT4, 0x04: Event.EVT10, 0x05: Event.EVT12,
              0x06: Event.EVT13, 0x07: Event.EVT16}


class Primitive(Enum):
    """Indications and confirmations passed to the local user."""

    A_ASSOCIATE_INDICATION = "A-ASSOCIATE indication"
    A_ASSOCIATE_ACCEPT = "A-ASSOCIATE confirmation (accept)"
    A_ASSOCIATE_REJECT = "A-ASSOCIATE confirmation (reject)"
    P_DATA = "P-DATA indication"
    A_RELEASE_INDICATION = "A-RELEASE indication"
    A_RELEASE_COLLISION = "A-RELEASE indication (release collision)"
    A_RELEASE_CONFIRMATION = "A-RELEASE confirmation"
    A_ABORT = "A-ABORT indication"
    A_P_ABORT = "A-P-ABORT indication"


# -- effects ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendPDU:
    pdu: PDU


@dataclass(frozen=True, slots=True)
class Indicate:
    primitive: Primitive
    payload: object = None


@dataclass(frozen=True, slots=True)
class OpenTransport:
    pass


@dataclass(frozen=True, slots=True)
class CloseTransport:
    pass


@dataclass(frozen=True, slots=True)
class StartARTIM:
    pass


@dataclass(frozen=True, slots=True)
class StopARTIM:
    pass


Effect = SendPDU | Indicate | OpenTransport | CloseTransport | StartARTIM | StopARTIM


@dataclass(frozen=True, slots=True)
class ProviderAbort:
    """Payload of the A-P-ABORT indication when the local provider aborted (AA-8): why, and what was sent."""

    cause: str
    sent: AAbort

    def __str__(self) -> str:
        return f"{self.cause} (A-ABORT sent, reason {self.sent.reason})"


class InvalidTransition(NetworkError):
    """The local user asked for something the current state does not allow (an empty cell of Table 9-10)."""


# -- actions (PS3.8 Tables 9-6 to 9-9) ---------------------------------------------------------------------

Action = Callable[["StateMachine", Event, object, list[Effect]], State]


def ae_1(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue TRANSPORT CONNECT request primitive to local transport service."""
    m.pending_request = payload
    out.append(OpenTransport())
    return State.STA4


def ae_2(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ASSOCIATE-RQ-PDU."""
    out.append(SendPDU(m.pending_request))  # type: ignore[arg-type]
    return State.STA5


def ae_3(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-ASSOCIATE confirmation (accept) primitive."""
    out.append(Indicate(Primitive.A_ASSOCIATE_ACCEPT, payload))
    return State.STA6


def ae_4(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection."""
    out += (Indicate(Primitive.A_ASSOCIATE_REJECT, payload), CloseTransport())
    return State.STA1


def ae_5(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue transport connection response primitive; start ARTIM timer."""
    out.append(_start_artim(m))
    return State.STA2


def ae_6(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Stop ARTIM; indicate A-ASSOCIATE if the service provider can accept the request, else reject."""
    out.append(_stop_artim(m))
    version = getattr(payload, "protocol_version", 0)
    if version & 0x0001:
        out.append(Indicate(Primitive.A_ASSOCIATE_INDICATION, payload))
        return State.STA3
    # PS3.8 9.3.2: protocol version bit 0 must be set; otherwise the ACSE provider rejects it.
    out += (SendPDU(AAssociateRJ(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_PROVIDER_ACSE,
                                    RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED)), _start_artim(m))
    return State.STA13


def ae_7(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ASSOCIATE-AC PDU."""
    out.append(SendPDU(payload))  # type: ignore[arg-type]
    return State.STA6


def ae_8(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ASSOCIATE-RJ PDU and start ARTIM timer."""
    out += (SendPDU(payload), _start_artim(m))  # type: ignore[arg-type]
    return State.STA13


def dt_1(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send P-DATA-TF PDU."""
    out.append(SendPDU(payload))  # type: ignore[arg-type]
    return State.STA6


def dt_2(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send P-DATA indication primitive."""
    out.append(Indicate(Primitive.P_DATA, payload))
    return State.STA6


def ar_1(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-RELEASE-RQ PDU."""
    out.append(SendPDU(AReleaseRQ()))
    return State.STA7


def ar_2(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-RELEASE indication primitive."""
    out.append(Indicate(Primitive.A_RELEASE_INDICATION))
    return State.STA8


def ar_3(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-RELEASE confirmation primitive, and close transport connection."""
    out += (Indicate(Primitive.A_RELEASE_CONFIRMATION), CloseTransport())
    return State.STA1


def ar_4(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-RELEASE-RP PDU and start ARTIM timer."""
    out += (SendPDU(AReleaseRP()), _start_artim(m))
    return State.STA13


def ar_5(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Stop ARTIM timer."""
    out.append(_stop_artim(m))
    return State.STA1


def ar_6(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue P-DATA indication."""
    out.append(Indicate(Primitive.P_DATA, payload))
    return State.STA7


def ar_7(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue P-DATA-TF PDU."""
    out.append(SendPDU(payload))  # type: ignore[arg-type]
    return State.STA8


def ar_8(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-RELEASE indication (release collision)."""
    out.append(Indicate(Primitive.A_RELEASE_COLLISION, m.requestor))
    return State.STA9 if m.requestor else State.STA10


def ar_9(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-RELEASE-RP PDU."""
    out.append(SendPDU(AReleaseRP()))
    return State.STA11


def ar_10(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-RELEASE confirmation primitive."""
    out.append(Indicate(Primitive.A_RELEASE_CONFIRMATION))
    return State.STA12


def aa_1(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ABORT PDU and start (or restart) ARTIM timer.

    The table names the service-user as source. When the trigger is a PDU the provider itself found
    unexpected or invalid (Sta2), the PDU says so: source service-provider with the reason (PS3.8 9.3.8).
    """
    if event == Event.EVT15:
        abort = payload if isinstance(payload, AAbort) else AAbort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED)
    else:
        abort = AAbort(AbortSource.SERVICE_PROVIDER, _abort_reason(event, payload))
    out += (SendPDU(abort), _start_artim(m))
    return State.STA13


def aa_2(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Stop ARTIM timer if running. Close transport connection."""
    if m.artim_running:
        out.append(_stop_artim(m))
    out.append(CloseTransport())
    return State.STA1


def aa_3(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Indicate A-ABORT (service-user initiated) or A-P-ABORT (provider initiated); close transport."""
    source = getattr(payload, "source", AbortSource.SERVICE_USER)
    primitive = Primitive.A_ABORT if source == AbortSource.SERVICE_USER else Primitive.A_P_ABORT
    out += (Indicate(primitive, payload), CloseTransport())
    return State.STA1


def aa_4(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Issue A-P-ABORT indication primitive."""
    out.append(Indicate(Primitive.A_P_ABORT, payload))
    return State.STA1


def aa_5(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Stop ARTIM timer."""
    out.append(_stop_artim(m))
    return State.STA1


def aa_6(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Ignore PDU."""
    return State.STA13


def aa_7(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ABORT PDU."""
    out.append(SendPDU(AAbort(AbortSource.SERVICE_PROVIDER, _abort_reason(event, payload))))
    return State.STA13


def aa_8(m: StateMachine, event: Event, payload: object, out: list[Effect]) -> State:
    """Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, and start ARTIM timer."""
    abort = AAbort(AbortSource.SERVICE_PROVIDER, _abort_reason(event, payload))
    cause = str(payload) if event == Event.EVT19 else f"unexpected PDU ({event.label}) in {m.state.label}"
    out += (SendPDU(abort), Indicate(Primitive.A_P_ABORT, ProviderAbort(cause, abort)), _start_artim(m))
    return State.STA13


def _abort_reason(event: Event, payload: object) -> int:
    if event == Event.EVT19:
        return payload.reason if isinstance(payload, PDUError) else AbortReason.INVALID_PDU_PARAMETER_VALUE
    return AbortReason.UNEXPECTED_PDU


def _start_artim(m: StateMachine) -> StartARTIM:
    m.artim_running = True
    return StartARTIM()


def _stop_artim(m: StateMachine) -> StopARTIM:
    m.artim_running = False
    return StopARTIM()


ACTIONS: dict[str, Action] = {
    "AE-1": ae_1, "AE-2": ae_2, "AE-3": ae_3, "AE-4": ae_4, "AE-5": ae_5, "AE-6": ae_6, "AE-7": ae_7,
    "AE-8": ae_8, "DT-1": dt_1, "DT-2": dt_2, "AR-1": ar_1, "AR-2": ar_2, "AR-3": ar_3, "AR-4": ar_4,
    "AR-5": ar_5, "AR-6": ar_6, "AR-7": ar_7, "AR-8": ar_8, "AR-9": ar_9, "AR-10": ar_10, "AA-1": aa_1,
    "AA-2": aa_2, "AA-3": aa_3, "AA-4": aa_4, "AA-5": aa_5, "AA-6": aa_6, "AA-7": aa_7, "AA-8": aa_8,
}

# PS3.8 Table 9-10, laid out as in the standard: one row per event, one column per state. "." marks a cell
# the standard leaves empty: the event cannot occur there (a local primitive in that state is a usage error;
# a PDU cannot arrive without a connection).
_TABLE = """
        Sta1  Sta2  Sta3  Sta4  Sta5  Sta6  Sta7  Sta8  Sta9  Sta10 Sta11 Sta12 Sta13
Evt1    AE-1  .     .     .     .     .     .     .     .     .     .     .     .
Evt2    .     .     .     AE-2  .     .     .     .     .     .     .     .     .
Evt3    .     AA-1  AA-8  .     AE-3  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6
Evt4    .     AA-1  AA-8  .     AE-4  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6
Evt5    AE-5  .     .     .     .     .     .     .     .     .     .     .     .
Evt6    .     AE-6  AA-8  .     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7
Evt7    .     .     AE-7  .     .     .     .     .     .     .     .     .     .
Evt8    .     .     AE-8  .     .     .     .     .     .     .     .     .     .
Evt9    .     .     .     .     .     DT-1  .     AR-7  .     .     .     .     .
Evt10   .     AA-1  AA-8  .     AA-8  DT-2  AR-6  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6
Evt11   .     .     .     .     .     AR-1  .     .     .     .     .     .     .
Evt12   .     AA-1  AA-8  .     AA-8  AR-2  AR-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6
Evt13   .     AA-1  AA-8  .     AA-8  AA-8  AR-3  AA-8  AA-8  AR-10 AR-3  AA-8  AA-6
Evt14   .     .     .     .     .     .     .     AR-4  AR-9  .     .     AR-4  .
Evt15   .     .     AA-1  AA-2  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  .
Evt16   .     AA-2  AA-3  .     AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-2
Evt17   .     AA-5  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AR-5
Evt18   .     AA-2  .     .     .     .     .     .     .     .     .     .     AA-2
Evt19   .     AA-1  AA-8  .     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7
"""


def _parse_table(text: str) -> dict[tuple[State, Event], str]:
    lines = [line.split() for line in text.strip().splitlines()]
    states = [State(int(label[3:])) for label in lines[0]]
    table = {}
    for row in lines[1:]:
        event = Event(int(row[0][3:]))
        for state, name in zip(states, row[1:], strict=True):
            if name != ".":
                table[(state, event)] = name
    return table


TRANSITIONS: dict[tuple[State, Event], str] = _parse_table(_TABLE)
# A P-DATA-TF PDU received in Sta6 (Evt10) is DT-2: a P-DATA indication, and the state stays Sta6. The transport
# carries that cell out directly for every P-DATA-TF it reads in Sta6 (and through handle() if the table said
# otherwise).
DT_2_IN_STA6 = TRANSITIONS.get((State.STA6, Event.EVT10)) == "DT-2"


class StateMachine:
    """One association's upper layer state; ``requestor`` decides the release collision branch (AR-8)."""

    __slots__ = ("_table", "artim_running", "pending_request", "requestor", "state")

    def __init__(self, *, requestor: bool) -> None:
        self.requestor = requestor
        self.state = State.STA1
        self.artim_running = False
        self.pending_request: object = None
        self._table = {key: ACTIONS[name] for key, name in TRANSITIONS.items()}

    def handle(self, event: Event, payload: object = None) -> list[Effect]:
        """Apply ``event``; return the effects to carry out. Raises InvalidTransition for an empty cell."""
        action = self._table.get((self.state, event))
        if action is None:
            raise InvalidTransition(f"{event.label} is not valid in {self.state.label} ({self.state.description})")
        out: list[Effect] = []
        self.state = action(self, event, payload, out)
        return out

    def action_for(self, event: Event) -> str | None:
        """The name of the action ``event`` would trigger now (None for an empty cell)."""
        return TRANSITIONS.get((self.state, event))
