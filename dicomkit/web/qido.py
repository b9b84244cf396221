"""QIDO-RS (PS3.18 10.6): ``/studies``, ``/series``, ``/instances`` and the nested searches.

The query parameters become the same query plan as a C-FIND
(:func:`~dicomkit.services.query_retrieve.qido.plan_from_query_params`: keywords or hex tags, ``includefield``
as repeated parameters or one comma-separated list, ``fuzzymatching``, ``limit``, ``offset``); the archive's
query source executes it on the index (one SQL query per page). The answer is ``application/dicom+json`` (or
``multipart/related; type="application/dicom+xml"``, one part per match), with the total number of matches
in ``X-Total-Count`` and, when ``limit`` cut the answer, ``Warning: 299`` saying how many more there are
(PS3.18 8.3.4.4). From a source of rows (the archive's index) the JSON answers are written straight from the
index rows (:class:`~dicomkit.services.query_retrieve.rows.JsonEncoder`); ``includefield=all``, sequence keys
and XML take the data sets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..io.json_model import datasets_to_json
from ..services.query_retrieve.errors import QueryError
from ..services.query_retrieve.levels import Level
from ..services.query_retrieve.matching import response_identifier
from ..services.query_retrieve.plan import QueryPlan
from ..services.query_retrieve.qido import QidoQuery, plan_from_query_params
from ..services.query_retrieve.rows import JsonEncoder, RowMatch
from .common import authorize, json_response, service_root, web_of
from .errors import WebError
from .media import DICOM_JSON, DICOM_XML, JSON, NotAcceptable, negotiate
from .multipart import Part, content_type, new_boundary, one, write_parts

RETRIEVE_URL = 0x00081190
INSTANCE_AVAILABILITY = 0x00080056
QUERY_RETRIEVE_LEVEL = 0x00080052
UIDS = {Level.STUDY: 0x0020000D, Level.SERIES: 0x0020000E, Level.IMAGE: 0x00080018}
TOTAL_HEADER = "X-Total-Count"


def _retrieve_url(root: str, level: Level, ds: Dataset | RowMatch, study: str | None,
                  series: str | None) -> str | None:
    study = str(ds.value(0x0020000D, "") or study or "")
    if not study:
        return None
    url = f"{root}/studies/{study}"
    if level is Level.STUDY:
        return url
    series = str(ds.value(0x0020000E, "") or series or "")
    if not series:
        return None
    url += f"/series/{series}"
    if level is Level.SERIES:
        return url
    sop = str(ds.value(0x00080018, "") or "")
    return f"{url}/instances/{sop}" if sop else None


async def search(request: Request) -> Response:
    """GET /studies, /series, /instances, /studies/{study}/series, /studies/{study}/instances,
    /studies/{study}/series/{series}/instances"""
    web = web_of(request)
    resource = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    study = request.path_params.get("study")
    series = request.path_params.get("series")
    requester = authorize(request, "search")
    try:
        choice = negotiate(request.headers.get("accept"), [DICOM_JSON, JSON, DICOM_XML], multipart=None)
    except NotAcceptable as exc:
        raise WebError(406, str(exc)) from None
    if choice.media_type == DICOM_XML and not choice.multipart:
        raise WebError(406, "application/dicom+xml answers are multipart/related; type=\"application/dicom+xml\"")
    try:
        query = plan_from_query_params(resource, list(request.query_params.multi_items()), study_uid=study,
                                       series_uid=series, max_limit=web.config.qido_max_limit)
    except QueryError as exc:
        raise WebError(400, str(exc), parameter=getattr(exc, "parameter", None)) from None
    web.audit.query(requester, request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    source = web.query_source
    plan = query.plan
    total = await source.count(plan, requester)
    root = service_root(request)
    level = plan.level
    assert level is not None
    lean = not any(k.is_sequence for k in plan.keys)
    find_rows = getattr(source, "find_rows", None)
    if lean and find_rows is not None and not query.include_all and choice.media_type != DICOM_XML:
        # each answer's JSON straight from its index row (no data set per match)
        rows: list[tuple[RowMatch, str | None]] = []
        async for row in find_rows(plan, requester, limit=query.limit, offset=query.offset):
            rows.append((row, _retrieve_url(root, level, row, study, series)))
        encoder = JsonEncoder(plan, numbers_as=web.json_numbers)
        body = await web.archive.run(_rows_body, encoder, rows)
        headers = _headers(query, total, len(rows))
        return json_response(request, body, media_type=choice.media_type, headers=headers)
    matches: list[Dataset] = []
    async for match in source.find(plan, requester, limit=query.limit, offset=query.offset):
        url = _retrieve_url(root, level, match, study, series)
        if lean:
            matches.append(_answer(plan, match, url))
            continue
        out = response_identifier(plan, match, instance_availability="ONLINE", retrieve_url=url)
        if QUERY_RETRIEVE_LEVEL in out:
            del out[QUERY_RETRIEVE_LEVEL]  # a C-FIND element; QIDO-RS answers have none
        matches.append(out)
    if query.include_all and matches:
        await web.include_all(level, matches)
    headers = _headers(query, total, len(matches))
    if choice.media_type == DICOM_XML:
        return _xml_response(matches, headers)
    numbers = web.json_numbers
    body = await web.archive.run(_json_body, matches, numbers)
    return json_response(request, body, media_type=choice.media_type, headers=headers)


def _headers(query: QidoQuery, total: int, answered: int) -> dict[str, str]:
    """X-Total-Count, and the Warning: 299 headers (PS3.18 8.3.4.4)."""
    warnings = list(query.warnings)
    shown = query.offset + answered
    if shown < total:
        warnings.append(f"There are {total - shown} additional results that can be requested")
    headers = {TOTAL_HEADER: str(total), "Access-Control-Expose-Headers": f"{TOTAL_HEADER}, Warning"}
    if warnings:
        headers["Warning"] = ", ".join(f'299 dicomkit "{w}"' for w in warnings)
    return headers


def _rows_body(encoder: JsonEncoder, rows: list[tuple[RowMatch, str | None]]) -> bytes:
    return encoder.array([encoder.text(row, url) for row, url in rows]).encode()


def _answer(plan: QueryPlan, match: Dataset, retrieve_url: str | None) -> Dataset:
    """The answer for a match of a plan without sequence keys: every return key, with the source's element
    (shared, not copied) or empty (PS3.18 10.6.3.3), Instance Availability ONLINE and the Retrieve URL. The
    same as :func:`response_identifier` less the Specific Character Set, which DICOM JSON (always UTF-8) does
    not need, and the Query/Retrieve Level; plans with sequence keys take that function."""
    out = Dataset()
    for key in plan.keys:
        tag = key.tag
        if tag == RETRIEVE_URL:
            out.add(DataElement(RETRIEVE_URL, "UR", retrieve_url))
        elif tag == INSTANCE_AVAILABILITY:
            out.add(DataElement(INSTANCE_AVAILABILITY, "CS", "ONLINE"))
        elif tag != QUERY_RETRIEVE_LEVEL:
            elem = match.get(tag)
            out.add(elem if elem is not None and tag >> 16 != 0x7FE0 else DataElement(tag, key.vr, None))
    return out


def _json_body(matches: list[Dataset], numbers: str) -> bytes:
    # datasets_to_json keeps the DICOM text of IS/DS numbers (2.50, not 2.5)
    return datasets_to_json(matches, numbers_as=numbers).encode()  # type: ignore[arg-type]


def _xml_response(matches: list[Dataset], headers: dict[str, str]) -> Response:
    from ..io.xml_model import to_xml

    boundary = new_boundary()

    async def parts() -> AsyncIterator[Part]:
        for ds in matches:
            text = to_xml(ds)
            data = text.encode() if isinstance(text, str) else bytes(text)
            yield Part({"Content-Type": f"{DICOM_XML}; charset=utf-8"}, one(data))

    return StreamingResponse(write_parts(parts(), boundary), media_type=content_type(DICOM_XML, boundary),
                             headers=headers)


async def _include_all(web: Any, level: Level, matches: list[Dataset]) -> None:
    """``includefield=all``: every attribute of the level that the archive holds, from the stored header of
    a (the first) instance of each entity."""
    from ..services.query_retrieve.levels import PATIENT_ROOT

    uid_tag = UIDS[level]
    column = {Level.STUDY: "st.study_instance_uid", Level.SERIES: "s.series_instance_uid",
              Level.IMAGE: "i.sop_instance_uid"}[level]
    uids = [str(m.value(uid_tag, "") or "") for m in matches]

    def headers() -> dict[str, dict[str, Any]]:
        from ..server.index.header import decompress_json

        db = web.archive.archive.index.read()
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uids), 500):
            chunk = uids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.rows(f"SELECT {column}, min(i.pk) FROM instances i JOIN series s ON s.pk = i.series_pk "
                           f"JOIN studies st ON st.pk = s.study_pk WHERE {column} IN ({marks}) GROUP BY {column}",
                           chunk)
            pks = {int(pk): uid for uid, pk in rows}
            if not pks:
                continue
            marks = ",".join("?" * len(pks))
            for pk, header in db.rows(f"SELECT instance_pk, header FROM instance_headers WHERE instance_pk IN "
                                      f"({marks})", list(pks)):
                out[pks[int(pk)]] = decompress_json(header)
        return out

    from ..io.json_model import from_json

    found = await web.archive.run(headers)
    levels = {Level.STUDY: (Level.PATIENT, Level.STUDY), Level.SERIES: (Level.SERIES,), Level.IMAGE: (Level.IMAGE,)}
    wanted = levels[level]
    for match, uid in zip(matches, uids):
        header = found.get(uid)
        if header is None:
            continue
        ds = from_json(header)
        for tag in ds.tags():
            if tag in match or tag >> 16 in (0x0002, 0x7FE0):
                continue
            if level is Level.IMAGE or PATIENT_ROOT.level_of(tag) in wanted:
                elem = ds.get(tag)
                if elem is not None and "BulkDataURI" not in json.dumps(header.get(f"{tag:08X}", {})):
                    match.add(elem)


__all__ = ["TOTAL_HEADER", "search"]
