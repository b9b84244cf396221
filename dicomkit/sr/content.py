"""The SR content tree (PS3.3 C.17.3): content items with their value types and relationships.

A document's Content Sequence (0040,A730) becomes a tree of :class:`ContentItem`; each item's value is a
Python object chosen for its value type (PS3.3 Table C.17.3-1, C.18). By-reference relationships
(Referenced Content Item Identifier (0040,DB73), PS3.3 C.17.3.2.5) are items whose ``reference`` is the
position of the target, e.g. ``(1, 2, 1)``, and which :meth:`ContentItem.target` resolves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .codes import Code

# PS3.3 C.17.3.2.1 Value Type (0040,A040)
VALUE_TYPES = ("CONTAINER", "TEXT", "CODE", "NUM", "DATETIME", "DATE", "TIME", "PNAME", "UIDREF", "COMPOSITE",
               "IMAGE", "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD", "TABLE")
# PS3.3 C.17.3.2.4 Relationship Type (0040,A010)
RELATIONSHIP_TYPES = ("CONTAINS", "HAS PROPERTIES", "HAS OBS CONTEXT", "HAS ACQ CONTEXT", "INFERRED FROM",
                      "SELECTED FROM", "HAS CONCEPT MOD")


@dataclass
class Measurement:
    """The value of a NUM item (PS3.3 C.18.1): the Numeric Value text, its unit, and the optional
    Floating Point Value, rational form and Numeric Value Qualifier (PS3.16 CID 42, e.g. "Not a number").
    ``value`` is None when the Measured Value Sequence is empty (a qualifier says why)."""

    value: str | None
    unit: Code | None
    qualifier: Code | None = None
    float_value: float | None = None
    rational: tuple[int, int] | None = None

    @property
    def number(self) -> float | None:
        if self.float_value is not None:
            return self.float_value
        return float(self.value) if self.value not in (None, "") else None


@dataclass
class Reference:
    """The value of COMPOSITE, IMAGE and WAVEFORM items (PS3.3 C.18.3-C.18.5): a referenced SOP instance,
    with frames or segments (IMAGE), channels as (M, C) pairs (WAVEFORM) and an IMAGE's presentation state.
    ``study_uid`` / ``series_uid`` are not encoded in the item; builders use them for the evidence
    sequences of the document (PS3.3 C.17.2.3)."""

    sop_class_uid: str
    sop_instance_uid: str
    frames: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    channels: tuple[tuple[int, int], ...] = ()
    presentation_state: Reference | None = None
    study_uid: str | None = None
    series_uid: str | None = None

    @classmethod
    def to(cls, ds: Any, frames: tuple[int, ...] = ()) -> Reference:
        """A reference to the instance ``ds`` (a Dataset), keeping its study and series for the evidence."""
        return cls(str(ds.SOPClassUID), str(ds.SOPInstanceUID), tuple(frames),
                   study_uid=str(ds.StudyInstanceUID) if "StudyInstanceUID" in ds else None,
                   series_uid=str(ds.SeriesInstanceUID) if "SeriesInstanceUID" in ds else None)


@dataclass
class SpatialCoordinates:
    """SCOORD (PS3.3 C.18.6): image coordinates (column, row pairs) of one graphic type, on the image
    referenced by the item's SELECTED FROM child; SCOORD3D (C.18.9): (x, y, z) triplets in a frame of
    reference."""

    graphic_type: str  # POINT, MULTIPOINT, POLYLINE, CIRCLE, ELLIPSE (+ POLYGON, ELLIPSOID for 3D)
    points: tuple[tuple[float, ...], ...]
    frame_of_reference_uid: str | None = None  # SCOORD3D only
    fiducial_uid: str | None = None

    @property
    def is_3d(self) -> bool:
        return self.frame_of_reference_uid is not None


@dataclass
class TemporalCoordinates:
    """TCOORD (PS3.3 C.18.7): a temporal range type and one of sample positions, time offsets (s) or
    date-times."""

    range_type: str  # POINT, MULTIPOINT, SEGMENT, MULTISEGMENT, BEGIN, END
    sample_positions: tuple[int, ...] = ()
    time_offsets: tuple[float, ...] = ()
    datetimes: tuple[str, ...] = ()


@dataclass
class Container:
    """CONTAINER (PS3.3 C.18.8): continuity of content and the template it follows, if identified."""

    continuity: str = "SEPARATE"  # or CONTINUOUS
    template: str | None = None  # Template Identifier (0040,DB00), e.g. "1500"
    mapping_resource: str = "DCMR"


@dataclass
class ContentItem:
    """One node of the content tree.

    ``relationship`` is None for the root. ``position`` is the item's place in the tree as the standard
    numbers it, ``(1,)`` for the root, ``(1, 3, 2)`` for the second child of the third child.
    For a by-reference relationship ``value_type`` is None and ``reference`` holds the target's position.
    """

    value_type: str | None
    concept: Code | None = None
    value: Any = None
    relationship: str | None = None
    children: list[ContentItem] = field(default_factory=list)
    observation_datetime: str | None = None
    observation_uid: str | None = None
    reference: tuple[int, ...] | None = None
    position: tuple[int, ...] = (1,)
    parent: ContentItem | None = field(default=None, repr=False, compare=False)

    # -- building -----------------------------------------------------------------------------------------
    def add(self, relationship: str, item: ContentItem) -> ContentItem:
        """Append ``item`` as a child with ``relationship``; returns the child."""
        if relationship not in RELATIONSHIP_TYPES:
            raise ValueError(f"unknown relationship type {relationship!r} (PS3.3 C.17.3.2.4)")
        item.relationship = relationship
        item.parent = self
        self.children.append(item)
        _renumber(item, (*self.position, len(self.children)))
        return item

    def contains(self, item: ContentItem) -> ContentItem:
        return self.add("CONTAINS", item)

    # -- reading ------------------------------------------------------------------------------------------
    @property
    def is_reference(self) -> bool:
        return self.reference is not None

    def root(self) -> ContentItem:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def at(self, position: tuple[int, ...]) -> ContentItem:
        """The item at ``position`` in this item's tree (the root is ``(1,)``)."""
        node = self.root()
        if not position or position[0] != 1:
            raise KeyError(f"no content item at {_dotted(position)}")
        for index in position[1:]:
            if not 1 <= index <= len(node.children):
                raise KeyError(f"no content item at {_dotted(position)}")
            node = node.children[index - 1]
        return node

    def target(self) -> ContentItem:
        """The item a by-reference relationship points to."""
        if self.reference is None:
            raise ValueError(f"content item {_dotted(self.position)} is not a by-reference relationship")
        return self.at(self.reference)

    def walk(self) -> Iterator[ContentItem]:
        """This item and its descendants, depth first in document order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, concept: Code | str, *, value_type: str | None = None,
             relationship: str | None = None) -> list[ContentItem]:
        """Descendants (and this item) whose concept name is ``concept`` — a Code, or a text matched against
        the code meaning (case-insensitive) or the code value."""
        out = []
        for item in self.walk():
            if item.concept is None or not _concept_matches(item.concept, concept):
                continue
            if value_type is not None and item.value_type != value_type:
                continue
            if relationship is not None and item.relationship != relationship:
                continue
            out.append(item)
        return out

    def find_one(self, concept: Code | str, **options: Any) -> ContentItem | None:
        found = self.find(concept, **options)
        return found[0] if found else None

    @property
    def dotted_position(self) -> str:
        return _dotted(self.position)

    def __repr__(self) -> str:
        what = f"-> {_dotted(self.reference)}" if self.reference else (self.value_type or "?")
        name = f" {self.concept.meaning!r}" if self.concept else ""
        return f"<ContentItem {_dotted(self.position)} {self.relationship or 'root'} {what}{name}>"


def _concept_matches(code: Code, concept: Code | str) -> bool:
    if isinstance(concept, Code):
        return code == concept
    return concept.casefold() in (code.meaning.casefold(), code.value.casefold())


def _dotted(position: tuple[int, ...] | None) -> str:
    return ".".join(str(p) for p in position or ())


def _renumber(item: ContentItem, position: tuple[int, ...]) -> None:
    item.position = position
    for i, child in enumerate(item.children, 1):
        child.parent = item
        _renumber(child, (*position, i))


def container(concept: Code, *, continuity: str = "SEPARATE", template: str | None = None) -> ContentItem:
    return ContentItem("CONTAINER", concept, Container(continuity, template))


def text(concept: Code, value: str) -> ContentItem:
    return ContentItem("TEXT", concept, value)


def code(concept: Code, value: Code) -> ContentItem:
    return ContentItem("CODE", concept, value)


def num(concept: Code, value: float | int | str | None, unit: Code | None, *,
        qualifier: Code | None = None) -> ContentItem:
    """A NUM item; ``value`` is written as a DS text (at most 16 characters, PS3.5 6.2)."""
    return ContentItem("NUM", concept, Measurement(None if value is None else _ds_text(value), unit, qualifier))


def uidref(concept: Code, value: str) -> ContentItem:
    return ContentItem("UIDREF", concept, value)


def pname(concept: Code, value: str) -> ContentItem:
    return ContentItem("PNAME", concept, value)


def datetime_item(concept: Code, value: str) -> ContentItem:
    return ContentItem("DATETIME", concept, value)


def date_item(concept: Code, value: str) -> ContentItem:
    return ContentItem("DATE", concept, value)


def time_item(concept: Code, value: str) -> ContentItem:
    return ContentItem("TIME", concept, value)


def image(concept: Code | None, ref: Reference) -> ContentItem:
    return ContentItem("IMAGE", concept, ref)


def composite(concept: Code | None, ref: Reference) -> ContentItem:
    return ContentItem("COMPOSITE", concept, ref)


def waveform(concept: Code | None, ref: Reference) -> ContentItem:
    return ContentItem("WAVEFORM", concept, ref)


def scoord(concept: Code | None, graphic_type: str, points: list[tuple[float, float]]) -> ContentItem:
    return ContentItem("SCOORD", concept, SpatialCoordinates(graphic_type, tuple(tuple(p) for p in points)))


def scoord3d(concept: Code | None, graphic_type: str, points: list[tuple[float, float, float]],
             frame_of_reference_uid: str) -> ContentItem:
    return ContentItem("SCOORD3D", concept,
                       SpatialCoordinates(graphic_type, tuple(tuple(p) for p in points), frame_of_reference_uid))


def tcoord(concept: Code | None, range_type: str, *, sample_positions: tuple[int, ...] = (),
           time_offsets: tuple[float, ...] = (), datetimes: tuple[str, ...] = ()) -> ContentItem:
    return ContentItem("TCOORD", concept, TemporalCoordinates(range_type, tuple(sample_positions),
                                                               tuple(time_offsets), tuple(datetimes)))


def by_reference(position: tuple[int, ...]) -> ContentItem:
    """A by-reference relationship to the item at ``position`` (add it with ``parent.add(rel, ...)``)."""
    return ContentItem(None, reference=tuple(position))


def _ds_text(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    for digits in range(16, 0, -1):
        out = f"{value:.{digits}g}"
        if len(out) <= 16:
            return out
    raise ValueError(f"cannot write {value!r} as a DS")


__all__ = [
    "RELATIONSHIP_TYPES",
    "VALUE_TYPES",
    "Container",
    "ContentItem",
    "Measurement",
    "Reference",
    "SpatialCoordinates",
    "TemporalCoordinates",
    "by_reference",
    "code",
    "composite",
    "container",
    "date_item",
    "datetime_item",
    "image",
    "num",
    "pname",
    "scoord",
    "scoord3d",
    "tcoord",
    "text",
    "time_item",
    "uidref",
    "waveform",
]
