"""The archive's index: patients, studies, series and instances in SQL (SQLite or PostgreSQL).

:class:`Index` opens the database (migrating it to the current schema), runs writes through the
group-commit writer (:mod:`.writer`) and reads on a connection per thread. The store transaction
(:meth:`Index.store`) decides duplicates inside the transaction, so two concurrent writes of one SOP
Instance UID — on one node or two — end with one row, and tells the caller which blob to delete after the
commit. Aggregates (series and instances per study, instances per series, studies/series/instances per
patient, modalities and SOP classes in study) change in the same transaction as the rows; the stores of one
group-commit batch update them together (:class:`Aggregates`: one statement per series, study and patient).

Patient, study and series attributes come from the first instance stored for them; a later instance
*supplements* them — it fills a key that is still empty (zero length or absent), and never overwrites one
that has a value (as dcm4chee-arc's SUPPLEMENT attribute update policy does; Orthanc keeps the first
instance's). ``dicomkit archive reindex`` recomputes every column from the stored headers the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import compress, repeat
from operator import and_, is_, is_not
from typing import Any, Literal, TypeVar

from ...core.dataset import Dataset
from .attributes import (
    COLUMNS_BY_LEVEL,
    LEVELS,
    TABLES,
    column_names,
    extra_values,
    extract_levels,
    extract_values,
)
from .dialect import Database, IndexError_, ThreadConnections, connect
from .header import Header, decompress_json
from .schema import HEADER_VERSION, LATEST, migrate
from .writer import BeforeCommit, GroupCommitWriter

Outcome = Literal["stored", "identical", "replaced", "duplicate"]
NODE_EXPIRY = 60.0  # seconds without a heartbeat after which a node counts as gone
QUERY_THREADS = 4  # threads (and read connections) of the sources' queries
T = TypeVar("T")


@dataclass
class InstanceRecord:
    """Everything the store transaction writes for one instance (built at ingest)."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax: str
    size: int
    sha256: str
    content_sha256: str
    dataset_offset: int
    header: Header
    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]
    extra: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    blob_key: str = ""
    node: str = ""
    source_ae: str | None = None
    stored_at: float = 0.0
    rewritten: bytes | None = None  # the blob's bytes when not as received (compression on store); no column

    @classmethod
    def from_dataset(cls, ds: Dataset, *, transfer_syntax: str, size: int, sha256: str, content_sha256: str,
                     dataset_offset: int, header: Header, extra_keys: dict[str, str] | None = None,
                     source_ae: str | None = None, values: Mapping[int, Any] | None = None) -> InstanceRecord:
        """The record of ``ds``; ``values``: its top-level values of :data:`~.attributes.COLUMN_TAGS`
        (``{tag: ds[tag].value}``) when they were read already (:func:`~.header.build_header_with_values`)."""
        rows = extract_levels(ds) if values is None else extract_values(values)
        extra: dict[str, list[tuple[int, str, str]]] = {}
        if extra_keys:
            for level in LEVELS:
                keywords = [k for k, lv in extra_keys.items() if lv == level]
                if keywords:
                    extra[level] = extra_values(ds, keywords)
        return cls(sop_instance_uid=rows["instance"]["sop_instance_uid"] or "",
                   sop_class_uid=rows["instance"]["sop_class_uid"] or "",
                   study_instance_uid=rows["study"]["study_instance_uid"] or "",
                   series_instance_uid=rows["series"]["series_instance_uid"] or "",
                   transfer_syntax=transfer_syntax, size=size, sha256=sha256, content_sha256=content_sha256,
                   dataset_offset=dataset_offset, header=header, patient=rows["patient"], study=rows["study"],
                   series=rows["series"], instance=rows["instance"], extra=extra, source_ae=source_ae)


@dataclass(frozen=True)
class StoreResult:
    """What the store transaction decided. ``delete_after_commit``: blobs that lost (ours when identical,
    the replaced one on overwrite); ``existing_key``: the blob that is kept when ours is a duplicate."""

    outcome: Outcome
    delete_after_commit: tuple[str, ...] = ()
    existing_key: str | None = None


@dataclass(frozen=True)
class InstanceRow:
    pk: int
    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    transfer_syntax: str
    size: int
    sha256: str
    content_sha256: str
    dataset_offset: int
    blob_key: str
    node: str
    stored_at: float
    source_ae: str | None


_INSTANCE_ROW = ("SELECT i.pk, i.sop_instance_uid, i.sop_class_uid, s.series_instance_uid, st.study_instance_uid, "
                 "i.transfer_syntax, i.size, i.sha256, i.content_sha256, i.dataset_offset, i.blob_key, i.node, "
                 "i.stored_at, i.source_ae FROM instances i JOIN series s ON s.pk = i.series_pk "
                 "JOIN studies st ON st.pk = s.study_pk")


@cache
def _insert_sql(table: str, columns: tuple[str, ...], conflict: str) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING pk")


class Index:
    """The index of one archive (see the module documentation)."""

    def __init__(self, url: str, *, durability: str = "full", extra_keys: dict[str, str] | None = None,
                 node: str = "", migrate_schema: bool = True) -> None:
        self.url = url
        self.durability = durability
        self.extra_keys = dict(extra_keys or {})
        self.node = node
        first = connect(url, durability=durability)
        try:
            if migrate_schema:
                migrate(first)
        except Exception:
            first.close()
            raise
        self.dialect_name = first.dialect.name
        self._first: Database | None = first
        self._readers = ThreadConnections(url, durability)
        self.writer = GroupCommitWriter(self._writer_connection, deferred=Aggregates)
        self.commits = 0
        self._query_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._streams: list[Database] = []  # connections of finished streams, for the next ones
        self._closed = False

    @property
    def query_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """The threads that run queries for async callers (the sources): a fixed set, so the read
        connections (one per thread) stay few whatever the number of queries and event loops."""
        with self._pool_lock:
            if self._query_pool is None:
                self._query_pool = concurrent.futures.ThreadPoolExecutor(max_workers=QUERY_THREADS,
                                                                         thread_name_prefix="dicomkit-query")
            return self._query_pool

    async def run_query(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in a query thread, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self.query_pool, work, *args)

    def _writer_connection(self) -> Database:
        if self._first is not None:
            db, self._first = self._first, None
            return db
        return connect(self.url, durability=self.durability)

    def close(self) -> None:
        self.writer.close()
        if self._query_pool is not None:
            self._query_pool.shutdown(wait=True)
            self._query_pool = None
        with self._pool_lock:
            self._closed = True
            streams, self._streams = self._streams, []
        for db in streams:
            db.close()
        self._readers.close()
        if self._first is not None:
            self._first.close()
            self._first = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_postgres(self) -> bool:
        return self.dialect_name == "postgresql"

    # -- reading ---------------------------------------------------------------------------------------------
    def read(self) -> Database:
        """This thread's read connection."""
        return self._readers.get()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        db = self.read()
        try:
            return db.rows(sql, params)
        except Exception as exc:
            if db.dialect.is_unavailable(exc):
                self._readers.drop()
            raise

    @contextlib.contextmanager
    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """A cursor over the rows of one long read (``fetchmany(n)``), on a connection of its own (kept for the
        next stream when the read ended well, up to one per query thread): one evaluation of the query however
        many rows it gives (PostgreSQL: a server-side cursor in a read transaction; SQLite: the statement
        stepped as rows are fetched)."""
        with self._pool_lock:
            db = self._streams.pop() if self._streams else None
        if db is None:
            db = connect(self.url, durability=self.durability)
        done = False
        cursor: Any = None
        try:
            try:
                cursor = self._start_stream(db, sql, params)
            except Exception as exc:
                if not db.dialect.is_unavailable(exc):
                    raise
                db.close()  # a kept connection the database dropped (a restart): once more on a new one
                db = connect(self.url, durability=self.durability)
                cursor = self._start_stream(db, sql, params)
            yield cursor
            done = True
        finally:
            try:
                if cursor is not None and not db.is_postgres:
                    cursor.close()  # a statement not stepped to its end would keep its read snapshot
                db.rollback()  # PostgreSQL: the end of the transaction closes the cursor
            except Exception:
                done = False
            with self._pool_lock:
                keep = done and not self._closed and len(self._streams) < QUERY_THREADS
                if keep:
                    self._streams.append(db)
            if not keep:
                db.close()

    @staticmethod
    def _start_stream(db: Database, sql: str, params: Sequence[Any]) -> Any:
        if db.is_postgres:
            db.connection.execute("BEGIN READ ONLY")
            # the cursor is read to its end: plan for all of its rows, not for the first tenth (the default
            # fraction makes a walk of the key order, testing every row, look cheaper than the indexes)
            db.connection.execute("SET LOCAL cursor_tuple_fraction = 1.0")
            cursor = db.connection.cursor(name="dicomkit_stream")
            cursor.itersize = 500
            cursor.execute(db.dialect.sql(sql), tuple(params))
            return cursor
        return db.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query (``?`` placeholders) as dicts."""
        db = self.read()
        cur = db.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def instance(self, sop_instance_uid: str) -> InstanceRow | None:
        rows = self._read(_INSTANCE_ROW + " WHERE i.sop_instance_uid = ?", (sop_instance_uid,))
        return InstanceRow(*rows[0]) if rows else None

    def instances(self, *, study_instance_uid: str | None = None, series_instance_uid: str | None = None
                  ) -> list[InstanceRow]:
        where, params = [], []
        if study_instance_uid is not None:
            where.append("st.study_instance_uid = ?")
            params.append(study_instance_uid)
        if series_instance_uid is not None:
            where.append("s.series_instance_uid = ?")
            params.append(series_instance_uid)
        sql = _INSTANCE_ROW + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY i.pk"
        return [InstanceRow(*r) for r in self._read(sql, params)]

    def iter_instances(self, batch: int = 1000) -> Iterator[InstanceRow]:
        """Every instance row, in pages (memory stays flat at any archive size)."""
        last = 0
        while True:
            rows = self._read(_INSTANCE_ROW + " WHERE i.pk > ? ORDER BY i.pk LIMIT ?", (last, batch))
            if not rows:
                return
            for row in rows:
                yield InstanceRow(*row)
            last = rows[-1][0]

    def studies(self) -> list[dict[str, Any]]:
        return self.query("SELECT p.patient_id, p.patient_name, st.* FROM studies st "
                          "JOIN patients p ON p.pk = st.patient_pk ORDER BY st.study_datetime, st.pk")

    def study(self, study_instance_uid: str) -> dict[str, Any] | None:
        rows = self.query("SELECT p.patient_id, p.patient_name, st.* FROM studies st JOIN patients p "
                          "ON p.pk = st.patient_pk WHERE st.study_instance_uid = ?", (study_instance_uid,))
        return rows[0] if rows else None

    def series(self, study_instance_uid: str | None = None) -> list[dict[str, Any]]:
        if study_instance_uid is None:
            return self.query("SELECT * FROM series ORDER BY pk")
        return self.query("SELECT s.* FROM series s JOIN studies st ON st.pk = s.study_pk "
                          "WHERE st.study_instance_uid = ? ORDER BY s.series_number, s.pk", (study_instance_uid,))

    def patients(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM patients ORDER BY pk")

    def header(self, sop_instance_uid: str) -> dict[str, Any] | None:
        """The DICOM JSON of an instance's header, as stored at ingest."""
        rows = self._read("SELECT h.header FROM instance_headers h JOIN instances i ON i.pk = h.instance_pk "
                          "WHERE i.sop_instance_uid = ?", (sop_instance_uid,))
        if not rows:
            return None
        value: dict[str, Any] = decompress_json(rows[0][0])
        return value

    def bulk(self, sop_instance_uid: str) -> dict[str, Any] | None:
        """Where the instance's bulk data and frames lie in its blob (see :mod:`.header`)."""
        import json

        rows = self._read("SELECT h.bulk FROM instance_headers h JOIN instances i ON i.pk = h.instance_pk "
                          "WHERE i.sop_instance_uid = ?", (sop_instance_uid,))
        if not rows or rows[0][0] is None:
            return None
        value: dict[str, Any] = json.loads(rows[0][0])
        return value

    def count(self, level: str = "instance") -> int:
        return int(self._read(f"SELECT count(*) FROM {TABLES[level]}")[0][0])

    def total_size(self) -> int:
        return int(self._read("SELECT coalesce(sum(size), 0) FROM instances")[0][0])

    def stats(self) -> dict[str, Any]:
        counts = {level: self.count(level) for level in LEVELS}
        out: dict[str, Any] = {
            "patients": counts["patient"], "studies": counts["study"], "series": counts["series"],
            "instances": counts["instance"], "bytes": self.total_size(),
            "quarantined": int(self._read("SELECT count(*) FROM quarantine")[0][0]),
            "schema_version": LATEST, "database": self.dialect_name,
        }
        out["index_bytes"] = self.database_size()
        return out

    def database_size(self) -> int:
        if self.is_postgres:
            return int(self._read("SELECT pg_database_size(current_database())")[0][0])
        from .dialect import sqlite_path

        path = sqlite_path(self.url)
        return sum(os.path.getsize(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists())

    def lookup_duplicate(self, sop_instance_uid: str) -> tuple[str, str] | None:
        """(content_sha256, blob_key) of a stored instance: the cheap check before a store."""
        rows = self._read("SELECT content_sha256, blob_key FROM instances WHERE sop_instance_uid = ?",
                          (sop_instance_uid,))
        return (rows[0][0], rows[0][1]) if rows else None

    def lookup_duplicates(self, sop_instance_uids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """:meth:`lookup_duplicate` of several instances in one query: UID → (content_sha256, blob_key)."""
        found: dict[str, tuple[str, str]] = {}
        unique = list(dict.fromkeys(sop_instance_uids))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for uid, content, key in self._read("SELECT sop_instance_uid, content_sha256, blob_key FROM instances "
                                                f"WHERE sop_instance_uid IN ({marks})", chunk):
                found[uid] = (content, key)
        return found

    def blob_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are the blob of an index row."""
        found: set[str] = set()
        chunk: list[str] = []
        for key in keys:
            chunk.append(key)
            if len(chunk) >= 500:
                found |= self._keys_in(chunk)
                chunk = []
        if chunk:
            found |= self._keys_in(chunk)
        return found

    def _keys_in(self, keys: list[str]) -> set[str]:
        rows = self._read(f"SELECT blob_key FROM instances WHERE blob_key IN ({', '.join('?' * len(keys))})", keys)
        return {r[0] for r in rows}

    # -- writing ---------------------------------------------------------------------------------------------
    def submit(self, work: Any) -> concurrent.futures.Future[Any]:
        """Run ``work(db)`` in a write transaction (grouped with others); a future of its result."""
        return self.writer.submit(work)

    def write(self, work: Any) -> Any:
        return self.writer.run(work)

    def store(self, record: InstanceRecord, duplicates: str = "keep-first", *, here: bool = False,
              before_commit: BeforeCommit | None = None) -> concurrent.futures.Future[StoreResult]:
        """Index one instance whose blob is in place (see the module documentation); ``here``: from a worker
        thread, which may run the transaction itself; ``before_commit``: what must be durable before the
        commit (both: :meth:`GroupCommitWriter.submit`)."""
        return self.writer.submit(_Store(record, duplicates), here=here, before_commit=before_commit)

    def store_then(self, record: InstanceRecord, duplicates: str,
                   callback: Callable[[StoreResult | None, BaseException | None], None], *, here: bool = False,
                   before_commit: BeforeCommit | None = None) -> None:
        """:meth:`store` with ``callback(result, None)`` or ``callback(None, exception)`` once committed or
        failed, instead of a future (:meth:`GroupCommitWriter.submit_then`)."""
        self.writer.submit_then(_Store(record, duplicates), callback, here=here, before_commit=before_commit)

    def record_quarantine(self, sop_instance_uid: str, blob_key: str, reason: str, content_sha256: str | None,
                          source_ae: str | None) -> concurrent.futures.Future[None]:
        def work(db: Database) -> None:
            db.execute("INSERT INTO quarantine (sop_instance_uid, blob_key, reason, content_sha256, source_ae, "
                       "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (sop_instance_uid, blob_key, reason, content_sha256, source_ae, time.time()))
        return self.writer.submit(work)

    def delete(self, level: str, uid: str) -> list[str]:
        """Remove a patient (by Patient ID), study, series or instance (by UID) and everything below it in
        one transaction; returns the blob keys to delete (after the commit, by the caller)."""
        if level not in LEVELS:
            raise IndexError_(f"unknown level {level!r}")
        result: list[str] = self.writer.run(lambda db: delete_entity(db, level, uid))
        return result

    def blobs_removed(self, keys: Sequence[str]) -> None:
        """The blobs of removed rows are gone: forget them (see ``deleted_blobs``)."""
        if keys:
            self.writer.run(lambda db: db.executemany("DELETE FROM deleted_blobs WHERE blob_key = ?",
                                                      [(k,) for k in keys]))

    def is_deleted_blob(self, key: str) -> bool:
        return bool(self._read("SELECT 1 FROM deleted_blobs WHERE blob_key = ?", (key,)))

    # -- nodes -----------------------------------------------------------------------------------------------
    def register_node(self, node_id: str) -> None:
        now = time.time()

        def work(db: Database) -> None:
            db.execute("INSERT INTO nodes (node_id, host, pid, started_at, heartbeat_at, stopped) "
                       "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = ?, stopped = 0",
                       (node_id, socket.gethostname(), os.getpid(), now, now, now))
            # forget nodes gone for a day
            db.execute("DELETE FROM nodes WHERE heartbeat_at < ?", (now - 86400,))
        self.writer.run(work)

    def heartbeat(self, node_id: str) -> None:
        self.writer.run(lambda db: db.execute("UPDATE nodes SET heartbeat_at = ? WHERE node_id = ?",
                                              (time.time(), node_id)))

    def stop_node(self, node_id: str) -> None:
        self.writer.run(lambda db: db.execute("UPDATE nodes SET stopped = 1, heartbeat_at = ? WHERE node_id = ?",
                                              (time.time(), node_id)))

    def nodes(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM nodes ORDER BY started_at")

    def live_nodes(self, expiry: float = NODE_EXPIRY) -> set[str]:
        """Nodes whose heartbeat is recent and that did not stop; on this host, only those whose process
        still runs (a node killed here is gone at once, not after ``expiry``)."""
        now = time.time()
        host = socket.gethostname()
        live = set()
        for row in self.nodes():
            if row["stopped"] or now - float(row["heartbeat_at"]) > expiry:
                continue
            if row["host"] == host and not _process_alive(int(row["pid"])):
                continue
            live.add(str(row["node_id"]))
        return live

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.writer.run(lambda db: db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
            (key, value, value)))


class _Store:
    """The store transaction of one record, as work of the group-commit writer (a function of the database
    alone: it may run again). It ``folds`` its aggregate updates into its batch's (:class:`Aggregates`)
    unless duplicates are overwritten: a replacement removes rows and updates the aggregates it reads, which
    must not wait for the end of the batch."""

    __slots__ = ("duplicates", "folds", "record")

    def __init__(self, record: InstanceRecord, duplicates: str) -> None:
        self.record = record
        self.duplicates = duplicates
        self.folds = duplicates != "overwrite"

    def __call__(self, db: Database) -> StoreResult:
        return store_instance(db, self.record, self.duplicates)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the store transaction -----------------------------------------------------------------------------------
def store_instance(db: Database, rec: InstanceRecord, duplicates: str) -> StoreResult:
    """Insert ``rec`` (see :meth:`Index.store`)."""
    old_key: str | None = None
    now = rec.stored_at or time.time()
    for _attempt in range(3):
        existing = db.one("SELECT pk, content_sha256, blob_key FROM instances WHERE sop_instance_uid = ?",
                          (rec.sop_instance_uid,))
        if existing is not None:
            decided = _duplicate(db, rec, existing, duplicates)
            if isinstance(decided, StoreResult):
                return decided
            old_key = decided
        patient_pk, _, _ = _get_or_insert(db, "patient", "patient_id = ? AND issuer_of_patient_id = ?",
                                          (rec.patient["patient_id"], rec.patient["issuer_of_patient_id"]),
                                          rec.patient, "patient_id, issuer_of_patient_id")
        study_pk, new_study, _ = _get_or_insert(db, "study", "study_instance_uid = ?", (rec.study_instance_uid,),
                                                {**rec.study, "patient_pk": patient_pk, "created_at": now,
                                                 "updated_at": now}, "study_instance_uid")
        series_pk, new_series, filled = _get_or_insert(db, "series", "series_instance_uid = ?",
                                                       (rec.series_instance_uid,),
                                                       {**rec.series, "study_pk": study_pk, "created_at": now},
                                                       "series_instance_uid")
        columns = {**rec.instance, "series_pk": series_pk, "transfer_syntax": rec.transfer_syntax,
                   "size": rec.size, "sha256": rec.sha256, "content_sha256": rec.content_sha256,
                   "dataset_offset": rec.dataset_offset, "blob_key": rec.blob_key, "node": rec.node,
                   "stored_at": now, "source_ae": rec.source_ae}
        row = db.one(_insert_sql("instances", tuple(columns), "sop_instance_uid"), tuple(columns.values()))
        if row is not None:
            break
        # another transaction stored this UID since our first look (the insert waited for it): decide again
    else:  # pragma: no cover - three concurrent replacements in a row
        raise IndexError_(f"{rec.sop_instance_uid}: the instance kept changing while it was stored")
    instance_pk = row[0]
    db.execute("INSERT INTO instance_headers (instance_pk, header, bulk, header_version) VALUES (?, ?, ?, ?)",
               (instance_pk, rec.header.header, rec.header.bulk_json(), HEADER_VERSION))
    aggregates: Aggregates | None = db.deferred
    if aggregates is not None:  # a store of a group-commit batch: with the others', before the commit
        aggregates.added.append((patient_pk, study_pk, series_pk, new_study, new_series, rec.sop_class_uid,
                                 new_series or "modality" in filled, now))
    else:
        _update_one(db, patient_pk, study_pk, series_pk, new_study, new_series, rec.sop_class_uid,
                    new_series or "modality" in filled, now)
    entity = {"patient": patient_pk, "study": study_pk, "series": series_pk, "instance": instance_pk}
    for level, values in rec.extra.items():
        if level != "instance" and not {"patient": False, "study": new_study, "series": new_series}.get(level, True):
            continue  # first instance wins for the levels above
        db.executemany("INSERT INTO extra_attributes (level, entity_pk, tag, value, value_fold) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING", [(level, entity[level], t, v, f) for t, v, f in values])
    if old_key is not None:
        return StoreResult("replaced", (old_key,))
    return StoreResult("stored")


# one stored instance for the aggregates: patient, study and series pk, whether the study and the series are
# new, its SOP Class UID, whether the modalities in its study may have changed, and its time
Added = tuple[int, int, int, bool, bool, str, bool, float]


class Aggregates:
    """The aggregate updates that the stores of one group-commit batch leave to its end
    (:class:`~.writer.Deferred`): one statement per series, study and patient for the whole batch."""

    __slots__ = ("added",)

    def __init__(self) -> None:
        self.added: list[Added] = []

    def mark(self) -> int:
        return len(self.added)

    def undo(self, mark: int) -> None:
        del self.added[mark:]

    def flush(self, db: Database) -> None:
        if self.added:
            added, self.added = self.added, []
            if len(added) == 1:
                _update_one(db, *added[0])
            else:
                update_aggregates(db, added)


# the aggregates of the levels above new instances: one statement per row, for one instance or a batch's
_ADD_TO_SERIES = "UPDATE series SET num_instances = num_instances + ? WHERE pk = ?"
_ADD_TO_STUDY = ("UPDATE studies SET num_instances = num_instances + ?, num_series = num_series + ?, updated_at = ? "
                 "WHERE pk = ? RETURNING sop_classes_in_study")
_ADD_TO_PATIENT = ("UPDATE patients SET num_instances = num_instances + ?, num_series = num_series + ?, "
                   "num_studies = num_studies + ? WHERE pk = ?")


def _add_to_study(db: Database, pk: int, instances: int, new_series: int, now: float, sop_classes: set[str],
                  modalities: bool) -> None:
    """A study's counts, its SOP Classes in Study and (``modalities``: they may have changed) its Modalities in
    Study, for new instances of it."""
    classes = db.scalar(_ADD_TO_STUDY, (instances, new_series, now, pk))
    known = set(classes.split("\\")) if classes else set()
    if not sop_classes <= known:
        db.execute("UPDATE studies SET sop_classes_in_study = ? WHERE pk = ?",
                   ("\\".join(sorted(known | sop_classes)), pk))
    if modalities:
        _update_modalities(db, pk)


def _update_one(db: Database, patient_pk: int, study_pk: int, series_pk: int, new_study: bool, new_series: bool,
                sop_class: str, modalities: bool, now: float) -> None:
    """:func:`update_aggregates` of one instance (most transactions: a store alone in its batch), without
    its bookkeeping."""
    db.execute(_ADD_TO_SERIES, (1, series_pk))
    _add_to_study(db, study_pk, 1, int(new_series), now, {sop_class}, modalities)
    db.execute(_ADD_TO_PATIENT, (1, int(new_series), int(new_study), patient_pk))


def update_aggregates(db: Database, added: Sequence[Added]) -> None:
    """The aggregates of the series, studies and patients of newly stored instances (in their transaction),
    each row updated once, in key order (two nodes updating the same rows take their locks in one order).
    The study row stays locked from its update to the commit, so concurrent stores of one study serialise
    their modalities and SOP classes in study (as :func:`_update_one` does for one instance)."""
    series: dict[int, int] = {}
    studies: dict[int, list[Any]] = {}  # pk -> [instances, new series, time, SOP classes, modalities changed]
    patients: dict[int, list[int]] = {}  # pk -> [instances, new series, new studies]
    for patient_pk, study_pk, series_pk, new_study, new_series, sop_class, modalities, now in added:
        series[series_pk] = series.get(series_pk, 0) + 1
        study = studies.get(study_pk)
        if study is None:
            studies[study_pk] = [1, int(new_series), now, {sop_class}, modalities]
        else:
            study[0] += 1
            study[1] += new_series
            study[2] = max(study[2], now)
            study[3].add(sop_class)
            study[4] = study[4] or modalities
        patient = patients.setdefault(patient_pk, [0, 0, 0])
        patient[0] += 1
        patient[1] += new_series
        patient[2] += new_study
    for pk in sorted(series):
        db.execute(_ADD_TO_SERIES, (series[pk], pk))
    for pk in sorted(studies):
        _add_to_study(db, pk, *studies[pk])
    for pk in sorted(patients):
        db.execute(_ADD_TO_PATIENT, (*patients[pk], pk))


def _duplicate(db: Database, rec: InstanceRecord, existing: tuple[Any, ...], duplicates: str) -> StoreResult | str:
    """The decision for a UID that is stored: a StoreResult, or (overwrite) the old blob key after its row was
    removed."""
    pk, content_sha256, blob_key = existing
    if content_sha256 == rec.content_sha256:
        # our blob lost, unless the row is ours: a batch retried after a connection lost during its COMMIT,
        # which had committed after all, finds its own row (deleting that blob would leave the row without it)
        ours = (rec.blob_key,) if rec.blob_key and rec.blob_key != blob_key else ()
        return StoreResult("identical", ours, blob_key)
    if duplicates != "overwrite":
        return StoreResult("duplicate", (), blob_key)
    _remove_instances(db, [pk])
    return str(blob_key)


def _get_or_insert(db: Database, level: str, where: str, key: Sequence[Any], values: dict[str, Any],
                   conflict: str) -> tuple[int, bool, list[str]]:
    """(pk, created, columns filled) of the row ``where`` identifies, inserting ``values`` when there is
    none — safe against a concurrent insert of the same row (ON CONFLICT waits for it, then we read it) —
    or supplementing the keys it has empty with those of ``values`` (see the module documentation)."""
    table = TABLES[level]
    select = _select_keys_sql(level, where)  # every key of the level: one statement text, prepared once
    row = db.one(select, key)
    if row is None:
        inserted = db.one(_insert_sql(table, tuple(values), conflict), tuple(values.values()))
        if inserted is not None:
            return int(inserted[0]), True, []
        row = db.one(select, key)
        assert row is not None
    # the keys this instance offers that the row has empty (the test of each key in C: this runs for three
    # levels of every store, and most rows are complete)
    current = row[1:]
    assert len(current) == len(_KEY_NAMES[level])
    wanted = list(map(and_, map(is_, current, repeat(None)),
                      map(is_not, map(values.get, _KEY_NAMES[level]), repeat(None))))
    if not any(wanted):
        return int(row[0]), False, []
    empty = list(compress(COLUMNS_BY_LEVEL[level], wanted))
    return int(row[0]), False, supplement(db, level, int(row[0]), values, empty)


_KEY_NAMES: dict[str, tuple[str, ...]] = {level: tuple(c.name for c in columns)
                                          for level, columns in COLUMNS_BY_LEVEL.items()}


@cache
def _select_keys_sql(level: str, where: str) -> str:
    return f"SELECT {', '.join(['pk'] + [c.name for c in COLUMNS_BY_LEVEL[level]])} FROM {TABLES[level]} WHERE {where}"


def supplement(db: Database, level: str, pk: int, values: dict[str, Any],
               empty: Sequence[Any] | None = None) -> list[str]:
    """Fill the keys of an entity that are empty with ``values`` (every column a key makes, together);
    the key columns filled. ``empty``: the keys known to be empty (else read)."""
    table = TABLES[level]
    if empty is None:
        offered = [c for c in COLUMNS_BY_LEVEL[level] if values.get(c.name) is not None]
        if not offered:
            return []
        row = db.one(f"SELECT {', '.join(c.name for c in offered)} FROM {table} WHERE pk = ?", (pk,))
        if row is None:
            return []
        empty = [c for c, current in zip(offered, row, strict=True) if current is None]
    names = [name for c in empty for name, _ in c.sql_columns()]
    if not names:
        return []
    db.execute(f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE pk = ?",
               [values.get(n) for n in names] + [pk])
    filled = [c.name for c in empty]
    if level == "study" and ("study_date" in filled or "study_time" in filled):
        db.execute("UPDATE studies SET study_datetime = CASE WHEN study_date_norm IS NULL THEN NULL ELSE "
                   "study_date_norm || coalesce(study_time_norm, '000000000000') END WHERE pk = ?", (pk,))
    return filled


def _update_modalities(db: Database, study_pk: int) -> None:
    modalities = sorted({r[0] for r in db.rows("SELECT DISTINCT modality FROM series WHERE study_pk = ?",
                                               (study_pk,)) if r[0]})
    db.execute("UPDATE studies SET modalities_in_study = ? WHERE pk = ?", ("\\".join(modalities) or None, study_pk))


def _update_sop_classes(db: Database, study_pk: int) -> None:
    classes = sorted({r[0] for r in db.rows("SELECT DISTINCT i.sop_class_uid FROM instances i JOIN series s "
                                            "ON s.pk = i.series_pk WHERE s.study_pk = ?", (study_pk,)) if r[0]})
    db.execute("UPDATE studies SET sop_classes_in_study = ? WHERE pk = ?", ("\\".join(classes) or None, study_pk))


def _remove_instances(db: Database, pks: Sequence[int]) -> list[str]:
    """Remove instance rows and whatever becomes empty above them; the blob keys of the removed rows."""
    keys: list[str] = []
    touched_series: dict[int, int] = {}
    for pk in pks:
        row = db.one("SELECT series_pk, blob_key FROM instances WHERE pk = ?", (pk,))
        if row is None:
            continue
        touched_series[row[0]] = touched_series.get(row[0], 0) + 1
        keys.append(row[1])
        db.execute("DELETE FROM extra_attributes WHERE level = 'instance' AND entity_pk = ?", (pk,))
        db.execute("DELETE FROM instance_headers WHERE instance_pk = ?", (pk,))
        db.execute("DELETE FROM instances WHERE pk = ?", (pk,))
        db.execute("INSERT INTO deleted_blobs (blob_key, deleted_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   (row[1], time.time()))
    studies: dict[int, tuple[int, int]] = {}
    for series_pk, n in touched_series.items():
        left = db.scalar("UPDATE series SET num_instances = num_instances - ? WHERE pk = ? RETURNING num_instances",
                         (n, series_pk))
        study_pk = db.scalar("SELECT study_pk FROM series WHERE pk = ?", (series_pk,))
        removed_series = 0
        if not left:
            db.execute("DELETE FROM extra_attributes WHERE level = 'series' AND entity_pk = ?", (series_pk,))
            db.execute("DELETE FROM series WHERE pk = ?", (series_pk,))
            removed_series = 1
        a, b = studies.get(study_pk, (0, 0))
        studies[study_pk] = (a + n, b + removed_series)
    for study_pk, (n, removed_series) in studies.items():
        row = db.one("UPDATE studies SET num_instances = num_instances - ?, num_series = num_series - ?, "
                     "updated_at = ? WHERE pk = ? RETURNING num_instances, patient_pk",
                     (n, removed_series, time.time(), study_pk))
        assert row is not None
        left, patient_pk = row
        removed_study = 0
        if not left:
            db.execute("DELETE FROM extra_attributes WHERE level = 'study' AND entity_pk = ?", (study_pk,))
            db.execute("DELETE FROM studies WHERE pk = ?", (study_pk,))
            removed_study = 1
        else:
            if removed_series:
                _update_modalities(db, study_pk)
            _update_sop_classes(db, study_pk)
        studies_left = db.scalar("UPDATE patients SET num_instances = num_instances - ?, num_series = num_series - ?, "
                                 "num_studies = num_studies - ? WHERE pk = ? RETURNING num_studies",
                                 (n, removed_series, removed_study, patient_pk))
        if not studies_left:
            db.execute("DELETE FROM extra_attributes WHERE level = 'patient' AND entity_pk = ?", (patient_pk,))
            db.execute("DELETE FROM patients WHERE pk = ?", (patient_pk,))
    return keys


def delete_entity(db: Database, level: str, uid: str) -> list[str]:
    if level == "instance":
        sql, params = "SELECT pk FROM instances WHERE sop_instance_uid = ?", (uid,)
    elif level == "series":
        sql, params = ("SELECT i.pk FROM instances i JOIN series s ON s.pk = i.series_pk "
                       "WHERE s.series_instance_uid = ?", (uid,))
    elif level == "study":
        sql, params = ("SELECT i.pk FROM instances i JOIN series s ON s.pk = i.series_pk JOIN studies st "
                       "ON st.pk = s.study_pk WHERE st.study_instance_uid = ?", (uid,))
    else:
        sql, params = ("SELECT i.pk FROM instances i JOIN series s ON s.pk = i.series_pk JOIN studies st "
                       "ON st.pk = s.study_pk JOIN patients p ON p.pk = st.patient_pk WHERE p.patient_id = ?", (uid,))
    pks = [int(r[0]) for r in db.rows(sql, params)]
    return _remove_instances(db, pks)


def level_columns(level: str) -> list[str]:
    return column_names(level)


__all__ = ["NODE_EXPIRY", "Aggregates", "Index", "IndexError_", "InstanceRecord", "InstanceRow", "StoreResult",
           "delete_entity", "store_instance", "update_aggregates"]
