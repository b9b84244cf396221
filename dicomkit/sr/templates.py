"""Content trees of two PS3.16 templates: TID 1500 Measurement Report and TID 2010 Key Object Selection.

The trees are ordinary :class:`ContentItem` trees; :func:`dicomkit.sr.build_sr` turns them into documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.uid import generate_uid
from .codes import Code, codes
from .content import (
    ContentItem,
    Reference,
    code,
    container,
    image,
    num,
    pname,
    scoord,
    text,
    uidref,
)


@dataclass
class MeasurementSpec:
    """One measurement of a TID 1501 Measurement Group (TID 300): a concept, a value and its UCUM unit,
    optionally derived from a region (SCOORD on an image, TID 320)."""

    concept: Code
    value: float | int | str
    unit: Code
    region: tuple[str, Sequence[tuple[float, float]], Reference] | None = None  # graphic type, points, image


@dataclass
class MeasurementGroup:
    """TID 1501 Measurement Group: a tracked finding and its measurements."""

    tracking_identifier: str
    measurements: list[MeasurementSpec]
    tracking_uid: str = field(default_factory=lambda: str(generate_uid()))
    finding: Code | None = None
    finding_site: Code | None = None


def _observer(root: ContentItem, person: str | None, device_uid: str | None) -> None:
    # TID 1001 Observation Context / TID 1002 Observer Context
    if person:
        root.add("HAS OBS CONTEXT", code(codes.OBSERVER_TYPE, codes.PERSON))
        root.add("HAS OBS CONTEXT", pname(codes.PERSON_OBSERVER_NAME, person))
    elif device_uid:
        root.add("HAS OBS CONTEXT", code(codes.OBSERVER_TYPE, codes.DEVICE))
        root.add("HAS OBS CONTEXT", uidref(codes.DEVICE_OBSERVER_UID, device_uid))


def measurement_report(procedure: Code, groups: Sequence[MeasurementGroup], *, images: Sequence[Reference] = (),
                       observer_name: str | None = None, device_observer_uid: str | None = None,
                       title: Code = codes.IMAGING_MEASUREMENT_REPORT) -> ContentItem:
    """TID 1500 Measurement Report: language (TID 1204), observer (TID 1001), procedure reported, the image
    library (TID 1600) and the Imaging Measurements container of measurement groups (TID 1501)."""
    root = container(title, template="1500")
    root.add("HAS CONCEPT MOD", code(codes.LANGUAGE_OF_CONTENT, codes.ENGLISH))
    _observer(root, observer_name, device_observer_uid)
    root.add("HAS CONCEPT MOD", code(codes.PROCEDURE_REPORTED, procedure))
    library = root.contains(container(codes.IMAGE_LIBRARY))
    seen: dict[str, Reference] = {}
    for ref in [*images, *(m.region[2] for g in groups for m in g.measurements if m.region)]:
        seen.setdefault(ref.sop_instance_uid, ref)
    if seen:
        group = library.contains(container(codes.IMAGE_LIBRARY_GROUP))
        for ref in seen.values():
            group.contains(image(None, Reference(ref.sop_class_uid, ref.sop_instance_uid, ref.frames,
                                                 study_uid=ref.study_uid, series_uid=ref.series_uid)))
    measurements = root.contains(container(codes.IMAGING_MEASUREMENTS))
    for g in groups:
        mg = measurements.contains(container(codes.MEASUREMENT_GROUP, template="1501"))
        mg.add("HAS OBS CONTEXT", text(codes.TRACKING_IDENTIFIER, g.tracking_identifier))
        mg.add("HAS OBS CONTEXT", uidref(codes.TRACKING_UID, g.tracking_uid))
        if g.finding is not None:
            mg.contains(code(codes.FINDING, g.finding))
        if g.finding_site is not None:
            mg.add("HAS CONCEPT MOD", code(codes.FINDING_SITE, g.finding_site))
        for m in g.measurements:
            item = mg.contains(num(m.concept, m.value, m.unit))
            if m.region is not None:
                graphic_type, points, ref = m.region
                region = item.add("INFERRED FROM", scoord(codes.IMAGE_REGION, graphic_type, list(points)))
                region.add("SELECTED FROM", image(None, ref))
    return root


def key_object_selection(references: Sequence[Reference], *, title: Code = codes.OF_INTEREST,
                         description: str | None = None, observer_name: str | None = None) -> ContentItem:
    """TID 2010 Key Object Selection: a title from CID 7010, an optional description and observer, and the
    selected instances (IMAGE for images, COMPOSITE otherwise; give ``frames`` in the Reference)."""
    if not references:
        raise ValueError("a key object selection selects at least one instance (TID 2010 row 5, 1-n)")
    root = container(title, template="2010")
    _observer(root, observer_name, None)
    if description:
        root.contains(text(codes.KEY_OBJECT_DESCRIPTION, description))
    for ref in references:
        root.contains(image(None, ref) if _is_image(ref.sop_class_uid) else _composite(ref))
    return root


def _composite(ref: Reference) -> ContentItem:
    return ContentItem("COMPOSITE", None, ref)


def _is_image(sop_class_uid: str) -> bool:
    from ..core.uid import UID

    name = UID(sop_class_uid).name or ""
    return "Image" in name or "Photograph" in name


__all__ = ["MeasurementGroup", "MeasurementSpec", "key_object_selection", "measurement_report"]
