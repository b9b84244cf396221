"""Specific Character Set (0008,0005): decoding and encoding of SH, LO, ST, LT, PN, UC and UT values.

Implements the Defined Terms of PS3.3 C.12.1.1.2 (Tables C.12-2 to C.12-5), including ISO 2022 code
extensions with escape sequences (PS3.5 6.1.2.5), as illustrated by PS3.5 Annexes H (Japanese),
I (Korean), J (UTF-8, GB18030, GBK) and K (Chinese ISO 2022 IR 58).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidValueError

ESC = 0x1B
_BACKSLASH = "\\"


@dataclass(frozen=True)
class CodeElement:
    """One coded character set that escape sequences designate into G0 or G1 (PS3.5 6.1.2.5.1)."""

    term: str  # defined term that introduces it, e.g. "ISO 2022 IR 87"
    escape: bytes  # designation escape sequence
    g1: bool  # designated into G1 (high-bit bytes) rather than G0
    multibyte: bool
    codec: str  # Python codec used for the bytes of this set

    def decode(self, data: bytes) -> str:
        if self.codec == "iso2022_jp" or self.codec == "iso2022_jp_2":
            # 7-bit JIS X 0208 / 0212 designated into G0: let Python's ISO 2022 codecs read it.
            return (self.escape + data).decode(self.codec, "replace")
        return data.decode(self.codec, "replace")

    def encode_char(self, ch: str) -> bytes | None:
        """The bytes of ``ch`` in this set, or None when the set does not contain it."""
        try:
            if self.codec in ("iso2022_jp", "iso2022_jp_2"):
                raw = ch.encode(self.codec)
                if not raw.startswith(self.escape):
                    return None
                body = raw[len(self.escape):]
                if body.endswith(b"\x1b(B"):
                    body = body[:-3]
                return body if len(body) == 2 and b"\x1b" not in body else None
            raw = ch.encode(self.codec)
        except UnicodeEncodeError:
            return None
        if self.g1:
            return raw if all(b >= 0x80 for b in raw) and len(raw) == (2 if self.multibyte else 1) else None
        return raw if all(b < 0x80 for b in raw) else None


# G0 sets.
_ASCII = CodeElement("ISO 2022 IR 6", b"\x1b(B", g1=False, multibyte=False, codec="ascii")
_JIS_ROMAJI = CodeElement("ISO 2022 IR 13", b"\x1b(J", g1=False, multibyte=False, codec="ascii")
_JIS_X0208 = CodeElement("ISO 2022 IR 87", b"\x1b$B", g1=False, multibyte=True, codec="iso2022_jp")
_JIS_X0212 = CodeElement("ISO 2022 IR 159", b"\x1b$(D", g1=False, multibyte=True, codec="iso2022_jp_2")


def _g1(term: str, final: str, codec: str) -> CodeElement:
    return CodeElement(term, b"\x1b-" + final.encode(), g1=True, multibyte=False, codec=codec)


# PS3.3 Table C.12-3: single-byte sets with code extensions, (G1 escape final byte, codec).
_SINGLE_BYTE: dict[str, tuple[str, str]] = {
    "100": ("A", "latin_1"),
    "101": ("B", "iso8859_2"),
    "109": ("C", "iso8859_3"),
    "110": ("D", "iso8859_4"),
    "144": ("L", "iso8859_5"),
    "127": ("G", "iso8859_6"),
    "126": ("F", "iso8859_7"),
    "138": ("H", "iso8859_8"),
    "148": ("M", "iso8859_9"),
    "203": ("b", "iso8859_15"),
    "166": ("T", "tis_620"),
}

_G1_SETS: dict[str, CodeElement] = {
    f"ISO 2022 IR {num}": _g1(f"ISO 2022 IR {num}", final, codec) for num, (final, codec) in _SINGLE_BYTE.items()
}
_G1_SETS["ISO 2022 IR 13"] = CodeElement("ISO 2022 IR 13", b"\x1b)I", g1=True, multibyte=False, codec="shift_jis")
_G1_SETS["ISO 2022 IR 149"] = CodeElement("ISO 2022 IR 149", b"\x1b$)C", g1=True, multibyte=True, codec="euc_kr")
_G1_SETS["ISO 2022 IR 58"] = CodeElement("ISO 2022 IR 58", b"\x1b$)A", g1=True, multibyte=True, codec="gb2312")

_G0_MULTI: dict[str, CodeElement] = {"ISO 2022 IR 87": _JIS_X0208, "ISO 2022 IR 159": _JIS_X0212}

# Every escape sequence we recognise when decoding, longest first.
_ESCAPES: list[tuple[bytes, CodeElement]] = sorted(
    [(e.escape, e) for e in (_ASCII, _JIS_ROMAJI, _JIS_X0208, _JIS_X0212, *_G1_SETS.values())]
    + [(b"\x1b$@", _JIS_X0208)],  # JIS C 6226-1978 designation, seen in old Japanese data
    key=lambda item: -len(item[0]),
)

# PS3.3 Table C.12-2 and C.12-5: character sets without code extensions.
_NO_EXTENSIONS: dict[str, str] = {
    "": "ascii",
    "ISO_IR 6": "ascii",
    "ISO_IR 100": "latin_1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 144": "iso8859_5",
    "ISO_IR 127": "iso8859_6",
    "ISO_IR 126": "iso8859_7",
    "ISO_IR 138": "iso8859_8",
    "ISO_IR 148": "iso8859_9",
    "ISO_IR 203": "iso8859_15",
    "ISO_IR 13": "shift_jis",
    "ISO_IR 166": "tis_620",
    "ISO_IR 192": "utf_8",
    "GB18030": "gb18030",
    "GBK": "gbk",
}

_CONTROL_DELIMITERS = "\r\n\t\f"


def normalize_term(term: str) -> str:
    """Canonical spelling of a Specific Character Set defined term (tolerating common misspellings)."""
    t = term.strip().upper().replace("-", "_")
    if t in ("UTF_8", "UTF8"):
        return "ISO_IR 192"
    if t.startswith("ISO_2022") or t.startswith("ISO 2022"):
        rest = t[8:].strip(" _")
        rest = rest.replace("IR_", "IR ").replace("IR", "IR ").replace("IR  ", "IR ")
        return "ISO 2022 " + " ".join(rest.split())
    if t.startswith("ISO_IR") or t.startswith("ISO IR"):
        num = t[6:].strip(" _")
        return f"ISO_IR {num}" if num else ""
    return t


class CharacterSet:
    """A decoder/encoder for one value of Specific Character Set (one or more defined terms)."""

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.terms = terms
        self.unknown: list[str] = []
        norm = [normalize_term(t) for t in terms] or [""]
        self.extensions = any(t.startswith("ISO 2022") for t in norm) and not any(
            t in ("ISO_IR 192", "GB18030", "GBK") for t in norm
        )
        if not self.extensions:
            first = norm[0]
            # A lone multi-byte term wins even when value 1 is empty (seen in real files).
            for t in norm:
                if t in ("ISO_IR 192", "GB18030", "GBK"):
                    first = t
                    break
            codec = _NO_EXTENSIONS.get(first)
            if codec is None:
                self.unknown.append(terms[0] if terms else first)
                codec = "ascii"
            self.codec = codec
            self.elements: list[CodeElement] = []
            self.init_g0 = _JIS_ROMAJI if first == "ISO_IR 13" else _ASCII
            self.init_g1: CodeElement | None = None
            return
        self.codec = "ascii"
        elements: list[CodeElement] = []
        first = norm[0]
        if first in ("", "ISO 2022 IR 6", "ISO_IR 6"):
            self.init_g0, self.init_g1 = _ASCII, None
        elif first == "ISO 2022 IR 13" or first == "ISO_IR 13":
            self.init_g0, self.init_g1 = _JIS_ROMAJI, _G1_SETS["ISO 2022 IR 13"]
        elif first in _G1_SETS:
            self.init_g0, self.init_g1 = _ASCII, _G1_SETS[first]
        elif first.startswith("ISO_IR ") and "ISO 2022 IR " + first[7:] in _G1_SETS:
            self.init_g0, self.init_g1 = _ASCII, _G1_SETS["ISO 2022 IR " + first[7:]]
        else:
            self.init_g0, self.init_g1 = _ASCII, None
            if first in _G0_MULTI:
                elements.append(_G0_MULTI[first])  # value 1 must be single-byte; accept it anyway
            else:
                self.unknown.append(terms[0])
        if self.init_g1 is not None:
            elements.append(self.init_g1)
        for raw, t in zip(terms[1:], norm[1:], strict=False):
            if t.startswith("ISO_IR "):
                t = "ISO 2022 IR " + t[7:]
            if t in _G0_MULTI:
                elements.append(_G0_MULTI[t])
            elif t in _G1_SETS:
                elements.append(_G1_SETS[t])
            elif t not in ("", "ISO 2022 IR 6"):
                self.unknown.append(raw)
        self.elements = elements

    def __repr__(self) -> str:
        return f"CharacterSet({_BACKSLASH.join(self.terms)!r})"

    # -- decoding -------------------------------------------------------------------------------------
    def decode(self, data: bytes, vr: str) -> str:
        if not self.extensions:
            try:
                return data.decode(self.codec)
            except UnicodeDecodeError:
                if self.codec != "ascii":
                    return data.decode(self.codec, "replace")
                # Default repertoire holding bytes outside ISO 646: what real files mean most often.
                try:
                    return data.decode("utf_8")
                except UnicodeDecodeError:
                    return data.decode("latin_1")
        return self._decode_iso2022(data, _delimiters(vr))

    def _decode_iso2022(self, data: bytes, delimiters: str) -> str:
        out: list[str] = []
        g0, g1 = self.init_g0, self.init_g1
        i, n = 0, len(data)
        while i < n:
            c = data[i]
            if c == ESC:
                for seq, element in _ESCAPES:
                    if data.startswith(seq, i):
                        if element.g1:
                            g1 = element
                        else:
                            g0 = element
                        i += len(seq)
                        break
                else:
                    out.append("\x1b")  # unknown escape: keep it visible rather than guess
                    i += 1
                continue
            j = i
            if c >= 0x80:
                while j < n and data[j] >= 0x80:
                    j += 1
                run = data[i:j]
                if g1 is not None:
                    out.append(g1.decode(run))
                else:
                    out.append(run.decode("latin_1"))
                i = j
                continue
            if g0.multibyte:
                while j < n and 0x21 <= data[j] <= 0x7E:
                    j += 1
                if j > i:
                    out.append(g0.decode(data[i:j]))
                    i = j
                    continue
                # a space or control character inside a multi-byte G0 run
                ch = chr(c)
                out.append(ch)
                i += 1
                if ch in delimiters:
                    g0, g1 = self.init_g0, self.init_g1
                continue
            while j < n and data[j] < 0x80 and data[j] != ESC:
                j += 1
            text = data[i:j].decode("ascii")
            out.append(text)
            if any(d in text for d in delimiters):
                # PS3.5 6.1.2.5.3: after a delimiter the initial code elements are active again
                g0, g1 = self.init_g0, self.init_g1
            i = j
        return "".join(out)

    # -- encoding -------------------------------------------------------------------------------------
    def encode(self, text: str, vr: str) -> bytes:
        if not self.extensions:
            try:
                return text.encode(self.codec)
            except UnicodeEncodeError as exc:
                raise InvalidValueError(
                    f"{text!r} cannot be encoded in Specific Character Set {self.terms or '(default)'}: "
                    f"{exc.reason} at position {exc.start}; set SpecificCharacterSet (e.g. 'ISO_IR 192')"
                ) from None
        return self._encode_iso2022(text, _delimiters(vr))

    def _encode_iso2022(self, text: str, delimiters: str) -> bytes:
        out = bytearray()
        g0, g1 = self.init_g0, self.init_g1
        for ch in text:
            code = ord(ch)
            if ch in delimiters:
                if g0 is not self.init_g0:
                    out += self.init_g0.escape
                out += ch.encode("ascii")
                g0, g1 = self.init_g0, self.init_g1
                continue
            if code < 0x80 and code != ESC:
                if g0.multibyte:
                    out += self.init_g0.escape
                    g0 = self.init_g0
                out.append(code)
                continue
            candidates: list[CodeElement] = []
            if g1 is not None:
                candidates.append(g1)
            if g0.multibyte:
                candidates.append(g0)
            candidates += [e for e in self.elements if e not in candidates]
            for element in candidates:
                encoded = element.encode_char(ch)
                if encoded is None:
                    continue
                if element.g1:
                    if g1 is not element:
                        out += element.escape
                        g1 = element
                elif g0 is not element:
                    out += element.escape
                    g0 = element
                out += encoded
                break
            else:
                raise InvalidValueError(
                    f"character {ch!r} of {text!r} is in none of the character sets "
                    f"{_BACKSLASH.join(self.terms)}; add one that has it to SpecificCharacterSet"
                )
        if g0 is not self.init_g0:
            out += self.init_g0.escape
        return bytes(out)


def _delimiters(vr: str) -> str:
    if vr == "PN":
        return "^=\\" + _CONTROL_DELIMITERS
    if vr in ("LT", "ST", "UT"):
        return _CONTROL_DELIMITERS
    return "\\" + _CONTROL_DELIMITERS


@lru_cache(maxsize=256)
def character_set(terms: tuple[str, ...] | None) -> CharacterSet:
    """The (cached) CharacterSet for the values of Specific Character Set; None/() is the default."""
    return CharacterSet(tuple(terms or ()))


DEFAULT = character_set(())


def python_codecs(terms: tuple[str, ...]) -> list[str]:
    """The Python codecs behind a Specific Character Set (for diagnostics)."""
    cs = character_set(terms)
    if not cs.extensions:
        return [codecs.lookup(cs.codec).name]
    return [codecs.lookup(e.codec).name for e in [cs.init_g0, *cs.elements]]


def supported_terms() -> tuple[str, ...]:
    """Every Defined Term of Specific Character Set (0008,0005) read and written here (PS3.3 C.12.1.1.2):
    those without code extensions (Table C.12-2, C.12-4, C.12-5), then the ISO 2022 ones (C.12-3, C.12-4)."""
    plain = [t for t in _NO_EXTENSIONS if t]
    extended = ["ISO 2022 IR 6", *sorted(_G1_SETS, key=lambda t: int(t.rsplit(" ", 1)[1])), *_G0_MULTI]
    return (*plain, *dict.fromkeys(extended))
