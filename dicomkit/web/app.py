"""The DICOMweb service and the viewer as routes of ``dicomkit serve``'s HTTP app.

:data:`ROUTES` is the service as data: path, methods, endpoint and what it answers — the router and the
capabilities description (:mod:`.capabilities`) are both made from it. :func:`routes` is the entry point
``dicomkit serve`` loads (``[project.entry-points."dicomkit.http"]``): DICOMweb under ``/dicom-web``
(CORS as configured, errors as JSON bodies that say why), WADO-URI at ``/wado``, the viewer at ``/``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..core.errors import DicomError
from . import capabilities, delete, qido, rendered, stow, wado_rs, wado_uri
from .archive import WebArchive
from .audit import WebAudit
from .errors import WebError, error_response
from .rendered import RenderCache

if TYPE_CHECKING:
    from ..server.app import Pacs
    from ..server.config import WebConfig

log = logging.getLogger("dicomkit.web")

PREFIX = "/dicom-web"
Endpoint = Callable[[Request], Awaitable[Response]]

S = "/studies/{study}"
SE = S + "/series/{series}"
I = SE + "/instances/{instance}"  # noqa: E741


@dataclass(frozen=True)
class Resource:
    path: str
    methods: tuple[str, ...]
    endpoint: Endpoint
    service: str  # QIDO-RS, WADO-RS, STOW-RS, WADO-URI, capabilities
    answers: str  # media types, for the capabilities description


ROUTES: tuple[Resource, ...] = (
    Resource("/", ("GET", "OPTIONS"), capabilities.describe, "capabilities",
             "application/vnd.sun.wadl+xml, application/json"),
    Resource("/studies", ("GET",), qido.search, "QIDO-RS", "application/dicom+json, multipart/related; "
             "type=application/dicom+xml"),
    Resource("/studies", ("POST",), stow.store, "STOW-RS", "application/dicom+json"),
    Resource("/series", ("GET",), qido.search, "QIDO-RS", "application/dicom+json"),
    Resource("/instances", ("GET",), qido.search, "QIDO-RS", "application/dicom+json"),
    Resource(S, ("GET",), wado_rs.retrieve, "WADO-RS", "multipart/related; type=application/dicom, application/zip"),
    Resource(S, ("POST",), stow.store, "STOW-RS", "application/dicom+json"),
    Resource(S, ("DELETE",), delete.delete, "DELETE", "204 No Content"),
    Resource(S + "/metadata", ("GET",), wado_rs.metadata, "WADO-RS", "application/dicom+json"),
    Resource(S + "/rendered", ("GET",), rendered.rendered, "WADO-RS", "multipart/related; type=image/jpeg|image/png"),
    Resource(S + "/thumbnail", ("GET",), rendered.thumbnail, "WADO-RS", "image/jpeg, image/png"),
    Resource(S + "/series", ("GET",), qido.search, "QIDO-RS", "application/dicom+json"),
    Resource(S + "/instances", ("GET",), qido.search, "QIDO-RS", "application/dicom+json"),
    Resource(SE, ("GET",), wado_rs.retrieve, "WADO-RS", "multipart/related; type=application/dicom, application/zip"),
    Resource(SE, ("DELETE",), delete.delete, "DELETE", "204 No Content"),
    Resource(SE + "/metadata", ("GET",), wado_rs.metadata, "WADO-RS", "application/dicom+json"),
    Resource(SE + "/rendered", ("GET",), rendered.rendered, "WADO-RS", "multipart/related; type=image/jpeg|image/png"),
    Resource(SE + "/thumbnail", ("GET",), rendered.thumbnail, "WADO-RS", "image/jpeg, image/png"),
    Resource(SE + "/instances", ("GET",), qido.search, "QIDO-RS", "application/dicom+json"),
    Resource(I, ("GET",), wado_rs.retrieve, "WADO-RS", "multipart/related; type=application/dicom, application/dicom"),
    Resource(I, ("DELETE",), delete.delete, "DELETE", "204 No Content"),
    Resource(I + "/metadata", ("GET",), wado_rs.metadata, "WADO-RS", "application/dicom+json"),
    Resource(I + "/rendered", ("GET",), rendered.rendered, "WADO-RS", "image/jpeg, image/png"),
    Resource(I + "/thumbnail", ("GET",), rendered.thumbnail, "WADO-RS", "image/jpeg, image/png"),
    Resource(I + "/frames/{frames}", ("GET",), wado_rs.frames, "WADO-RS",
             "multipart/related; type=application/octet-stream|image/jpeg|image/jls|image/jp2|image/jphc|..."),
    Resource(I + "/frames/{frames}/rendered", ("GET",), rendered.rendered, "WADO-RS", "image/jpeg, image/png"),
    Resource(I + "/frames/{frames}/thumbnail", ("GET",), rendered.thumbnail, "WADO-RS", "image/jpeg, image/png"),
    Resource(I + "/bulk/{tag}", ("GET",), wado_rs.bulkdata, "WADO-RS",
             "application/octet-stream (Range), multipart/related; type=application/octet-stream"),
    Resource("/wado", ("GET",), wado_uri.retrieve, "WADO-URI", "application/dicom, image/jpeg, image/png"),
)


class Web:
    """The state the endpoints share: the archive, the query source, the settings, the render cache."""

    prefix = PREFIX

    def __init__(self, pacs: Pacs) -> None:
        self.pacs = pacs
        self.config: WebConfig = pacs.config.web
        self.archive = WebArchive(pacs)
        self.render_cache = RenderCache(int(self.config.render_cache))
        self.audit = WebAudit(pacs)
        self.json_numbers = self.config.json_numbers

    @property
    def query_source(self) -> Any:
        """The archive's query source (index SQL, shared with C-FIND): ``find(plan, requester, limit=,
        offset=)`` and ``count(plan, requester)``."""
        return self.pacs.sources.query

    async def include_all(self, level: Any, matches: list[Any]) -> None:
        """``includefield=all`` on QIDO-RS answers (:mod:`.deidweb` does it on the originals, de-identified)."""
        await qido._include_all(self, level, matches)


def bind(web: Web, endpoint: Endpoint) -> Endpoint:
    """The endpoint with the shared state on the request and its errors turned into answers."""
    from . import deidweb  # it builds on Web

    async def handle(request: Request) -> Response:
        try:
            state, serve = deidweb.route(web, request, endpoint)  # [deid] users: the de-identified view
            request.state.web = state
            return await serve(request)
        except WebError as exc:
            return error_response(exc)
        except Exception as exc:
            if not _unavailable(exc):
                return await _other_error(request, exc)
            log.warning("%s %s: the index is unavailable: %s", request.method, request.url.path, exc)
            return error_response(WebError(503, f"the archive's index is unavailable: {exc}",
                                           headers={"Retry-After": "30"}))

    handle.__name__ = getattr(endpoint, "__name__", "endpoint")
    return handle


def _unavailable(exc: BaseException) -> bool:
    """The database cannot answer (IndexError_, or the driver's operational errors): 503, try again."""
    import sqlite3

    from ..server.index.dialect import IndexError_

    if isinstance(exc, IndexError_ | sqlite3.OperationalError):
        return True
    return type(exc).__module__.startswith("psycopg") and type(exc).__name__ in ("OperationalError",
                                                                                 "InterfaceError")


async def _other_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DicomError):  # what the request named could not be read as DICOM
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(WebError(400, str(exc)))
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(WebError(500, f"the server failed: {type(exc).__name__}: {exc}"))


def dicomweb_app(web: Web) -> Starlette:
    """The DICOMweb service (mounted at ``/dicom-web``)."""
    routes = [Route(r.path, bind(web, r.endpoint), methods=list(r.methods)) for r in ROUTES]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return JSONResponse({"status": status, "error": "Not Found" if status == 404 else "Method Not Allowed",
                             "message": f"{request.method} {request.url.path}: no such DICOMweb resource"
                             if status == 404 else f"{request.method} is not allowed on {request.url.path}"},
                            status_code=status)

    middleware = []
    origins = [o.strip() for o in web.config.cors_origins.split(",") if o.strip()]
    if origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=origins,
                                     allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                                     allow_headers=["*"], max_age=600,
                                     expose_headers=["X-Total-Count", "Warning", "ETag", "Content-Range",
                                                     "Content-Location"]))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: not_found})


def viewer_dir() -> Path | None:
    """The built viewer shipped in the package (``dicomkit/web/viewer``), None when it was not built."""
    path = Path(str(resources.files("dicomkit.web") / "viewer"))
    return path if (path / "index.html").is_file() else None


def routes(pacs: Pacs) -> list[BaseRoute]:
    """The routes ``dicomkit serve`` adds to its HTTP app (the ``dicomkit.http`` entry point)."""
    web = Web(pacs)
    out: list[BaseRoute] = [Mount(PREFIX, app=dicomweb_app(web)),
                            Route("/wado", bind(web, wado_uri.retrieve), methods=["GET"])]
    folder = viewer_dir()
    if web.config.viewer and folder is not None:
        out.append(Mount("/", app=StaticFiles(directory=folder, html=True)))
    return out


def describe(pacs: Pacs) -> str:
    return "DICOMweb /dicom-web/, WADO-URI /wado" + (", viewer /" if viewer_dir() is not None else "")


__all__ = ["PREFIX", "ROUTES", "Resource", "Web", "describe", "dicomweb_app", "routes"]
