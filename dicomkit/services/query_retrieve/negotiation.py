"""SOP Class Extended Negotiation of the Query/Retrieve and Basic Worklist classes (PS3.4 C.5, K.5.1).

The net layer carries the service-class-application-information bytes of each SOP Class Extended
Negotiation sub-item (PS3.7 D.3.3.5; ``dicomkit.net.pdu.SOPClassExtendedNegotiation``) without reading them;
these classes read and write them:

- :class:`FindOptions` for the C-FIND SOP Classes (PS3.4 C.5.1.1, Tables C.5-1 / C.5-2, bytes 1-7),
- :class:`RetrieveOptions` for C-MOVE and C-GET (C.5.2.1 / C.5.3.1, Tables C.5-3 ... C.5-6, bytes 1-2),
- :class:`WorklistOptions` for Modality Worklist FIND (K.5.1, bytes 1-4).

Each field is 1 (requested / accepted) or 0; a field the requestor did not send counts as 0. The acceptor
answers each offered field with 1 (accepted) or 0 (refused), never with more bytes than were offered
(C.5.1.1.2, K.5.1): :func:`answer` builds that reply from what an SCP supports, so options the SCP does not
implement (e.g. Enhanced Multi-Frame Image Conversion) are explicitly refused, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar, TypeVar

from ...net.pdu import SOPClassExtendedNegotiation
from .levels import MODALITY_WORKLIST, Operation, model_for_sop_class

_T = TypeVar("_T", bound="_Flags")


@dataclass(frozen=True)
class _Flags:
    """Boolean fields in byte order; ``length`` is how many bytes were (or are to be) sent."""

    _FIXED: ClassVar[dict[int, int]] = {}  # byte index -> value always sent there (reserved bytes)
    _OFFSET: ClassVar[int] = 0  # fields start after this many reserved bytes

    length: int | None = None

    @classmethod
    def flag_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "length"]

    @classmethod
    def from_bytes(cls: type[_T], data: bytes | bytearray | memoryview) -> _T:
        """Parse service-class-application-information; bytes beyond the known fields are ignored."""
        raw = bytes(data)
        values = {}
        for i, name in enumerate(cls.flag_names()):
            pos = cls._OFFSET + i
            values[name] = pos < len(raw) and raw[pos] == 1
        return cls(length=len(raw), **values)

    def to_bytes(self, length: int | None = None) -> bytes:
        """The field, ``length`` bytes long (default: the length it was parsed with, else all fields)."""
        names = self.flag_names()
        full = self._OFFSET + len(names)
        n = length if length is not None else (self.length if self.length is not None else full)
        out = bytearray()
        for pos in range(n):
            if pos in self._FIXED:
                out.append(self._FIXED[pos])
            elif self._OFFSET <= pos < full:
                out.append(1 if getattr(self, names[pos - self._OFFSET]) else 0)
            else:
                out.append(0)
        return bytes(out)

    def accepted(self: _T, supported: _T) -> _T:
        """The acceptor's reply to this request: each field requested and supported, same length."""
        values = {name: getattr(self, name) and getattr(supported, name) for name in self.flag_names()}
        full = self._OFFSET + len(self.flag_names())
        length = min(self.length if self.length is not None else full, full)
        return replace(self, length=length, **values)

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.flag_names())


@dataclass(frozen=True)
class FindOptions(_Flags):
    """PS3.4 C.5.1.1 Tables C.5-1 (A-ASSOCIATE-RQ) and C.5-2 (A-ASSOCIATE-AC), one byte per field."""

    relational_queries: bool = False  # byte 1, C.4.1.2.2 / C.4.1.3.2
    combined_datetime_matching: bool = False  # byte 2, C.2.2.2.5.4
    fuzzy_semantic_matching: bool = False  # byte 3, person names, C.2.2.2.1.1
    timezone_query_adjustment: bool = False  # byte 4, C.4.1.1.3.1
    enhanced_multiframe_conversion: bool = False  # byte 5, C.4.1.1.3.1 Query/Retrieve View, C.3.5
    empty_value_matching: bool = False  # byte 6, C.2.2.2.7
    multiple_value_matching: bool = False  # byte 7, C.2.2.2.8


@dataclass(frozen=True)
class RetrieveOptions(_Flags):
    """PS3.4 C.5.2.1 (C-MOVE, Tables C.5-3 / C.5-4) and C.5.3.1 (C-GET, Tables C.5-5 / C.5-6)."""

    relational_retrieval: bool = False  # byte 1, C.4.2.2.2 / C.4.3.2.2
    enhanced_multiframe_conversion: bool = False  # byte 2


@dataclass(frozen=True)
class WorklistOptions(_Flags):
    """PS3.4 K.5.1: bytes 1 and 2 are reserved and always 1; byte 3 fuzzy semantic matching of person
    names, byte 4 timezone query adjustment. The acceptor returns three bytes when offered three."""

    _FIXED: ClassVar[dict[int, int]] = {0: 1, 1: 1}
    _OFFSET: ClassVar[int] = 2

    fuzzy_semantic_matching: bool = False
    timezone_query_adjustment: bool = False


# What dicomkit's matching implements (used as the default of an SCP's ``supported`` options).
SUPPORTED_FIND = FindOptions(
    relational_queries=True, combined_datetime_matching=True, fuzzy_semantic_matching=True,
    timezone_query_adjustment=True, enhanced_multiframe_conversion=False, empty_value_matching=True,
    multiple_value_matching=True,
)
SUPPORTED_RETRIEVE = RetrieveOptions(relational_retrieval=True, enhanced_multiframe_conversion=False)
SUPPORTED_WORKLIST = WorklistOptions(fuzzy_semantic_matching=True, timezone_query_adjustment=True)

Options = FindOptions | RetrieveOptions | WorklistOptions


def parse(sop_class_uid: str, data: bytes | bytearray | memoryview) -> Options | None:
    """The options offered (or accepted) for a SOP Class, or None when it is not a Query/Retrieve or
    Worklist SOP Class (its extended negotiation belongs to another service)."""
    found = model_for_sop_class(sop_class_uid)
    if found is None:
        return None
    model, operation = found
    if model is MODALITY_WORKLIST:
        return WorklistOptions.from_bytes(data)
    if operation is Operation.FIND:
        return FindOptions.from_bytes(data)
    return RetrieveOptions.from_bytes(data)


def answer(sop_class_uid: str, requested: bytes | bytearray | memoryview, *,
           find: FindOptions = SUPPORTED_FIND, retrieve: RetrieveOptions = SUPPORTED_RETRIEVE,
           worklist: WorklistOptions = SUPPORTED_WORKLIST) -> bytes | None:
    """The service-class-application-information for the A-ASSOCIATE-AC, given what was requested and what
    the SCP supports; None when the SOP Class is not one of these services (or nothing was offered)."""
    offered = parse(sop_class_uid, requested)
    if offered is None or not offered.length:
        return None
    if isinstance(offered, WorklistOptions):
        return offered.accepted(worklist).to_bytes()
    if isinstance(offered, FindOptions):
        return offered.accepted(find).to_bytes()
    return offered.accepted(retrieve).to_bytes()


def offer(sop_class_uid: str, options: Options) -> SOPClassExtendedNegotiation:
    """The A-ASSOCIATE-RQ item proposing ``options`` for a SOP Class (for ``ApplicationEntity.associate``'s
    ``extended_negotiation``)."""
    return SOPClassExtendedNegotiation(str(sop_class_uid), options.to_bytes())


def accepted(info: object, sop_class_uid: str) -> Options | None:
    """What the A-ASSOCIATE-AC accepted for a SOP Class (an :class:`~dicomkit.net.AssociationInfo`), or None."""
    for item in getattr(info, "extended_negotiation", ()):
        if item.sop_class_uid == str(sop_class_uid):
            return parse(sop_class_uid, item.application_information)
    return None
