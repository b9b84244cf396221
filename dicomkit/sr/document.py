"""SR documents: the content tree of a data set and back (PS3.3 C.17.2, C.17.3, A.35).

>>> doc = SRDocument.from_dataset(dicomkit.read("report.dcm"))
>>> doc.content.find("Diameter")[0].value.number
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.dataset import Dataset
from ..core.errors import InvalidValueError
from ..core.sequence import Sequence
from ..core.uid import UID
from .codes import Code
from .content import (
    Container,
    ContentItem,
    Measurement,
    Reference,
    SpatialCoordinates,
    TemporalCoordinates,
    _renumber,
)


class SRError(InvalidValueError):
    """An SR data set cannot be read as a content tree (or a tree cannot be encoded): names the item."""


@dataclass
class Observer:
    """One Verifying Observer (PS3.3 C.17.2.1): when, who and for which organization."""

    datetime: str
    name: str
    organization: str
    code: Code | None = None


@dataclass
class SRDocument:
    """An SR document: its content tree and the document attributes of the SR Document General Module."""

    content: ContentItem
    sop_class_uid: str = "1.2.840.10008.5.1.4.1.1.88.33"
    completion_flag: str = "COMPLETE"
    verification_flag: str = "UNVERIFIED"
    completion_description: str = ""
    verifying_observers: list[Observer] = field(default_factory=list)
    content_date: str = ""
    content_time: str = ""
    predecessors: int = 0
    dataset: Dataset | None = None  # the data set it was read from

    @classmethod
    def from_dataset(cls, ds: Dataset) -> SRDocument:
        """Read the content tree of ``ds`` (any SR IOD or Key Object Selection)."""
        if str(ds.value("ValueType", "") or "") != "CONTAINER":
            raise SRError("not an SR document: the root Value Type (0040,A040) is not CONTAINER (PS3.3 C.17.3)")
        root = _read_item(ds, (1,), top=True)
        _renumber(root, (1,))
        observers = [Observer(str(o.value("VerificationDateTime", "") or ""),
                              str(o.value("VerifyingObserverName", "") or ""),
                              str(o.value("VerifyingOrganization", "") or ""),
                              _first_code(o, "VerifyingObserverIdentificationCodeSequence"))
                     for o in _items(ds, "VerifyingObserverSequence")]
        predecessors = sum(len(_items(s, "ReferencedSOPSequence"))
                           for st in _items(ds, "PredecessorDocumentsSequence")
                           for s in _items(st, "ReferencedSeriesSequence"))
        return cls(root, str(ds.value("SOPClassUID", "") or ""),
                   str(ds.value("CompletionFlag", "") or ""), str(ds.value("VerificationFlag", "") or ""),
                   str(ds.value("CompletionFlagDescription", "") or ""), observers,
                   str(ds.value("ContentDate", "") or ""), str(ds.value("ContentTime", "") or ""),
                   predecessors, ds)

    @classmethod
    def read(cls, path: str | Path) -> SRDocument:
        from ..io.reader import read

        return cls.from_dataset(read(path))

    @property
    def title(self) -> Code | None:
        return self.content.concept

    @property
    def sop_class_name(self) -> str:
        return UID(self.sop_class_uid).name or self.sop_class_uid

    def find(self, concept: Code | str, **options: Any) -> list[ContentItem]:
        """Content items whose concept name is ``concept`` (a Code, a code meaning or a code value)."""
        return self.content.find(concept, **options)

    def references(self) -> list[Reference]:
        """Every instance the content references (COMPOSITE, IMAGE, WAVEFORM items), in document order."""
        out = []
        for item in self.content.walk():
            if isinstance(item.value, Reference):
                out.append(item.value)
                if item.value.presentation_state is not None:
                    out.append(item.value.presentation_state)
        return out


# -- reading ------------------------------------------------------------------------------------------------
def _items(ds: Dataset, keyword: str) -> list[Dataset]:
    value = ds.value(keyword)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise SRError(f"{keyword} is not a sequence")
    return value


def _first_code(ds: Dataset, keyword: str) -> Code | None:
    items = _items(ds, keyword)
    if not items:
        return None
    return Code.from_item(items[0])


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.value(keyword)
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None or value == "":
        return ()
    return value if isinstance(value, tuple) else (value,)


def _read_item(ds: Dataset, position: tuple[int, ...], top: bool = False) -> ContentItem:
    where = ".".join(map(str, position))
    relationship = None if top else (_text(ds, "RelationshipType") or None)
    if not top and relationship is None:
        raise SRError(f"content item {where}: no Relationship Type (0040,A010)")
    if "ReferencedContentItemIdentifier" in ds and "ValueType" not in ds:
        try:
            ref = tuple(int(v) for v in _tuple(ds.value("ReferencedContentItemIdentifier")))
        except (ValueError, TypeError) as exc:
            raise SRError(f"content item {where}: bad Referenced Content Item Identifier: {exc}") from None
        return ContentItem(None, relationship=relationship, reference=ref, position=position)
    value_type = _text(ds, "ValueType")
    if not value_type:
        raise SRError(f"content item {where}: no Value Type (0040,A040)")
    try:
        concept = _first_code(ds, "ConceptNameCodeSequence")
        value = _read_value(ds, value_type)
    except (ValueError, TypeError) as exc:  # InvalidValueError included
        raise SRError(f"content item {where} ({value_type}): {exc}") from None
    item = ContentItem(value_type, concept, value, relationship,
                       observation_datetime=_text(ds, "ObservationDateTime") or None,
                       observation_uid=_text(ds, "ObservationUID") or None, position=position)
    try:
        children = _items(ds, "ContentSequence")
    except SRError:
        raise SRError(f"content item {where}: Content Sequence (0040,A730) is not a sequence") from None
    for i, child in enumerate(children, 1):
        node = _read_item(child, (*position, i))
        node.parent = item
        item.children.append(node)
    return item


def _reference(ref: Dataset) -> Reference:
    frames = tuple(int(v) for v in _tuple(ref.value("ReferencedFrameNumber")))
    segments = tuple(int(v) for v in _tuple(ref.value("ReferencedSegmentNumber")))
    raw_channels = [int(v) for v in _tuple(ref.value("ReferencedWaveformChannels"))]
    channels = tuple(zip(raw_channels[0::2], raw_channels[1::2]))
    pstate = None
    nested = _items(ref, "ReferencedSOPSequence")
    if nested:
        pstate = _reference(nested[0])
    return Reference(_text(ref, "ReferencedSOPClassUID"), _text(ref, "ReferencedSOPInstanceUID"), frames,
                     segments, channels, pstate)


def _read_value(ds: Dataset, value_type: str) -> Any:
    # PS3.3 C.17.3.2.1: the value attributes of each value type (Table C.17.3-2 ... C.18)
    if value_type == "CONTAINER":
        template = None
        resource = "DCMR"
        for t in _items(ds, "ContentTemplateSequence"):
            template = _text(t, "TemplateIdentifier") or None
            resource = _text(t, "MappingResource") or resource
        return Container(_text(ds, "ContinuityOfContent") or "SEPARATE", template, resource)
    if value_type == "TEXT":
        return _text(ds, "TextValue")
    if value_type == "CODE":
        code = _first_code(ds, "ConceptCodeSequence")
        if code is None:
            raise InvalidValueError("no Concept Code Sequence (0040,A168)")
        return code
    if value_type == "NUM":
        qualifier = _first_code(ds, "NumericValueQualifierCodeSequence")
        measured = _items(ds, "MeasuredValueSequence")
        if not measured:
            return Measurement(None, None, qualifier)
        m = measured[0]
        float_value = m.value("FloatingPointValue")
        rational = None
        if "RationalNumeratorValue" in m:
            rational = (int(m.value("RationalNumeratorValue")), int(m.value("RationalDenominatorValue")))
        number = m.value("NumericValue")
        return Measurement(None if number is None else str(number).strip(),
                           _first_code(m, "MeasurementUnitsCodeSequence"), qualifier,
                           None if float_value is None else float(float_value), rational)
    if value_type in ("DATETIME", "DATE", "TIME", "PNAME", "UIDREF"):
        keyword = {"DATETIME": "DateTime", "DATE": "Date", "TIME": "Time", "PNAME": "PersonName",
                   "UIDREF": "UID"}[value_type]
        return _text(ds, keyword)
    if value_type in ("COMPOSITE", "IMAGE", "WAVEFORM"):
        refs = _items(ds, "ReferencedSOPSequence")
        if not refs:
            raise InvalidValueError("no Referenced SOP Sequence (0008,1199)")
        return _reference(refs[0])
    if value_type in ("SCOORD", "SCOORD3D"):
        data = [float(v) for v in _tuple(ds.value("GraphicData"))]
        n = 3 if value_type == "SCOORD3D" else 2
        points = tuple(tuple(data[i:i + n]) for i in range(0, len(data) - n + 1, n))
        return SpatialCoordinates(_text(ds, "GraphicType"), points,
                                  _text(ds, "ReferencedFrameOfReferenceUID") or None if n == 3 else None,
                                  _text(ds, "FiducialUID") or None)
    if value_type == "TCOORD":
        return TemporalCoordinates(_text(ds, "TemporalRangeType"),
                                   tuple(int(v) for v in _tuple(ds.value("ReferencedSamplePositions"))),
                                   tuple(float(v) for v in _tuple(ds.value("ReferencedTimeOffsets"))),
                                   tuple(str(v) for v in _tuple(ds.value("ReferencedDateTime"))))
    if value_type == "TABLE":
        return None  # PS3.3 C.18.11 (Extensible SR); the item and its children are kept, the table is not read
    raise InvalidValueError(f"unknown Value Type {value_type!r} (PS3.3 C.17.3.2.1)")


# -- encoding -----------------------------------------------------------------------------------------------
def _code_sequence(code: Code) -> Sequence:
    return Sequence([code.to_item()])


def encode_item(item: ContentItem, ds: Dataset | None = None) -> Dataset:
    """The data set of one content item and its subtree (into ``ds`` for the root)."""
    out = Dataset() if ds is None else ds
    where = item.dotted_position
    if item.relationship is not None:
        out.RelationshipType = item.relationship
    if item.reference is not None:
        out.ReferencedContentItemIdentifier = list(item.reference)  # PS3.3 C.17.3.2.5
        return out
    if item.value_type is None:
        raise SRError(f"content item {where}: no value type")
    out.ValueType = item.value_type
    if item.concept is not None:
        out.ConceptNameCodeSequence = _code_sequence(item.concept)
    elif item.value_type == "CONTAINER" or item.relationship is None:
        raise SRError(f"content item {where}: a CONTAINER needs a concept name (PS3.3 C.17.3.2.2)")
    if item.observation_datetime:
        out.ObservationDateTime = item.observation_datetime
    if item.observation_uid:
        out.ObservationUID = item.observation_uid
    try:
        _encode_value(item.value_type, item.value, out)
    except (InvalidValueError, TypeError, ValueError) as exc:
        raise SRError(f"content item {where} ({item.value_type}): {exc}") from None
    if item.children:
        out.ContentSequence = Sequence([encode_item(child) for child in item.children])
    return out


def _reference_item(ref: Reference) -> Dataset:
    r = Dataset()
    r.ReferencedSOPClassUID = ref.sop_class_uid
    r.ReferencedSOPInstanceUID = ref.sop_instance_uid
    if ref.frames:
        r.ReferencedFrameNumber = list(ref.frames)
    if ref.segments:
        r.ReferencedSegmentNumber = list(ref.segments)
    if ref.channels:
        r.ReferencedWaveformChannels = [v for pair in ref.channels for v in pair]
    if ref.presentation_state is not None:
        r.ReferencedSOPSequence = Sequence([_reference_item(ref.presentation_state)])
    return r


def _encode_value(value_type: str, value: Any, out: Dataset) -> None:
    if value_type == "CONTAINER":
        c = value if isinstance(value, Container) else Container()
        out.ContinuityOfContent = c.continuity
        if c.template:
            t = Dataset()
            t.MappingResource = c.mapping_resource
            t.TemplateIdentifier = c.template
            out.ContentTemplateSequence = Sequence([t])
    elif value_type == "TEXT":
        out.TextValue = str(value)
    elif value_type == "CODE":
        if not isinstance(value, Code):
            raise TypeError("the value of a CODE item is a Code")
        out.ConceptCodeSequence = _code_sequence(value)
    elif value_type == "NUM":
        if not isinstance(value, Measurement):
            raise TypeError("the value of a NUM item is a Measurement")
        measured = Sequence()
        if value.value is not None:
            if value.unit is None:
                raise ValueError("a numeric value needs its unit (Measurement Units Code Sequence)")
            m = Dataset()
            m.MeasurementUnitsCodeSequence = _code_sequence(value.unit)
            m.NumericValue = value.value
            if value.float_value is not None:
                m.FloatingPointValue = value.float_value
            if value.rational is not None:
                m.RationalNumeratorValue, m.RationalDenominatorValue = value.rational
            measured.append(m)
        out.MeasuredValueSequence = measured
        if value.qualifier is not None:
            out.NumericValueQualifierCodeSequence = _code_sequence(value.qualifier)
    elif value_type in ("DATETIME", "DATE", "TIME", "PNAME", "UIDREF"):
        keyword = {"DATETIME": "DateTime", "DATE": "Date", "TIME": "Time", "PNAME": "PersonName",
                   "UIDREF": "UID"}[value_type]
        out[keyword] = str(value)
    elif value_type in ("COMPOSITE", "IMAGE", "WAVEFORM"):
        if not isinstance(value, Reference):
            raise TypeError(f"the value of a {value_type} item is a Reference")
        out.ReferencedSOPSequence = Sequence([_reference_item(value)])
    elif value_type in ("SCOORD", "SCOORD3D"):
        if not isinstance(value, SpatialCoordinates):
            raise TypeError(f"the value of a {value_type} item is SpatialCoordinates")
        n = 3 if value_type == "SCOORD3D" else 2
        if any(len(p) != n for p in value.points):
            raise ValueError(f"{value_type} points have {n} coordinates")
        out.GraphicData = [float(c) for p in value.points for c in p]
        out.GraphicType = value.graphic_type
        if n == 3:
            if not value.frame_of_reference_uid:
                raise ValueError("SCOORD3D needs its Referenced Frame of Reference UID (PS3.3 C.18.9)")
            out.ReferencedFrameOfReferenceUID = value.frame_of_reference_uid
        if value.fiducial_uid:
            out.FiducialUID = value.fiducial_uid
    elif value_type == "TCOORD":
        if not isinstance(value, TemporalCoordinates):
            raise TypeError("the value of a TCOORD item is TemporalCoordinates")
        out.TemporalRangeType = value.range_type
        if value.sample_positions:
            out.ReferencedSamplePositions = list(value.sample_positions)
        elif value.time_offsets:
            out.ReferencedTimeOffsets = list(value.time_offsets)
        elif value.datetimes:
            out.ReferencedDateTime = list(value.datetimes)
        else:
            raise ValueError("TCOORD needs sample positions, time offsets or date-times (PS3.3 C.18.7)")
    else:
        raise ValueError(f"cannot encode Value Type {value_type!r}")


def iter_references(items: Iterable[ContentItem]) -> list[Reference]:
    out: list[Reference] = []
    for item in items:
        if isinstance(item.value, Reference):
            out.append(item.value)
            if item.value.presentation_state is not None:
                out.append(item.value.presentation_state)
    return out


__all__ = ["Observer", "SRDocument", "SRError", "encode_item", "iter_references"]
