"""The DICOM JSON Model (PS3.18 Annex F): data sets to and from ``application/dicom+json``.

Choices where the standard leaves room (see docs/formats.md):

- IS and DS values are JSON numbers (``numbers_as="number"``, the default: what dcm2json and pydicom write
  and DICOMweb clients expect), written with the DICOM text itself as the number's text (``"0.50"`` ->
  ``0.50``, ``"1.0E2"`` -> ``1.0E2``). Where that text is not a JSON number (``"+5"``, ``"00"``, ``".5"``,
  ``"5."``) or not one a JSON parser holds exactly as a double (``"1e400"``, ``"9007199254740993"``), the
  value is the DICOM text as a JSON string, as the note to PS3.18 Table F.2.3-1 (CP 1861) allows, so no
  value changes on the way. ``numbers_as="text"`` writes every IS and DS value as its text. Reading takes
  both, and keeps the literal text of JSON numbers: ``0.50`` read from JSON stays ``DS('0.50')``.
- SV and UV values outside the range every JSON parser holds exactly (2**53) are strings (same note).
- FL and FD values that are not finite, which JSON numbers cannot hold, are the strings ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"``.
- Binary values (OB, OD, OF, OL, OV, OW, UN) are InlineBinary, the base64 of the little endian Value Field
  (F.2.7), or a BulkDataURI where a caller-supplied handler gives one (F.2.6).
- The File Meta Information (group 0002) is left out unless ``include_file_meta``; read back it becomes
  ``ds.file_meta``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
from collections.abc import Callable, Container, Iterable, Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, Literal

from ..core.charset import DEFAULT, CharacterSet, character_set
from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import InvalidFileError, InvalidValueError
from ..core.sequence import Sequence
from ..core.tag import SPECIFIC_CHARACTER_SET, Tag
from ..core.values import _DECODERS
from ..core.valuetypes import DS, IS
from ..core.vr import BYTES_VRS, MULTI_STRING_VRS, NUMBER_FORMATS, STRING_VRS, VR
from .model_values import (
    BULK_DATA_VRS,
    MAX_DEPTH,
    BulkDataHandler,
    BulkDataReader,
    ElementBuilder,
    ModelError,
    bulk_data_uri,
    is_encapsulated_syntax,
    strip_padding,
    vr_of,
)

_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_MEMBERS = frozenset({"vr", "Value", "InlineBinary", "BulkDataURI"})
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_FLOAT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_TAG_KEY = re.compile(r"[0-9A-Fa-f]{8}\Z")
_SAFE_INT = 2**53
_UNDECODED = object()
_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf,
               "-inf": -math.inf}


# How IS and DS values are written: JSON numbers where that keeps their value, or always their text.
NumbersAs = Literal["number", "text"]
NUMBERS_AS: tuple[NumbersAs, ...] = ("number", "text")


# ---------------------------------------------------------------------------------------------------
# Data set -> JSON


def json_number_text(text: str, integer: bool) -> bool:
    """True when the IS (``integer``) or DS text ``text`` can be written as a JSON number as it is: it follows
    the JSON number grammar (RFC 8259 6; for IS an integer), and a JSON parser holding numbers as doubles
    reads the value it denotes, neither overflowing (``1e400``) nor rounding (``9007199254740993``)."""
    if integer:
        return bool(_INT_TEXT.match(text))  # IS is at most 12 characters: always exact in a double
    if not _FLOAT_TEXT.match(text):
        return False
    number = float(text)
    return math.isfinite(number) and Decimal(text) == Decimal(repr(number))


class _Writer:
    def __init__(self, handler: BulkDataHandler | None, threshold: int, numbers_as: str,
                 literal: Callable[[str], str] | None = None) -> None:
        """``literal(text)``, when given, stands for a JSON number whose text differs from what Python's
        json module would write for it (``0.50``); the caller puts the text itself in its place."""
        if numbers_as not in NUMBERS_AS:
            raise InvalidValueError(f"numbers_as must be one of {', '.join(NUMBERS_AS)}, got {numbers_as!r}")
        self.handler = handler
        self.threshold = threshold
        self.numbers_as_text = numbers_as == "text"
        self.literal = literal

    def dataset(self, ds: Dataset, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise InvalidValueError(f"sequences nested deeper than {MAX_DEPTH} levels")
        out: dict[str, Any] = {}
        for elem in ds:  # ascending tag order, as F.2.2 asks
            tag = elem._tag
            if tag & 0xFFFF:  # F.2.2: no Group Length attributes
                out[f"{tag:08X}"] = self.attribute(elem, depth)
        return out

    def raw_dataset(self, ds: Dataset, wanted: Container[int], values: dict[int, Any]) -> dict[str, Any]:
        """:meth:`dataset` of a data set at the top level, with the value of each element whose tag is in
        ``wanted`` put into ``values`` (what ``ds[tag].value`` gives). The elements the reader indexed and
        nothing has touched yet, whose value cannot be bulk data (shorter than the threshold, not a
        sequence), are decoded from their bytes by the decoder ``DataElement.value`` uses, without making
        an element of each; every other element takes the path of :meth:`attribute`. The object is the
        same as :meth:`dataset`'s; a value that does not decode is left to :meth:`attribute`, which raises
        what it raises for it."""
        out: dict[str, Any] = {}
        elements = ds._elements
        buf, src = ds._buf, ds._src
        threshold = self.threshold
        decoders = _DECODERS
        for tag in sorted(elements):
            entry = elements.get(tag)
            if entry is None:
                continue
            if not tag & 0xFFFF:  # F.2.2: no Group Length attributes
                if tag in wanted:
                    values[tag] = ds[tag].value
                continue
            if entry.__class__ is tuple and buf is not None and src is not None:
                vr, offset, length = entry
                decoder = decoders.get(vr)
                if decoder is not None and length < threshold:
                    try:
                        value = decoder(buf[offset:offset + length], src.little_endian, src.charset)
                    except InvalidValueError:
                        value = _UNDECODED
                    if value is not _UNDECODED:
                        if tag in wanted:
                            values[tag] = value
                        plain = _PLAIN.get(vr)
                        if plain is None:
                            out[f"{tag:08X}"] = self.value_object(vr.value, value)
                        elif value.__class__ is tuple or value is None or value == "":
                            out[f"{tag:08X}"] = self.plain_value(plain, value)
                        else:  # one value: plain_value's object, inlined (most elements)
                            out[f"{tag:08X}"] = {"vr": plain[0], "Value": [int(value) if plain[2] else str(value)]}
                        continue
            elem = ds[tag]
            out[f"{tag:08X}"] = self.attribute(elem, 0)
            if tag in wanted:
                values[tag] = elem.value
        return out

    def attribute(self, elem: DataElement, depth: int) -> dict[str, Any]:
        plain = _PLAIN.get(elem._vr)
        if plain is not None and (plain[1] or self.handler is None or elem.length < self.threshold):
            return self.plain_value(plain, elem.value)
        vr = elem._vr.value
        if vr == "SQ":
            obj: dict[str, Any] = {"vr": vr}
            items = elem.value
            if items:
                obj["Value"] = [self.dataset(item, depth + 1) for item in items]
            return obj
        uri = bulk_data_uri(self.handler, self.threshold, elem)
        if uri is not None:
            return {"vr": vr, "BulkDataURI": uri}
        return self.value_object(vr, elem.value)

    @staticmethod
    def plain_value(plain: tuple[str, bool, bool], value: Any) -> dict[str, Any]:
        """The object of a value of one of the :data:`_PLAIN` VRs: the text or the integer of each value,
        null for an empty one (F.2.5); never bulk data here."""
        vr, _never_bulk, integer = plain
        if value is None or value == "":
            return {"vr": vr}
        items = value if isinstance(value, tuple) else (value,)
        if integer:
            return {"vr": vr, "Value": [None if v is None or v == "" else int(v) for v in items]}
        return {"vr": vr, "Value": [None if v is None or v == "" else str(v) for v in items]}

    def value_object(self, vr: str, value: Any) -> dict[str, Any]:
        """The object of a value (``elem.value``) of VR ``vr`` that is neither a sequence nor bulk data."""
        obj: dict[str, Any] = {"vr": vr}
        if vr in BYTES_VRS:
            if value:
                obj["InlineBinary"] = base64.b64encode(value).decode("ascii")  # F.2.7, little endian
            return obj
        if value is None or value == "":
            return obj  # F.2.5: an empty attribute has no Value
        items = value if isinstance(value, tuple) else (value,)
        if vr in ("DS", "IS"):
            obj["Value"] = [self.decimal(item, vr == "IS") for item in items]
        else:
            obj["Value"] = [_json_item(vr, item) for item in items]
        return obj

    def decimal(self, item: Any, integer: bool) -> Any:
        """An IS or DS value: the IS/DS itself (a number) or its text (a string); see the module notes."""
        if item is None or item == "":
            return None  # F.2.5
        text = str(item).strip(" ")
        if self.numbers_as_text or not isinstance(item, DS | IS):
            return text  # text that is not a valid number is kept as read, a string
        if text == (int.__repr__(item) if integer else float.__repr__(item)) and (integer or math.isfinite(item)):
            return item  # what the json module writes for the number is the text itself (most values)
        if not json_number_text(text, integer):
            return text
        return item if self.literal is None else self.literal(text)


# VR -> (its name, never bulk data (not in F.2.2's list), integer): the values whose JSON is the text or the
# integer of each value, null for an empty one (F.2.5)
_PLAIN: dict[VR, tuple[str, bool, bool]] = {
    **{VR(v): (v, v not in BULK_DATA_VRS, False) for v in ("AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST",
                                                             "TM", "UC", "UI", "UR", "UT")},
    **{VR(v): (v, False, True) for v in ("US", "SS", "UL", "SL")},
}


def _json_item(vr: str, item: Any) -> Any:
    if item is None or item == "":
        return None  # F.2.5: an empty value among several is null
    if vr == "PN":
        groups = str(item).split("=", 2)  # a fourth '=' stays inside Phonetic rather than being lost
        return {name: group for name, group in zip(_PN_GROUPS, groups) if group}
    if vr == "AT":
        return f"{int(item):08X}"  # F.2.3: eight upper-case hexadecimal digits
    if vr in ("FL", "FD"):
        number = float(item)
        if math.isfinite(number):
            return number
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if vr in ("SV", "UV"):
        number = int(item)
        return number if -_SAFE_INT < number < _SAFE_INT else str(number)
    if vr in NUMBER_FORMATS:
        return int(item)
    return str(item)


def _dataset_object(writer: _Writer, ds: Dataset, include_file_meta: bool) -> dict[str, Any]:
    out = writer.dataset(ds, 0)
    if include_file_meta and ds.file_meta is not None:
        out = {**writer.dataset(ds.file_meta, 0), **out}  # group 0002 sorts first
    return out


def to_json_dict(
    ds: Dataset,
    *,
    bulk_data_handler: BulkDataHandler | None = None,
    bulk_data_threshold: int = 1024,
    include_file_meta: bool = False,
    numbers_as: NumbersAs = "number",
) -> dict[str, Any]:
    """The DICOM JSON Model object of ``ds`` as dicts and lists (what ``json.loads`` would give).

    - ``bulk_data_handler(element) -> uri | None`` is called for elements of the VRs listed in PS3.18
      F.2.2 whose value is at least ``bulk_data_threshold`` bytes: a URI replaces the value by a
      BulkDataURI, None keeps it inline.
    - ``include_file_meta`` puts the File Meta Information (group 0002) in front. It is not part of the
      data set and DICOMweb leaves it out, but it lets the Part 10 file be rebuilt (``dicomkit json2dcm``).
    - ``numbers_as``: ``"number"`` gives IS and DS values as numbers (the ``IS``/``DS`` values themselves,
      an ``int``/``float`` that keeps its text, so :func:`from_json` of this object gets the same text back)
      where the module notes say so, strings elsewhere; ``"text"`` gives every IS and DS value as a string.
    """
    return _dataset_object(_Writer(bulk_data_handler, bulk_data_threshold, numbers_as), ds, include_file_meta)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # what json.dumps makes for these options


class _Literals:
    """Puts JSON numbers into ``json.dumps`` output with their exact text (``0.50``, ``1.0E2``, ``-0``), which
    the json module cannot write (it writes ``repr(float)``): each goes in as a string between two copies of
    a marker made fresh for the call — a private-use character and 64 random bits, so no value of the data
    set can contain it — and the quoted marked strings are then replaced by their text."""

    def __init__(self) -> None:
        self._marker = ""
        self.used = False

    @property
    def marker(self) -> str:
        if not self._marker:  # made on first use: most data sets need none (a getrandom call less)
            self._marker = "\ue000" + secrets.token_hex(8)
        return self._marker

    def __call__(self, text: str) -> str:
        self.used = True
        marker = self.marker
        return marker + text + marker

    def dumps(self, obj: Any, indent: int | None) -> str:
        # json.dumps(obj, ensure_ascii=False, indent=indent, allow_nan=False), without a new encoder per call
        out = _ENCODER.encode(obj) if indent is None else json.dumps(obj, ensure_ascii=False, indent=indent,
                                                                        allow_nan=False)
        if not self.used:
            return out
        # the number texts are [-+.0-9eE] only, which json.dumps writes unescaped between the markers
        return out.replace('"' + self.marker, "").replace(self.marker + '"', "")


def to_json(
    ds: Dataset,
    *,
    indent: int | None = None,
    bulk_data_handler: BulkDataHandler | None = None,
    bulk_data_threshold: int = 1024,
    include_file_meta: bool = False,
    numbers_as: NumbersAs = "number",
) -> str:
    """The DICOM JSON Model of ``ds`` as text (non-ASCII kept as is); see :func:`to_json_dict`.

    IS and DS numbers are written with their DICOM text (``0.50`` stays ``0.50``, not ``0.5``).
    """
    literals = _Literals()
    writer = _Writer(bulk_data_handler, bulk_data_threshold, numbers_as, literals)
    return literals.dumps(_dataset_object(writer, ds, include_file_meta), indent)


def to_json_with_values(
    ds: Dataset,
    wanted: Container[int],
    *,
    bulk_data_handler: BulkDataHandler | None = None,
    bulk_data_threshold: int = 1024,
) -> tuple[str, dict[int, Any]]:
    """:func:`to_json` of ``ds`` (the same text) and, for each top-level element whose tag is in ``wanted``,
    its value (``ds[tag].value``), in one pass: what an archive's ingest needs of a data set just read. The
    elements the reader indexed are decoded from their bytes without an element object each, where their
    value cannot be bulk data."""
    literals = _Literals()
    writer = _Writer(bulk_data_handler, bulk_data_threshold, "number", literals)
    values: dict[int, Any] = {}
    return literals.dumps(writer.raw_dataset(ds, wanted, values), None), values


json_string: Callable[[str], str] = encode_basestring
"""A string as the JSON text ``json.dumps(..., ensure_ascii=False)`` writes for it (quoted, escaped)."""


class JsonObjects:
    """DICOM JSON written a piece at a time, for callers that assemble the objects themselves (QIDO-RS answers
    made from index rows): :meth:`attribute` is the object of one element, :meth:`dataset` that of a data set,
    and :meth:`dumps` writes dicts and lists holding them as :func:`datasets_to_json` writes (IS and DS numbers
    with their DICOM text). Objects of one writer go into one ``dumps`` of that writer."""

    def __init__(self, numbers_as: NumbersAs = "number") -> None:
        self._literals = _Literals()
        self._writer = _Writer(None, 1024, numbers_as, self._literals)

    def attribute(self, elem: DataElement) -> dict[str, Any]:
        return self._writer.attribute(elem, 0)

    def dataset(self, ds: Dataset) -> dict[str, Any]:
        return self._writer.dataset(ds, 0)

    def dumps(self, obj: Any, indent: int | None = None) -> str:
        return self._literals.dumps(obj, indent)


def datasets_to_json(
    datasets: Iterable[Dataset],
    *,
    indent: int | None = None,
    bulk_data_handler: BulkDataHandler | None = None,
    bulk_data_threshold: int = 1024,
    include_file_meta: bool = False,
    numbers_as: NumbersAs = "number",
) -> str:
    """Several data sets as one top-level JSON array (PS3.18 F.2.1, e.g. a QIDO-RS response); the options
    are those of :func:`to_json`."""
    literals = _Literals()
    writer = _Writer(bulk_data_handler, bulk_data_threshold, numbers_as, literals)
    return literals.dumps([_dataset_object(writer, ds, include_file_meta) for ds in datasets], indent)


# ---------------------------------------------------------------------------------------------------
# JSON -> data set


class _Number(str):
    """The literal text of a JSON number, kept so that IS and DS values keep their exact digits."""


class _Located(Exception):
    """A ModelError with its place in the document, completed while unwinding."""

    def __init__(self, message: str, path: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _at(path_part: str, exc: Exception) -> _Located:
    if isinstance(exc, _Located):
        exc.path.insert(0, path_part)
        return exc
    return _Located(exc.message if isinstance(exc, ModelError) else str(exc), [path_part])


def _pointer(path: list[str]) -> str:
    """RFC 6901 JSON Pointer of a location ('~' and '/' escaped in each token)."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)


def _parse_text(data: str | bytes | bytearray) -> Any:
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8-sig")  # F.2: the character repertoire is UTF-8
        except UnicodeDecodeError as exc:
            raise InvalidFileError(f"DICOM JSON is not UTF-8: {exc.reason}", offset=exc.start) from None
    try:
        return json.loads(data, parse_float=_Number, parse_int=_Number)
    except json.JSONDecodeError as exc:
        raise InvalidFileError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                               offset=exc.pos) from None
    except RecursionError:
        raise InvalidFileError("JSON nested too deeply") from None


class _Reader:
    def __init__(self, builder: ElementBuilder) -> None:
        self.builder = builder

    def dataset(self, obj: Any, depth: int, charset: CharacterSet, top: bool = False) -> Dataset:
        if not isinstance(obj, Mapping):
            raise ModelError(f"a data set must be a JSON object, got {_json_type(obj)}")
        if depth > MAX_DEPTH:
            raise ModelError(f"sequences nested deeper than {MAX_DEPTH} levels")
        ds = Dataset()
        elements = ds._elements
        keys = list(obj)
        # Specific Character Set first: text given as binary is decoded with it (PS3.5 6.1.2.3).
        cs_key = next((k for k in keys if isinstance(k, str) and k.upper() == "00080005"), None)
        if cs_key is not None:
            keys.remove(cs_key)
            keys.insert(0, cs_key)
        for key in keys:
            try:
                if not isinstance(key, str) or not _TAG_KEY.match(key):
                    raise ModelError(f"attribute names are eight hexadecimal digits (PS3.18 F.2.2), got {key!r}")
                tag = int(key, 16)
                elements[tag] = self.attribute(tag, obj[key], depth, charset, top)
                if tag == SPECIFIC_CHARACTER_SET:
                    charset = character_set(ds.character_set)
            except (ModelError, _Located) as exc:
                raise _at(str(key), exc) from None
        return ds

    def attribute(self, tag: int, obj: Any, depth: int, charset: CharacterSet, top: bool) -> DataElement:
        if not isinstance(obj, Mapping):
            raise ModelError(f"an attribute must be a JSON object, got {_json_type(obj)}")
        unknown = [k for k in obj if k not in _MEMBERS]
        if unknown:
            raise ModelError(f"unknown member {unknown[0]!r} (expected vr, Value, InlineBinary or BulkDataURI)")
        vr = vr_of(tag, obj.get("vr"))
        present = [k for k in ("Value", "InlineBinary", "BulkDataURI") if k in obj]
        if len(present) > 1:
            raise ModelError(f"{' and '.join(present)} together; at most one is allowed (PS3.18 F.2.2)")
        if not present:
            return DataElement(tag, vr, None)
        member = present[0]
        try:
            if member == "Value":
                return self.value(tag, vr, obj["Value"], depth, charset)
            if member == "InlineBinary":
                return self.builder.from_bytes(tag, vr, _base64(obj["InlineBinary"]), charset, top)
            uri = obj["BulkDataURI"]
            if not isinstance(uri, str):
                raise ModelError(f"BulkDataURI must be a string, got {_json_type(uri)}")
            return self.builder.from_bulk_data(tag, vr, uri, charset, top)
        except (ModelError, _Located) as exc:
            raise _at(member, exc) from None

    def value(self, tag: int, vr: VR, values: Any, depth: int, charset: CharacterSet) -> DataElement:
        if not isinstance(values, list):
            raise ModelError(f"Value must be a JSON array, got {_json_type(values)}")
        name = vr.value
        if name == "SQ":
            items = []
            for i, item in enumerate(values):
                try:
                    items.append(self.dataset(item, depth + 1, charset))
                except (ModelError, _Located) as exc:
                    raise _at(str(i), exc) from None
            return DataElement(tag, vr, Sequence(items))
        if name in BYTES_VRS:
            raise ModelError(f"{name} values are given as InlineBinary or BulkDataURI, not as Value (PS3.18 F.2.2)")
        if not values:
            return DataElement(tag, vr, None)
        items = []
        for i, item in enumerate(values):
            try:
                items.append(_item(name, item))
            except ModelError as exc:
                raise _at(str(i), exc) from None
        if name in STRING_VRS and name not in MULTI_STRING_VRS and len(items) > 1:
            raise ModelError(f"{name} holds a single value, got {len(items)}")
        return self.builder.values(tag, vr, items)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _Number | int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _base64(text: Any) -> bytes:
    if isinstance(text, list) and len(text) == 1 and isinstance(text[0], str):
        text = text[0]  # the PS3.18 F.4 example, as published, puts InlineBinary in an array
    if not isinstance(text, str):
        raise ModelError(f"InlineBinary must be a base64 string, got {_json_type(text)}")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ModelError(f"InlineBinary is not valid base64: {exc}") from None


def _item(vr: str, item: Any) -> Any:
    """One member of a Value array as the Python value dicomkit keeps for ``vr``."""
    if item is None:
        return None if vr in ("DS", "IS", "AT") or vr in NUMBER_FORMATS else ""
    if isinstance(item, bool):
        raise ModelError(f"a {vr} value cannot be a boolean")
    if vr == "PN":
        return _pn_text(item)
    if vr in ("DS", "IS"):
        return _decimal_text(vr, item)
    if vr == "AT":
        if not isinstance(item, str) or isinstance(item, _Number) or not _TAG_KEY.match(item):
            raise ModelError(f"an AT value is eight hexadecimal digits (PS3.18 F.2.3), got {_json_type(item)}")
        return Tag(int(item, 16))
    if vr in ("FL", "FD"):
        if isinstance(item, _Number | int | float):
            return float(item)
        if isinstance(item, str) and item.lower() in _NON_FINITE:
            return _NON_FINITE[item.lower()]
        raise ModelError(f"a {vr} value must be a number, got {_json_type(item)}")
    if vr in NUMBER_FORMATS:
        return _integer(vr, item)
    if vr in STRING_VRS:
        if not isinstance(item, str) or isinstance(item, _Number):
            raise ModelError(f"a {vr} value must be a string, got {_json_type(item)}")
        if vr in MULTI_STRING_VRS and "\\" in item:
            # PS3.18 F.2.4: a backslash would split the value in two in the binary encoding.
            raise ModelError(f"a {vr} value cannot contain a backslash: {item!r}")
        return strip_padding(vr, item)
    raise ModelError(f"no JSON value mapping for VR {vr}")


def _integer(vr: str, item: Any) -> int:
    if isinstance(item, _Number):
        if _INT_TEXT.match(item):
            return int(item)
        number = float(item)
        if number.is_integer():
            return int(number)
        raise ModelError(f"a {vr} value must be an integer, got {item}")
    if isinstance(item, int):
        return item
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if vr in ("SV", "UV") and isinstance(item, str) and _INT_TEXT.match(item.strip()):
        return int(item)  # PS3.18 Table F.2.3-1: SV and UV may be strings
    raise ModelError(f"a {vr} value must be an integer number, got {_json_type(item)}")


def _decimal_text(vr: str, item: Any) -> str:
    if isinstance(item, _Number):
        if vr == "IS" and not _INT_TEXT.match(item):
            number = float(item)
            if not number.is_integer():
                raise ModelError(f"an IS value must be an integer, got {item}")
            return str(int(number))
        return str(item)
    if isinstance(item, str):
        return strip_padding(vr, item)  # the DICOM text itself (PS3.18 F.2.3 note)
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ModelError(f"a {vr} value must be finite, got {item}")
        if vr == "IS":
            if not item.is_integer():
                raise ModelError(f"an IS value must be an integer, got {item}")
            return str(int(item))
        return DS(item).original_string
    raise ModelError(f"a {vr} value must be a number or a string, got {_json_type(item)}")


def _pn_text(item: Any) -> str:
    if not isinstance(item, Mapping):
        raise ModelError("a PN value must be an object with Alphabetic, Ideographic or Phonetic, got "
                         f"{_json_type(item)}")
    for key in item:
        if key not in _PN_GROUPS:
            raise ModelError(f"unknown person name component group {key!r}")
    groups = []
    for name in _PN_GROUPS:
        group = item.get(name) or ""
        if not isinstance(group, str):
            raise ModelError(f"{name} must be a string, got {_json_type(group)}")
        if "\\" in group:
            raise ModelError(f"{name} cannot contain a backslash: {group!r}")
        groups.append(group.rstrip(" "))
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def from_json(
    data: str | bytes | bytearray | Mapping[str, Any],
    *,
    bulk_data_reader: BulkDataReader | None = None,
    transfer_syntax: str | None = None,
    validate: bool = False,
) -> Dataset:
    """A Dataset from a DICOM JSON Model object: text, UTF-8 bytes, or already parsed JSON.

    - ``bulk_data_reader(tag, vr, uri) -> bytes`` fetches values given as BulkDataURI (the Value Field,
      little endian). Without one those elements are left empty, the data set is marked partial
      (``ds.is_partial``: writing it then needs ``allow_partial=True``) and each is listed in
      ``ds.read_corrections``.
    - Group 0002 attributes become ``ds.file_meta``. When its Transfer Syntax UID (or ``transfer_syntax``)
      is an encapsulated one, the top-level Pixel Data is read as encapsulated fragments.

    - Values are taken as a file's are: written back as they came, even where they break their VR, unless
      ``validate=True`` checks each as if assigned through the API (InvalidValueWarning, and the write then
      refuses it unless it passes ``validate=False``; see docs/core.md, "Values that break their VR").

    Malformed input raises :class:`~dicomkit.InvalidFileError` naming the place as a JSON Pointer, e.g.
    ``DICOM JSON at /00101002/Value/1/00100020/Value/0: ...``.
    """
    obj = _parse_text(data) if isinstance(data, str | bytes | bytearray) else data
    if isinstance(obj, list):
        raise InvalidFileError("the JSON is an array of data sets (PS3.18 F.2.1); use datasets_from_json()")
    return _build(obj, bulk_data_reader, transfer_syntax, [], validate)


def datasets_from_json(
    data: str | bytes | bytearray | Any,
    *,
    bulk_data_reader: BulkDataReader | None = None,
    validate: bool = False,
) -> list[Dataset]:
    """Every data set of a DICOM JSON document: a top-level array (PS3.18 F.2.1) or a single object."""
    obj = _parse_text(data) if isinstance(data, str | bytes | bytearray) else data
    if isinstance(obj, Mapping):
        return [_build(obj, bulk_data_reader, None, [], validate)]
    if not isinstance(obj, list):
        raise InvalidFileError(f"DICOM JSON must be an object or an array of objects, got {_json_type(obj)}")
    return [_build(item, bulk_data_reader, None, [str(i)], validate) for i, item in enumerate(obj)]


def _build(obj: Any, reader: BulkDataReader | None, transfer_syntax: str | None, prefix: list[str],
           validate: bool = False) -> Dataset:
    if not isinstance(obj, Mapping):
        raise InvalidFileError(f"DICOM JSON at {_pointer(prefix)}: a data set must be an object, got "
                               f"{_json_type(obj)}")
    meta_keys = [k for k in obj if isinstance(k, str) and k.startswith("0002")]
    ts = transfer_syntax
    if ts is None and meta_keys:
        ts_obj = obj.get("00020010")
        if isinstance(ts_obj, Mapping) and isinstance(ts_obj.get("Value"), list) and ts_obj["Value"]:
            ts = ts_obj["Value"][0] if isinstance(ts_obj["Value"][0], str) else None
    builder = ElementBuilder(reader, encapsulated=is_encapsulated_syntax(ts), model="DICOM JSON", validate=validate)
    parser = _Reader(builder)
    try:
        meta = parser.dataset({k: obj[k] for k in meta_keys}, 0, DEFAULT) if meta_keys else None
        body = {k: v for k, v in obj.items() if k not in meta_keys} if meta_keys else obj
        ds = parser.dataset(body, 0, DEFAULT, top=True)
    except (ModelError, _Located) as exc:
        located = exc if isinstance(exc, _Located) else _Located(exc.message, [])
        raise InvalidFileError(f"DICOM JSON at {_pointer(prefix + located.path)}: {located.message}") from None
    d = ds.__dict__
    if meta is not None:
        d["file_meta"] = meta
    if builder.corrections:
        d["read_corrections"] = builder.corrections
    if builder.missing_bulk_data:
        d["is_partial"] = True
    return ds


__all__ = [
    "BULK_DATA_VRS",
    "NUMBERS_AS",
    "BulkDataHandler",
    "BulkDataReader",
    "JsonObjects",
    "NumbersAs",
    "datasets_from_json",
    "datasets_to_json",
    "from_json",
    "json_number_text",
    "json_string",
    "to_json",
    "to_json_dict",
    "to_json_with_values",
]
