"""The HTTP side of ``dicomkit serve``: one ASGI application (starlette), health and Prometheus metrics.

Routes are data (DESIGN.md): ``/health`` (JSON: the node, the DIMSE listener, whether the index answers;
503 when it does not) and ``/metrics`` (the Prometheus text format). Further routes come from the
``dicomkit.http`` entry points (:func:`extension_routes`): the web layer (DICOMweb under ``/dicom-web/``,
WADO-URI, the viewer at ``/``) sits above the server and registers itself there, so this module never
imports it. Until HTTP authentication is configured (a user with a password, or JWT keys:
:mod:`.httpauth`), only loopback clients are answered unless ``http.allow_remote``
(``--http-allow-remote``) says otherwise — as Orthanc's ``RemoteAccessAllowed`` — so the archive never
reaches the network by accident; once it is, every request but ``/health`` needs credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from .httpauth import Authenticate, HttpAuth, http_auth_configured

if TYPE_CHECKING:
    from .app import Pacs

log = logging.getLogger("dicomkit.server")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class LoopbackOnly:
    """ASGI middleware: 403 for HTTP clients that are not on this machine."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if not is_loopback(client[0] if client else None):
                response = PlainTextResponse(
                    "remote HTTP access is off: dicomkit serve answers only clients on this machine until "
                    "authentication is configured; start it with --http-allow-remote to answer others\n",
                    status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


ENTRY_POINTS = "dicomkit.http"


def extension_routes(pacs: Pacs) -> tuple[list[BaseRoute], list[str]]:
    """The routes of the installed ``dicomkit.http`` entry points (each ``factory(pacs) -> [routes]``), and
    their names. One that fails to load is left out with a warning: health and metrics still answer."""
    from importlib.metadata import entry_points

    routes: list[BaseRoute] = []
    names: list[str] = []
    for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        try:
            routes += ep.load()(pacs)
            names.append(ep.name)
        except Exception as exc:
            log.warning("HTTP extension %s not loaded: %s", ep.name, exc)
    return routes, names


def create_app(pacs: Pacs, *, extensions: bool = True) -> ASGIApp:
    archive = pacs.archive

    async def health(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(archive.executor, lambda: archive.index.count("study"))
            index = "ok"
        except Exception as exc:
            index = f"unavailable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        body = {"status": "ok" if index == "ok" else "degraded", "node": archive.node,
                "ae_title": pacs.ae_title, "dicom_port": pacs.port, "index": index,
                "database": archive.index.dialect_name, "durability": archive.config.storage.durability}
        return JSONResponse(body, status_code=200 if index == "ok" else 503)

    async def metrics(request: Request) -> Response:
        text = await asyncio.get_running_loop().run_in_executor(archive.executor, archive.metrics.render)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [Route("/health", health), Route("/metrics", metrics)]
    if extensions:
        extra, names = extension_routes(pacs)
        routes += extra
        pacs.http_extensions = names
    app: ASGIApp = Starlette(routes=routes)
    policy = pacs.policy
    if policy is not None and http_auth_configured(pacs.config, policy.authenticator):
        # every route but /health needs credentials; any client may then connect (issue 14)
        app = Authenticate(app, HttpAuth(pacs.config, policy.authenticator, policy.auditor))
    elif not archive.config.http.allow_remote:
        app = LoopbackOnly(app)
    return app


__all__ = ["ENTRY_POINTS", "LoopbackOnly", "create_app", "extension_routes", "is_loopback"]
