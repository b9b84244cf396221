"""DELETE of a study, series or instance (optional in PS3.18; off unless ``web.allow_delete``).

It goes through the archive's deletion path, the one of ``dicomkit archive delete``: the rows go in one
transaction, then the blobs (a crash between leaves files that the sweep or ``archive verify --repair``
removes). Answers 204 when done, 404 when the resource is not in the archive, 405 while deletion is off.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .common import authorize, web_of
from .errors import WebError
from .wado_rs import target_of


async def delete(request: Request) -> Response:
    """DELETE /studies/{study}[/series/{series}[/instances/{instance}]]"""
    web = web_of(request)
    target = target_of(request)
    if not web.config.allow_delete:
        raise WebError(405, "deletion over DICOMweb is off; set web.allow_delete = true (or use dicomkit archive "
                       "delete)", headers={"Allow": "GET, POST"})
    requester = authorize(request, "delete")
    await web.archive.instances(target, requester)  # 404 unless the resource is there, under the study/series named
    uid = target.instance or target.series or target.study
    from ..server.access import studies_touched

    touched = await web.archive.run(studies_touched, web.archive.archive.index, target.level, uid)
    await web.archive.run(web.archive.archive.delete, target.level, uid)
    web.audit.deleted(requester, touched, f"DICOMweb DELETE of {target.describe()}")
    return Response(status_code=204)


__all__ = ["delete"]
