"""RELAX NG Compact (the notation of PS3.15 A.5.1.1) to the XML syntax of RELAX NG, for the part of the
compact syntax the DICOM Audit Message Schema uses: ``datatypes`` declarations, named patterns, ``start``,
``element`` / ``attribute`` with a name, sequences (``,``), choices (``|``), ``?``, ``*``, ``+``, parentheses,
string values, ``text``, the built-in ``token`` and ``string`` types and prefixed datatypes (``xsd:dateTime``).

The shipped ``schema/audit_message.rng`` is ``to_rng(audit_message.rnc)``; validators such as
``xmllint --relaxng`` read only the XML syntax. Anything outside this subset raises :class:`RncError`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ...core.errors import DicomError

RNG = "http://relaxng.org/ns/structure/1.0"
_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"]*"|[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?|[{}(),|?*+=]')
_KEYWORDS = {"element", "attribute", "text", "token", "string", "datatypes", "start", "empty"}


class RncError(DicomError):
    """A compact schema outside the supported subset, or malformed."""


@dataclass
class _Tokens:
    items: list[str]
    pos: int = 0

    def peek(self) -> str | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise RncError(f"unexpected end of schema{f', expected {expected!r}' if expected else ''}")
        if expected is not None and tok != expected:
            raise RncError(f"expected {expected!r}, found {tok!r} (token {self.pos})")
        self.pos += 1
        return tok


def _tokenize(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RncError(f"cannot read the schema at {text[pos:pos + 20]!r}")
        tok = m.group()
        pos = m.end()
        if not tok.isspace() and not tok.startswith("#"):
            out.append(tok)
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.t = _Tokens(_tokenize(text))
        self.prefixes: dict[str, str] = {"xsd": "http://www.w3.org/2001/XMLSchema-datatypes"}

    def grammar(self) -> ET.Element:
        root = ET.Element("grammar", {"xmlns": RNG})
        while self.t.peek() == "datatypes":
            self.t.take()
            prefix = self.t.take()
            self.t.take("=")
            self.prefixes[prefix] = self._string(self.t.take())
        while self.t.peek() is not None:
            name = self.t.take()
            self.t.take("=")
            body = self.pattern()
            node = ET.SubElement(root, "start") if name == "start" else ET.SubElement(root, "define", {"name": name})
            node.extend(body)
        return root

    @staticmethod
    def _string(tok: str) -> str:
        if not (tok.startswith('"') and tok.endswith('"')):
            raise RncError(f"expected a string literal, found {tok!r}")
        return tok[1:-1]

    def pattern(self) -> list[ET.Element]:
        """A sequence or choice of particles, as the children it contributes."""
        first = self.particle()
        op = self.t.peek()
        if op not in (",", "|"):
            return [first]
        parts = [first]
        while self.t.peek() == op:
            self.t.take()
            parts.append(self.particle())
        if self.t.peek() in (",", "|"):
            raise RncError("',' and '|' mixed without parentheses")
        if op == "|":
            choice = ET.Element("choice")
            choice.extend(parts)
            return [choice]
        return parts

    def _group(self, children: list[ET.Element]) -> ET.Element:
        if len(children) == 1:
            return children[0]
        group = ET.Element("group")
        group.extend(children)
        return group

    def particle(self) -> ET.Element:
        node = self.primary()
        suffix = self.t.peek()
        wrapper = {"?": "optional", "*": "zeroOrMore", "+": "oneOrMore"}.get(suffix or "")
        if wrapper is not None:
            self.t.take()
            outer = ET.Element(wrapper)
            outer.append(node)
            return outer
        return node

    def primary(self) -> ET.Element:
        tok = self.t.take()
        if tok in ("element", "attribute"):
            name = self.t.take()
            if name in _KEYWORDS or not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", name):
                raise RncError(f"{tok} names other than plain names are not supported ({name!r})")
            self.t.take("{")
            body = self.pattern()
            self.t.take("}")
            node = ET.Element(tok, {"name": name})
            node.extend(body)
            return node
        if tok == "(":
            body = self.pattern()
            self.t.take(")")
            return self._group(body)
        if tok.startswith('"'):
            value = ET.Element("value", {"type": "token", "datatypeLibrary": ""})
            value.text = self._string(tok)
            return value
        if tok == "text":
            return ET.Element("text")
        if tok == "empty":
            return ET.Element("empty")
        if tok in ("token", "string"):
            return ET.Element("data", {"type": tok, "datatypeLibrary": ""})
        if ":" in tok:
            prefix, _, local = tok.partition(":")
            if prefix not in self.prefixes:
                raise RncError(f"datatype prefix {prefix!r} is not declared")
            return ET.Element("data", {"type": local, "datatypeLibrary": self.prefixes[prefix]})
        if tok in _KEYWORDS or not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", tok):
            raise RncError(f"unexpected {tok!r} in a pattern")
        return ET.Element("ref", {"name": tok})


def to_rng(compact: str) -> str:
    """The XML syntax of the compact schema ``compact`` (UTF-8 text, indented, ending with a newline)."""
    root = _Parser(compact).grammar()
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["RncError", "to_rng"]
