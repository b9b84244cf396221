"""The text and HTML forms of an SR document.

:func:`to_text` writes the content tree one item a line, indented by depth, in the notation of DCMTK's
``dsrdump`` with every code, UID and long value printed (``dsrdump +Pc +Pu +Psu +Pl``), so that the two can
be compared line by line: ``<relationship VALUE-TYPE:(concept)=value>`` and ``{observation date-time}``.
:func:`to_html` writes a standalone HTML page of the same tree.
"""

from __future__ import annotations

import html

from .codes import Code
from .content import (
    Container,
    ContentItem,
    Measurement,
    Reference,
    SpatialCoordinates,
    TemporalCoordinates,
)
from .document import SRDocument


def _code(code: Code | None) -> str:
    if code is None:
        return ""
    version = f"[{code.scheme_version}]" if code.scheme_version else ""
    return f'({code.value},{code.scheme}{version},"{code.meaning}")'


def _escape(value: str) -> str:
    out = []
    for ch in value:
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "".join(out)


def _number(value: float) -> str:
    text = f"{value:g}"
    return text


def _reference(ref: Reference) -> str:
    parts = [f'"{ref.sop_class_uid}"', f'"{ref.sop_instance_uid}"']
    if ref.frames:
        parts += [str(f) for f in ref.frames]
    elif ref.segments:
        parts += [str(s) for s in ref.segments]
    elif ref.channels:
        parts += [f"{m}/{c}" for m, c in ref.channels]
    out = "(" + ",".join(parts) + ")"
    if ref.presentation_state is not None:
        ps = ref.presentation_state
        out += f',("{ps.sop_class_uid}","{ps.sop_instance_uid}")'
    return out


def value_text(item: ContentItem) -> str:
    """The value of ``item`` as dsrdump writes it after ``=``."""
    v = item.value
    if isinstance(v, Container):
        return v.continuity
    if item.value_type == "CODE" and isinstance(v, Code):
        return _code(v)
    if isinstance(v, Measurement):
        if v.value is None:
            return "empty" + (f" {_code(v.qualifier)}" if v.qualifier else "")
        return f'"{v.value}" {_code(v.unit)}'
    if isinstance(v, Reference):
        return _reference(v)
    if isinstance(v, SpatialCoordinates):
        points = ["/".join(_number(c) for c in p) for p in v.points]
        head = [v.graphic_type, f'"{v.frame_of_reference_uid}"'] if v.is_3d else [v.graphic_type]
        return "(" + ",".join([*head, *points]) + ")"
    if isinstance(v, TemporalCoordinates):
        values = ([str(p) for p in v.sample_positions] or [_number(t) for t in v.time_offsets]
                  or list(v.datetimes))
        return "(" + ",".join([v.range_type, *values]) + ")"
    if v is None:
        return ""
    return f'"{_escape(str(v))}"'


def _datetime(value: str) -> str:
    d = value
    if len(d) >= 14:
        return f"{d[0:4]}-{d[4:6]}-{d[6:8]} {d[8:10]}:{d[10:12]}:{d[12:14]}"
    return d


def item_line(item: ContentItem) -> str:
    rel = f"{item.relationship.lower()} " if item.relationship else ""
    if item.reference is not None:
        return f"<{rel}{'.'.join(map(str, item.reference))}>"
    line = f"<{rel}{item.value_type}:{_code(item.concept)}={value_text(item)}>"
    if item.observation_datetime:
        line += " {" + _datetime(item.observation_datetime) + "}"
    return line


def tree_lines(root: ContentItem, *, numbered: bool = False) -> list[str]:
    out = []
    for item in root.walk():
        prefix = f"{item.dotted_position}  " if numbered else "  " * (len(item.position) - 1)
        out.append(prefix + item_line(item))
    return out


def _date(value: str) -> str:
    return f"{value[0:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def header_lines(doc: SRDocument) -> list[str]:
    """The document header as dsrdump writes it: document type, patient, study, series, manufacturer, flags,
    verifying observers, predecessors and content date/time."""
    ds = doc.dataset
    rows: list[tuple[str, str]] = []

    def text(keyword: str) -> str:
        value = ds.get(keyword) if ds is not None else None
        return "" if value is None else str(value)

    if ds is not None:
        details = [d for d in (text("PatientSex"), _date(text("PatientBirthDate")),
                               f"#{text('PatientID')}" if text("PatientID") else "") if d]
        rows.append(("Patient", (text("PatientName") + (f" ({', '.join(details)})" if details else "")).strip()))
        if text("StudyDescription"):
            rows.append(("Study", text("StudyDescription") + (f" (#{text('StudyID')})" if text("StudyID") else "")))
        if text("SeriesDescription"):
            rows.append(("Series", text("SeriesDescription") +
                         (f" (#{text('SeriesNumber')})" if text("SeriesNumber") else "")))
        if text("Manufacturer"):
            rows.append(("Manufacturer", text("Manufacturer")))
    if doc.completion_flag:
        rows.append(("Completion Flag", doc.completion_flag))
        if doc.completion_description:
            rows.append(("", doc.completion_description))
    if doc.predecessors:
        rows.append(("Predecessor Docs", str(doc.predecessors)))
    if doc.verification_flag:
        rows.append(("Verification Flag", doc.verification_flag))
    for i, o in enumerate(doc.verifying_observers):
        rows.append(("Verifying Observers" if i == 0 else "",
                     f"{_datetime(o.datetime)}, {o.name}{' ' + _code(o.code) if o.code else ''}, {o.organization}"))
    if doc.content_date:
        rows.append(("Content Date/Time", f"{_datetime(doc.content_date + doc.content_time)}".strip()))
    title = doc.sop_class_name.removesuffix(" Storage")
    if not title.endswith("Document"):
        title += " Document"
    lines = [title, ""]
    lines += [f"{k:<20}: {v}" if k else f"{'':<20}  {v}" for k, v in rows]
    return [*lines, ""]


def to_text(doc: SRDocument, *, header: bool = True, numbered: bool = False) -> str:
    """The document as text: the header (document type, patient, flags) and the indented content tree."""
    lines = header_lines(doc) if header else []
    lines += tree_lines(doc.content, numbered=numbered)
    return "\n".join(lines) + "\n\n"  # dsrdump ends with an empty line


_CSS = """body{font-family:sans-serif;margin:2em;max-width:60em}h1{font-size:1.4em}
table.header td{padding:0 1em 0 0}ul{list-style:none;padding-left:1.5em;border-left:1px solid #ccc}
.rel{color:#666;font-size:.85em;text-transform:lowercase}.vt{color:#36c;font-size:.8em}
.concept{font-weight:bold}.code{color:#555;font-size:.85em}"""


def _html_item(item: ContentItem) -> str:
    rel = f'<span class="rel">{html.escape(item.relationship)}</span> ' if item.relationship else ""
    if item.reference is not None:
        target = ".".join(map(str, item.reference))
        body = f'{rel}<a href="#item-{target}">see {target}</a>'
    else:
        concept = ""
        if item.concept is not None:
            concept = (f'<span class="concept" title="{html.escape(_code(item.concept))}">'
                       f"{html.escape(item.concept.meaning)}</span>: ")
        v = item.value
        if isinstance(v, Container):
            shown = ""
        elif isinstance(v, Measurement):
            unit = v.unit.value if v.unit else ""
            shown = html.escape(f"{v.value} {unit}" if v.value is not None else
                                f"(no value{': ' + v.qualifier.meaning if v.qualifier else ''})")
        elif isinstance(v, Code):
            shown = f'{html.escape(v.meaning)} <span class="code">{html.escape(_code(v))}</span>'
        elif isinstance(v, Reference):
            shown = html.escape(_reference_words(v))
        elif item.value_type in ("DATE", "TIME", "DATETIME") and isinstance(v, str):
            shown = html.escape(_readable_datetime(item.value_type, v))
        elif isinstance(v, str):
            shown = html.escape(v).replace("\n", "<br>")
        else:
            shown = f'<span class="code">{html.escape(value_text(item))}</span>'
        body = f'{rel}<span class="vt">{html.escape(item.value_type or "")}</span> {concept}{shown}'
    children = "".join(_html_item(c) for c in item.children)
    sub = f"<ul>{children}</ul>" if children else ""
    return f'<li id="item-{item.dotted_position}">{body}{sub}</li>'


def _reference_words(ref: Reference) -> str:
    from ..core.uid import UID

    words = f"{UID(ref.sop_class_uid).name or ref.sop_class_uid} {ref.sop_instance_uid}"
    if ref.frames:
        words += f", frame{'s' if len(ref.frames) > 1 else ''} {', '.join(map(str, ref.frames))}"
    if ref.segments:
        words += f", segment{'s' if len(ref.segments) > 1 else ''} {', '.join(map(str, ref.segments))}"
    if ref.channels:
        words += ", channels " + ", ".join(f"{m}/{c}" for m, c in ref.channels)
    if ref.presentation_state is not None:
        words += f" (presented by {_reference_words(ref.presentation_state)})"
    return words


def _readable_datetime(value_type: str, value: str) -> str:
    if value_type == "DATE":
        return _date(value)
    if value_type == "TIME" and len(value) >= 4 and value[:4].isdigit():
        return ":".join(value[i:i + 2] for i in range(0, min(len(value), 6), 2)) + value[6:]
    return _datetime(value) if value_type == "DATETIME" else value


def to_html(doc: SRDocument) -> str:
    """The document as a standalone HTML page."""
    title = doc.title.meaning if doc.title else doc.sop_class_name
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for line in header_lines(doc)[2:] if ": " in line
                   for k, v in [[p.strip() for p in line.split(": ", 1)]])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<p>{html.escape(doc.sop_class_name)}</p><table class="header">{rows}</table>'
            f"<ul>{_html_item(doc.content)}</ul></body></html>\n")


__all__ = ["header_lines", "item_line", "to_html", "to_text", "tree_lines", "value_text"]
