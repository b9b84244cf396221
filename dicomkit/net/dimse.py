"""DIMSE messages (PS3.7 9, 10): command sets, their encoding, fragmentation into PDVs and reassembly.

A command set is always Implicit VR Little Endian (PS3.7 6.3.1) and holds only group 0000 elements
(PS3.7 E.1); it is small, so it has its own codec here instead of going through the general data set
code. Each DIMSE-C and DIMSE-N request and response is a class (``CStoreRQ``, ``NGetRSP``, ...) with the
command fields as attributes; which are mandatory follows PS3.7 Tables 9.3-1 to 10.3-12.
"""

from __future__ import annotations

import itertools
import operator
import struct
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, fields
from enum import IntEnum
from typing import ClassVar, Protocol

from ..core.errors import DimseError
from .pdu import PDV
from .status import Status


class CommandField(IntEnum):
    """PS3.7 E.1, Command Field (0000,0100)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """PS3.7 E.1, Priority (0000,0700)."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


NO_DATA_SET = 0x0101  # Command Data Set Type (0000,0800): any other value means a data set follows
DATA_SET_PRESENT = 0x0001

# PS3.7 E.1: (attribute, tag, VR) for every command element this codec knows, in tag order.
_ELEMENTS: tuple[tuple[str, int, str], ...] = (
    ("affected_sop_class_uid", 0x00000002, "UI"),
    ("requested_sop_class_uid", 0x00000003, "UI"),
    ("command_field", 0x00000100, "US"),
    ("message_id", 0x00000110, "US"),
    ("message_id_being_responded_to", 0x00000120, "US"),
    ("move_destination", 0x00000600, "AE"),
    ("priority", 0x00000700, "US"),
    ("data_set_type", 0x00000800, "US"),
    ("status", 0x00000900, "US"),
    ("offending_element", 0x00000901, "AT"),
    ("error_comment", 0x00000902, "LO"),
    ("error_id", 0x00000903, "US"),
    ("affected_sop_instance_uid", 0x00001000, "UI"),
    ("requested_sop_instance_uid", 0x00001001, "UI"),
    ("event_type_id", 0x00001002, "US"),
    ("attribute_identifier_list", 0x00001005, "AT"),
    ("action_type_id", 0x00001008, "US"),
    ("number_of_remaining_suboperations", 0x00001020, "US"),
    ("number_of_completed_suboperations", 0x00001021, "US"),
    ("number_of_failed_suboperations", 0x00001022, "US"),
    ("number_of_warning_suboperations", 0x00001023, "US"),
    ("move_originator_aet", 0x00001030, "AE"),
    ("move_originator_message_id", 0x00001031, "US"),
)
_BY_TAG = {tag: (attr, vr) for attr, tag, vr in _ELEMENTS}
_US_BY_ELEMENT = {tag: attr for attr, tag, vr in _ELEMENTS if vr == "US"}

_ELEMENT = struct.Struct("<HHI")
_US = struct.Struct("<H")
_UL = struct.Struct("<I")
_GROUP_LENGTH = struct.Struct("<HHII")


@dataclass(kw_only=True, eq=False)
class DimseMessage:
    """A DIMSE message's command set. Subclasses fix the Command Field and the mandatory elements."""

    COMMAND_FIELD: ClassVar[int] = 0
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    affected_sop_class_uid: str | None = None
    requested_sop_class_uid: str | None = None
    message_id: int | None = None
    message_id_being_responded_to: int | None = None
    move_destination: str | None = None
    priority: int | None = None
    status: int | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    affected_sop_instance_uid: str | None = None
    requested_sop_instance_uid: str | None = None
    event_type_id: int | None = None
    attribute_identifier_list: tuple[int, ...] | None = None
    action_type_id: int | None = None
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None
    move_originator_aet: str | None = None
    move_originator_message_id: int | None = None
    has_dataset: bool = False

    @property
    def command_field(self) -> int:
        return self.COMMAND_FIELD

    @property
    def data_set_type(self) -> int:
        return DATA_SET_PRESENT if self.has_dataset else NO_DATA_SET

    @property
    def is_request(self) -> bool:
        return not self.COMMAND_FIELD & 0x8000

    @property
    def name(self) -> str:
        return CommandField(self.COMMAND_FIELD).name.replace("_", "-")

    def check(self) -> None:
        """Raise DimseError if a mandatory element is missing."""
        missing = [a for a in self.REQUIRED if getattr(self, a) is None]
        if missing:
            raise DimseError(f"{self.name} lacks {', '.join(missing)} (PS3.7)")

    def encode(self) -> bytes:
        """The command set in Implicit VR Little Endian, with its Command Group Length (PS3.7 6.3.1, E.1)."""
        self.check()
        parts: list[bytes] = []
        values = self.__dict__
        pack = _ELEMENT.pack
        for attr, tag, vr in _ELEMENTS:
            value = values.get(attr) if attr in values else getattr(self, attr)
            if value is None:
                continue
            if vr == "US" and value.__class__ is int and 0 <= value <= 0xFFFF:  # the common case, inline
                parts.append(pack(0x0000, tag & 0xFFFF, 2) + _US.pack(value))
                continue
            data = _encode_value(value, vr, attr)
            parts.append(pack(0x0000, tag & 0xFFFF, len(data)))
            parts.append(data)
        body = b"".join(parts)
        return _GROUP_LENGTH.pack(0x0000, 0x0000, 4, len(body)) + body

    def __repr__(self) -> str:
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if getattr(self, f.name) is not None and f.name != "has_dataset"]
        if self.has_dataset:
            shown.append("has_dataset=True")
        return f"{type(self).__name__}({', '.join(shown)})"


class Request(DimseMessage):
    """A DIMSE request."""


class Response(DimseMessage):
    """A DIMSE response: ``status`` is a :class:`Status`."""

    def __post_init__(self) -> None:
        if self.status is not None and not isinstance(self.status, Status):
            self.status = Status(self.status)

    @property
    def status_value(self) -> Status:
        return Status(self.status or 0)

    @property
    def status_text(self) -> str:
        s = self.status_value
        text = f"{s} ({s.meaning()})"
        if self.error_comment:
            text += f": {self.error_comment}"
        return text


_RQ = ("message_id",)
_RSP = ("message_id_being_responded_to", "status")


@dataclass(kw_only=True, eq=False, repr=False)
class CStoreRQ(Request):
    """PS3.7 Table 9.3-1."""

    COMMAND_FIELD = CommandField.C_STORE_RQ
    REQUIRED = ("affected_sop_class_uid", "affected_sop_instance_uid", "priority", *_RQ)
    priority: int | None = Priority.MEDIUM
    has_dataset: bool = True


class CStoreRSP(Response):
    """PS3.7 Table 9.3-2."""

    COMMAND_FIELD = CommandField.C_STORE_RSP
    REQUIRED = _RSP

    def encode(self) -> bytes:
        """The common answer — SOP Class and Instance UIDs, message id and status, nothing else — from a
        template (one per store: the receive path's most frequent message); any other through the general
        encoder, which gives the same bytes for this one."""
        values = self.__dict__
        status, message_id = values["status"], values["message_id_being_responded_to"]
        sop_class, sop_instance = values["affected_sop_class_uid"], values["affected_sop_instance_uid"]
        if (self.has_dataset or sop_class is None or sop_instance is None or message_id is None or status is None
                or _store_rsp_others(values) != _STORE_RSP_NONE
                or not 0 <= message_id <= 0xFFFF or not 0 <= status <= 0xFFFF):
            return super().encode()
        class_value = _uid_value(sop_class, "affected_sop_class_uid")
        instance_value = _uid_value(sop_instance, "affected_sop_instance_uid")
        body_length = len(class_value) + len(instance_value) + _STORE_RSP_FIXED
        return (_GROUP_LENGTH.pack(0x0000, 0x0000, 4, body_length) + _ELEMENT.pack(0x0000, 0x0002, len(class_value))
                + class_value + _STORE_RSP_HEAD + _US.pack(int(message_id)) + _STORE_RSP_MIDDLE + _US.pack(int(status))
                + _ELEMENT.pack(0x0000, 0x1000, len(instance_value)) + instance_value)


# the C-STORE-RSP template: (0000,0100) C-STORE-RSP, then (0000,0120), (0000,0800) no data set, (0000,0900)
_STORE_RSP_HEAD = (_ELEMENT.pack(0x0000, 0x0100, 2) + _US.pack(CommandField.C_STORE_RSP)
                   + _ELEMENT.pack(0x0000, 0x0120, 2))
_STORE_RSP_MIDDLE = _ELEMENT.pack(0x0000, 0x0800, 2) + _US.pack(NO_DATA_SET) + _ELEMENT.pack(0x0000, 0x0900, 2)
_STORE_RSP_FIXED = 8 + len(_STORE_RSP_HEAD) + 2 + len(_STORE_RSP_MIDDLE) + 2 + 8
_STORE_RSP_OTHERS = tuple(attr for attr, _tag, _vr in _ELEMENTS if attr not in (
    "affected_sop_class_uid", "command_field", "message_id_being_responded_to", "data_set_type", "status",
    "affected_sop_instance_uid"))
_store_rsp_others = operator.itemgetter(*_STORE_RSP_OTHERS)
_STORE_RSP_NONE = (None,) * len(_STORE_RSP_OTHERS)


@dataclass(kw_only=True, eq=False, repr=False)
class CFindRQ(Request):
    """PS3.7 Table 9.3-3."""

    COMMAND_FIELD = CommandField.C_FIND_RQ
    REQUIRED = ("affected_sop_class_uid", "priority", *_RQ)
    priority: int | None = Priority.MEDIUM
    has_dataset: bool = True


class CFindRSP(Response):
    """PS3.7 Table 9.3-4."""

    COMMAND_FIELD = CommandField.C_FIND_RSP
    REQUIRED = _RSP


@dataclass(kw_only=True, eq=False, repr=False)
class CGetRQ(Request):
    """PS3.7 Table 9.3-5."""

    COMMAND_FIELD = CommandField.C_GET_RQ
    REQUIRED = ("affected_sop_class_uid", "priority", *_RQ)
    priority: int | None = Priority.MEDIUM
    has_dataset: bool = True


class CGetRSP(Response):
    """PS3.7 Table 9.3-6."""

    COMMAND_FIELD = CommandField.C_GET_RSP
    REQUIRED = _RSP


@dataclass(kw_only=True, eq=False, repr=False)
class CMoveRQ(Request):
    """PS3.7 Table 9.3-7."""

    COMMAND_FIELD = CommandField.C_MOVE_RQ
    REQUIRED = ("affected_sop_class_uid", "priority", "move_destination", *_RQ)
    priority: int | None = Priority.MEDIUM
    has_dataset: bool = True


class CMoveRSP(Response):
    """PS3.7 Table 9.3-8."""

    COMMAND_FIELD = CommandField.C_MOVE_RSP
    REQUIRED = _RSP


class CEchoRQ(Request):
    """PS3.7 Table 9.3-12."""

    COMMAND_FIELD = CommandField.C_ECHO_RQ
    REQUIRED = ("affected_sop_class_uid", *_RQ)


class CEchoRSP(Response):
    """PS3.7 Table 9.3-13."""

    COMMAND_FIELD = CommandField.C_ECHO_RSP
    REQUIRED = _RSP


class CCancelRQ(Request):
    """PS3.7 Table 9.3-11: names the request to cancel by Message ID Being Responded To."""

    COMMAND_FIELD = CommandField.C_CANCEL_RQ
    REQUIRED = ("message_id_being_responded_to",)


class NEventReportRQ(Request):
    """PS3.7 Table 10.3-1."""

    COMMAND_FIELD = CommandField.N_EVENT_REPORT_RQ
    REQUIRED = ("affected_sop_class_uid", "affected_sop_instance_uid", "event_type_id", *_RQ)


class NEventReportRSP(Response):
    """PS3.7 Table 10.3-2."""

    COMMAND_FIELD = CommandField.N_EVENT_REPORT_RSP
    REQUIRED = _RSP


class NGetRQ(Request):
    """PS3.7 Table 10.3-3."""

    COMMAND_FIELD = CommandField.N_GET_RQ
    REQUIRED = ("requested_sop_class_uid", "requested_sop_instance_uid", *_RQ)


class NGetRSP(Response):
    """PS3.7 Table 10.3-4."""

    COMMAND_FIELD = CommandField.N_GET_RSP
    REQUIRED = _RSP


@dataclass(kw_only=True, eq=False, repr=False)
class NSetRQ(Request):
    """PS3.7 Table 10.3-5."""

    COMMAND_FIELD = CommandField.N_SET_RQ
    REQUIRED = ("requested_sop_class_uid", "requested_sop_instance_uid", *_RQ)
    has_dataset: bool = True


class NSetRSP(Response):
    """PS3.7 Table 10.3-6."""

    COMMAND_FIELD = CommandField.N_SET_RSP
    REQUIRED = _RSP


class NActionRQ(Request):
    """PS3.7 Table 10.3-7."""

    COMMAND_FIELD = CommandField.N_ACTION_RQ
    REQUIRED = ("requested_sop_class_uid", "requested_sop_instance_uid", "action_type_id", *_RQ)


class NActionRSP(Response):
    """PS3.7 Table 10.3-8."""

    COMMAND_FIELD = CommandField.N_ACTION_RSP
    REQUIRED = _RSP


class NCreateRQ(Request):
    """PS3.7 Table 10.3-9."""

    COMMAND_FIELD = CommandField.N_CREATE_RQ
    REQUIRED = ("affected_sop_class_uid", *_RQ)


class NCreateRSP(Response):
    """PS3.7 Table 10.3-10."""

    COMMAND_FIELD = CommandField.N_CREATE_RSP
    REQUIRED = _RSP


class NDeleteRQ(Request):
    """PS3.7 Table 10.3-11."""

    COMMAND_FIELD = CommandField.N_DELETE_RQ
    REQUIRED = ("requested_sop_class_uid", "requested_sop_instance_uid", *_RQ)


class NDeleteRSP(Response):
    """PS3.7 Table 10.3-12."""

    COMMAND_FIELD = CommandField.N_DELETE_RSP
    REQUIRED = _RSP


MESSAGE_CLASSES: dict[int, type[DimseMessage]] = {
    cls.COMMAND_FIELD: cls for cls in (
        CStoreRQ, CStoreRSP, CFindRQ, CFindRSP, CGetRQ, CGetRSP, CMoveRQ, CMoveRSP, CEchoRQ, CEchoRSP,
        CCancelRQ, NEventReportRQ, NEventReportRSP, NGetRQ, NGetRSP, NSetRQ, NSetRSP, NActionRQ, NActionRSP,
        NCreateRQ, NCreateRSP, NDeleteRQ, NDeleteRSP)
}

_REQUIRED = {cls: frozenset(cls.REQUIRED) for cls in MESSAGE_CLASSES.values()}

# The response class for each request class.
RESPONSE_FOR: dict[type[DimseMessage], type[Response]] = {
    CStoreRQ: CStoreRSP, CFindRQ: CFindRSP, CGetRQ: CGetRSP, CMoveRQ: CMoveRSP, CEchoRQ: CEchoRSP,
    NEventReportRQ: NEventReportRSP, NGetRQ: NGetRSP, NSetRQ: NSetRSP, NActionRQ: NActionRSP,
    NCreateRQ: NCreateRSP, NDeleteRQ: NDeleteRSP,
}


# -- value codec -----------------------------------------------------------------------------------------


def _encode_value(value: object, vr: str, attr: str) -> bytes:
    if vr == "US":
        if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise DimseError(f"{attr} must be an integer 0..65535, not {value!r}")
        return _US.pack(value)
    if vr == "AT":
        tags = value if isinstance(value, tuple | list) else (value,)
        return b"".join(struct.pack("<HH", int(t) >> 16, int(t) & 0xFFFF) for t in tags)
    if vr == "UI":
        return _uid_value(value, attr)
    text = str(value)
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        if vr != "LO":
            raise DimseError(f"{attr} {text!r} is not ASCII") from None
        data = text.encode("ascii", "replace")
    if vr == "AE" and len(data.strip()) > 16:
        raise DimseError(f"{attr} {text!r} is longer than 16 characters")
    if vr == "LO" and len(data) > 64:
        data = data[:64]
    return data + b" " if len(data) & 1 else data


def _uid_value(value: object, attr: str) -> bytes:
    """A UI value of a command set: ASCII, at most 64 characters, padded with NUL to even length (PS3.5 9.1)."""
    text = str(value)
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        raise DimseError(f"{attr} {text!r} is not ASCII") from None
    if len(data) > 64:
        raise DimseError(f"{attr} {text!r} is longer than 64 characters")
    return data + b"\x00" if len(data) & 1 else data


def _decode_value(data: memoryview, vr: str, attr: str) -> object:
    if vr == "US":
        if len(data) != 2:
            raise DimseError(f"command element {attr} has {len(data)} bytes, US needs 2")
        return _US.unpack_from(data)[0]
    if vr == "AT":
        if len(data) % 4:
            raise DimseError(f"command element {attr} has {len(data)} bytes, AT needs multiples of 4")
        values = struct.unpack_from(f"<{len(data) // 2}H", data)
        return tuple((values[i] << 16) | values[i + 1] for i in range(0, len(values), 2))
    if vr in ("UI", "AE"):
        try:
            text = str(data, "ascii")
        except UnicodeDecodeError:
            raise DimseError(f"command element {attr} is not ASCII") from None
        text = text.rstrip("\x00 ") if vr == "UI" else text.strip(" \x00")
        if len(text) > (64 if vr == "UI" else 16):
            raise DimseError(f"command element {attr} is too long ({len(text)} characters)")
        return text
    return bytes(data).decode("ascii", "replace").strip(" \x00")


def decode_command(data: bytes | bytearray | memoryview) -> DimseMessage:
    """Parse a command set (Implicit VR Little Endian, group 0000) into its message class.

    The messages of an association repeat a few layouts (the same elements with the same lengths: a
    C-STORE-RQ per instance, a Pending C-GET-RSP after each one): a command set with the element headers
    (tags, lengths), Command Field and Command Data Set Type of one decoded before (:class:`_Layout`) is read
    with one ``struct`` call and its values decoded as the walk below decodes them; anything else, and any
    value that does not decode that way, takes the walk, which raises what is wrong."""
    mv = memoryview(data)
    n = len(mv)
    layouts = _LAYOUTS.get(n)
    if layouts is not None:
        for known in layouts:
            found = known.decode(mv)
            if found is not None:
                return found
    message = _decode_walk(mv)
    layout = _Layout.of(mv, message)
    if layout is not None:
        if len(_LAYOUTS) >= _MAX_LAYOUT_LENGTHS:
            _LAYOUTS.clear()  # bounded: lengths are the peer's to choose
        _LAYOUTS[n] = (layout, *(layouts or ())[:_LAYOUTS_PER_LENGTH - 1])
    return message


def _decode_walk(mv: memoryview) -> DimseMessage:
    """:func:`decode_command` element by element."""
    n = len(mv)
    pos = 0
    values: dict[str, object] = {}
    # this runs for every message received: US values and UIDs are read inline, the rest by _decode_value
    unpack, unpack_us, us_attr, by_tag = _ELEMENT.unpack_from, _US.unpack_from, _US_BY_ELEMENT.get, _BY_TAG
    try:
        while pos < n:
            group, elem, length = unpack(mv, pos)
            start = pos + 8
            pos = start + length
            if pos > n or group:
                if pos > n:
                    raise DimseError(f"command set: ({group:04X},{elem:04X}) of {length} bytes runs past the end")
                raise DimseError(f"command set holds ({group:04X},{elem:04X}); only group 0000 is allowed "
                                 "(PS3.7 6.3.1)")
            attr = us_attr(elem)
            if attr is not None and length == 2:
                values[attr] = unpack_us(mv, start)[0]
                continue
            spec = by_tag.get(elem)
            if spec is None:
                continue  # unknown and retired group 0000 elements are skipped (their length is trusted)
            attr, vr = spec
            if vr == "UI" and length <= 64:  # never too long: what _decode_value gives, without the call
                try:
                    values[attr] = str(mv[start:pos], "ascii").rstrip("\x00 ")
                except UnicodeDecodeError:
                    raise DimseError(f"command element {attr} is not ASCII") from None
            else:
                values[attr] = _decode_value(mv[start:pos], vr, attr)
    except struct.error:  # fewer than 8 bytes for the element header at pos
        raise DimseError(f"command set: element header truncated at offset {pos}") from None
    command_field: int | None = values.pop("command_field", None)  # type: ignore[assignment]  # US: int
    data_set_type: int | None = values.pop("data_set_type", None)  # type: ignore[assignment]
    if command_field is None:
        raise DimseError("command set has no Command Field (0000,0100)")
    cls = MESSAGE_CLASSES.get(command_field)
    if cls is None:
        raise DimseError(f"unknown Command Field 0x{command_field:04X}")
    if data_set_type is None:
        raise DimseError(f"{cls.__name__} has no Command Data Set Type (0000,0800)")
    if not _REQUIRED[cls] <= values.keys():  # before any class default fills them in
        missing = [a for a in cls.REQUIRED if a not in values]
        raise DimseError(f"{cls.__name__} lacks {', '.join(missing)} (PS3.7)")
    # what the dataclass __init__ does (its defaults, then the values, then __post_init__), without its
    # keyword handling of every field
    message = cls.__new__(cls)
    d = message.__dict__
    d.update(_DEFAULTS[cls])
    d.update(values)
    d["has_dataset"] = data_set_type != NO_DATA_SET
    if cls in _POST_INIT:
        message.__post_init__()  # type: ignore[attr-defined]
    return message


def _tuple_getter(indices: list[int]) -> Callable[[tuple[object, ...]], tuple[object, ...]]:
    """``operator.itemgetter(*indices)`` that gives a tuple for any number of indices."""
    if len(indices) >= 2:
        return operator.itemgetter(*indices)
    if indices:
        index = indices[0]
        return lambda values: (values[index],)
    return lambda values: ()


_ASCII = itertools.repeat("ascii")
_UI_PADDING = itertools.repeat("\x00 ")


class _Layout:
    """The layout of a command set that :func:`_decode_walk` decoded: its element headers in order, and
    what the walk did with each value. ``decode`` reads a command set of the same length in one unpack and,
    when its headers, Command Field and Command Data Set Type are those, gives the message the walk gives —
    each value decoded by the walk's rule for it (US inline, UI of at most 64 bytes inline, other VRs by
    ``_decode_value``; unknown elements skipped) — or None (the caller walks it)."""

    __slots__ = ("cls", "expected", "fixed", "key", "others", "post_init", "text_attrs", "texts", "unpack", "us",
                 "us_attrs")

    def __init__(self, fmt: str, key: list[int], expected: tuple[int, ...], us: list[tuple[str, int]],
                 texts: list[tuple[str, int]], others: list[tuple[str, str, int]], cls: type[DimseMessage],
                 has_dataset: bool) -> None:
        self.unpack = struct.Struct(fmt).unpack_from
        self.key = operator.itemgetter(*key)
        self.expected = expected
        self.us_attrs = tuple(attr for attr, _ in us)
        self.us = _tuple_getter([i for _, i in us])
        self.text_attrs = tuple(attr for attr, _ in texts)
        self.texts = _tuple_getter([i for _, i in texts])
        self.others = tuple(others)
        self.cls = cls
        # what the walk sets whatever the values: the defaults (then the values over them), has_dataset last
        self.fixed = {**_DEFAULTS[cls], "has_dataset": has_dataset}
        self.post_init = cls in _POST_INIT

    @classmethod
    def of(cls, mv: memoryview, message: DimseMessage) -> _Layout | None:
        """The layout of ``mv``, which :func:`_decode_walk` decoded to ``message``; None when an element
        occurs twice (the walk keeps the later value)."""
        fmt = ["<"]
        key: list[int] = []
        expected: list[int] = []
        us: list[tuple[str, int]] = []
        texts: list[tuple[str, int]] = []
        others: list[tuple[str, str, int]] = []
        seen: set[int] = set()
        pos = index = 0
        while pos < len(mv):
            _group, elem, length = _ELEMENT.unpack_from(mv, pos)
            if elem in seen:
                return None
            seen.add(elem)
            fmt.append("HHI")
            key += (index, index + 1, index + 2)
            expected += (0, elem, length)
            index += 3
            attr = _US_BY_ELEMENT.get(elem)
            spec = _BY_TAG.get(elem)
            if attr is not None and length == 2:
                fmt.append("H")
                if attr in ("command_field", "data_set_type"):
                    key.append(index)
                    expected.append(_US.unpack_from(mv, pos + 8)[0])
                else:
                    us.append((attr, index))
                index += 1
            elif spec is None:
                fmt.append(f"{length}x")  # skipped by the walk too
            else:
                fmt.append(f"{length}s")
                if spec[1] == "UI" and length <= 64:
                    texts.append((spec[0], index))
                else:
                    others.append((spec[0], spec[1], index))
                index += 1
            pos += 8 + length
        return cls("".join(fmt), key, tuple(expected), us, texts, others, type(message), message.has_dataset)

    def decode(self, mv: memoryview) -> DimseMessage | None:
        values = self.unpack(mv)
        if self.key(values) != self.expected:
            return None
        message_class = self.cls
        message = message_class.__new__(message_class)
        d = message.__dict__
        d.update(self.fixed)  # the class defaults and has_dataset
        d.update(zip(self.us_attrs, self.us(values)))
        try:
            texts = map(str, self.texts(values), _ASCII)  # type: ignore[arg-type]  # str(bytes, "ascii")
            d.update(zip(self.text_attrs, map(str.rstrip, texts, _UI_PADDING)))
            if self.others:
                for attr, vr, index in self.others:
                    d[attr] = _decode_value(memoryview(values[index]), vr, attr)
        except (UnicodeDecodeError, DimseError):
            return None  # the walk raises it, naming the element
        if self.post_init:
            message.__post_init__()  # type: ignore[attr-defined]
        return message


# command set length -> the layouts of that length decoded last (most recent first)
_LAYOUTS: dict[int, tuple[_Layout, ...]] = {}
_LAYOUTS_PER_LENGTH = 4
_MAX_LAYOUT_LENGTHS = 256


def _defaults(cls: type[DimseMessage]) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(cls):
        if f.default is MISSING or not f.init:  # every field has a plain default (see DimseMessage)
            raise TypeError(f"{cls.__name__}.{f.name} needs a plain default for decode_command")
        out[f.name] = f.default
    return out


_DEFAULTS = {cls: _defaults(cls) for cls in MESSAGE_CLASSES.values()}


def store_response(status: int, error_comment: str | None = None) -> CStoreRSP:
    """``CStoreRSP(status=Status(status), error_comment=error_comment)`` — the answer to every C-STORE — built as
    :func:`decode_command` builds a message (the class defaults, then the values), without the dataclass
    __init__'s keyword handling of every field."""
    message = CStoreRSP.__new__(CStoreRSP)
    d = message.__dict__
    d.update(_STORE_RSP_DEFAULTS)
    d["status"] = Status(status)
    d["error_comment"] = error_comment
    if CStoreRSP in _POST_INIT:
        message.__post_init__()
    return message


def _calls_post_init(cls: type) -> bool:
    """Whether ``cls()`` runs ``__post_init__``: the dataclass __init__ it inherits calls it only when the
    class it was generated for had one then."""
    owner = next(c for c in cls.__mro__ if "__init__" in c.__dict__)
    return hasattr(owner, "__dataclass_fields__") and hasattr(owner, "__post_init__")


_POST_INIT = frozenset(cls for cls in MESSAGE_CLASSES.values() if _calls_post_init(cls))
_STORE_RSP_DEFAULTS = _DEFAULTS[CStoreRSP]


# -- fragmentation ------------------------------------------------------------------------------------------


def command_fragments(command: bytes, fragment_size: int) -> Iterator[tuple[bytes | memoryview, bool]]:
    """(fragment, is_last) pairs for a command of any size."""
    if len(command) <= fragment_size:
        yield command, True
        return
    mv = memoryview(command)
    for start in range(0, len(mv), fragment_size):
        yield mv[start:start + fragment_size], start + fragment_size >= len(mv)


# -- reassembly ----------------------------------------------------------------------------------------


class DataSink(Protocol):
    """Where a received data set goes, fragment by fragment, without being gathered in memory first."""

    def write(self, data: memoryview) -> None:
        """Take one fragment; ``data`` is only valid during the call."""

    def finish(self) -> None:
        """The data set is complete."""

    def discard(self) -> None:
        """The data set will never be complete (abort, closed connection): drop what was written."""


class MemorySink:
    """Gathers a data set in memory (for identifiers and small data sets), up to ``limit`` bytes."""

    def __init__(self, limit: int = 1 << 26) -> None:
        self.limit = limit
        self.data = bytearray()
        self.overflow = False
        self.complete = False

    def write(self, data: memoryview) -> None:
        if len(self.data) + len(data) > self.limit:
            self.overflow = True
            return
        self.data += data

    def finish(self) -> None:
        self.complete = True

    def discard(self) -> None:
        self.data = bytearray()


class DiscardSink:
    """Consumes a data set nobody will use (a refused request)."""

    def write(self, data: memoryview) -> None:
        pass

    def finish(self) -> None:
        pass

    def discard(self) -> None:
        pass


def _describe(message: DimseMessage, *, partial: bool = False) -> str:
    uid = getattr(message, "affected_sop_instance_uid", None)
    text = message.name + (f" of {uid}" if uid else "")
    return text + " (its data set cut short)" if partial else text


class MessageAssembler:
    """Turns received PDVs into messages (PS3.7 8, PS3.8 E).

    ``on_command(context_id, message)`` is called as soon as a command set is complete and returns the
    sink for its data set (None when there is none). ``on_message(context_id, message, sink)`` is called
    when the message is complete. Out-of-order fragments raise DimseError.
    """

    __slots__ = ("_commands", "_current", "on_command", "on_message")

    def __init__(self, on_command: Callable[[int, DimseMessage], DataSink | None],
                 on_message: Callable[[int, DimseMessage, DataSink | None], None]) -> None:
        self.on_command = on_command
        self.on_message = on_message
        self._commands: dict[int, bytearray] = {}
        self._current: dict[int, tuple[DimseMessage, DataSink]] = {}

    def receive(self, pdv: PDV) -> None:
        cid = pdv.context_id
        if not pdv.is_command:
            current = self._current.get(cid)
            if current is None:
                raise DimseError(f"data set fragment on presentation context {cid} with no command before it")
            message, sink = current
            sink.write(pdv.data)  # type: ignore[arg-type]
            if pdv.is_last:
                del self._current[cid]
                sink.finish()
                self.on_message(cid, message, sink)
            return
        if cid in self._current:
            raise DimseError(f"command fragment on presentation context {cid} before the data set of the "
                             "previous message ended")
        if pdv.is_last and cid not in self._commands:
            message = decode_command(pdv.data)  # the usual case: one fragment
        else:
            buf = self._commands.setdefault(cid, bytearray())
            buf += pdv.data
            if len(buf) > 1 << 20:
                raise DimseError("command set larger than 1 MiB")
            if not pdv.is_last:
                return
            del self._commands[cid]
            message = decode_command(buf)
        target = self.on_command(cid, message)
        if message.has_dataset:
            self._current[cid] = (message, target if target is not None else DiscardSink())
        else:
            self.on_message(cid, message, None)

    def discard_all(self) -> list[str]:
        """The association ended: every message in progress is dropped; what they were, for the log."""
        dropped = [_describe(message, partial=True) for message, _ in self._current.values()]
        dropped += ["a partial command set"] * len(self._commands)
        for _, sink in self._current.values():
            sink.discard()
        self._current.clear()
        self._commands.clear()
        return dropped

    @property
    def in_progress(self) -> bool:
        return bool(self._current or self._commands)
