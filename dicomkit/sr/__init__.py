"""Structured Reporting (PS3.3 C.17, A.35; PS3.16 templates): content trees read from and built into SR
documents, two templates (TID 1500, TID 2010), and their text (like DCMTK's dsrdump) and HTML forms.

>>> from dicomkit.sr import SRDocument
>>> doc = SRDocument.read("report.dcm")
>>> [item.value.number for item in doc.find("Diameter")]
"""

from .build import (
    BASIC_TEXT_SR,
    COMPREHENSIVE_3D_SR,
    COMPREHENSIVE_SR,
    ENHANCED_SR,
    KEY_OBJECT_SELECTION,
    build_sr,
    sop_class_for,
)
from .codes import Code, codes, dcm, sct, ucum
from .content import (
    RELATIONSHIP_TYPES,
    VALUE_TYPES,
    Container,
    ContentItem,
    Measurement,
    Reference,
    SpatialCoordinates,
    TemporalCoordinates,
    by_reference,
    code,
    composite,
    container,
    date_item,
    datetime_item,
    image,
    num,
    pname,
    scoord,
    scoord3d,
    tcoord,
    text,
    time_item,
    uidref,
    waveform,
)
from .document import Observer, SRDocument, SRError, encode_item
from .render import to_html, to_text
from .templates import MeasurementGroup, MeasurementSpec, key_object_selection, measurement_report

__all__ = [
    "BASIC_TEXT_SR",
    "COMPREHENSIVE_3D_SR",
    "COMPREHENSIVE_SR",
    "ENHANCED_SR",
    "KEY_OBJECT_SELECTION",
    "RELATIONSHIP_TYPES",
    "VALUE_TYPES",
    "Code",
    "Container",
    "ContentItem",
    "Measurement",
    "MeasurementGroup",
    "MeasurementSpec",
    "Observer",
    "Reference",
    "SRDocument",
    "SRError",
    "SpatialCoordinates",
    "TemporalCoordinates",
    "build_sr",
    "by_reference",
    "code",
    "codes",
    "composite",
    "container",
    "date_item",
    "datetime_item",
    "dcm",
    "encode_item",
    "image",
    "key_object_selection",
    "measurement_report",
    "num",
    "pname",
    "scoord",
    "scoord3d",
    "sct",
    "sop_class_for",
    "tcoord",
    "text",
    "time_item",
    "to_html",
    "to_text",
    "ucum",
    "uidref",
    "waveform",
]
