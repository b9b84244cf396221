"""Media types of DICOMweb (PS3.18 8.7) and the negotiation of an Accept header against what a resource offers.

An ``Accept`` header is a list of :class:`MediaRange` (type, parameters, quality). The parameters that
matter here are ``type`` (of a ``multipart/related`` range) and ``transfer-syntax`` (PS3.18 8.7.3.5.2),
quoted or not: OHIF sends ``multipart/related; type="application/octet-stream"; transfer-syntax=*``.
:func:`negotiate` picks the first offer the client accepts, highest quality first, and returns it with
the transfer syntax asked for (``*``: as stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"
JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
MULTIPART_RELATED = "multipart/related"
ZIP = "application/zip"
JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

# PS3.18 Table 8.7.3-5: the media type of a frame or bulk data value in each transfer syntax (the first of
# each media type is its default transfer syntax).
FRAME_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    OCTET_STREAM: (EXPLICIT_LE, IMPLICIT_LE, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"),
    "image/jpeg": ("1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                   "1.2.840.10008.1.2.4.57"),
    "image/jls": ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
    "image/jp2": ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"),
    "image/jpx": ("1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"),
    "image/jphc": ("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"),
    "image/dicom-rle": ("1.2.840.10008.1.2.5",),
    "video/mpeg": ("1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101"),
    "video/mp4": ("1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104",
                  "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106"),
    "video/H265": ("1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108"),
}
MEDIA_TYPE_OF_SYNTAX: dict[str, str] = {ts: media for media, syntaxes in FRAME_MEDIA_TYPES.items()
                                        for ts in syntaxes}


@dataclass(frozen=True)
class MediaRange:
    """One member of an Accept header: ``main/sub`` (``*`` wildcards allowed), parameters (lower-case
    names, unquoted values) and the quality ``q``."""

    main: str
    sub: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    @property
    def media_type(self) -> str:
        return f"{self.main}/{self.sub}"

    def matches(self, media_type: str) -> bool:
        main, _, sub = media_type.lower().partition("/")
        return self.main in ("*", main) and self.sub in ("*", sub)

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax")

    @property
    def related_type(self) -> str | None:
        """The ``type`` parameter of a multipart range (the media type of its parts)."""
        value = self.params.get("type")
        return value.lower() if value else None


class NotAcceptable(Exception):
    """No offer of the resource is acceptable (HTTP 406); the message says what the resource offers."""


def split_header(value: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside quoted strings."""
    out, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == sep and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [p.strip() for p in out if p.strip()]


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse_media_type(text: str) -> tuple[str, dict[str, str]]:
    """``("multipart/related", {"type": "application/dicom", "boundary": "..."})`` of a Content-Type."""
    parts = split_header(text, ";")
    if not parts:
        return "", {}
    params: dict[str, str] = {}
    for p in parts[1:]:
        name, eq, value = p.partition("=")
        if eq:
            params[name.strip().lower()] = unquote(value)
    return parts[0].strip().lower(), params


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an Accept header, best first (absent or empty: ``*/*``). Ranges that are not
    ``type/subtype`` are ignored; a bad ``q`` counts as 1 (RFC 9110 12.5.1 leaves that to the server)."""
    if not header or not header.strip():
        return [MediaRange("*", "*")]
    ranges: list[tuple[float, int, MediaRange]] = []
    for n, member in enumerate(split_header(header)):
        media, params = parse_media_type(member)
        main, slash, sub = media.partition("/")
        if not slash or not main or not sub:
            continue
        q = 1.0
        if "q" in params:
            try:
                q = min(1.0, max(0.0, float(params.pop("q"))))
            except ValueError:
                q = 1.0
        if q > 0:
            ranges.append((q, n, MediaRange(main, sub, params, q)))
    ranges.sort(key=lambda r: (-r[0], r[1]))
    return [r[2] for r in ranges]


@dataclass(frozen=True)
class Choice:
    """What :func:`negotiate` chose: the media type of the response (or of each part of a multipart one),
    whether it is multipart, and the transfer syntax asked for (None: none named; ``*``: as stored)."""

    media_type: str
    multipart: bool
    transfer_syntax: str | None


def negotiate(accept: str | None, offers: list[str], *, multipart: bool | None = None) -> Choice:
    """The first of ``offers`` (part media types, in the server's order of preference) that an Accept
    header allows. ``multipart``: True when the resource answers ``multipart/related`` only, False when it
    answers single parts only, None when both are possible (single part for a bare range, PS3.18 8.7.5).
    """
    for rng in parse_accept(accept):
        if rng.main == "multipart":
            if multipart is False or rng.sub not in ("related", "*"):
                continue
            wanted = rng.related_type
            for offer in offers:
                if wanted is None or MediaRange(*wanted.partition("/")[::2]).matches(offer):
                    return Choice(offer, True, rng.transfer_syntax)
            continue
        for offer in offers:
            if rng.matches(offer):
                return Choice(offer, multipart is True, rng.transfer_syntax)
    shown = ", ".join(f"multipart/related; type=\"{o}\"" if multipart else o for o in offers)
    raise NotAcceptable(f"the Accept header {accept!r} allows none of what this resource offers: {shown}")


__all__ = [
    "DICOM",
    "DICOM_JSON",
    "DICOM_XML",
    "EXPLICIT_LE",
    "FRAME_MEDIA_TYPES",
    "MEDIA_TYPE_OF_SYNTAX",
    "OCTET_STREAM",
    "Choice",
    "MediaRange",
    "NotAcceptable",
    "negotiate",
    "parse_accept",
    "parse_media_type",
]
