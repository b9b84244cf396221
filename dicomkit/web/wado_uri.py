"""WADO-URI (PS3.18 9): ``/wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..``.

``contentType`` (a list, best first) picks ``application/dicom`` (the object, in ``transferSyntax`` if given:
as stored when it is the stored one, transcoded otherwise), ``image/jpeg`` or ``image/png`` (rendered by the
same pipeline as WADO-RS ``/rendered``, with ``frameNumber``, ``windowCenter``/``windowWidth``, ``rows``/
``columns`` and ``imageQuality``). Without ``contentType`` an image is answered as ``image/jpeg`` and other
objects as ``application/dicom`` (PS3.18 9.1.2.4).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .archive import Target
from .common import authorize, web_of
from .errors import WebError, bad_request
from .media import DICOM, JPEG, PNG
from .rendered import RenderOptions, cached_image
from .wado_rs import _frame_count, _object_body, transcodable

CONTENT_TYPES = (DICOM, JPEG, PNG)


def _int(request: Request, name: str, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name}={text!r}: expected an integer", name) from None
    if not low <= value <= high:
        raise bad_request(f"{name}={value}: expected {low} to {high}", name)
    return value


def _float(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise bad_request(f"{name}={text!r}: expected a number", name) from None


async def retrieve(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params
    if q.get("requestType", "").upper() != "WADO":
        raise bad_request("requestType must be WADO (PS3.18 9.1.2.1)", "requestType")
    names = {"studyUID": q.get("studyUID"), "seriesUID": q.get("seriesUID"), "objectUID": q.get("objectUID")}
    for name, value in names.items():
        if not value:
            raise bad_request(f"{name} is required (PS3.18 9.1.2.1)", name)
    target = Target(str(names["studyUID"]), names["seriesUID"], names["objectUID"])
    requester = authorize(request, "retrieve")
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-transferred", requester, rows, "WADO-URI")
    row = rows[0]
    wanted = [t.split(";")[0].strip().lower() for t in q.get("contentType", "").split(",") if t.strip()]
    unknown = [t for t in wanted if t not in CONTENT_TYPES and t not in ("*/*", "image/*")]
    wanted = [t for t in wanted if t not in unknown]
    if unknown and not wanted:
        raise WebError(406, f"contentType {', '.join(unknown)}: this server answers {', '.join(CONTENT_TYPES)}")
    if not wanted:
        stored = (await web.archive.headers([row])).get(row.pk)
        wanted = [JPEG if _frame_count(stored) else DICOM]
    media = wanted[0] if wanted[0] in CONTENT_TYPES else JPEG
    if media == DICOM:
        ts = q.get("transferSyntax") or row.transfer_syntax  # absent: as stored
        if not transcodable(row.transfer_syntax, ts):
            raise WebError(406, f"the object is stored in {row.transfer_syntax} and cannot be transcoded to {ts}")
        return StreamingResponse(_object_body(web.archive, row, ts), media_type=DICOM)
    frame = _int(request, "frameNumber", 1, 1 << 31) or 1
    center, width = _float(request, "windowCenter"), _float(request, "windowWidth")
    if (center is None) != (width is None):
        raise bad_request("windowCenter and windowWidth go together", "windowWidth" if width is None else
                          "windowCenter")
    if width is not None and width < 1:
        raise bad_request("windowWidth must be at least 1", "windowWidth")
    rows_, cols = _int(request, "rows", 1, 8192), _int(request, "columns", 1, 8192)
    viewport = None
    if rows_ or cols:
        viewport = (cols or 8192, rows_ or 8192)
    quality = _int(request, "imageQuality", 1, 100) or 90
    options = RenderOptions(media, (center, width) if center is not None and width is not None else None,
                            "LINEAR", viewport, None, quality)
    data = await cached_image(request, row, frame - 1, options)
    return Response(data, media_type=media)


__all__ = ["retrieve"]
