"""What every endpoint shares: who asked, the service's base URL, DICOM JSON responses (gzip when accepted)."""

from __future__ import annotations

import gzip
import itertools
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from ..services.sources import Requester
from .errors import WebError
from .media import DICOM_JSON, JSON

if TYPE_CHECKING:
    from ..server.auth import Identity
    from .app import Web

GZIP_MIN = 1024  # bodies shorter than this are sent as they are
_request_ids = itertools.count(1)


def web_of(request: Request) -> Web:
    web: Web = request.state.web  # set by app.bind for every endpoint
    return web


def identity_of(request: Request) -> Identity | None:
    """The authenticated user (:mod:`dicomkit.server.httpauth` sets it when HTTP authentication is configured;
    None when it is not, and the port answers loopback clients only or as ``http.allow_remote`` says)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity


def requester_of(request: Request) -> Requester:
    """Who made the request: the client address, the HTTP user and the study labels it is limited to.
    Passed to every archive call (the sources restrict every query, retrieval and count by its labels)."""
    client = request.client
    identity = identity_of(request)
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = f"H{next(_request_ids)}"
        request.state.request_id = rid
    return Requester(address=client.host if client else None, port=client.port if client else None,
                     user_identity=identity.name if identity is not None else None, association_id=rid,
                     protocol="dicomweb", labels=identity.visibility.labels if identity is not None else None)


# what each DICOMweb action needs of the user's roles (dicomkit.server.auth.roles)
ACTIONS = {"search": "read", "retrieve": "read", "store": "store", "delete": "delete", "operate": "operate"}


def authorize(request: Request, action: str) -> Requester:
    """The requester, when the user's roles allow ``action`` (search, retrieve, store, delete, operate);
    WebError 403 saying what is missing otherwise. Every endpoint calls it before it reads or writes."""
    identity = identity_of(request)
    needed = ACTIONS[action]
    if identity is not None and not identity.permits(needed):
        roles = ", ".join(identity.roles) or "none"
        raise WebError(403, f"user {identity.name!r} (roles: {roles}) may not {action}: that needs a role with "
                       f"the {needed!r} permission ({_roles_with(needed)})")
    return requester_of(request)


def _roles_with(permission: str) -> str:
    from ..server.auth.roles import ROLES

    return ", ".join(name for name, granted in ROLES.items() if permission in granted)


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


__all__ = ["accepts_gzip", "authorize", "identity_of", "json_response", "requester_of", "service_root", "web_of"]
