"""Matches as rows of plain values, and their responses written straight from those values (issues 11, 12).

A source that reads its matches from a table (the archive's index) holds each match as a row of plain
values — text, integers, NULL — long before it is a data set. :class:`RowMatch` is such a row under a
:class:`RowLayout` (which position holds which attribute; one layout for every row of a query). A RowMatch is
a :class:`~.matching.Record` (``get(tag)`` makes the element when asked: for the evaluator, and for
:func:`~.matching.response_identifier`), and :meth:`RowMatch.dataset` is the data set a source would have
yielded for it.

A source offers rows through ``find_rows`` (:class:`~dicomkit.services.sources.RowQuerySource`); the C-FIND
SCP and QIDO-RS then write each response from the row itself:

- :class:`IdentifierEncoder`: the C-FIND response Identifier (PS3.4 C.4.1.1.3.2) in the negotiated transfer
  syntax, byte for byte what :func:`~.matching.response_identifier` and the writer make of the same match
  (return keys only, zero length for what the entity has no value for, the Query/Retrieve Level, the Retrieve
  AE Title, Specific Character Set the request's or ISO_IR 192);
- :class:`JsonEncoder`: the DICOM JSON objects of a QIDO-RS answer (PS3.18 10.6.3.3 and Annex F), the text
  :func:`~dicomkit.io.json_model.datasets_to_json` writes for the same answers.

Each writes the values of the common column kinds itself (text of the string VRs, integers) and takes
everything else from the general path: an element of the stored header, or a value of another VR, element by
element; a plan with sequence keys or group lengths, or a match with a sequence in its header, whole.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ...core.charset import DEFAULT, CharacterSet, character_set
from ...core.dataset import Dataset
from ...core.element import DataElement
from ...core.errors import DicomError
from ...core.uid import TRANSFER_SYNTAXES
from ...core.vr import CHARSET_VRS, LONG_HEADER_VRS, MULTI_STRING_VRS, NUMBER_FORMATS, STRING_VRS
from ...io.json_model import JsonObjects, NumbersAs, json_string
from ...io.writer import deflate, encode_dataset
from .levels import (
    INSTANCE_AVAILABILITY,
    QUERY_RETRIEVE_LEVEL,
    RETRIEVE_AE_TITLE,
    RETRIEVE_URL,
    SPECIFIC_CHARACTER_SET,
)
from .matching import FILLED_BY_CALLER, Record, character_set_for, response_identifier
from .plan import QueryPlan

BINARY_INT_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
_INT_RANGES = {"US": (0, 0xFFFF), "SS": (-0x8000, 0x7FFF), "UL": (0, 0xFFFFFFFF), "SL": (-0x80000000, 0x7FFFFFFF),
               "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1)}
_SAFE_INT = 2**53
# how a string item is cleaned when it is made a value (dicomkit.core.values.normalize_value): these VRs lose
# leading and trailing spaces and NULs, PN its trailing spaces; the others are kept as they are
_STRIPPED = frozenset({"DA", "DT", "TM", "UI", "DS", "IS"})
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_LONG = frozenset(LONG_HEADER_VRS)
_string = json_string


def row_element(tag: int, vr: str, integer: bool, value: Any) -> DataElement | None:
    """A row's value as a data element (None for NULL): an integer column as a binary number or its text,
    anything else as text. The value was read from a data set: it is kept as it is (``validate=False``);
    text that is no value of ``vr`` becomes UN."""
    if value is None:
        return None
    if integer:
        number = int(value)
        return DataElement(tag, vr, number if vr in BINARY_INT_VRS else str(number), validate=False)
    text = str(value)
    try:
        return DataElement(tag, vr, text, validate=False)
    except DicomError:
        return DataElement(tag, "UN", text.encode(), validate=False)


class RowLayout:
    """What the values of the rows of one query are.

    ``returned``: the tags of the plan's keys (what :meth:`RowMatch.dataset` holds). ``fields``: (tag, VR,
    integer) of the values, from position ``offset`` of each row on. ``constants``: elements every match
    returns for a tag whatever the row holds (None: the tag is left out), e.g. Instance Availability.
    ``in_header(tag)``: whether an attribute without a field is read from the match's header (a data set
    stored with the entity), else it has no value.
    """

    __slots__ = ("columns", "constants", "in_header", "returned")

    def __init__(self, returned: Iterable[int], fields: Sequence[tuple[int, str, bool]], *, offset: int = 0,
                 constants: Mapping[int, DataElement | None] | None = None,
                 in_header: Callable[[int], bool] | None = None) -> None:
        self.returned = frozenset(returned)
        # tag -> (position in the row, VR, integer)
        self.columns = {tag: (offset + i, vr, integer) for i, (tag, vr, integer) in enumerate(fields)}
        self.constants = dict(constants or {})
        self.in_header = in_header


class RowMatch:
    """One match as a row of plain values (see the module documentation)."""

    __slots__ = ("header", "layout", "row")

    def __init__(self, layout: RowLayout, row: Sequence[Any], header: Dataset | None = None) -> None:
        self.layout = layout
        self.row = row
        self.header = header

    def get(self, key: Any, default: Any = None) -> Any:
        """The element of ``key`` (an int tag) as the entity has it: its field, else its header; ``default``
        when it has no value."""
        layout = self.layout
        column = layout.columns.get(key)
        if column is not None:
            value = self.row[column[0]]
            if value is None:
                return default
            return row_element(key, column[1], column[2], value)
        header = self.header
        if header is not None and layout.in_header is not None and layout.in_header(key):
            found = header.get(key)
            if found is not None:
                return found
        return default

    def value(self, tag: int, default: Any = None) -> Any:
        """The value of a returned attribute (as :meth:`dataset` holds it), ``default`` when it has none."""
        elem = self.returned(tag)
        if elem is None:
            return default
        return elem.value

    def returned(self, tag: int) -> DataElement | None:
        """The element :meth:`dataset` holds for ``tag``, or None."""
        constants = self.layout.constants
        if tag in constants:
            return constants[tag]
        if tag not in self.layout.returned:
            return None
        elem: DataElement | None = self.get(tag)
        return elem

    def dataset(self) -> Dataset:
        """The match as a data set: an element for each returned attribute the entity has a value for."""
        out = Dataset()
        constants = self.layout.constants
        for tag in sorted(self.layout.returned):
            if tag in constants:
                elem = constants[tag]
                if elem is not None:
                    out.add(elem.copy())
                continue
            found = self.get(tag)
            if found is not None:
                out.add(found)
        return out

    def __repr__(self) -> str:
        return f"<RowMatch {self.row!r}>"


def as_dataset(match: Dataset | RowMatch) -> Dataset:
    """A match as a data set (a RowMatch's :meth:`~RowMatch.dataset`)."""
    return match.dataset() if isinstance(match, RowMatch) else match


# -- the text of a value, as the data set path makes it -----------------------------------------------------
def _clean_item(vr: str, item: str) -> str:
    if vr in _STRIPPED:
        return item.strip(" \x00")
    if vr == "PN":
        return item.rstrip(" ")
    return item


def value_items(vr: str, text: str) -> list[str] | str:
    """The items of a string value made from ``text`` (a list when the VR holds several and ``text`` has a
    backslash), each cleaned as the data set path cleans it."""
    if vr in MULTI_STRING_VRS and "\\" in text:
        return [_clean_item(vr, item) for item in text.split("\\")]
    return _clean_item(vr, text)


def value_text(vr: str, text: str) -> str:
    """The text a string value made from ``text`` encodes (items joined by backslash)."""
    items = value_items(vr, text)
    return items if isinstance(items, str) else "\\".join(items)


def _text_of_element(elem: DataElement) -> str | None:
    """The text of a charset-affected element as :func:`~.matching.response_character_set` reads it."""
    value = elem.value
    if value is None or value == "":
        return None
    return "\\".join(str(v) for v in value) if isinstance(value, tuple | list) else str(value)


# -- C-FIND Identifiers ---------------------------------------------------------------------------------------
class _Header:
    """Element headers of one transfer syntax (PS3.5 7.1)."""

    def __init__(self, little: bool, implicit: bool) -> None:
        self.little = little
        self.implicit = implicit
        order = "<" if little else ">"
        self.implicit_header = struct.Struct(order + "HHI")
        self.short_header = struct.Struct(order + "HH2sH")
        self.long_header = struct.Struct(order + "HH2s2xI")

    def __call__(self, tag: int, vr: str, length: int) -> bytes:
        group, elem = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return self.implicit_header.pack(group, elem, length)
        if vr in _LONG:
            return self.long_header.pack(group, elem, vr.encode(), length)
        if length > 0xFFFE:  # PS3.5 6.2.2 Note: a value too long for a 16-bit length field is sent as UN
            return self.long_header.pack(group, elem, b"UN", length)
        return self.short_header.pack(group, elem, vr.encode(), length)

    def element(self, tag: int, vr: str, data: bytes) -> bytes:
        """Header and value, padded to an even length (PS3.5 7.1.1)."""
        if len(data) & 1:
            data += b"\x00" if vr == "UI" else b" "
        return self(tag, vr, len(data)) + data


class _Fallback(Exception):
    """This match is written by the general path."""


class _Deferred:
    """An element written the general way once the response's character set is known."""

    __slots__ = ("elem", "tag")

    def __init__(self, tag: int, elem: DataElement) -> None:
        self.tag = tag
        self.elem = elem

    def encode(self, header: _Header, cs: CharacterSet) -> bytes:
        data = self.elem.encoded(header.little, cs)
        return header(self.tag, self.elem.vr.value, len(data)) + data


# the steps of a compiled plan: one per element of the Identifier (or of the JSON object), in tag order
_CONSTANT, _EMPTY, _FIELD, _RECORD, _SPECIAL = range(5)


class IdentifierEncoder:
    """The C-FIND response Identifiers of a plan's matches in one transfer syntax (see the module
    documentation); the options are those of :func:`~.matching.response_identifier`. :meth:`encode` takes a
    :class:`RowMatch` or any record (a data set)."""

    def __init__(self, plan: QueryPlan, transfer_syntax: str, *, retrieve_ae_title: str | None = None,
                 instance_availability: str | None = None, retrieve_url: str | None = None) -> None:
        self.plan = plan
        self.transfer_syntax = str(transfer_syntax)
        self.options: dict[str, Any] = {"retrieve_ae_title": retrieve_ae_title,
                                        "instance_availability": instance_availability, "retrieve_url": retrieve_url}
        info = TRANSFER_SYNTAXES.get(self.transfer_syntax)
        self._deflated = info is not None and info.deflated
        self._header = _Header(info.little_endian, info.implicit_vr) if info is not None else None
        # plans the rows do not answer by themselves: sequence keys (items are matched and reduced), group
        # lengths (the writer computes them)
        self.general = info is None or any(k.is_sequence or not k.tag & 0xFFFF for k in plan.keys)
        self._layout: RowLayout | None = None
        self._steps: list[tuple[int, int, Any]] = []
        self._charsets: dict[tuple[str, ...], tuple[bytes, CharacterSet]] = {}

    def encode(self, match: Record) -> bytes:
        """The encoded Identifier of one match."""
        if not self.general and isinstance(match, RowMatch):
            try:
                return self._encode_row(match)
            except (_Fallback, DicomError, ValueError, struct.error):
                pass  # the general path writes it (or fails as it always did)
        return encode_dataset(response_identifier(self.plan, match, **self.options), self.transfer_syntax,
                              validate=False)

    # -- compiled once per layout --------------------------------------------------------------------------
    def _compile(self, layout: RowLayout) -> None:
        header = self._header
        assert header is not None
        plan, options = self.plan, self.options
        steps: dict[int, tuple[int, int, Any]] = {}

        def constant(tag: int, vr: str, value: Any) -> None:
            data = DataElement(tag, vr, value, validate=False).encoded(header.little, DEFAULT)  # not charset VRs
            steps[tag] = (tag, _CONSTANT, header(tag, vr, len(data)) + data)

        for key in plan.keys:
            tag = key.tag
            if tag in FILLED_BY_CALLER:
                continue
            empty = header(tag, key.vr, 0)
            if tag >> 16 == 0x7FE0:  # pixel data is retrieved, never returned by a query
                steps[tag] = (tag, _CONSTANT, empty)
                continue
            column = layout.columns.get(tag)
            if column is not None:
                steps[tag] = (tag, _FIELD, (*column, empty))
            else:
                steps[tag] = (tag, _RECORD, empty)
        if plan.level is not None:
            constant(QUERY_RETRIEVE_LEVEL, "CS", plan.level.value)
        for tag, vr, option in ((RETRIEVE_AE_TITLE, "AE", "retrieve_ae_title"),
                                (INSTANCE_AVAILABILITY, "CS", "instance_availability"),
                                (RETRIEVE_URL, "UR", "retrieve_url")):
            if options[option]:
                constant(tag, vr, options[option])
            elif tag in plan:
                constant(tag, vr, None)
        steps[SPECIFIC_CHARACTER_SET] = (SPECIFIC_CHARACTER_SET, _SPECIAL, None)
        self._steps = [steps[t] for t in sorted(steps)]
        self._layout = layout

    def _charset(self, terms: tuple[str, ...]) -> tuple[bytes, CharacterSet]:
        """The Specific Character Set element for ``terms`` (nothing when empty) and the character set the
        values are then encoded in, as the writer takes it from the response."""
        found = self._charsets.get(terms)
        if found is None:
            header = self._header
            assert header is not None
            ds = Dataset()
            data = b""
            if terms:
                elem = DataElement(SPECIFIC_CHARACTER_SET, "CS", list(terms) if len(terms) > 1 else terms[0],
                                   validate=False)
                ds.add(elem)
                value = elem.encoded(header.little, DEFAULT)
                data = header(SPECIFIC_CHARACTER_SET, "CS", len(value)) + value
            found = (data, character_set(ds.character_set))
            self._charsets[terms] = found
        return found

    # -- one match -------------------------------------------------------------------------------------------
    def _encode_row(self, match: RowMatch) -> bytes:
        if match.layout is not self._layout:
            self._compile(match.layout)
        header = self._header
        assert header is not None
        row = match.row
        # every element as bytes, or as text to encode once the response's character set is known
        parts: list[Any] = []
        texts: list[tuple[str, str]] = []  # (VR, text) of the values the character set applies to
        charset_at = -1
        for tag, kind, data in self._steps:
            if kind == _CONSTANT:
                parts.append(data)
            elif kind == _FIELD:
                i, vr, integer, empty = data
                value = row[i]
                if value is None:
                    parts.append(empty)
                elif integer:
                    parts.append(_integer(header, tag, vr, value))
                elif vr in STRING_VRS:
                    text = value_text(vr, value if type(value) is str else str(value))
                    if vr in CHARSET_VRS:
                        if text:
                            texts.append((vr, text))
                        parts.append((tag, vr, text))
                    else:
                        parts.append(header.element(tag, vr, text.encode("ascii")))
                else:
                    elem = row_element(tag, vr, integer, value)
                    parts.append(_deferred(tag, elem, texts) if elem is not None else empty)
            elif kind == _RECORD:
                elem = match.get(tag)
                parts.append(data if elem is None else _deferred(tag, elem, texts))
            else:
                charset_at = len(parts)
                parts.append(b"")
        request = self.plan.character_set
        terms = request if all(t.isascii() for _, t in texts) else character_set_for(request, texts)
        scs, cs = self._charset(terms)
        if charset_at >= 0:
            parts[charset_at] = scs
        extensions = cs.extensions
        out = []
        for part in parts:
            kind_of = type(part)
            if kind_of is tuple:
                tag, vr, text = part
                if text.isascii() and not (extensions and "\x1b" in text):
                    encoded = text.encode("ascii")  # each character set of PS3.3 C.12.1.1.2 has ASCII as it is
                else:
                    encoded = cs.encode(text, vr)
                out.append(header.element(tag, vr, encoded))
            elif kind_of is _Deferred:
                out.append(part.encode(header, cs))
            else:
                out.append(part)
        data = b"".join(out)
        return deflate(data) if self._deflated else data


def _deferred(tag: int, elem: DataElement, texts: list[tuple[str, str]]) -> _Deferred:
    """An element of the general kind: a sequence sends the whole match to the general path."""
    vr = elem.vr.value
    if vr == "SQ" or elem.is_undefined_length:
        raise _Fallback
    if vr in CHARSET_VRS:
        text = _text_of_element(elem)
        if text is not None:
            texts.append((vr, text))
    return _Deferred(tag, elem)


def _integer(header: _Header, tag: int, vr: str, value: Any) -> bytes:
    number = int(value)
    if vr in BINARY_INT_VRS:
        low, high = _INT_RANGES[vr]
        if not low <= number <= high:
            raise _Fallback  # the general path refuses it, as it always did
        return header.element(tag, vr, struct.pack(("<" if header.little else ">") + NUMBER_FORMATS[vr], number))
    if vr == "IS":
        return header.element(tag, vr, str(number).encode("ascii"))
    raise _Fallback


# -- QIDO-RS answers -------------------------------------------------------------------------------------------
class JsonEncoder:
    """The DICOM JSON objects of QIDO-RS answers to a plan without sequence keys, written from rows: every
    return key with the match's value or empty (PS3.18 10.6.3.3), Instance Availability as given (``ONLINE``),
    the Retrieve URL of each match, no Query/Retrieve Level and no Specific Character Set (DICOM JSON is
    UTF-8). :meth:`text` is one object, :meth:`array` the answer: character for character what
    :func:`~dicomkit.io.json_model.datasets_to_json` writes for the answers ``dicomkit.web.qido`` makes of
    :meth:`RowMatch.dataset` (the json module's separators, non-ASCII as it is). ``numbers_as``: see
    :func:`~dicomkit.io.json_model.to_json`."""

    def __init__(self, plan: QueryPlan, *, numbers_as: NumbersAs = "number",
                 instance_availability: str = "ONLINE") -> None:
        if any(k.is_sequence for k in plan.keys):
            raise ValueError("JsonEncoder answers plans without sequence keys")
        self.plan = plan
        self.writer = JsonObjects(numbers_as)
        self.numbers_as_text = numbers_as == "text"
        self.instance_availability = instance_availability
        self._layout: RowLayout | None = None
        self._steps: list[tuple[str, int, Any]] = []

    def array(self, texts: list[str]) -> str:
        """The JSON array of objects made by :meth:`text` (PS3.18 F.2.1)."""
        return "[" + ", ".join(texts) + "]"

    def text(self, match: RowMatch, retrieve_url: str | None) -> str:
        """The DICOM JSON object of one match's answer, as text."""
        if match.layout is not self._layout:
            self._compile(match.layout)
        parts = []
        row = match.row
        for name, kind, data in self._steps:
            if kind == _CONSTANT:
                parts.append(data)
            elif kind == _FIELD:
                i, vr, integer, tag, empty = data
                value = row[i]
                parts.append(empty if value is None else name + self._value(tag, vr, integer, value))
            elif kind == _RECORD:
                tag, empty = data
                elem = match.returned(tag)
                parts.append(empty if elem is None else name + self._dumps(self.writer.attribute(elem)))
            else:  # the Retrieve URL
                parts.append(name + '{"vr": "UR", "Value": [' + _string(retrieve_url) + "]}" if retrieve_url
                             else data)
        return "{" + ", ".join(parts) + "}"

    def _dumps(self, obj: Any) -> str:
        return self.writer.dumps(obj)

    def _compile(self, layout: RowLayout) -> None:
        steps: dict[int, tuple[str, int, Any]] = {}

        def empty(name: str, vr: str) -> str:
            return name + self._dumps({"vr": vr})

        for key in self.plan.keys:
            tag = key.tag
            name = _string(f"{tag:08X}") + ": "
            if not tag & 0xFFFF or tag == QUERY_RETRIEVE_LEVEL:
                continue  # F.2.2: no group lengths; the level is a C-FIND element
            if tag == RETRIEVE_URL:
                steps[tag] = (name, _SPECIAL, empty(name, "UR"))
            elif tag == INSTANCE_AVAILABILITY:
                elem = DataElement(INSTANCE_AVAILABILITY, "CS", self.instance_availability)
                steps[tag] = (name, _CONSTANT, name + self._dumps(self.writer.attribute(elem)))
            elif tag >> 16 == 0x7FE0:
                steps[tag] = (name, _CONSTANT, empty(name, key.vr))
            elif tag in layout.constants:
                constant = layout.constants[tag]
                steps[tag] = (name, _CONSTANT, empty(name, key.vr) if constant is None else
                              name + self._dumps(self.writer.attribute(constant)))
            elif tag in layout.columns:
                i, vr, integer = layout.columns[tag]
                steps[tag] = (name, _FIELD, (i, vr, integer, tag, empty(name, key.vr)))
            else:
                steps[tag] = (name, _RECORD, (tag, empty(name, key.vr)))
        self._steps = [steps[t] for t in sorted(steps)]
        self._layout = layout

    def _value(self, tag: int, vr: str, integer: bool, value: Any) -> str:
        """The JSON object of a field's (non-NULL) value."""
        if integer:
            number = int(value)
            if vr == "IS":  # IS(str(number)): its text is the number's; a JSON number, or that text (F.2.3)
                return '{"vr": "IS", "Value": [' + (_string(str(number)) if self.numbers_as_text else str(number)) \
                    + "]}"
            if vr in BINARY_INT_VRS:
                low, high = _INT_RANGES[vr]
                if low <= number <= high:
                    text = _string(str(number)) if vr in ("SV", "UV") and not -_SAFE_INT < number < _SAFE_INT \
                        else str(number)
                    return '{"vr": "' + vr + '", "Value": [' + text + "]}"
        elif vr in STRING_VRS and vr not in ("IS", "DS"):
            items = value_items(vr, value if type(value) is str else str(value))
            head = '{"vr": "' + vr + '"'
            if type(items) is str:
                if not items:
                    return head + "}"  # F.2.5: no Value
                return head + ', "Value": [' + (_pn(items) if vr == "PN" else _string(items)) + "]}"
            if vr == "PN":
                return head + ', "Value": [' + ", ".join(_pn(item) if item else "null" for item in items) + "]}"
            return head + ', "Value": [' + ", ".join(_string(item) if item else "null" for item in items) + "]}"
        elem = row_element(tag, vr, integer, value)  # any other value: the general way
        assert elem is not None
        return self._dumps(self.writer.attribute(elem))


def _pn(text: str) -> str:
    """A Person Name value as its JSON object (PS3.18 F.2.2): the component groups that are not empty."""
    groups = text.split("=", 2)
    return "{" + ", ".join(f'"{name}": ' + _string(group) for name, group in zip(_PN_GROUPS, groups) if group) + "}"


__all__ = ["IdentifierEncoder", "JsonEncoder", "RowLayout", "RowMatch", "as_dataset", "row_element", "value_items",
           "value_text"]
