"""The Native DICOM Model (PS3.19 Annex A.1): data sets to and from ``application/dicom+xml``.

- ``to_xml(ds)`` writes a ``NativeDicomModel`` document (UTF-8, ``xml:space="preserve"``, the PS3.19
  namespace): one ``DicomAttribute`` per element with ``Value``, ``PersonName`` (name components),
  ``Item``, ``InlineBinary`` (base64, little endian) or ``BulkData`` (a URI from a caller's handler).
  Private data elements carry ``privateCreator`` and a tag with block number 00 (``gggg00ee``).
- ``to_xml(ds, dialect="dcmtk")`` writes DCMTK's own XML format (``file-format``/``data-set``), the one
  DCMTK's ``xml2dcm`` reads (3.6.7 reads no Native DICOM Model).
- ``from_xml(text)`` reads a Native DICOM Model document, e.g. from ``dcm2xml --native-format``. Parsing is
  safe: documents with a DOCTYPE are refused, so there are no entities to expand or fetch.

Values that XML 1.0 cannot carry as characters (control characters other than tab, newline and carriage
return) are written as InlineBinary of the encoded value instead of being altered; carriage returns are
written as ``&#13;`` so that XML line-end normalisation does not change them.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Any, Literal
from xml.parsers import expat

from ..core.charset import DEFAULT, CharacterSet, character_set
from ..core.dataset import Dataset
from ..core.dictionary import keyword_for_tag
from ..core.element import DataElement
from ..core.errors import InvalidFileError, InvalidValueError
from ..core.sequence import Sequence
from ..core.tag import SPECIFIC_CHARACTER_SET, Tag, is_private_group, tag_str
from ..core.uid import UID, ExplicitVRLittleEndian
from ..core.vr import BYTES_VRS, MULTI_STRING_VRS, NUMBER_FORMATS, STRING_VRS
from .model_values import (
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

NAMESPACE = "http://dicom.nema.org/PS3.19/models/NativeDICOM"  # PS3.19 A.1.6
_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_TAG_TEXT = re.compile(r"[0-9A-Fa-f]{8}\Z")
# Characters XML 1.0 does not allow (even as references), and those needing a reference to survive parsing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                               "\n": "&#10;", "\t": "&#9;"})
_MAX_XML_DEPTH = 4 * MAX_DEPTH + 8


def _text(value: str) -> str | None:
    """``value`` escaped as XML character data, or None when XML 1.0 cannot carry it."""
    if _NOT_XML.search(value):
        return None
    return value.translate(_ESCAPES)


def _attr(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value).translate(_ATTR_ESCAPES)


# ---------------------------------------------------------------------------------------------------
# Data set -> Native DICOM Model


class _NativeWriter:
    def __init__(self, handler: BulkDataHandler | None, threshold: int, keywords: bool) -> None:
        self.handler = handler
        self.threshold = threshold
        self.keywords = keywords

    def dataset(self, ds: Dataset, out: list[str], indent: str, depth: int, charset: CharacterSet) -> None:
        if depth > MAX_DEPTH:
            raise InvalidValueError(f"sequences nested deeper than {MAX_DEPTH} levels")
        if SPECIFIC_CHARACTER_SET in ds:
            charset = character_set(ds.character_set)
        for elem in ds:
            tag = elem._tag
            if tag & 0xFFFF:  # PS3.19 A.1.1: no Group Length attributes
                self.attribute(ds, elem, out, indent, depth, charset)

    def attribute(self, ds: Dataset, elem: DataElement, out: list[str], indent: str, depth: int,
                  charset: CharacterSet) -> None:
        tag = elem._tag
        vr = elem._vr.value
        head = f'{indent}<DicomAttribute tag="{{}}" vr="{vr}"'
        creator = _private_creator(ds, tag)
        if creator is not None:
            # PS3.19 A.1.5: the block number is not sent; the creator is.
            head = head.format(f"{tag & 0xFFFF00FF:08X}") + f' privateCreator="{_attr(creator)}"'
        else:
            head = head.format(f"{tag:08X}")
            keyword = keyword_for_tag(tag) if self.keywords else ""
            if keyword:
                head += f' keyword="{keyword}"'
        inner = indent + "  "
        if vr == "SQ":
            items = elem.value
            if not items:
                out.append(head + "/>")
                return
            out.append(head + ">")
            for number, item in enumerate(items, 1):
                if not len(item):
                    out.append(f'{inner}<Item number="{number}"/>')
                    continue
                out.append(f'{inner}<Item number="{number}">')
                self.dataset(item, out, inner + "  ", depth + 1, charset)
                out.append(f"{inner}</Item>")
            out.append(f"{indent}</DicomAttribute>")
            return
        uri = bulk_data_uri(self.handler, self.threshold, elem)
        if uri is not None:
            out.append(f'{head}>\n{inner}<BulkData uri="{_attr(uri)}"/>\n{indent}</DicomAttribute>')
            return
        value = elem.value
        if vr in BYTES_VRS:
            if not value:
                out.append(head + "/>")
            else:
                data = base64.b64encode(value).decode("ascii")
                out.append(f"{head}>\n{inner}<InlineBinary>{data}</InlineBinary>\n{indent}</DicomAttribute>")
            return
        if value is None or value == "":
            out.append(head + "/>")
            return
        items = value if isinstance(value, tuple) else (value,)
        body = _pn_lines(items, inner) if vr == "PN" else _value_lines(vr, items, inner)
        if body is None:
            # Text XML 1.0 cannot hold: the encoded value, so that nothing is altered (see module notes).
            data = base64.b64encode(elem.encoded(True, charset)).decode("ascii")
            out.append(f"{head}>\n{inner}<InlineBinary>{data}</InlineBinary>\n{indent}</DicomAttribute>")
            return
        out.append(head + ">")
        out += body
        out.append(f"{indent}</DicomAttribute>")


def _private_creator(ds: Dataset, tag: int) -> str | None:
    """The creator of a private data element (gggg,xxyy) with xx >= 10 (PS3.5 7.8.1), if present."""
    if not is_private_group(tag >> 16) or (tag & 0xFFFF) < 0x1000:
        return None
    creator = ds.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
    if creator is None or creator.vr.value not in ("LO", "UN", "SH", "LT", "ST", "UT", "CS"):
        return None
    value = creator.value
    if isinstance(value, bytes):
        value = value.decode("latin_1")
    text = str(value).strip(" \x00")
    return text or None


def _value_text(vr: str, item: Any) -> str:
    if item is None:
        return ""
    if vr == "AT":
        return f"{int(item):08X}"  # PS3.19 A.1.5: eight upper-case hexadecimal digits
    if vr in ("FL", "FD"):
        return repr(float(item))
    return str(item)


def _value_lines(vr: str, items: tuple[Any, ...], indent: str) -> list[str] | None:
    lines = []
    for number, item in enumerate(items, 1):
        text = _text(_value_text(vr, item))
        if text is None:
            return None
        lines.append(f'{indent}<Value number="{number}">{text}</Value>' if text else
                     f'{indent}<Value number="{number}"/>')
    return lines


def _pn_lines(items: tuple[Any, ...], indent: str) -> list[str] | None:
    lines = []
    for number, item in enumerate(items, 1):
        groups = str(item).split("=", 2) if item else []
        parts = []
        for group_name, group in zip(_GROUPS, groups):
            components = group.split("^", 4)  # a sixth '^' stays inside NameSuffix rather than being lost
            comps = []
            for name, text in zip(_COMPONENTS, components):
                if text:
                    escaped = _text(text)
                    if escaped is None:
                        return None
                    comps.append(f"<{name}>{escaped}</{name}>")
            if comps:
                parts.append(f"<{group_name}>{''.join(comps)}</{group_name}>")
        if parts:
            lines.append(f'{indent}<PersonName number="{number}">{"".join(parts)}</PersonName>')
        else:
            lines.append(f'{indent}<PersonName number="{number}"/>')
    return lines


# ---------------------------------------------------------------------------------------------------
# Data set -> DCMTK's XML format (what its xml2dcm reads)


class _DcmtkWriter:
    def dataset(self, ds: Dataset, out: list[str], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise InvalidValueError(f"sequences nested deeper than {MAX_DEPTH} levels")
        for elem in ds:
            if elem._tag & 0xFFFF:
                self.element(elem, out, depth)

    def element(self, elem: DataElement, out: list[str], depth: int) -> None:
        tag = elem._tag
        vr = elem._vr.value
        name = keyword_for_tag(tag)
        named = f' name="{name}"' if name else ""
        tag_attr = f"{tag >> 16:04x},{tag & 0xFFFF:04x}"
        if vr == "SQ":
            out.append(f'<sequence tag="{tag_attr}" vr="SQ" card="{len(elem.value)}"{named}>')
            for item in elem.value:
                out.append(f'<item card="{len(item)}">')
                self.dataset(item, out, depth + 1)
                out.append("</item>")
            out.append("</sequence>")
            return
        if elem.is_undefined_length and elem.raw is not None:
            from ..core.fragments import iter_fragment_spans

            raw = bytes(elem.raw)
            out.append(f'<sequence tag="{tag_attr}" vr="{vr}"{named}>')
            for start, length in iter_fragment_spans(raw):
                hex_text = "\\".join(f"{b:02x}" for b in raw[start:start + length])
                out.append(f'<pixel-item len="{length}" binary="yes">{hex_text}</pixel-item>')
            out.append("</sequence>")
            return
        value = elem.value
        binary = ""
        if vr in BYTES_VRS:
            text = _dcmtk_binary(vr, value or b"")
            binary = ' binary="yes"' if value else ""
        elif value is None or value == "":
            text = ""
        else:
            items = value if isinstance(value, tuple) else (value,)
            if vr == "AT":
                text = "\\".join(f"({int(t) >> 16:04x},{int(t) & 0xFFFF:04x})" for t in items)
            else:
                text = "\\".join(_value_text(vr, v) for v in items)
        escaped = _text(text)
        if escaped is None:
            raise InvalidValueError(f"{tag_str(tag)}: the value has characters XML 1.0 cannot hold; DCMTK's XML "
                                    "format has no other way to write it (use the Native DICOM Model)")
        out.append(f'<element tag="{tag_attr}" vr="{vr}"{named}{binary}>{escaped}</element>')


def _dcmtk_binary(vr: str, data: bytes) -> str:
    """Binary values as xml2dcm reads them: hex bytes or words, and decimal numbers for OF and OD."""
    if vr in ("OF", "OD"):
        fmt, size = ("f", 4) if vr == "OF" else ("d", 8)
        count = len(data) // size
        return "\\".join(repr(v) for v in struct.unpack(f"<{count}{fmt}", data[:count * size]))
    size = {"OW": 2, "OL": 4, "OV": 8}.get(vr, 1)
    if size == 1:
        return "\\".join(f"{b:02x}" for b in data)
    count = len(data) // size
    fmt = {2: "H", 4: "I", 8: "Q"}[size]
    return "\\".join(f"{w:0{2 * size}x}" for w in struct.unpack(f"<{count}{fmt}", data[:count * size]))


def _dcmtk_document(ds: Dataset, include_file_meta: bool) -> list[str]:
    ts = ds.transfer_syntax or ExplicitVRLittleEndian
    ts_attrs = f'xfer="{ts}" name="{_attr(UID(str(ts)).name)}"'
    writer = _DcmtkWriter()
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    if include_file_meta and ds.file_meta is not None:
        out.append("<file-format>")
        out.append(f'<meta-header xfer="{ExplicitVRLittleEndian}" name="Little Endian Explicit">')
        writer.dataset(ds.file_meta, out, 0)
        out.append("</meta-header>")
        out.append(f"<data-set {ts_attrs}>")
        writer.dataset(ds, out, 0)
        out.append("</data-set>")
        out.append("</file-format>")
    else:
        out.append(f"<data-set {ts_attrs}>")
        writer.dataset(ds, out, 0)
        out.append("</data-set>")
    return out


def to_xml(
    ds: Dataset,
    *,
    bulk_data_handler: BulkDataHandler | None = None,
    bulk_data_threshold: int = 1024,
    include_file_meta: bool = False,
    dialect: Literal["native", "dcmtk"] = "native",
    namespace: bool = True,
    keywords: bool = True,
) -> str:
    """The Native DICOM Model XML of ``ds`` (PS3.19 A.1), or DCMTK's XML format with ``dialect="dcmtk"``.

    - ``bulk_data_handler(element) -> uri | None``: as for JSON, large values become ``BulkData uri=``.
    - ``include_file_meta`` adds the File Meta Information (group 0002), which is not part of the data set.
    - ``namespace`` declares the PS3.19 namespace on the root; ``keywords`` adds the optional keywords.
    """
    if dialect == "dcmtk":
        return "\n".join(_dcmtk_document(ds, include_file_meta)) + "\n"
    if dialect != "native":
        raise InvalidValueError(f"unknown XML dialect {dialect!r} (native or dcmtk)")
    writer = _NativeWriter(bulk_data_handler, bulk_data_threshold, keywords)
    xmlns = f' xmlns="{NAMESPACE}"' if namespace else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<NativeDicomModel{xmlns} xml:space="preserve">']
    if include_file_meta and ds.file_meta is not None:
        writer.dataset(ds.file_meta, out, "  ", 0, DEFAULT)
    writer.dataset(ds, out, "  ", 0, DEFAULT)
    out.append("</NativeDicomModel>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Safe parsing into a small tree


class _Node:
    __slots__ = ("attrs", "children", "line", "name", "text")

    def __init__(self, name: str, attrs: dict[str, str], line: int) -> None:
        self.name = name
        self.attrs = attrs
        self.line = line
        self.children: list[_Node] = []
        self.text: list[str] = []

    def value(self) -> str:
        return "".join(self.text)

    def where(self) -> str:
        if self.name == "DicomAttribute":
            return f'DicomAttribute[@tag="{self.attrs.get("tag", "?")}"]'
        if "number" in self.attrs:
            return f'{self.name}[@number="{self.attrs["number"]}"]'
        return self.name


class _XmlError(Exception):
    pass


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


# The PS3.18 F.2.1.1.1 example puts xml:space in the XML declaration, which XML does not allow there;
# that one form is accepted by dropping it (NativeDicomModel carries the directive, A.1.5).
_DECLARATION_SPACE = r"""\A(\s*<\?xml\b[^?>]*?)\s+xml:space\s*=\s*["']preserve["']"""
_DECLARATION_SPACE_TEXT = re.compile(_DECLARATION_SPACE)
_DECLARATION_SPACE_BYTES = re.compile(_DECLARATION_SPACE.encode("ascii"))


def _parse_tree(data: str | bytes) -> _Node:
    if isinstance(data, str):
        data = _DECLARATION_SPACE_TEXT.sub(r"\1", data, count=1)
    else:
        data = _DECLARATION_SPACE_BYTES.sub(rb"\1", data, count=1)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    root: list[_Node] = []

    def refuse_doctype(*_: Any) -> None:
        # No DOCTYPE, hence no entity declarations: nothing to expand (billion laughs) or fetch (XXE).
        raise _XmlError("documents with a DOCTYPE are not accepted (the Native DICOM Model needs none)")

    def refuse_entity(*_: Any) -> None:
        raise _XmlError("entity declarations and references are not accepted")

    def refuse_external(*_: Any) -> int:
        raise _XmlError("external entities are not accepted")

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= _MAX_XML_DEPTH:
            raise _XmlError(f"elements nested deeper than {_MAX_XML_DEPTH} levels")
        node = _Node(_local(name), {_local(k): v for k, v in attrs.items()}, parser.CurrentLineNumber)
        node.attrs["xmlns"] = name.rsplit(" ", 1)[0] if " " in name else ""
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        stack[-1].text.append(text)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.SkippedEntityHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InvalidFileError(f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno} "
                               f"column {exc.offset + 1}") from None
    except _XmlError as exc:
        raise InvalidFileError(f"XML refused at line {parser.CurrentLineNumber}: {exc}") from None
    except RecursionError:
        raise InvalidFileError("XML nested too deeply") from None
    except (LookupError, UnicodeError) as exc:  # an unknown or wrong encoding in the XML declaration
        raise InvalidFileError(f"XML text cannot be decoded: {exc}") from None
    if not root:
        raise InvalidFileError("empty XML document")
    return root[0]


# ---------------------------------------------------------------------------------------------------
# Native DICOM Model -> data set


class _Located(Exception):
    def __init__(self, message: str, path: list[str], line: int) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line


def _at(node: _Node, exc: Exception) -> _Located:
    if isinstance(exc, _Located):
        exc.path.insert(0, node.where())
        return exc
    message = exc.message if isinstance(exc, ModelError) else str(exc)
    return _Located(message, [node.where()], node.line)


def _number(node: _Node) -> int:
    text = node.attrs.get("number")
    if text is None or not text.isdigit() or int(text) < 1:
        raise ModelError(f"{node.name} needs a number attribute of 1 or more, got {text!r}")
    return int(text)


def _ordered(nodes: list[_Node], what: str) -> list[_Node]:
    """Nodes in the order of their number attributes, which must run 1..n (PS3.19 A.1.5)."""
    try:
        numbered = sorted(((_number(n), n) for n in nodes), key=lambda p: p[0])
    except ModelError as exc:
        bad = next(n for n in nodes if not n.attrs.get("number", "").isdigit() or n.attrs["number"] == "0")
        raise _at(bad, exc) from None
    for expected, (number, node) in enumerate(numbered, 1):
        if number != expected:
            raise _at(node, ModelError(f"{what} numbers must run 1..{len(nodes)} without gaps or repeats, "
                                       f"found {number}"))
    return [n for _, n in numbered]


class _NativeReader:
    def __init__(self, builder: ElementBuilder) -> None:
        self.builder = builder

    def dataset(self, node: _Node, depth: int, charset: CharacterSet, top: bool = False) -> Dataset:
        if depth > MAX_DEPTH:
            raise ModelError(f"sequences nested deeper than {MAX_DEPTH} levels")
        for child in node.children:
            if child.name != "DicomAttribute":
                raise _at(child, ModelError(f"unexpected element <{child.name}> (only DicomAttribute here)"))
        if node.value().strip():
            raise ModelError(f"unexpected text {node.value().strip()[:40]!r} between attributes")
        attrs = node.children
        # Specific Character Set first: text given as binary is decoded with it (PS3.5 6.1.2.3).
        attrs = sorted(attrs, key=lambda n: n.attrs.get("tag", "").upper() != "00080005")
        ds = Dataset()
        creators: dict[tuple[int, str], int] = {}
        private: list[tuple[_Node, int, str]] = []
        for child in attrs:
            try:
                tag = _tag_of(child)
                creator = child.attrs.get("privateCreator")
                if creator is not None and is_private_group(tag >> 16):
                    private.append((child, tag, creator))
                    continue
                self.add(ds, child, tag, depth, charset, top)
                if tag == SPECIFIC_CHARACTER_SET:
                    charset = character_set(ds.character_set)
                if is_private_group(tag >> 16) and 0x10 <= (tag & 0xFFFF) <= 0xFF:
                    value = ds[tag].value
                    text = value.decode("latin_1") if isinstance(value, bytes) else str(value)
                    creators.setdefault((tag >> 16, text.strip(" \x00")), tag & 0xFF)
            except (ModelError, _Located) as exc:
                raise _at(child, exc) from None
        for child, tag, creator in private:
            try:
                real = self.private_tag(ds, creators, tag, creator.strip(" "))
                self.add(ds, child, real, depth, charset, top)
            except (ModelError, _Located) as exc:
                raise _at(child, exc) from None
        return ds

    def private_tag(self, ds: Dataset, creators: dict[tuple[int, str], int], tag: int, creator: str) -> int:
        """The tag of a private data element sent as gggg00ee with its creator (PS3.19 A.1.5)."""
        group = tag >> 16
        slot = creators.get((group, creator))
        if slot is None:
            used = {t & 0xFF for t in ds.tags() if t >> 16 == group and 0x10 <= (t & 0xFFFF) <= 0xFF}
            free = next((s for s in range(0x10, 0x100) if s not in used), None)
            if free is None:
                raise ModelError(f"no free private creator slot in group {group:04X} for {creator!r}")
            slot = free
            ds.add_new((group << 16) | slot, "LO", creator, validate=self.builder.validate)
            creators[(group, creator)] = slot
            self.builder.note(f"private creator {creator!r} of group {group:04X} was not in the document; "
                              f"added as ({group:04X},{slot:04X})")
        return (group << 16) | (slot << 8) | (tag & 0xFF)

    def add(self, ds: Dataset, node: _Node, tag: int, depth: int, charset: CharacterSet, top: bool) -> None:
        if tag in ds._elements:
            raise ModelError(f"{tag_str(tag)} occurs twice in the data set")
        ds._elements[tag] = self.attribute(node, tag, depth, charset, top)

    def attribute(self, node: _Node, tag: int, depth: int, charset: CharacterSet, top: bool) -> DataElement:
        vr = vr_of(tag, node.attrs.get("vr"))
        kinds = {c.name for c in node.children}
        if len(kinds) > 1:
            raise ModelError(f"a DicomAttribute holds one kind of content, found {', '.join(sorted(kinds))}")
        if node.value().strip():
            raise ModelError(f"text directly inside DicomAttribute: {node.value().strip()[:40]!r}")
        if not kinds:
            return DataElement(tag, vr, None)
        kind = kinds.pop()
        name = vr.value
        if kind == "Item":
            if name != "SQ":
                raise ModelError(f"Item elements in a {name} attribute")
            items = []
            for item in _ordered(node.children, "Item"):
                try:
                    items.append(self.dataset(item, depth + 1, charset))
                except (ModelError, _Located) as exc:
                    raise _at(item, exc) from None
            return DataElement(tag, vr, Sequence(items))
        if kind in ("InlineBinary", "BulkData"):
            if len(node.children) > 1:
                raise ModelError(f"more than one {kind} element")
            child = node.children[0]
            try:
                if kind == "InlineBinary":
                    return self.builder.from_bytes(tag, vr, _base64(child.value()), charset, top)
                uri = child.attrs.get("uri") or child.attrs.get("uuid")
                if not uri:
                    raise ModelError("BulkData needs a uri or uuid attribute (PS3.19 A.1.5)")
                return self.builder.from_bulk_data(tag, vr, uri, charset, top)
            except ModelError as exc:
                raise _at(child, exc) from None
        if kind == "PersonName":
            if name != "PN":
                raise ModelError(f"PersonName elements in a {name} attribute")
            names = []
            for pn in _ordered(node.children, "PersonName"):
                try:
                    names.append(_person_name(pn))
                except ModelError as exc:
                    raise _at(pn, exc) from None
            return self.builder.values(tag, vr, names)
        if kind == "Value":
            if name in ("SQ", "PN") or name in BYTES_VRS:
                raise ModelError(f"Value elements in a {name} attribute (PS3.19 A.1.5)")
            values = []
            for value in _ordered(node.children, "Value"):
                if value.children:
                    raise _at(value, ModelError(f"unexpected element <{value.children[0].name}> in Value"))
                try:
                    values.append(_value(name, value.value()))
                except ModelError as exc:
                    raise _at(value, exc) from None
            if name in STRING_VRS and name not in MULTI_STRING_VRS and len(values) > 1:
                raise ModelError(f"{name} holds a single value, got {len(values)}")
            return self.builder.values(tag, vr, values)
        raise ModelError(f"unexpected element <{kind}> in DicomAttribute")


def _tag_of(node: _Node) -> int:
    text = node.attrs.get("tag")
    if text is None or not _TAG_TEXT.match(text):
        raise ModelError(f"tag must be eight hexadecimal digits (PS3.19 A.1.5), got {text!r}")
    return int(text, 16)


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ModelError(f"InlineBinary is not valid base64: {exc}") from None


def _value(vr: str, text: str) -> Any:
    if vr in ("DS", "IS"):
        text = text.strip(" ")
        return text or None
    if vr == "AT":
        text = text.strip()
        if not text:
            return None
        if not _TAG_TEXT.match(text):
            raise ModelError(f"an AT value is eight hexadecimal digits (PS3.19 A.1.5), got {text!r}")
        return Tag(int(text, 16))
    if vr in NUMBER_FORMATS:
        text = text.strip()
        if not text:
            return None
        try:
            return float(text) if vr in ("FL", "FD") else int(text)
        except ValueError:
            raise ModelError(f"not a {vr} number: {text!r}") from None
    if vr in MULTI_STRING_VRS and "\\" in text:
        raise ModelError(f"a {vr} value cannot contain a backslash: {text!r}")
    return strip_padding(vr, text)


def _person_name(node: _Node) -> str:
    groups = ["", "", ""]
    for group in node.children:
        if group.name not in _GROUPS:
            raise ModelError(f"unexpected element <{group.name}> in PersonName")
        components = ["", "", "", "", ""]
        for comp in group.children:
            if comp.name not in _COMPONENTS:
                raise ModelError(f"unexpected element <{comp.name}> in {group.name}")
            text = comp.value()
            if any(d in text for d in "\\="):
                raise ModelError(f"{comp.name} cannot contain '\\' or '=': {text!r}")
            components[_COMPONENTS.index(comp.name)] = text
        groups[_GROUPS.index(group.name)] = "^".join(components).rstrip("^")
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def from_xml(
    data: str | bytes | bytearray,
    *,
    bulk_data_reader: BulkDataReader | None = None,
    transfer_syntax: str | None = None,
    binary_byte_order: Literal["little", "big"] = "little",
    validate: bool = False,
) -> Dataset:
    """A Dataset from a Native DICOM Model document (PS3.19 A.1).

    - ``bulk_data_reader(tag, vr, uri) -> bytes`` fetches ``BulkData`` values (``uri``, or the ``uuid`` as
      given); without one they are left empty, the data set is marked partial and each is listed in
      ``ds.read_corrections`` (as for JSON).
    - Group 0002 attributes become ``ds.file_meta``; with an encapsulated Transfer Syntax UID there (or
      ``transfer_syntax``) the top-level Pixel Data is read as encapsulated fragments.
    - ``binary_byte_order="big"`` reads InlineBinary words as big endian: DCMTK's dcm2xml (3.6.7) writes
      OW, OF, OD, OL and OV that way; PS3.18 and dicomkit use little endian.
    - Private data elements sent as ``gggg00ee`` with ``privateCreator`` get the block of that creator in
      the data set (or a new one).
    - Values are taken as a file's are, unless ``validate=True`` checks them (as for JSON).

    Malformed input raises :class:`~dicomkit.InvalidFileError` naming the place as an XPath and line.
    """
    if binary_byte_order not in ("little", "big"):
        raise InvalidValueError(f"binary_byte_order must be 'little' or 'big', got {binary_byte_order!r}")
    root = _parse_tree(bytes(data) if isinstance(data, bytearray) else data)
    if root.name in ("file-format", "data-set"):
        raise InvalidFileError("this is DCMTK's own XML format; dicomkit reads the Native DICOM Model "
                               "(dcm2xml --native-format)")
    if root.name != "NativeDicomModel":
        raise InvalidFileError(f"not a Native DICOM Model document: the root element is <{root.name}>")
    if root.attrs["xmlns"] not in ("", NAMESPACE):
        raise InvalidFileError(f"NativeDicomModel in the namespace {root.attrs['xmlns']!r}, not {NAMESPACE!r}")
    meta_nodes = [n for n in root.children if n.name == "DicomAttribute" and n.attrs.get("tag", "")[:4] == "0002"]
    ts = transfer_syntax
    if ts is None:
        for node in meta_nodes:
            if node.attrs.get("tag") == "00020010" and node.children:
                ts = node.children[0].value().strip("\x00 ")
    builder = ElementBuilder(bulk_data_reader, encapsulated=is_encapsulated_syntax(ts),
                             big_endian_binary=binary_byte_order == "big", model="Native DICOM Model",
                             validate=validate)
    reader = _NativeReader(builder)
    body = _Node(root.name, root.attrs, root.line)
    body.children = [n for n in root.children if n not in meta_nodes]
    body.text = root.text
    meta_root = _Node(root.name, root.attrs, root.line)
    meta_root.children = meta_nodes
    try:
        meta = reader.dataset(meta_root, 0, DEFAULT) if meta_nodes else None
        ds = reader.dataset(body, 0, DEFAULT, top=True)
    except (ModelError, _Located) as exc:
        located = exc if isinstance(exc, _Located) else _Located(exc.message, [], root.line)
        where = "/NativeDicomModel/" + "/".join(located.path)
        raise InvalidFileError(f"Native DICOM Model at {where} (line {located.line}): {located.message}") from None
    d = ds.__dict__
    if meta is not None:
        d["file_meta"] = meta
    if builder.corrections:
        d["read_corrections"] = builder.corrections
    if builder.missing_bulk_data:
        d["is_partial"] = True
    return ds


__all__ = ["NAMESPACE", "from_xml", "to_xml"]
