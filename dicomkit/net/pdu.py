"""Upper layer PDUs (PS3.8 9.3) and the user information sub-items (PS3.8 Annex D, PS3.7 Annex D.3.3).

Pure code over bytes: ``encode()`` on each PDU class, :func:`decode_pdu` for one complete PDU, and
:class:`PDUReader`, an incremental framer that owns its receive buffer (so an asyncio ``BufferedProtocol``
can read straight into it) and hands out P-DATA fragments as memoryviews without copying them.

Every malformed input raises :class:`~dicomkit.core.errors.PDUError` carrying the A-ABORT reason to send.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from ..core.errors import PDUError

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1, the only DICOM application context
PROTOCOL_VERSION = 0x0001  # PS3.8 9.3.2: bit 0 set

# Limits on what we buffer before a PDU is complete: association PDUs are small (a few hundred contexts,
# a SAML assertion), P-DATA-TF is bounded by the maximum length we announced.
MAX_ASSOCIATION_PDU = 1 << 21
UNLIMITED_PDATA_CAP = 1 << 26  # our own cap when we announce "no maximum" (0)


class PDUType(IntEnum):
    """PS3.8 Table 9-11."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


class ItemType(IntEnum):
    """Variable items (PS3.8 9.3.2) and user information sub-items (PS3.8 D.1, PS3.7 D.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class AbortSource(IntEnum):
    """PS3.8 Table 9-26."""

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(IntEnum):
    """PS3.8 Table 9-26 (significant when the source is the service provider)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class RejectResult(IntEnum):
    """PS3.8 Table 9-21."""

    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class RejectSource(IntEnum):
    """PS3.8 Table 9-21."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReason:
    """PS3.8 Table 9-21: the Reason/Diag. field, whose meaning depends on the source (so not an enum)."""

    # source 1, service-user
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AE_TITLE_NOT_RECOGNIZED = 3
    CALLED_AE_TITLE_NOT_RECOGNIZED = 7
    # source 2, service-provider (ACSE related function)
    PROTOCOL_VERSION_NOT_SUPPORTED = 2
    # source 3, service-provider (presentation related function)
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


class MessageControl(IntFlag):
    """PS3.8 E.2: the Message Control Header of a PDV (bit 0: command, bit 1: last fragment)."""

    DATA = 0
    COMMAND = 1
    LAST = 2


# PS3.8 Table 9-21: (source, reason) -> meaning.
REJECT_REASONS: dict[tuple[int, int], str] = {
    (1, 1): "no-reason-given",
    (1, 2): "application-context-name-not-supported",
    (1, 3): "calling-AE-title-not-recognized",
    (1, 7): "called-AE-title-not-recognized",
    (2, 1): "no-reason-given",
    (2, 2): "protocol-version-not-supported",
    (3, 1): "temporary-congestion",
    (3, 2): "local-limit-exceeded",
}


class ContextResult(IntEnum):
    """Presentation context result/reason (PS3.8 Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2  # provider rejection
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class UserIdentityType(IntEnum):
    """PS3.7 Table D.3-14."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5


# -- sub-items -------------------------------------------------------------------------------------------


@dataclass
class AsyncOperationsWindow:
    """PS3.7 D.3.3.3: outstanding operations; 0 means unlimited."""

    max_invoked: int = 1
    max_performed: int = 1


@dataclass
class RoleSelection:
    """PS3.7 D.3.3.4: SCU/SCP role for one SOP class (in the AC, what the acceptor agreed to)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@dataclass
class SOPClassExtendedNegotiation:
    """PS3.7 D.3.3.5: service-class-application-information for one SOP class (opaque bytes here)."""

    sop_class_uid: str
    application_information: bytes


@dataclass
class SOPClassCommonExtendedNegotiation:
    """PS3.7 D.3.3.6 (A-ASSOCIATE-RQ only)."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: list[str] = field(default_factory=list)


@dataclass
class UserIdentityRQ:
    """PS3.7 D.3.3.7.1. ``secondary`` is the passcode (type 2 only)."""

    type: int
    primary: bytes
    secondary: bytes = b""
    positive_response_requested: bool = False

    def __repr__(self) -> str:  # never print credentials
        return (f"UserIdentityRQ(type={self.type}, primary=<{len(self.primary)} bytes>, "
                f"secondary=<{len(self.secondary)} bytes>, positive_response_requested="
                f"{self.positive_response_requested})")


@dataclass
class UserIdentityAC:
    """PS3.7 D.3.3.7.2: the server response (Kerberos ticket, SAML response, JWT), empty otherwise."""

    server_response: bytes = b""

    def __repr__(self) -> str:
        return f"UserIdentityAC(server_response=<{len(self.server_response)} bytes>)"


@dataclass
class UserInformation:
    """The User Information item (PS3.8 9.3.2.3) with its sub-items."""

    max_length: int | None = None
    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None
    async_ops_window: AsyncOperationsWindow | None = None
    role_selections: list[RoleSelection] = field(default_factory=list)
    extended_negotiation: list[SOPClassExtendedNegotiation] = field(default_factory=list)
    common_extended_negotiation: list[SOPClassCommonExtendedNegotiation] = field(default_factory=list)
    user_identity: UserIdentityRQ | UserIdentityAC | None = None
    # sub-items of unknown type, kept as (type, value) and ignored (PS3.7 D.3.3)
    unknown: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass
class PresentationContextRQ:
    """A proposed presentation context (PS3.8 9.3.2.2)."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: list[str]


@dataclass
class PresentationContextAC:
    """A presentation context result (PS3.8 9.3.3.2); ``transfer_syntax`` only matters when accepted."""

    context_id: int
    result: int
    transfer_syntax: str = ""


# -- PDUs ------------------------------------------------------------------------------------------------


@dataclass
class AAssociateRQ:
    """A-ASSOCIATE-RQ (PS3.8 9.3.2)."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: list[PresentationContextRQ]
    user_information: UserInformation = field(default_factory=UserInformation)
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = PROTOCOL_VERSION

    pdu_type = PDUType.A_ASSOCIATE_RQ

    def encode(self) -> bytes:
        body = [_encode_ae(self.called_ae_title, "called"), _encode_ae(self.calling_ae_title, "calling"),
                bytes(32), _item(ItemType.APPLICATION_CONTEXT, _uid(self.application_context))]
        for pc in self.presentation_contexts:
            sub = [_item(ItemType.ABSTRACT_SYNTAX, _uid(pc.abstract_syntax))]
            sub += [_item(ItemType.TRANSFER_SYNTAX, _uid(ts)) for ts in pc.transfer_syntaxes]
            body.append(_item(ItemType.PRESENTATION_CONTEXT_RQ, bytes((pc.context_id, 0, 0, 0)) + b"".join(sub)))
        body.append(_encode_user_information(self.user_information))
        return _pdu(self.pdu_type, struct.pack(">HH", self.protocol_version, 0) + b"".join(body))


@dataclass
class AAssociateAC:
    """A-ASSOCIATE-AC (PS3.8 9.3.3); the AE title fields echo the request (not tested on receipt)."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: list[PresentationContextAC]
    user_information: UserInformation = field(default_factory=UserInformation)
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = PROTOCOL_VERSION

    pdu_type = PDUType.A_ASSOCIATE_AC

    def encode(self) -> bytes:
        # PS3.8 9.3.3: the AE title fields echo the request and are not tested: sent as received
        body = [_echo_ae(self.called_ae_title), _echo_ae(self.calling_ae_title),
                bytes(32), _item(ItemType.APPLICATION_CONTEXT, _uid(self.application_context))]
        for pc in self.presentation_contexts:
            # PS3.8 9.3.3.2: one transfer syntax sub-item, not significant unless accepted.
            ts = _item(ItemType.TRANSFER_SYNTAX, _uid(pc.transfer_syntax) if pc.transfer_syntax else b"")
            body.append(_item(ItemType.PRESENTATION_CONTEXT_AC, bytes((pc.context_id, 0, pc.result, 0)) + ts))
        body.append(_encode_user_information(self.user_information))
        return _pdu(self.pdu_type, struct.pack(">HH", self.protocol_version, 0) + b"".join(body))


@dataclass
class AAssociateRJ:
    """A-ASSOCIATE-RJ (PS3.8 9.3.4)."""

    result: int
    source: int
    reason: int

    pdu_type = PDUType.A_ASSOCIATE_RJ

    def encode(self) -> bytes:
        return _pdu(self.pdu_type, bytes((0, self.result, self.source, self.reason)))

    @property
    def description(self) -> str:
        result = {1: "rejected-permanent", 2: "rejected-transient"}.get(self.result, f"result {self.result}")
        source = {1: "DICOM UL service-user", 2: "DICOM UL service-provider (ACSE)",
                  3: "DICOM UL service-provider (presentation)"}.get(self.source, f"source {self.source}")
        reason = REJECT_REASONS.get((self.source, self.reason), f"reason {self.reason}")
        return f"{result}, {source}: {reason}"


class PDV:
    """A presentation data value item (PS3.8 9.3.5.1, message control header PS3.8 E.2)."""

    __slots__ = ("context_id", "data", "is_command", "is_last")

    def __init__(self, context_id: int, is_command: bool, is_last: bool, data: bytes | memoryview) -> None:
        self.context_id = context_id
        self.is_command = is_command
        self.is_last = is_last
        self.data = data

    @property
    def control_header(self) -> int:
        return (MessageControl.COMMAND if self.is_command else 0) | (MessageControl.LAST if self.is_last else 0)

    def __repr__(self) -> str:
        kind = "command" if self.is_command else "data"
        return f"PDV(context {self.context_id}, {kind}, last={self.is_last}, {len(self.data)} bytes)"


@dataclass
class PDataTF:
    """P-DATA-TF (PS3.8 9.3.5): one or more PDVs."""

    pdvs: list[PDV]

    pdu_type = PDUType.P_DATA_TF

    def encode(self) -> bytes:
        parts: list[bytes | memoryview] = []
        for pdv in self.pdvs:
            parts.append(struct.pack(">IBB", len(pdv.data) + 2, pdv.context_id, pdv.control_header))
            parts.append(pdv.data)
        return _pdu(self.pdu_type, b"".join(parts))


_PDATA_HEADER = struct.Struct(">BBIIBB")


def pdata_header(context_id: int, control_header: int, length: int) -> bytes:
    """The 12 bytes before a fragment of ``length`` bytes sent as the only PDV of a P-DATA-TF PDU;
    ``control_header`` is a :class:`MessageControl` value."""
    return _PDATA_HEADER.pack(0x04, 0, length + 6, length + 2, context_id, control_header)


_PDV_HEADER = struct.Struct(">IBB")
_COMMAND_AND_DATA = (int(MessageControl.COMMAND | MessageControl.LAST), int(MessageControl.LAST))


def pdata_header_two(context_id: int, command_length: int, data_length: int) -> tuple[bytes, bytes]:
    """The headers of one P-DATA-TF PDU holding a whole command and a whole data set as two PDVs
    (PS3.8 9.3.5: a PDU may carry several PDV items): what goes before the command, and between it and the
    data set."""
    first = _PDATA_HEADER.pack(0x04, 0, command_length + data_length + 12, command_length + 2, context_id,
                               _COMMAND_AND_DATA[0])
    return first, _PDV_HEADER.pack(data_length + 2, context_id, _COMMAND_AND_DATA[1])


@dataclass
class AReleaseRQ:
    """A-RELEASE-RQ (PS3.8 9.3.6)."""

    pdu_type = PDUType.A_RELEASE_RQ

    def encode(self) -> bytes:
        return _pdu(self.pdu_type, bytes(4))


@dataclass
class AReleaseRP:
    """A-RELEASE-RP (PS3.8 9.3.7)."""

    pdu_type = PDUType.A_RELEASE_RP

    def encode(self) -> bytes:
        return _pdu(self.pdu_type, bytes(4))


@dataclass
class AAbort:
    """A-ABORT (PS3.8 9.3.8)."""

    source: int = AbortSource.SERVICE_USER
    reason: int = AbortReason.NOT_SPECIFIED

    pdu_type = PDUType.A_ABORT

    def encode(self) -> bytes:
        return _pdu(self.pdu_type, bytes((0, 0, self.source, self.reason)))

    @property
    def description(self) -> str:
        if self.source == AbortSource.SERVICE_PROVIDER:
            try:
                reason = AbortReason(self.reason).name.lower().replace("_", "-")
            except ValueError:
                reason = f"reason {self.reason}"
            return f"aborted by the peer's DICOM UL service-provider: {reason}"
        if self.source == AbortSource.SERVICE_USER:
            return "aborted by the peer (DICOM UL service-user)"
        return f"aborted (source {self.source}, reason {self.reason})"


PDU = AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort

# -- encoding helpers -------------------------------------------------------------------------------------


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def _item(item_type: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise PDUError(f"item 0x{item_type:02X} value of {len(value)} bytes exceeds the 16-bit item length")
    return struct.pack(">BBH", item_type, 0, len(value)) + value


def _uid(value: str) -> bytes:
    # PS3.8 Annex F: UIDs are sent without padding.
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise PDUError(f"UID {value!r} is not ASCII") from None
    if not data or len(data) > 64:
        raise PDUError(f"UID {value!r} must have 1 to 64 characters")
    return data


def validate_ae_title(title: str, what: str = "AE title", *, allow_empty: bool = False) -> str:
    """An AE title as sent: at most 16 characters of the default repertoire, no backslash or controls."""
    stripped = title.strip(" ")
    if not stripped and not allow_empty:
        raise PDUError(f"{what} must not be empty or all spaces (PS3.8 9.3.2)")
    if len(stripped) > 16:
        raise PDUError(f"{what} {title!r} is longer than 16 characters")
    if any(not (0x20 <= ord(c) < 0x7F) or c == "\\" for c in stripped):
        raise PDUError(f"{what} {title!r} has characters outside the AE repertoire (PS3.5 6.2)")
    return stripped


def _encode_ae(title: str, what: str, *, allow_empty: bool = False) -> bytes:
    return validate_ae_title(title, f"{what} AE title", allow_empty=allow_empty).encode("ascii").ljust(16)


def _echo_ae(title: str) -> bytes:
    return title.encode("ascii", "replace")[:16].ljust(16)


def _encode_user_information(ui: UserInformation) -> bytes:
    # Sub-items in ascending item type: some older peers expect that order (PS3.8 9.3.2.3 Note).
    sub: list[bytes] = []
    if ui.max_length is not None:
        sub.append(_item(ItemType.MAXIMUM_LENGTH, struct.pack(">I", ui.max_length)))
    if ui.implementation_class_uid:
        sub.append(_item(ItemType.IMPLEMENTATION_CLASS_UID, _uid(ui.implementation_class_uid)))
    if ui.async_ops_window is not None:
        w = ui.async_ops_window
        sub.append(_item(ItemType.ASYNCHRONOUS_OPERATIONS_WINDOW, struct.pack(">HH", w.max_invoked, w.max_performed)))
    for role in ui.role_selections:
        uid = _uid(role.sop_class_uid)
        sub.append(_item(ItemType.ROLE_SELECTION, struct.pack(">H", len(uid)) + uid
                         + bytes((int(role.scu_role), int(role.scp_role)))))
    if ui.implementation_version_name:
        name = ui.implementation_version_name.encode("ascii", "replace")
        if len(name) > 16:
            raise PDUError(f"implementation version name {ui.implementation_version_name!r} exceeds 16 characters")
        sub.append(_item(ItemType.IMPLEMENTATION_VERSION_NAME, name))
    for ext in ui.extended_negotiation:
        uid = _uid(ext.sop_class_uid)
        sub.append(_item(ItemType.SOP_CLASS_EXTENDED_NEGOTIATION,
                         struct.pack(">H", len(uid)) + uid + ext.application_information))
    for common in ui.common_extended_negotiation:
        uid = _uid(common.sop_class_uid)
        service = _uid(common.service_class_uid)
        related = b"".join(struct.pack(">H", len(u)) + u for u in map(_uid, common.related_general_sop_classes))
        value = (struct.pack(">H", len(uid)) + uid + struct.pack(">H", len(service)) + service
                 + struct.pack(">H", len(related)) + related)
        sub.append(_item(ItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION, value))
    ident = ui.user_identity
    if isinstance(ident, UserIdentityRQ):
        sub.append(_item(ItemType.USER_IDENTITY_RQ,
                         bytes((ident.type, int(ident.positive_response_requested)))
                         + struct.pack(">H", len(ident.primary)) + ident.primary
                         + struct.pack(">H", len(ident.secondary)) + ident.secondary))
    elif isinstance(ident, UserIdentityAC):
        sub.append(_item(ItemType.USER_IDENTITY_AC,
                         struct.pack(">H", len(ident.server_response)) + ident.server_response))
    for item_type, value in ui.unknown:
        sub.append(_item(item_type, value))
    return _item(ItemType.USER_INFORMATION, b"".join(sub))


# -- decoding --------------------------------------------------------------------------------------------

_HEADER = struct.Struct(">BBI")
_ITEM = struct.Struct(">BBH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_PDV = struct.Struct(">IBB")


def _text(data: memoryview | bytes) -> str:
    # Trailing NULs and spaces are tolerated on receipt (some peers pad UIDs as in data sets).
    return bytes(data).decode("ascii", "replace").rstrip("\x00 ")


def _ae_field(data: memoryview) -> str:
    return bytes(data).decode("ascii", "replace").strip(" \x00")


def _items(body: memoryview, where: str) -> list[tuple[int, memoryview]]:
    """Split a variable field into (item type, value) pairs, checking every length."""
    out: list[tuple[int, memoryview]] = []
    pos = 0
    n = len(body)
    while pos < n:
        if pos + 4 > n:
            raise PDUError(f"{where}: item header truncated at offset {pos}")
        item_type, _, length = _ITEM.unpack_from(body, pos)
        end = pos + 4 + length
        if end > n:
            raise PDUError(f"{where}: item 0x{item_type:02X} of {length} bytes runs past the end ({n - pos - 4} left)",
                           reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)
        out.append((item_type, body[pos + 4:end]))
        pos = end
    return out


def _u16_prefixed(value: memoryview, pos: int, where: str) -> tuple[memoryview, int]:
    if pos + 2 > len(value):
        raise PDUError(f"{where}: length field truncated")
    (length,) = _U16.unpack_from(value, pos)
    end = pos + 2 + length
    if end > len(value):
        raise PDUError(f"{where}: field of {length} bytes runs past the end of the item")
    return value[pos + 2:end], end


def _decode_user_information(value: memoryview, *, request: bool) -> UserInformation:
    ui = UserInformation()
    for item_type, sub in _items(value, "user information"):
        if item_type == ItemType.MAXIMUM_LENGTH:
            if len(sub) != 4:
                raise PDUError(f"maximum length sub-item has {len(sub)} bytes, expected 4")
            ui.max_length = _U32.unpack_from(sub)[0]
        elif item_type == ItemType.IMPLEMENTATION_CLASS_UID:
            ui.implementation_class_uid = _text(sub)
        elif item_type == ItemType.IMPLEMENTATION_VERSION_NAME:
            ui.implementation_version_name = _text(sub)
        elif item_type == ItemType.ASYNCHRONOUS_OPERATIONS_WINDOW:
            if len(sub) != 4:
                raise PDUError(f"asynchronous operations window sub-item has {len(sub)} bytes, expected 4")
            ui.async_ops_window = AsyncOperationsWindow(*struct.unpack_from(">HH", sub))
        elif item_type == ItemType.ROLE_SELECTION:
            uid, pos = _u16_prefixed(sub, 0, "role selection")
            if pos + 2 != len(sub):
                raise PDUError("role selection sub-item: SCU/SCP role fields missing or extra bytes")
            ui.role_selections.append(RoleSelection(_text(uid), bool(sub[pos]), bool(sub[pos + 1])))
        elif item_type == ItemType.SOP_CLASS_EXTENDED_NEGOTIATION:
            uid, pos = _u16_prefixed(sub, 0, "SOP class extended negotiation")
            ui.extended_negotiation.append(SOPClassExtendedNegotiation(_text(uid), bytes(sub[pos:])))
        elif item_type == ItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION:
            where = "SOP class common extended negotiation"
            uid, pos = _u16_prefixed(sub, 0, where)
            service, pos = _u16_prefixed(sub, pos, where)
            related_field, pos = _u16_prefixed(sub, pos, where)
            related: list[str] = []
            rpos = 0
            while rpos < len(related_field):
                one, rpos = _u16_prefixed(related_field, rpos, where)
                related.append(_text(one))
            ui.common_extended_negotiation.append(
                SOPClassCommonExtendedNegotiation(_text(uid), _text(service), related))
        elif item_type == ItemType.USER_IDENTITY_RQ and request:
            if len(sub) < 2:
                raise PDUError("user identity sub-item truncated")
            primary, pos = _u16_prefixed(sub, 2, "user identity")
            secondary, pos = _u16_prefixed(sub, pos, "user identity")
            ui.user_identity = UserIdentityRQ(sub[0], bytes(primary), bytes(secondary), bool(sub[1]))
        elif item_type == ItemType.USER_IDENTITY_AC and not request:
            response, _ = _u16_prefixed(sub, 0, "user identity response")
            ui.user_identity = UserIdentityAC(bytes(response))
        else:
            ui.unknown.append((item_type, bytes(sub)))
    return ui


def _decode_associate(pdu_type: int, body: memoryview) -> AAssociateRQ | AAssociateAC:
    request = pdu_type == PDUType.A_ASSOCIATE_RQ
    name = "A-ASSOCIATE-RQ" if request else "A-ASSOCIATE-AC"
    if len(body) < 68:
        raise PDUError(f"{name} of {len(body)} bytes is shorter than its 68 fixed bytes")
    (version,) = _U16.unpack_from(body, 0)
    called = _ae_field(body[4:20])
    calling = _ae_field(body[20:36])
    app_context: str | None = None
    rq_contexts: list[PresentationContextRQ] = []
    ac_contexts: list[PresentationContextAC] = []
    ui: UserInformation | None = None
    for item_type, value in _items(body[68:], name):
        if item_type == ItemType.APPLICATION_CONTEXT:
            app_context = _text(value)
        elif item_type == ItemType.PRESENTATION_CONTEXT_RQ and request:
            rq_contexts.append(_decode_context_rq(value))
        elif item_type == ItemType.PRESENTATION_CONTEXT_AC and not request:
            ac_contexts.append(_decode_context_ac(value))
        elif item_type == ItemType.USER_INFORMATION:
            if ui is not None:
                raise PDUError(f"{name} has two user information items", reason=AbortReason.UNEXPECTED_PDU_PARAMETER)
            ui = _decode_user_information(value, request=request)
        else:
            raise PDUError(f"{name}: unexpected item type 0x{item_type:02X}",
                           reason=AbortReason.UNRECOGNIZED_PDU_PARAMETER)
    if app_context is None:
        raise PDUError(f"{name} has no application context item")
    if ui is None:
        # PS3.8 9.3.2: the user information item is mandatory (it carries the maximum length)
        raise PDUError(f"{name} has no user information item")
    if request:
        if not rq_contexts:
            raise PDUError("A-ASSOCIATE-RQ proposes no presentation context")
        return AAssociateRQ(called, calling, rq_contexts, ui, app_context, version)
    return AAssociateAC(called, calling, ac_contexts, ui, app_context, version)


def _decode_context_rq(value: memoryview) -> PresentationContextRQ:
    if len(value) < 4:
        raise PDUError("presentation context item truncated")
    context_id = value[0]
    abstract: str | None = None
    syntaxes: list[str] = []
    for item_type, sub in _items(value[4:], "presentation context"):
        if item_type == ItemType.ABSTRACT_SYNTAX:
            if abstract is not None:
                raise PDUError(f"presentation context {context_id} has two abstract syntaxes")
            abstract = _text(sub)
        elif item_type == ItemType.TRANSFER_SYNTAX:
            syntaxes.append(_text(sub))
        else:
            raise PDUError(f"presentation context {context_id}: unexpected sub-item 0x{item_type:02X}",
                           reason=AbortReason.UNRECOGNIZED_PDU_PARAMETER)
    if not abstract:
        raise PDUError(f"presentation context {context_id} has no abstract syntax")
    if not syntaxes:
        raise PDUError(f"presentation context {context_id} proposes no transfer syntax")
    return PresentationContextRQ(context_id, abstract, syntaxes)


def _decode_context_ac(value: memoryview) -> PresentationContextAC:
    if len(value) < 4:
        raise PDUError("presentation context result item truncated")
    context_id, result = value[0], value[2]
    syntaxes = [_text(sub) for t, sub in _items(value[4:], "presentation context result")
                if t == ItemType.TRANSFER_SYNTAX]
    if result == ContextResult.ACCEPTANCE and len(syntaxes) != 1:
        raise PDUError(f"accepted presentation context {context_id} must carry one transfer syntax, "
                       f"has {len(syntaxes)}")
    return PresentationContextAC(context_id, result, syntaxes[0] if syntaxes else "")


def _decode_pdata(buf: bytes | bytearray | memoryview, start: int, end: int) -> PDataTF:
    """The P-DATA-TF whose body (the bytes after its 6-byte header) is ``buf[start:end]``; its PDV values are
    views of ``buf``."""
    n = end - start
    unpack = _PDV.unpack_from
    if n >= 6:
        length, context_id, header = unpack(buf, start)
        if length + 4 == n and length >= 2:  # one PDV filling the PDU, the usual case: what the loop gives
            return PDataTF([PDV(context_id, header & 1 != 0, header & 2 != 0, memoryview(buf)[start + 6:end])])
    view = memoryview(buf)
    pdvs: list[PDV] = []
    pos = start
    while pos < end:
        if pos + 6 > end:
            raise PDUError(f"P-DATA-TF: PDV item header truncated at offset {pos - start}")
        length, context_id, header = unpack(buf, pos)
        item_end = pos + 4 + length
        if length < 2 or item_end > end:
            raise PDUError(f"P-DATA-TF: PDV item length {length} does not fit the PDU ({end - pos - 4} bytes left)")
        pdvs.append(PDV(context_id, header & 1 != 0, header & 2 != 0, view[pos + 6:item_end]))
        pos = item_end
    if not pdvs:
        raise PDUError("P-DATA-TF carries no PDV item")
    return PDataTF(pdvs)


def decode_pdu(pdu_type: int, body: memoryview) -> PDU:
    """Decode one PDU from its type and body (the bytes after the 6-byte header)."""
    if pdu_type == PDUType.P_DATA_TF:
        return _decode_pdata(body, 0, len(body))
    if pdu_type in (PDUType.A_ASSOCIATE_RQ, PDUType.A_ASSOCIATE_AC):
        return _decode_associate(pdu_type, body)
    if pdu_type not in _KNOWN_TYPES:
        raise PDUError(f"unrecognized PDU type 0x{pdu_type:02X}", reason=AbortReason.UNRECOGNIZED_PDU)
    if len(body) != 4:
        raise PDUError(f"{PDUType(pdu_type).name} must have a length of 4, has {len(body)}")
    if pdu_type == PDUType.A_ASSOCIATE_RJ:
        return AAssociateRJ(body[1], body[2], body[3])
    if pdu_type == PDUType.A_RELEASE_RQ:
        return AReleaseRQ()
    if pdu_type == PDUType.A_RELEASE_RP:
        return AReleaseRP()
    if pdu_type == PDUType.A_ABORT:
        return AAbort(body[2], body[3])
    raise PDUError(f"unrecognized PDU type 0x{pdu_type:02X}", reason=AbortReason.UNRECOGNIZED_PDU)


def decode(data: bytes | memoryview) -> PDU:
    """Decode a single complete PDU (header included), as a test or tool would."""
    mv = memoryview(data)
    if len(mv) < 6:
        raise PDUError(f"a PDU needs at least 6 bytes, got {len(mv)}")
    pdu_type, _, length = _HEADER.unpack_from(mv)
    if length != len(mv) - 6:
        raise PDUError(f"PDU length field says {length}, {len(mv) - 6} bytes follow")
    return decode_pdu(pdu_type, mv[6:])


_KNOWN_TYPES = frozenset(int(t) for t in PDUType)
_P_DATA_TF = int(PDUType.P_DATA_TF)


_FIRST_BUFFER = 1 << 14  # what a new connection's receive buffer starts with


class PDUReader:
    """Incremental PDU framing over a receive buffer it owns.

    Feed bytes with :meth:`feed`, or read into :meth:`get_buffer` and report with :meth:`buffer_updated`
    (the asyncio ``BufferedProtocol`` interface). :meth:`next_pdu` returns complete PDUs one at a time.
    P-DATA fragments are memoryviews into the buffer: valid until the next call to ``get_buffer`` or
    ``feed``; a consumer copies or writes them out before then.

    ``max_pdata_length`` is the maximum length we announced (0: none; then ``UNLIMITED_PDATA_CAP``).
    A PDU announcing more than allowed is refused as soon as its header arrives, before any buffering.
    """

    def __init__(self, max_pdata_length: int = 0, *, max_association_length: int = MAX_ASSOCIATION_PDU,
                 chunk: int = 1 << 18) -> None:
        self.max_pdata_length = max_pdata_length or UNLIMITED_PDATA_CAP
        self.max_association_length = max_association_length
        self._chunk = chunk
        # small until the peer sends more: a connection that only negotiates (or sends garbage) stays light
        self._buf = bytearray(min(chunk, _FIRST_BUFFER))
        self._start = 0
        self._end = 0
        self._need = 6  # bytes needed from _start for the next PDU

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        buf = self._buf
        start, end = self._start, self._end
        if start == end:
            self._start = self._end = start = end = 0
            if len(buf) > 4 * self._chunk and self._need <= self._chunk:
                self._buf = buf = bytearray(self._chunk)  # give back what one huge PDU needed
        pending = end - start
        # Room for what the next PDU needs — but never far beyond what has arrived: a header may announce
        # megabytes it never sends, so the buffer grows (geometrically) with the bytes, not with the claim.
        want = max(min(self._need, max(2 * len(buf), pending + self._chunk)), pending + max(len(buf) // 4, 4096))
        if start + want > len(buf):
            if want <= len(buf) and start:
                buf[0:pending] = buf[start:end]  # slicing copies first, so overlap is safe
            else:
                bigger = bytearray(want)
                bigger[0:pending] = buf[start:end]
                self._buf = buf = bigger
            self._start, self._end = 0, pending
            end = pending
        return memoryview(buf)[end:]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        mv = memoryview(data)
        while mv:
            target = self.get_buffer(len(mv))
            n = min(len(target), len(mv))
            target[:n] = mv[:n]
            self.buffer_updated(n)
            mv = mv[n:]

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as PDUs."""
        return self._end - self._start

    def next_pdu(self) -> PDU | None:
        """The next complete PDU, or None until more bytes arrive. Raises PDUError for invalid input."""
        start = self._start
        avail = self._end - start
        if avail < 6:
            self._need = 6
            return None
        buf = self._buf
        pdu_type, _, length = _HEADER.unpack_from(buf, start)
        if pdu_type == _P_DATA_TF:
            limit = self.max_pdata_length
        elif pdu_type in _KNOWN_TYPES:
            limit = self.max_association_length
        else:
            raise PDUError(f"unrecognized PDU type 0x{pdu_type:02X}", reason=AbortReason.UNRECOGNIZED_PDU)
        if length > limit:
            raise PDUError(f"{PDUType(pdu_type).name} of {length} bytes exceeds the limit of {limit} bytes")
        total = 6 + length
        if avail < total:
            self._need = total
            return None
        end = start + total
        self._start = end
        self._need = 6
        if pdu_type != _P_DATA_TF:
            return decode_pdu(pdu_type, memoryview(buf)[start + 6:end])
        return _decode_pdata(buf, start + 6, end)  # its values are views of the buffer, as decode_pdu's are
