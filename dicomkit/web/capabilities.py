"""The service's description of itself (PS3.18 8.9): ``OPTIONS /dicom-web/`` or ``GET /dicom-web/``.

Generated from the route table (:data:`.app.ROUTES`) and the archive's codecs, so it lists what the running
server actually does: a WADL document (``application/vnd.sun.wadl+xml``, PS3.18 8.9.1) by default, or the
same as JSON for ``Accept: application/json``.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import Response

from .common import service_root, web_of
from .media import FRAME_MEDIA_TYPES, NotAcceptable, negotiate

WADL = "application/vnd.sun.wadl+xml"


def transfer_syntaxes() -> dict[str, list[str]]:
    """What frames and instances can be had in: as stored always; transcoded to what the codecs write."""
    from .wado_rs import NATIVE

    try:
        from ..pixels.codecs import CODECS

        encodable = sorted(NATIVE | set(CODECS))
    except Exception:
        encodable = sorted(NATIVE)
    return {"as-stored": ["*"], "transcode-to": encodable,
            "frame-media-types": sorted(FRAME_MEDIA_TYPES)}


def description(request: Request) -> dict[str, Any]:
    from .app import ROUTES

    web = web_of(request)
    resources = []
    for r in ROUTES:
        if r.service == "DELETE" and not web.config.allow_delete:
            continue
        resources.append({"path": r.path, "methods": list(r.methods), "service": r.service, "answers": r.answers})
    return {
        "service": "dicomkit DICOMweb",
        "base": service_root(request),
        "resources": resources,
        "qido": {"max_limit": web.config.qido_max_limit, "fuzzymatching": True, "total_header": "X-Total-Count",
                 "includefield": "keywords, tags, all"},
        "wado": transfer_syntaxes(),
        "json_numbers": web.json_numbers,
        "stow": {"parts": ["application/dicom", "application/dicom+json with bulk data"],
                 "max_upload": int(web.config.max_upload), "duplicates": web.pacs.config.storage.duplicates},
        "cors_origins": web.config.cors_origins,
    }


def _wadl(desc: dict[str, Any]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<application xmlns="http://wadl.dev.java.net/2009/02">',
             f"  <resources base={quoteattr(desc['base'])}>"]
    for r in desc["resources"]:
        lines.append(f"    <resource path={quoteattr(r['path'])}>")
        for m in r["methods"]:
            lines.append(f"      <method name={quoteattr(m)} id={quoteattr(r['service'])}>")
            for media in r["answers"].split(", "):
                lines.append(f"        <response><representation mediaType={quoteattr(media)}/></response>")
            lines.append("      </method>")
        lines.append("    </resource>")
    lines += ["  </resources>", f"  <!-- {escape(json.dumps(desc['wado']))} -->", "</application>", ""]
    return "\n".join(lines)


async def describe(request: Request) -> Response:
    desc = description(request)
    try:
        choice = negotiate(request.headers.get("accept"), [WADL, "application/json", "application/xml"],
                           multipart=False)
    except NotAcceptable:
        choice = None
    if choice is not None and choice.media_type == "application/json":
        return Response(json.dumps(desc, indent=1), media_type="application/json")
    return Response(_wadl(desc), media_type=WADL)


__all__ = ["describe", "description"]
