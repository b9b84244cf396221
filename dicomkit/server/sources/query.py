"""The index as the services' sources: C-FIND, C-MOVE / C-GET and Storage Commitment on the archive.

:class:`IndexQuerySource` answers a :class:`~dicomkit.services.query_retrieve.plan.QueryPlan` with one SQL
query per level (:mod:`.sql` decides what is matched in SQL, what in Python on the row's columns and what on
the stored headers), streamed in keyset pages (``pk > last ORDER BY pk LIMIT n``: memory stays flat at any
number of matches, no cursor is held between pages, and C-CANCEL simply stops asking for the next page).
Responses are made from the index columns and, for keys without one, from the DICOM JSON header stored at
ingest — never from the DICOM files. For QIDO-RS, :meth:`IndexQuerySource.find` takes ``limit`` and
``offset`` and :meth:`IndexQuerySource.count` gives the total; the order is stable (the order in which the
entities were first indexed).

:class:`IndexRetrieveSource` gives the instances of a C-MOVE / C-GET plan as
:class:`~dicomkit.services.sources.StoredObject` read from the blob store; :class:`IndexCommitmentSource`
checks each instance of a Storage Commitment request (indexed, same SOP Class, blob present with the
SHA-256 recorded at ingest).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...core.dataset import Dataset
from ...core.element import DataElement
from ...core.errors import DicomError
from ...io.json_model import from_json
from ...services.commitment import (
    CLASS_INSTANCE_CONFLICT,
    NO_SUCH_OBJECT_INSTANCE,
    PROCESSING_FAILURE,
    CommitmentResult,
    SopReference,
)
from ...services.query_retrieve.levels import (
    INSTANCE_AVAILABILITY,
    RETRIEVE_AE_TITLE,
    TIMEZONE_OFFSET_FROM_UTC,
    Level,
)
from ...services.query_retrieve.matching import Matcher, response_identifier
from ...services.query_retrieve.plan import KeyMatch, QueryPlan, vr_of
from ...services.query_retrieve.rows import RowLayout, RowMatch, row_element
from ...services.sources import LOCAL, Requester, StoredObject
from ..index.header import decompress_json
from ..integrity import IntegrityError, verified_opener
from .sql import ALIASES, DEPTH, SPECS, Spec, Translation, column_sql, entity_depth, extra_depths, translate

if TYPE_CHECKING:
    from ..blobs import BlobStore
    from ..index import Index

log = logging.getLogger("dicomkit.server.query")

PAGE = 500  # rows per keyset page


class HeaderScope:
    """Which attributes without a column a match at ``target`` reads from its stored header: those of its level
    or above (at the instance level, every one)."""

    __slots__ = ("target",)

    def __init__(self, target: int) -> None:
        self.target = target

    def __call__(self, tag: int) -> bool:
        if tag in SPECS:
            return False
        depth = entity_depth(tag)
        return (depth is not None and depth <= self.target) or self.target == 3


RowRecord = RowMatch  # one entity: its index columns, then the stored header of its first instance


def element(tag: int, spec: Spec, value: Any, vr: str | None = None) -> DataElement | None:
    """A column value as a data element (None for NULL); see :func:`~dicomkit.services.query_retrieve.rows.
    row_element`."""
    return row_element(tag, vr or vr_of(tag), spec.kind in ("int", "count"), value)


def read_rows(index: Index, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read on this thread's connection; a connection the database dropped (a restart) is
    replaced and the read tried once more."""
    for attempt in (1, 2):
        db = index.read()
        try:
            return db.rows(sql, params)
        except Exception as exc:
            if not db.dialect.is_unavailable(exc):
                raise
            index._readers.drop()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _visibility(labels: frozenset[str] | None, target: int) -> tuple[str, list[Any], set[int]]:
    """The SQL condition restricting entities at ``target`` to the studies with one of ``labels`` (patients:
    those with such a study), its parameters and the tables it needs joined (:class:`Visibility`)."""
    if labels is None:
        return "", [], set()
    if not labels:
        return "1 = 0", [], set()
    from ..auth.labels import Visibility

    if target == 0:
        predicate, params = Visibility(labels).sql("vst.pk")
        return f"EXISTS (SELECT 1 FROM studies vst WHERE vst.patient_pk = p.pk AND {predicate})", params, set()
    predicate, params = Visibility(labels).sql(f"{ALIASES[1]}.pk")
    return predicate, params, {1}


class IndexQuery:
    """A plan translated at a target level, run page by page on the index (blocking)."""

    def __init__(self, index: Index, plan: QueryPlan, target: Level, *, select_keys: bool = True,
                 extra_columns: Sequence[str] = (), labels: frozenset[str] | None = None,
                 constants: Mapping[int, DataElement | None] | None = None) -> None:
        self.index = index
        self.target = DEPTH[target]
        self.translation: Translation = translate(plan, target, postgres=index.is_postgres,
                                                  extra=extra_depths(index.extra_keys), labels=labels)
        unsupported = self.translation.unsupported
        self.plan = plan.relaxed(unsupported) if unsupported else plan
        t = self.translation
        self.python_keys: list[KeyMatch] = t.python_columns + t.python_header
        self.matcher = Matcher(replace(self.plan, keys=tuple(self.python_keys))) if self.python_keys else None
        # the columns to read: return keys (and those Python matches) that have a column at or above the target
        wanted: dict[int, Spec] = {}
        keys = list(self.plan.keys) if select_keys else []
        for key in keys + self.python_keys:
            for tag in (key.tag, key.paired_with):
                spec = SPECS.get(tag) if tag is not None else None
                if spec is not None and spec.depth <= self.target:
                    wanted[tag] = spec  # type: ignore[index]
        if self.plan.options.timezone_adjustment and self.python_keys:
            spec = SPECS[TIMEZONE_OFFSET_FROM_UTC]
            if spec.depth <= self.target:
                wanted[TIMEZONE_OFFSET_FROM_UTC] = spec
        self.columns = list(wanted.items())
        # each match is its row as it came (primary key first), read through this layout
        self.layout = RowLayout([k.tag for k in self.plan.keys] if select_keys else (),
                                [(tag, vr_of(tag), spec.kind in ("int", "count")) for tag, spec in self.columns],
                                offset=1, constants=constants, in_header=HeaderScope(self.target))
        self.extra_columns = list(extra_columns)
        self.depths = {spec.depth for _, spec in self.columns}
        for name in self.extra_columns:
            alias = name.split(".", 1)[0]
            self.depths.add(ALIASES.index(alias))
        header_for_return = any(SPECS.get(k.tag) is None and (
            (entity_depth(k.tag) is not None and entity_depth(k.tag) <= self.target)  # type: ignore[operator]
            or self.target == 3) for k in keys)
        self.needs_header = bool(t.python_header) or header_for_return
        alias = ALIASES[self.target]
        select = [f"{alias}.pk"] + [column_sql(s, labels) for _, s in self.columns] + self.extra_columns
        self._select = ", ".join(select)
        # the requester's study labels (issue 14): one predicate on the study of each entity, in the same query
        visible, visible_params, count_depths = _visibility(labels, self.target)
        self.depths |= count_depths
        self._from = t.from_clause(self.depths)
        self._count_from = t.from_clause(count_depths)
        self._where = t.where_clause() + (f" AND {visible}" if visible else "")
        self._params = [*t.params, *visible_params]

    # -- SQL ------------------------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return read_rows(self.index, sql, params)

    def sql(self) -> tuple[str, list[Any]]:
        """The query of the first page (for logs and EXPLAIN)."""
        alias = ALIASES[self.target]
        return (f"SELECT {self._select} FROM {self._from} WHERE {self._where} AND {alias}.pk > ? "
                f"ORDER BY {alias}.pk LIMIT ?", [*self._params, 0, PAGE])

    def count(self) -> int:
        """How many entities match (counted in SQL unless some key is matched in Python)."""
        if self.matcher is None:
            rows = self._rows(f"SELECT count(*) FROM {self._count_from} WHERE {self._where}", self._params)
            return int(rows[0][0])
        return sum(1 for _ in self.records())

    def pages(self, *, limit: int | None = None, offset: int = 0,
              page: int = PAGE) -> Generator[list[tuple[RowRecord, tuple[Any, ...]]], None, None]:
        """The matches, a page at a time: (record, the extra columns) per entity, in pk order.

        The first page is one query with ``LIMIT`` (what most queries need: a few matches, at once, on the
        pooled connection). When it is full, the rest comes from one streamed query (``pk > last``) on a
        connection of its own: each row is evaluated once, however many pages follow."""
        alias = ALIASES[self.target]
        # SQLite would walk the target table in pk order to spare a sort, testing every row; the unary "+"
        # (which keeps the value) leaves it the indexes of the conditions, and a bounded sort per page
        order = f"{alias}.pk" if self.index.is_postgres else f"+{alias}.pk"
        base = f"SELECT {self._select} FROM {self._from} WHERE {self._where} AND {order} > ? ORDER BY {order}"
        params = self._params
        in_sql = self.matcher is None
        skip = 0 if in_sql else offset
        left = [limit]

        layout, matcher, first_extra = self.layout, self.matcher, 1 + len(self.columns)

        def keep(rows: list[tuple[Any, ...]]) -> list[tuple[RowMatch, tuple[Any, ...]]]:
            nonlocal skip
            headers = self._headers([r[0] for r in rows]) if self.needs_header and rows else {}
            out = []
            for row in rows:
                record = RowMatch(layout, row, headers.get(row[0]) if headers else None)
                if matcher is not None and not matcher(record):
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append((record, row[first_extra:] if self.extra_columns else ()))
                if left[0] is not None:
                    left[0] -= 1
                    if left[0] == 0:
                        break
            return out

        size = page if limit is None or not in_sql else min(page, limit)
        if size <= 0:
            return
        if in_sql and offset:
            rows = self._rows(base + " LIMIT ? OFFSET ?", [*params, 0, size, offset])
        else:
            rows = self._rows(base + " LIMIT ?", [*params, 0, size])
        chunk = keep(rows)
        if chunk:
            yield chunk
        if len(rows) < size or left[0] == 0:
            return
        rest = base + (" LIMIT ?" if in_sql and left[0] is not None else "")
        rest_params = [*params, rows[-1][0]] + ([left[0]] if in_sql and left[0] is not None else [])
        with self.index.stream(rest, rest_params) as cursor:
            while left[0] is None or left[0] > 0:
                rows = cursor.fetchmany(page)
                if not rows:
                    return
                chunk = keep(rows if type(rows[0]) is tuple else [tuple(r) for r in rows])
                if chunk:
                    yield chunk

    def records(self, **kw: Any) -> Iterator[RowMatch]:
        for chunk in self.pages(**kw):
            for record, _ in chunk:
                yield record

    def _headers(self, pks: list[int]) -> dict[int, Dataset]:
        """The stored header of each entity's first instance."""
        marks = ", ".join("?" * len(pks))
        if self.target == 3:
            first = {pk: pk for pk in pks}
        elif self.target == 2:
            first = dict(self._rows(f"SELECT series_pk, min(pk) FROM instances WHERE series_pk IN ({marks}) "
                                    "GROUP BY series_pk", pks))
        elif self.target == 1:
            first = dict(self._rows(f"SELECT se.study_pk, min(i.pk) FROM instances i JOIN series se ON se.pk = "
                                    f"i.series_pk WHERE se.study_pk IN ({marks}) GROUP BY se.study_pk", pks))
        else:
            first = dict(self._rows(f"SELECT st.patient_pk, min(i.pk) FROM instances i JOIN series se ON se.pk = "
                                    f"i.series_pk JOIN studies st ON st.pk = se.study_pk WHERE st.patient_pk IN "
                                    f"({marks}) GROUP BY st.patient_pk", pks))
        instance_pks = list(first.values())
        if not instance_pks:
            return {}
        rows = self._rows(f"SELECT instance_pk, header FROM instance_headers WHERE instance_pk IN "
                          f"({', '.join('?' * len(instance_pks))})", instance_pks)
        by_instance = {}
        for instance_pk, blob in rows:
            try:
                by_instance[instance_pk] = from_json(decompress_json(blob))
            except (DicomError, ValueError) as exc:  # a header that does not read: its columns still answer
                log.warning("stored header of instance %s unreadable: %s", instance_pk, exc)
        return {pk: by_instance[ipk] for pk, ipk in first.items() if ipk in by_instance}


class IndexQuerySource:
    """C-FIND (and QIDO-RS) on the archive's index: a :class:`~dicomkit.services.sources.RowQuerySource`.

    ``retrieve_ae_title``: what the matches carry as Retrieve AE Title (0008,0054) when the plan asks for
    it; Instance Availability (0008,0056) is ``ONLINE`` (PS3.4 C.4.1.1.3.2). :meth:`response` builds the
    response Identifier with both. :meth:`find_rows` gives the matches as the index rows they are
    (:class:`~dicomkit.services.query_retrieve.rows.RowMatch`), :meth:`find` as data sets.
    """

    def __init__(self, index: Index, *, retrieve_ae_title: str | None = None, page: int = PAGE) -> None:
        self.index = index
        self.retrieve_ae_title = retrieve_ae_title
        self.page = page
        self.constants: dict[int, DataElement | None] = {
            RETRIEVE_AE_TITLE: DataElement(RETRIEVE_AE_TITLE, "AE", retrieve_ae_title) if retrieve_ae_title else None,
            INSTANCE_AVAILABILITY: DataElement(INSTANCE_AVAILABILITY, "CS", "ONLINE")}

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        if plan.level is None:
            return frozenset(k.tag for k in plan.matching_keys)  # worklists: IndexWorklistSource
        return frozenset(translate(plan, postgres=self.index.is_postgres).unsupported)

    def query(self, plan: QueryPlan, labels: frozenset[str] | None = None) -> IndexQuery:
        """The plan on the index, restricted to the studies with one of ``labels`` (None: all studies)."""
        if plan.level is None:
            raise DicomError("IndexQuerySource answers Query/Retrieve plans; worklists: IndexWorklistSource")
        return IndexQuery(self.index, plan, plan.level, labels=labels, constants=self.constants)

    def find_sync(self, plan: QueryPlan, *, limit: int | None = None, offset: int = 0,
                  requester: Requester = LOCAL) -> Iterator[Dataset]:
        """The matches, blocking (one SQL query per page)."""
        query = self.query(plan, requester.labels)
        for chunk in query.pages(limit=limit, offset=offset, page=self.page):
            for record, _ in chunk:
                yield record.dataset()

    async def find_rows(self, plan: QueryPlan, requester: Requester, *, limit: int | None = None,
                        offset: int = 0) -> AsyncGenerator[RowMatch, None]:
        """The matches of ``plan`` in a stable order (``offset`` skipped, at most ``limit``), one page of
        SQL per worker-thread hop, each the row of its entity. Keys the index cannot match are matched
        universally (what :meth:`unsupported_keys` reports and the SCP answers 0xFF01 for). Only the studies
        the requester may see (``requester.labels``) and what is under them match."""
        query = await self.index.run_query(self.query, plan, requester.labels)
        pages = query.pages(limit=limit, offset=offset, page=self.page)

        def next_page() -> list[tuple[RowMatch, tuple[Any, ...]]] | None:
            return next(pages, None)

        try:
            while True:
                chunk = await self.index.run_query(next_page)
                if chunk is None:
                    return
                for match, _ in chunk:
                    yield match
        finally:
            pages.close()

    async def find(self, plan: QueryPlan, requester: Requester, *, limit: int | None = None,
                   offset: int = 0) -> AsyncIterator[Dataset]:
        """The matches of :meth:`find_rows` as data sets (the returned attributes each entity has)."""
        rows = self.find_rows(plan, requester, limit=limit, offset=offset)
        try:
            async for match in rows:
                yield match.dataset()
        finally:
            await rows.aclose()

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        """How many entities match ``plan`` (without limit / offset): QIDO-RS's total."""
        return await self.index.run_query(lambda: self.query(plan, requester.labels).count())

    def count_sync(self, plan: QueryPlan, requester: Requester = LOCAL) -> int:
        return self.query(plan, requester.labels).count()

    def response(self, plan: QueryPlan, match: Dataset | RowMatch) -> Dataset:
        """The C-FIND response Identifier of a match, with this archive's Retrieve AE Title and ONLINE."""
        return response_identifier(plan, match, retrieve_ae_title=self.retrieve_ae_title,
                                   instance_availability="ONLINE")


_INSTANCE_COLUMNS = ("i.sop_class_uid", "i.sop_instance_uid", "i.transfer_syntax", "i.size", "i.blob_key",
                     "se.series_instance_uid", "st.study_instance_uid", "i.sha256")
MismatchReport = Callable[[StoredObject, IntegrityError], None]


class IndexRetrieveSource:
    """C-MOVE / C-GET on the archive: the instances under the entities a plan identifies, read from the
    blob store (a :class:`~dicomkit.services.sources.RetrieveSource`).

    ``verify``: each object's stream is hashed as it is read and fails (:class:`~..integrity.IntegrityError`,
    before its last part) unless the SHA-256 recorded at ingest matches; ``on_mismatch`` hears of each
    failure (the server audits it)."""

    def __init__(self, index: Index, store: BlobStore, *, page: int = PAGE, verify: bool = False,
                 on_mismatch: MismatchReport | None = None) -> None:
        self.index = index
        self.store = store
        self.page = page
        self.verify = verify
        self.on_mismatch = on_mismatch

    def _query(self, plan: QueryPlan, labels: frozenset[str] | None = None) -> IndexQuery:
        if plan.level is None:
            raise DicomError("a retrieval plan has a level")
        return IndexQuery(self.index, plan, Level.IMAGE, select_keys=False, extra_columns=_INSTANCE_COLUMNS,
                          labels=labels)

    def _stored(self, row: tuple[Any, ...]) -> StoredObject:
        sop_class, sop_instance, ts, size, key, series_uid, study_uid, sha256 = row
        store = self.store
        if self.verify:  # read only through the verifying stream, never from the path
            obj = StoredObject(sop_class, sop_instance, ts, size=size, study_instance_uid=study_uid,
                               series_instance_uid=series_uid)
            report = self.on_mismatch

            def mismatch(error: IntegrityError) -> None:
                log.error("integrity: %s", error)
                if report is not None:
                    report(obj, error)

            opener = verified_opener(lambda: store.open(key), sha256, size=size, on_mismatch=mismatch,
                                     name=f"instance {sop_instance}")
            return replace(obj, opener=opener)
        path_of = getattr(store, "path_of", None)
        path = str(path_of(key)) if path_of is not None else None
        return StoredObject(sop_class, sop_instance, ts, path=path, size=size, study_instance_uid=study_uid,
                            series_instance_uid=series_uid, opener=lambda: store.open(key))

    def retrieve_sync(self, plan: QueryPlan, requester: Requester = LOCAL) -> Iterator[StoredObject]:
        for chunk in self._query(plan, requester.labels).pages(page=self.page):
            for _, extra in chunk:
                yield self._stored(extra)

    async def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        query = await self.index.run_query(self._query, plan, requester.labels)  # only the studies it may see
        pages = query.pages(page=self.page)

        def next_page() -> list[StoredObject] | None:
            chunk = next(pages, None)
            return None if chunk is None else [self._stored(extra) for _, extra in chunk]

        try:
            while True:
                objects = await self.index.run_query(next_page)
                if objects is None:
                    return
                for obj in objects:
                    yield obj
        finally:
            pages.close()

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        """How many instances :meth:`retrieve` gives (the first Number of Remaining Sub-operations)."""
        return await self.index.run_query(lambda: self._query(plan, requester.labels).count())


class IndexCommitmentSource:
    """Storage Commitment on the archive (PS3.4 J.3.2.2): an instance is committed when it is indexed
    with the same SOP Class and its blob is there with the SHA-256 recorded at ingest (read whole)."""

    def __init__(self, index: Index, store: BlobStore, *, retrieve_ae_title: str | None = None) -> None:
        self.index = index
        self.store = store
        self.retrieve_ae_title = retrieve_ae_title

    def check_sync(self, references: Sequence[SopReference], requester: Requester = LOCAL) -> list[CommitmentResult]:
        out = []
        seen: dict[str, bool] = {}
        for ref in references:
            row = self.index.instance(ref.sop_instance_uid)
            if row is not None and requester.labels is not None:  # another's study: as if it were not there
                study = row.study_instance_uid
                if study not in seen:
                    from ..auth.labels import Visibility, labels_of

                    seen[study] = Visibility(requester.labels).sees(labels_of(self.index.read(), study))
                row = row if seen[study] else None
            if row is None:
                out.append(CommitmentResult(ref, NO_SUCH_OBJECT_INSTANCE))
            elif row.sop_class_uid != ref.sop_class_uid:
                out.append(CommitmentResult(ref, CLASS_INSTANCE_CONFLICT))
            elif not self._intact(row.blob_key, row.sha256):
                out.append(CommitmentResult(ref, PROCESSING_FAILURE))
            else:
                out.append(CommitmentResult(ref, None, self.retrieve_ae_title))
        return out

    def _intact(self, key: str, sha256: str) -> bool:
        digest = hashlib.sha256()
        try:
            with self.store.open(key) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        except (OSError, DicomError) as exc:
            log.warning("commitment: blob %s unreadable: %s", key, exc)
            return False
        if digest.hexdigest() != sha256:
            log.warning("commitment: blob %s does not match its SHA-256", key)
            return False
        return True

    async def check(self, references: Sequence[SopReference], requester: Requester) -> list[CommitmentResult]:
        return await self.index.run_query(self.check_sync, list(references), requester)


__all__ = ["HeaderScope", "IndexCommitmentSource", "IndexQuery", "IndexQuerySource", "IndexRetrieveSource",
           "RowRecord"]
