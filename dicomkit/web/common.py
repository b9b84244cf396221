"""What every endpoint shares: who asked, the service's base URL, DICOM JSON responses (gzip when accepted)."""

from __future__ import annotations

import gzip
import itertools
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from ..services.sources import Requester
from .media import DICOM_JSON, JSON

if TYPE_CHECKING:
    from .app import Web

GZIP_MIN = 1024  # bodies shorter than this are sent as they are
_request_ids = itertools.count(1)


def web_of(request: Request) -> Web:
    web: Web = request.state.web  # set by app.bind for every endpoint
    return web


def requester_of(request: Request) -> Requester:
    """Who made the request: the client address and, once authentication exists, the HTTP user (the
    security issue sets ``request.state.user``). Passed to every archive call."""
    client = request.client
    user = getattr(request.state, "user", None)
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = f"H{next(_request_ids)}"
        request.state.request_id = rid
    return Requester(address=client.host if client else None, port=client.port if client else None,
                     user_identity=user, association_id=rid, protocol="dicomweb")


def service_root(request: Request) -> str:
    """The absolute URL of the DICOMweb root (``http://host:8042/dicom-web``), as the client reached it."""
    web = web_of(request)
    base = str(request.base_url).rstrip("/")
    prefix = web.prefix
    return base if base.endswith(prefix) else base + prefix


def accepts_gzip(request: Request) -> bool:
    """Accept-Encoding names gzip (or ``*``) with a quality above 0 (RFC 9110 12.5.3)."""
    for member in request.headers.get("accept-encoding", "").split(","):
        name, _, params = member.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                if float(q[2:]) <= 0:
                    continue
            except ValueError:
                pass
        return True
    return False


def json_response(request: Request, body: bytes, *, status: int = 200, media_type: str = DICOM_JSON,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON body, gzip-compressed when the client accepts it and it is worth it."""
    out = dict(headers or {})
    out["Vary"] = "Accept-Encoding"
    if len(body) >= GZIP_MIN and accepts_gzip(request):
        body = gzip.compress(body, 5)
        out["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, media_type=media_type, headers=out)


def plain_json(request: Request, body: bytes, status: int = 200) -> Response:
    return json_response(request, body, status=status, media_type=JSON)


__all__ = ["accepts_gzip", "json_response", "requester_of", "service_root", "web_of"]
