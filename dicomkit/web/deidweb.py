"""De-identified DICOMweb for the users and roles of ``[deid]`` (issue 14, docs/security.md).

A request by such a user is served by the same endpoints with a de-identifying view of the archive in place
of the archive (:class:`DeidWeb`, set on the request by :func:`route`):

- **UIDs**: the user sees and sends replacement UIDs only (:class:`~dicomkit.server.deidview.UidMap`: the
  keyed pseudonyms of the move/get export, each recorded in the index when handed out). A path or query
  UID is translated back to the original before the archive is asked; one that was never handed out is
  not found (404), and an original UID is not found either.
- **Whole objects** (WADO-RS instances, zips, WADO-URI ``application/dicom``): each object read (verified
  when configured), de-identified in memory by the export's engine, then transcoded if asked.
- **Metadata** and **bulk data**: from the de-identified data set (not the stored header), with BulkDataURIs
  to the replacement UIDs.
- **Pixels** (frames, rendered images, thumbnails, pixel bulk data, whole objects): the profile leaves the
  pixels as they are, so an instance that may carry burned-in identification
  (:func:`~dicomkit.server.deidview.burned_in_refusal`) is refused (403) when asked for alone and left out
  of study and series answers, unless ``deid.allow_burned_in``.
- **QIDO-RS**: the answers de-identified attribute by attribute (UIDs replaced consistently with WADO);
  matching on an attribute the profile changes (names, IDs, dates, descriptions, ...) is refused (400),
  since the answer would tell which originals match; UIDs match by their replacement.
- **Audit**: as for everyone, naming the original studies, the description saying *(de-identified)*.
- **DELETE** is refused (403); STOW-RS works as for other users.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ..core.dataset import Dataset
from ..core.dictionary import tag_for_keyword
from ..deid.profile import BurnedInAnnotationError, DeidentificationError
from ..io.reader import read
from ..io.writer import to_bytes
from ..server.deidview import (
    NOWHERE,
    SERIES_UID,
    STUDY_UID,
    UID_LEVELS,
    DeidView,
    burned_in_refusal,
    identifying_match,
)
from ..server.index import InstanceRow
from ..server.index.header import build_header
from ..services.query_retrieve.errors import QueryError
from ..services.query_retrieve.levels import Level
from ..services.query_retrieve.plan import QueryPlan
from ..services.query_retrieve.qido import plan_from_query_params
from ..services.sources import Requester
from .app import Web
from .archive import Target, WebArchive
from .common import identity_of, web_of
from .errors import WebError, not_found

Endpoint = Callable[[Request], Awaitable[Response]]

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def route(web: Web, request: Request, endpoint: Endpoint) -> tuple[Web, Endpoint]:
    """The web state and endpoint for this request: the de-identified ones when the user is designated."""
    view: DeidView | None = getattr(web.pacs, "deid_view", None)
    if view is None or not view.applies(identity_of(request)):
        return web, endpoint
    from . import delete, qido, wado_rs

    if endpoint is delete.delete:  # a view by replacement UIDs is for reading (and STOW-RS of new objects)
        raise WebError(403, "a user that sees de-identified data may not delete")
    if endpoint is qido.search:
        return DeidWeb(web, view, pixels=False), search
    return DeidWeb(web, view, pixels=endpoint is not wado_rs.metadata), endpoint


class DeidWebArchive(WebArchive):
    """The archive as a de-identified user sees it (one per request; see the module documentation)."""

    def __init__(self, base: WebArchive, view: DeidView, *, pixels: bool) -> None:
        super().__init__(base.pacs)
        self.view = view
        self.pixels = pixels  # the request shows pixels: instances that may carry burned-in text are refused
        self.originals: dict[str, InstanceRow] = {}  # replacement SOP Instance UID -> the stored row
        self.refused: dict[int, str] = {}  # row pk -> why its pixels are not shown

    # -- UIDs -------------------------------------------------------------------------------------------
    def original_target(self, target: Target) -> Target | None:
        uids = self.view.uids
        study = uids.original(target.study, "study")
        series = uids.original(target.series, "series") if target.series else None
        instance = uids.original(target.instance, "instance") if target.instance else None
        if study is None or (target.series and series is None) or (target.instance and instance is None):
            return None
        return Target(study, series, instance)

    def _mapped(self, rows: list[InstanceRow]) -> list[InstanceRow]:
        uids = self.view.uids
        out, pairs = [], []
        for row in rows:
            study, series, sop = (uids.replace(row.study_instance_uid, "study"),
                                  uids.replace(row.series_instance_uid, "series"),
                                  uids.replace(row.sop_instance_uid, "instance"))
            pairs += [(study, row.study_instance_uid, "study"), (series, row.series_instance_uid, "series"),
                      (sop, row.sop_instance_uid, "instance")]
            self.originals[sop] = row
            out.append(replace(row, study_instance_uid=study, series_instance_uid=series, sop_instance_uid=sop))
        uids.remember(pairs)
        return out

    def _deid_rows(self, target: Target, requester: Requester) -> list[InstanceRow]:
        original = self.original_target(target)
        if original is None:
            return []
        rows = self._rows(original, requester)
        if self.pixels and rows and not self.view.allow_burned_in:
            headers = self._headers([r.pk for r in rows])
            for row in rows:
                stored = headers.get(row.pk)
                header = json.loads(_unzip(stored[0])) if stored is not None else {}
                reason = burned_in_refusal(header, row.sop_class_uid, False)
                if reason is not None:
                    self.refused[row.pk] = reason
            if target.instance and rows[0].pk in self.refused:
                raise WebError(403, f"instance {target.instance} is not shown to a de-identified user: "
                               f"{self.refused[rows[0].pk]}")
            kept = [r for r in rows if r.pk not in self.refused]
            if not kept:
                raise WebError(403, f"no instance of {target.describe()} is shown to a de-identified user: "
                               f"{next(iter(self.refused.values()))}")
            rows = kept
        return self._mapped(rows)

    async def instances(self, target: Target, requester: Requester) -> list[InstanceRow]:
        rows = await self.run(self._deid_rows, target, requester)
        if not rows:
            raise not_found(f"no {target.describe()} in this archive")
        return rows

    # -- what leaves ------------------------------------------------------------------------------------
    def _row(self, row: InstanceRow) -> InstanceRow:
        original = self.originals.get(row.sop_instance_uid)
        if original is None:  # only rows this view listed are read
            raise not_found(f"no instance {row.sop_instance_uid} in this archive")
        return original

    def _clean(self, ds: Dataset, row: InstanceRow) -> Dataset:
        try:
            return self.view.export.dataset(ds)
        except DeidentificationError as exc:
            raise WebError(403, f"instance {row.sop_instance_uid} is not shown to a de-identified user: "
                           f"{exc}") from None

    def dataset(self, row: InstanceRow, *, stop_before_pixels: bool = False) -> Dataset:
        """The de-identified data set of a listed row (403 for pixels that may carry burned-in text)."""
        original = self._row(row)
        if original.pk in self.refused:
            raise WebError(403, f"instance {row.sop_instance_uid} is not shown to a de-identified user: "
                           f"{self.refused[original.pk]}")
        ds = super().dataset(original, stop_before_pixels=stop_before_pixels)
        try:
            return self.view.export.dataset(ds)
        except BurnedInAnnotationError:
            if self.pixels:
                raise WebError(403, f"instance {row.sop_instance_uid} is not shown to a de-identified user: its "
                               "pixel data may carry burned-in identification") from None
        for tag in _PIXEL_TAGS:  # metadata: the pixels do not leave, and nothing links to them
            if tag in ds:
                del ds[tag]
        return self._clean(ds, row)

    def open_whole(self, row: InstanceRow) -> BinaryIO:
        with super().open_whole(self._row(row)) as f:  # verified while read when configured
            data = f.read()
        ds = read(data)
        ts = str(ds.transfer_syntax or row.transfer_syntax)
        return io.BytesIO(to_bytes(self._clean(ds, row), transfer_syntax=ts))

    def read_range(self, row: InstanceRow, offset: int, length: int) -> bytes:
        original = self._row(row)
        if original.pk in self.refused:
            raise WebError(403, f"instance {row.sop_instance_uid} is not shown to a de-identified user: "
                           f"{self.refused[original.pk]}")
        try:
            return super().read_range(original, offset, length)
        except WebError as exc:  # said of the replacement, not the original
            raise WebError(exc.status, exc.message.replace(original.sop_instance_uid, row.sop_instance_uid),
                           headers=exc.headers) from None

    def _deid_headers(self, rows: list[InstanceRow]) -> dict[int, tuple[bytes, str | None]]:
        stored = self._headers([self._row(r).pk for r in rows])
        out: dict[int, tuple[bytes, str | None]] = {}
        for row in rows:
            original = self._row(row)
            clean = self.dataset(row)
            header = build_header(clean, None, 0, row.transfer_syntax)
            bulk = None
            kept = stored.get(original.pk)
            if kept is not None and kept[1] is not None and 0x7FE00010 in clean:
                frames = json.loads(kept[1]).get("frames")  # the profile leaves the pixels: their byte ranges hold
                bulk = json.dumps({"frames": frames}) if frames is not None else None
            out[row.pk] = (header.header, bulk)
        return out

    async def headers(self, rows: Any) -> dict[int, tuple[bytes, str | None]]:
        """The de-identified header of each listed row (bulk data other than frames read from the
        de-identified data set, not by stored byte ranges)."""
        return await self.run(self._deid_headers, list(rows))


def _unzip(data: bytes) -> bytes:
    import zlib

    return zlib.decompress(data)


class DeidWebAudit:
    """The web audit, naming the original studies and saying *(de-identified)*."""

    def __init__(self, base: Any, archive: DeidWebArchive) -> None:
        self.base, self.archive = base, archive

    def query(self, requester: Requester, query: str) -> None:
        self.base.query(requester, query + " (de-identified)")

    def instances(self, web: Any, event: str, requester: Requester, rows: Any, what: str) -> None:
        originals = [self.archive.originals.get(r.sop_instance_uid, r) for r in rows]
        self.base.instances(web, event, requester, originals, f"{what} (de-identified)")

    def deleted(self, requester: Requester, studies: Any, what: str) -> None:
        self.base.deleted(requester, studies, what)


class DeidWeb(Web):
    """The shared web state with the de-identifying archive, audit and query source (one per request)."""

    def __init__(self, base: Web, view: DeidView, *, pixels: bool) -> None:  # Web.__init__ is not run: the base's state
        self.__dict__.update(base.__dict__)
        self.base, self.view = base, view
        self.archive = DeidWebArchive(base.archive, view, pixels=pixels)
        self.audit = DeidWebAudit(base.audit, self.archive)  # type: ignore[assignment]
        self.source: DeidQuerySource | None = None

    @property
    def query_source(self) -> Any:
        return self.source if self.source is not None else self.base.query_source

    async def include_all(self, level: Level, matches: list[Dataset]) -> None:
        if self.source is None:
            return
        await self.source.include_all(level, matches)


# -- QIDO-RS ------------------------------------------------------------------------------------------------
def _tag_of(name: str) -> int | None:
    if len(name) == 8:
        try:
            return int(name, 16)
        except ValueError:
            pass
    return tag_for_keyword(name)


async def search(request: Request) -> Response:
    """QIDO-RS for a de-identified user: UIDs translated, identifying matches refused, answers de-identified."""
    from . import qido

    web = web_of(request)
    assert isinstance(web, DeidWeb)
    archive = cast(DeidWebArchive, web.archive)
    uids = web.view.uids
    params = dict(request.path_params)
    originals: dict[str, str] = {}
    for name, level in (("study", "study"), ("series", "series")):
        if name in params:
            found = await archive.run(uids.original, params[name], level)
            params[name] = originals[name] = found or NOWHERE
    items: list[tuple[str, str]] = []
    for name, value in request.query_params.multi_items():
        tag = _tag_of(name)
        if tag in UID_LEVELS and value:
            level = UID_LEVELS[tag]
            values = [v for v in value.replace("\\", ",").split(",") if v]
            known: list[str | None] = [await archive.run(uids.original, v, level) for v in values]
            value = ",".join(k or NOWHERE for k in known)
        items.append((name, value))
    resource = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    try:
        query = plan_from_query_params(resource, items, study_uid=params.get("study"),
                                       series_uid=params.get("series"), max_limit=web.config.qido_max_limit)
    except QueryError:
        query = None  # the endpoint answers 400 saying why
    why = identifying_match(query.plan, web.view.export.engine.profile) if query is not None else None
    if why is not None:
        raise WebError(400, why, parameter=why.split(":", 1)[0])
    scope = dict(request.scope)
    scope["path_params"] = params
    scope["query_string"] = urlencode(items).encode()
    web.source = DeidQuerySource(web, originals)
    answer: Response = await qido.search(Request(scope, request.receive))
    return answer


class DeidQuerySource:
    """The archive's query source with every match de-identified (and ``includefield=all`` done on the
    originals, then de-identified)."""

    def __init__(self, web: DeidWeb, path: dict[str, str]) -> None:
        self.web, self.path = web, path
        self.found: list[Dataset] = []  # the original matches, in the order given out

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        total: int = await self.web.base.query_source.count(plan, requester)
        return total

    async def find(self, plan: QueryPlan, requester: Requester, *, limit: int | None = None,
                   offset: int = 0) -> AsyncIterator[Dataset]:
        inner = self.web.base.query_source
        found = [m async for m in inner.find(plan, requester, limit=limit, offset=offset)]
        self.found = found
        for clean in await self.web.archive.run(self._clean_all, found):
            yield clean

    def _clean_all(self, matches: list[Dataset]) -> list[Dataset]:
        path = {STUDY_UID: self.path["study"]} if "study" in self.path else {}
        if "series" in self.path:
            path[SERIES_UID] = self.path["series"]
        return self.web.view.clean_matches(matches, path)

    async def include_all(self, level: Level, matches: list[Dataset]) -> None:
        """``includefield=all``: every attribute of the level from the stored headers of the originals,
        de-identified, added to the answers (in the order :meth:`find` gave them)."""
        from .qido import _include_all

        originals = [m.copy() for m in self.found]
        await _include_all(self.web.base, level, originals)
        cleaned = await self.web.archive.run(lambda: [self.web.view.export.dataset(o) for o in originals])
        for answer, clean in zip(matches, cleaned):
            for elem in clean:
                if elem.tag not in answer and int(elem.tag) >> 16 not in (0x0002, 0x7FE0):
                    answer.add(elem)


__all__ = ["DeidQuerySource", "DeidWeb", "DeidWebArchive", "route", "search"]
