"""Ingest with the consistency promise: an instance answered 0x0000 is stored, indexed and readable.

:class:`Archive` holds the blob store, the index and the policies; :class:`ArchiveReceiver` is the
Storage SCP's receiver on it (``StorageSCP(ArchiveReceiver(archive))``). For each C-STORE:

1. Before any data: the limits (``min_free_space``, ``max_archive_size``); over them → 0xA700 at once.
2. The data set goes into a temporary file in the store, after its Part 10 header: a large one streams
   there as it arrives (never whole in memory); a small one (under 256 KiB) is kept in memory until it is
   complete and written by a worker thread. The temporary files are made ahead by a helper thread, and
   when none is ready a worker makes it — never the event loop (creating a file can cost more than
   receiving a small object).
3. When it is complete, in worker threads and side by side: the file is written and synced to disk
   (``durability = "full"``), and it is hashed (SHA-256 of the file, and of the data set alone: what
   duplicates compare), checked (:func:`~dicomkit.services.storage.scp.check_received`: from the data set
   after the File Meta Information, which the receiver built itself) and read into its index record (typed
   columns, header as DICOM JSON, frame offsets).
4. Duplicates are looked up (an identical one is answered 0x0000 and nothing is written; a different one
   under ``keep-first`` goes to quarantine with 0xC111).
5. The file gets its own name in the store (a link, never replacing anything) and the directory entry is
   synced: for a C-STORE, in the group commit of step 6 before its commit, once per folder for the stores
   of one batch (``durability = "full"``).
6. The index rows are committed in one durable transaction, grouped with concurrent stores (group
   commit; their aggregate updates folded into one per series, study and patient); the transaction decides
   duplicates again, so two concurrent stores of one UID end consistent.
7. Only then does the status go back. Blobs that lost are deleted after the commit.

Any failure of the store or the index answers 0xA700 with an Error Comment, and nothing half-written is
indexed (a placed blob whose transaction failed is deleted; a crash leaves what the start-up sweep cleans).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.errors import DicomError
from ..io.meta import part10_header
from ..io.raw import meta_end
from ..net.dimse import CStoreRQ
from ..net.handlers import RequestContext
from ..net.status import PROCESSING_FAILURE
from ..services.storage.scp import StoreOutcome, StoreRefused, check_received
from ..services.storage.status import DUPLICATE_COMMENT, DUPLICATE_DIFFERENT, OUT_OF_RESOURCES
from .blobs import BlobStore, BlobStoreError, FolderBlobStore, TempBlob
from .compression import Compression
from .config import Config
from .index import Index, InstanceRecord, StoreResult
from .index.attributes import COLUMN_TAGS
from .index.header import FRAME_TAGS, build_header_with_values
from .index.writer import BeforeCommit, DurabilityError
from .metrics import Metrics
from .workers import Signal, WorkerPool

log = logging.getLogger("dicomkit.server.ingest")

SUCCESS = 0x0000
# why an object received whole is refused before its check (C-STORE data sets get their meta from the command)
NOT_PART10 = "not a DICOM Part 10 object (no DICM prefix)"
META_UNREADABLE = "the File Meta Information cannot be read"
NO_META_UIDS = "no SOP Class/Instance UID in the file meta"
WRITE_BUFFER = 1 << 18
MMAP_THRESHOLD = 4 << 20
_WANTED = COLUMN_TAGS | FRAME_TAGS  # the values the record needs of a data set (typed columns, frames)


def new_node_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Stored:
    """What happened to one object: its status, and for logs and tools what was kept."""

    status: int
    comment: str | None = None
    outcome: str = ""  # stored, identical, replaced, duplicate, refused
    sop_instance_uid: str = ""
    blob_key: str | None = None
    sop_class_uid: str = ""  # filled by ingest_batch, whose callers answer for each object by its UIDs
    study_instance_uid: str = ""

    @property
    def outcome_for_scp(self) -> StoreOutcome:
        return StoreOutcome(self.status, self.comment)


class Events:
    """Hooks called at each step of a store (for tests that check the order); the default does nothing."""

    def __call__(self, step: str, sop_instance_uid: str) -> None:
        pass


class Archive:
    """Blob store + index + policies (see the module documentation)."""

    def __init__(self, config: Config, *, node: str | None = None, store: BlobStore | None = None,
                 index: Index | None = None, metrics: Metrics | None = None, events: Events | None = None,
                 workers: int = 16) -> None:
        self.config = config
        self.node = node or new_node_id()
        data_dir = config.storage.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DicomError(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from exc
        self.store: BlobStore = store if store is not None else FolderBlobStore(data_dir / "store", self.node)
        self.index = index if index is not None else Index(config.database_url,
                                                           durability=config.storage.durability,
                                                           extra_keys=config.index.extra_keys, node=self.node)
        self.metrics = metrics or Metrics()
        self.index.writer._on_commit = self.metrics.committed
        self.events = events or Events()
        self.durable = config.storage.durability == "full"
        self.duplicates = config.storage.duplicates
        self.compression = Compression.configured(config.storage.compression)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                              thread_name_prefix="dicomkit-archive")
        # the steps of each C-STORE (no future per call: the store completes its own loop future)
        self.workers = WorkerPool(workers, "dicomkit-archive-store")
        self._stored_bytes = self.index.total_size() if config.storage.max_archive_size else 0
        self._bytes_checked = time.monotonic()
        self._bytes_lock = threading.Lock()

    def close(self) -> None:
        self.workers.close()
        self.executor.shutdown(wait=True)
        self.index.close()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- limits ---------------------------------------------------------------------------------------------
    def space_refusal(self, incoming: int = 0) -> str | None:
        """Why a new object (of ``incoming`` bytes, 0 when not yet known) cannot be taken, or None."""
        limits = self.config.storage
        if limits.min_free_space:
            try:
                free = self.store.free_space()
            except OSError as exc:
                return f"cannot check free space: {exc.strerror or exc}"
            if free - incoming < limits.min_free_space:
                return "storage full: below the configured minimum free space"
        if limits.max_archive_size:
            with self._bytes_lock:
                if time.monotonic() - self._bytes_checked > 30:  # other nodes store too
                    self._bytes_checked = time.monotonic()
                    with contextlib.suppress(Exception):  # keep the last figure while the database is away
                        self._stored_bytes = self.index.total_size()
                total = self._stored_bytes
            if total + incoming > limits.max_archive_size:
                return "archive full: the configured maximum archive size is reached"
        return None

    def _count_bytes(self, delta: int) -> None:
        with self._bytes_lock:
            self._stored_bytes += delta

    # -- the steps -----------------------------------------------------------------------------------------
    def prepare(self, source: Path | bytes | memoryview, sop_class_uid: str, sop_instance_uid: str,
                transfer_syntax: str, *, dataset_offset: int, source_ae: str | None, size: int | None = None,
                sha256: str | None = None, content_sha256: str | None = None,
                compress: bool = False, meta_built: bool = False) -> InstanceRecord | StoreOutcome:
        """Check the complete object — its bytes, or its temporary file — and build its index record in
        one pass over it (a refusal instead when it fails). Without ``sha256`` / ``content_sha256`` the
        hashes are computed here, off the event loop (hashlib releases the GIL). ``compress``: a received
        object, which compression on store (``storage.compression``) may rewrite — the record then describes
        the rewritten blob (``record.rewritten``) except ``content_sha256``, which stays the received data
        set's (what duplicates compare). ``meta_built``: the File Meta Information before ``dataset_offset`` is
        the receiver's own (:func:`~dicomkit.io.meta.part10_header` of the C-STORE command, in
        ``transfer_syntax``): the check reads the data set after it, not the whole object again."""
        if isinstance(source, bytes | memoryview):
            buf: Any = source
        else:
            try:
                with open(source, "rb") as f:
                    if os.fstat(f.fileno()).st_size >= MMAP_THRESHOLD:
                        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    else:
                        buf = f.read()
            except OSError as exc:
                return StoreOutcome(OUT_OF_RESOURCES, f"cannot read the received object: {exc.strerror or exc}")
        if sha256 is None or content_sha256 is None:
            view = memoryview(buf)
            sha256 = hashlib.sha256(view).hexdigest()
            content_sha256 = hashlib.sha256(view[dataset_offset:]).hexdigest()
            size = len(view)
        assert size is not None
        view = memoryview(buf)
        if meta_built:
            checked = check_received(view, sop_class_uid, sop_instance_uid, transfer_syntax=transfer_syntax,
                                     meta_length=dataset_offset)
        else:
            checked = check_received(view, sop_class_uid, sop_instance_uid)
        if checked.refusal is not None or checked.dataset is None:
            return checked.refusal or StoreOutcome(0xC000, "cannot read the data set")
        ds = checked.dataset
        if checked.corrections:
            log.warning("%s stored with corrections: %s", sop_instance_uid, "; ".join(checked.corrections))
        rewritten: bytes | None = None
        if compress and self.compression is not None and self.compression.applies(ds, transfer_syntax):
            compressed = self.compression.compress(ds, sop_class_uid, sop_instance_uid, source_ae)
            if compressed is not None:
                again = check_received(compressed.data, sop_class_uid, sop_instance_uid)
                if again.dataset is not None:
                    ds, view, rewritten = again.dataset, memoryview(compressed.data), compressed.data
                    transfer_syntax, dataset_offset = compressed.transfer_syntax, compressed.dataset_offset
                    sha256, size = hashlib.sha256(compressed.data).hexdigest(), len(compressed.data)
        try:
            # the header and the typed columns' values in one pass over the data set
            header, values = build_header_with_values(ds, view, dataset_offset, transfer_syntax, _WANTED)
            record = InstanceRecord.from_dataset(ds, transfer_syntax=transfer_syntax, size=size, sha256=sha256,
                                                 content_sha256=content_sha256, dataset_offset=dataset_offset,
                                                 header=header, extra_keys=self.config.index.extra_keys,
                                                 source_ae=source_ae, values=values)
        except DicomError as exc:
            return StoreOutcome(0xC000, _short(f"cannot index the data set: {exc}"))
        for what, uid in (("Study Instance UID", record.study_instance_uid),
                          ("Series Instance UID", record.series_instance_uid)):
            if not uid:
                return StoreOutcome(0xC000, f"the data set has no {what}")
            if len(uid) > 64:
                return StoreOutcome(0xC000, f"the {what} is longer than 64 characters")
        record.node = self.node
        record.rewritten = rewritten
        return record

    def rewrite(self, temp: TempBlob, record: InstanceRecord) -> None:
        """Put the rewritten object (compression on store) into ``temp`` in place of the received one (and on
        disk, durability ``full``)."""
        if record.rewritten is not None:
            temp.rewrite(record.rewritten)
            record.rewritten = None
            if self.durable:
                temp.sync()

    def precheck_duplicate(self, record: InstanceRecord) -> tuple[str, str] | None:
        return self.index.lookup_duplicate(record.sop_instance_uid)

    def place(self, temp: TempBlob, record: InstanceRecord, *, defer_folder_sync: bool = False) -> str:
        """Give the object its own name in the store (durable, with durability full); ``defer_folder_sync``:
        the sync of its folder is left to the index transaction (:meth:`folder_sync`), where the stores of
        one group commit share it, when the store can do that."""
        if defer_folder_sync and self.durable and hasattr(self.store, "sync_folder"):
            return self.store.place(temp, record.study_instance_uid, record.series_instance_uid,  # type: ignore[call-arg]
                                    record.sop_instance_uid, durable=True, sync_folder=False)
        return self.store.place(temp, record.study_instance_uid, record.series_instance_uid,
                                record.sop_instance_uid, durable=self.durable)

    def folder_sync(self, key: str) -> BeforeCommit | None:
        """For the index transaction of an object placed with ``defer_folder_sync``: the sync of its folder,
        run before the commit (once per folder and batch), or None when there is nothing to sync."""
        sync = getattr(self.store, "sync_folder", None)
        if not self.durable or sync is None:
            return None
        return key.rsplit("/", 1)[0], lambda: sync(key)

    def after_commit(self, record: InstanceRecord, result: StoreResult) -> Stored:
        """Delete what lost, quarantine a refused duplicate; the status to answer."""
        removed = []
        for key in result.delete_after_commit:
            try:
                self.store.delete(key)
                removed.append(key)
            except (OSError, BlobStoreError) as exc:  # the sweep removes it later
                log.warning("cannot delete the blob %s: %s", key, exc)
        if removed and result.outcome == "replaced":
            with contextlib.suppress(DicomError):
                self.index.blobs_removed(removed)
        if result.outcome == "duplicate":
            try:
                kept = self.store.quarantine(record.blob_key, record.sop_instance_uid)
                self.index.record_quarantine(record.sop_instance_uid, kept, "duplicate with different content",
                                             record.content_sha256, record.source_ae).result()
            except (OSError, DicomError) as exc:
                log.warning("cannot quarantine %s: %s", record.blob_key, exc)
            return Stored(DUPLICATE_DIFFERENT, DUPLICATE_COMMENT, "duplicate", record.sop_instance_uid,
                          result.existing_key)
        if result.outcome == "identical":
            return Stored(SUCCESS, None, "identical", record.sop_instance_uid, result.existing_key)
        self._count_bytes(record.size)
        return Stored(SUCCESS, None, result.outcome, record.sop_instance_uid, record.blob_key)

    def quarantine_temp(self, temp: TempBlob, record: InstanceRecord) -> Stored:
        try:
            kept = self.store.quarantine(temp, record.sop_instance_uid)
            self.index.record_quarantine(record.sop_instance_uid, kept, "duplicate with different content",
                                         record.content_sha256, record.source_ae).result()
        except (OSError, DicomError) as exc:
            temp.discard()
            log.warning("cannot quarantine the duplicate %s: %s", record.sop_instance_uid, exc)
        return Stored(DUPLICATE_DIFFERENT, DUPLICATE_COMMENT, "duplicate", record.sop_instance_uid)

    def discard_placed(self, record: InstanceRecord) -> bool:
        """After the index transaction of ``record`` failed: remove its placed blob, unless the transaction may
        have committed after all (a connection lost during COMMIT leaves its outcome unknown). True when the
        index holds the row with this blob: the instance is stored.

        A blob is only removed once the index answers that no row refers to it; while the database cannot be
        asked, the blob stays and the sweep settles it (an orphan is re-indexed or removed, never a row left
        without its object)."""
        key = record.blob_key
        try:
            row = self.index.lookup_duplicate(record.sop_instance_uid)
        except Exception as exc:  # the database is still away
            log.warning("kept %s after a failed index transaction (the sweep settles it): %s", key, exc)
            return False
        if row is not None and row[1] == key:
            log.warning("the index transaction of %s reported an error but committed", record.sop_instance_uid)
            self._count_bytes(record.size)
            return True
        try:
            self.store.delete(key)
        except (OSError, BlobStoreError) as exc:
            log.warning("cannot remove %s after a failed index transaction: %s", key, exc)
        return False

    # -- one object, blocking (archive import, re-indexing orphans) --------------------------------------------
    def ingest_file(self, path: str | os.PathLike[str], *, source_ae: str | None = None) -> Stored:
        """Store one Part 10 file through the same steps as a C-STORE (copied into the store)."""
        try:
            temp = self.store.create_temp()
        except (OSError, BlobStoreError) as exc:
            return Stored(OUT_OF_RESOURCES, _short(f"cannot store: {_why(exc)}"), "refused")
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 16)
                if head[128:132] != b"DICM":
                    temp.discard()
                    return Stored(0xC000, NOT_PART10, "refused")
                offset = meta_end(head)
                file_hash, content_hash = hashlib.sha256(head), hashlib.sha256(memoryview(head)[offset:])
                temp.write([head])
                data: bytes | None = head  # small files are checked from memory, not read again
                while chunk := f.read(1 << 20):
                    file_hash.update(chunk)
                    content_hash.update(chunk)
                    temp.write([chunk])
                    data = data + chunk if data is not None and len(data) + len(chunk) < MMAP_THRESHOLD else None
            size = os.fstat(temp.fd).st_size
        except (OSError, DicomError) as exc:
            temp.discard()
            return Stored(OUT_OF_RESOURCES if isinstance(exc, OSError) else 0xC000, _short(_why(exc)), "refused")
        return self.ingest_temp(temp, size=size, file_hash=file_hash.hexdigest(),
                                content_hash=content_hash.hexdigest(), dataset_offset=offset, source_ae=source_ae,
                                data=data)

    def ingest_temp(self, temp: TempBlob, *, size: int, file_hash: str, content_hash: str, dataset_offset: int,
                    source_ae: str | None = None, data: bytes | None = None) -> Stored:
        """Store a complete Part 10 file written into ``temp`` (STOW-RS parts, :meth:`ingest_file`) through the
        same steps as a C-STORE: its SHA-256 (``file_hash``) and that of its data set from ``dataset_offset``
        (``content_hash``) were computed while it was written; ``data``: the file's bytes when still in memory
        (checked from there rather than read back)."""
        events = self.events
        probe = _uids_of(temp.path)
        if probe is None:
            temp.discard()
            return Stored(0xC000, NO_META_UIDS, "refused")
        sop_class, sop_instance, ts = probe
        events("received", sop_instance)
        refusal = self.space_refusal(size)
        if refusal:
            temp.discard()
            return Stored(OUT_OF_RESOURCES, refusal, "refused", sop_instance)
        if self.durable:
            temp.sync()
            events("file synced", sop_instance)
        prepared = self.prepare(data if data is not None else temp.path, sop_class, sop_instance, ts, size=size,
                                sha256=file_hash, content_sha256=content_hash, dataset_offset=dataset_offset,
                                source_ae=source_ae, compress=True)
        if isinstance(prepared, StoreOutcome):
            temp.discard()
            return Stored(prepared.status, prepared.comment, "refused", sop_instance)
        try:
            self.rewrite(temp, prepared)
        except OSError as exc:
            temp.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"cannot store: {_why(exc)}"), "refused", sop_instance)
        return self._store_prepared(temp, prepared)

    def _store_prepared(self, temp: TempBlob, record: InstanceRecord) -> Stored:
        try:
            existing = self.precheck_duplicate(record)
        except Exception as exc:
            temp.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"index unavailable: {_why(exc)}"), "refused",
                          record.sop_instance_uid)
        settled = self.place_checked(temp, record, existing)
        if settled is not None:
            return settled
        try:
            result = self.index.store(record, self.duplicates, here=True,
                                      before_commit=self.folder_sync(record.blob_key)).result()
        except Exception as exc:
            return self.commit_failed(record, exc)
        self.events("committed", record.sop_instance_uid)
        return self.after_commit(record, result)

    def place_checked(self, temp: TempBlob, record: InstanceRecord, existing: tuple[str, str] | None,
                      ) -> Stored | None:
        """The duplicates policy for a checked object in ``temp``, given what :meth:`precheck_duplicate` found:
        an identical copy of a stored instance is not kept (a success), a different one under ``keep-first``
        goes to quarantine (its answer); otherwise the object gets its name in the store (``record.blob_key``;
        with durability full its folder is synced by its index transaction: :meth:`folder_sync`) and None
        is returned. The index transaction decides duplicates again."""
        if existing is not None:
            if existing[0] == record.content_sha256:
                temp.discard()
                return Stored(SUCCESS, None, "identical", record.sop_instance_uid, existing[1])
            if self.duplicates != "overwrite":
                return self.quarantine_temp(temp, record)
        try:
            record.blob_key = self.place(temp, record, defer_folder_sync=True)
        except (OSError, BlobStoreError) as exc:
            temp.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"cannot store: {_why(exc)}"), "refused", record.sop_instance_uid)
        self.events("placed", record.sop_instance_uid)
        return None

    def commit_failed(self, record: InstanceRecord, exc: BaseException) -> Stored:
        """The answer for a placed object whose index transaction failed (its blob removed unless the
        transaction committed after all: :meth:`discard_placed`)."""
        if self.discard_placed(record):
            return Stored(SUCCESS, None, "stored", record.sop_instance_uid, record.blob_key)
        why = "cannot store" if isinstance(exc, DurabilityError) else "index unavailable"
        return Stored(OUT_OF_RESOURCES, _short(f"{why}: {_why(exc)}"), "refused", record.sop_instance_uid)

    # -- complete objects in memory, a batch at a time (STOW-RS parts) -------------------------------------------
    def ingest_batch(self, objects: Sequence[bytes], *, source_ae: str | None = None,
                     admit: Callable[[InstanceRecord], Stored | None] | None = None) -> list[Stored]:
        """Store complete Part 10 objects held in memory, each through the steps of a C-STORE, with one hop
        for the batch: every object is checked (and ``admit`` asked), their duplicates are looked up in one
        query, each is written and placed, and their index rows go to the group-commit writer together, so
        the batch shares its commits (and, durability full, its folder syncs); each answer waits for its own
        commit. ``admit``: asked for each checked object (its record) before anything is written; a Stored
        it returns is that object's answer (a refusal)."""
        checked: list[Stored | InstanceRecord] = []
        for data in objects:
            try:
                checked.append(self._check(data, source_ae, admit))
            except Exception as exc:  # a bug: this object fails alone, and says so
                log.exception("cannot check a received object")
                checked.append(Stored(PROCESSING_FAILURE, _short(f"internal error: {exc}"), "refused"))
        records = [c for c in checked if isinstance(c, InstanceRecord)]
        try:
            existing = self.index.lookup_duplicates([r.sop_instance_uid for r in records]) if records else {}
        except Exception as exc:
            failure = Stored(OUT_OF_RESOURCES, _short(f"index unavailable: {_why(exc)}"), "refused")
            return [c if isinstance(c, Stored) else _named(failure, c) for c in checked]
        staged: list[Stored | tuple[InstanceRecord, concurrent.futures.Future[StoreResult]]] = []
        for item, data in zip(checked, objects, strict=True):
            if isinstance(item, Stored):
                staged.append(item)
                continue
            try:
                staged.append(self._stage(item, data, existing.get(item.sop_instance_uid)))
            except (OSError, BlobStoreError) as exc:
                staged.append(_named(Stored(OUT_OF_RESOURCES, _short(f"cannot store: {_why(exc)}"), "refused"), item))
            except Exception as exc:  # a bug: this object fails alone, and says so
                log.exception("cannot store %s", item.sop_instance_uid)
                staged.append(_named(Stored(PROCESSING_FAILURE, _short(f"internal error: {exc}"), "refused"), item))
        out = []
        for entry in staged:
            if isinstance(entry, Stored):
                out.append(entry)
                continue
            record, committed = entry
            try:
                result = committed.result()
            except Exception as exc:
                out.append(_named(self.commit_failed(record, exc), record))
                continue
            self.events("committed", record.sop_instance_uid)
            out.append(_named(self.after_commit(record, result), record))
        return out

    def _check(self, data: bytes, source_ae: str | None,
               admit: Callable[[InstanceRecord], Stored | None] | None) -> Stored | InstanceRecord:
        """One object of :meth:`ingest_batch`: its File Meta Information, the limits, the check and its record."""
        from ..io.reader import read_file_meta

        if len(data) < 132 or data[128:132] != b"DICM":
            return Stored(0xC000, NOT_PART10, "refused")
        try:
            uids = _meta_uids(read_file_meta(data))
            offset = meta_end(data)
        except DicomError as exc:
            return Stored(0xC000, _short(f"{META_UNREADABLE}: {exc}"), "refused")
        if uids is None:
            return Stored(0xC000, NO_META_UIDS, "refused")
        sop_class, sop_instance, ts = uids
        self.events("received", sop_instance)
        refusal = self.space_refusal(len(data))
        if refusal:
            return Stored(OUT_OF_RESOURCES, refusal, "refused", sop_instance, sop_class_uid=sop_class)
        prepared = self.prepare(data, sop_class, sop_instance, ts, dataset_offset=offset, source_ae=source_ae,
                                compress=True)
        if isinstance(prepared, StoreOutcome):
            return Stored(prepared.status, prepared.comment, "refused", sop_instance, sop_class_uid=sop_class)
        refused = admit(prepared) if admit is not None else None
        return refused if refused is not None else prepared

    def _stage(self, record: InstanceRecord, data: bytes, existing: tuple[str, str] | None,
               ) -> Stored | tuple[InstanceRecord, concurrent.futures.Future[StoreResult]]:
        """One checked object of :meth:`ingest_batch` up to its index transaction (submitted, not awaited)."""
        uid = record.sop_instance_uid
        if existing is not None and existing[0] == record.content_sha256:
            return _named(Stored(SUCCESS, None, "identical", uid, existing[1]), record)
        temp = self.store.create_temp()
        try:
            temp.write([record.rewritten if record.rewritten is not None else data])
            record.rewritten = None
            if self.durable:
                temp.sync()
                self.events("file synced", uid)
        except OSError:
            temp.discard()
            raise
        settled = self.place_checked(temp, record, existing)
        if settled is not None:
            return _named(settled, record)
        return record, self.index.store(record, self.duplicates, before_commit=self.folder_sync(record.blob_key))

    # -- deletion --------------------------------------------------------------------------------------------
    def delete(self, level: str, uid: str) -> list[str]:
        """Remove rows in one transaction, then their blobs; the keys removed."""
        keys = self.index.delete(level, uid)
        removed = []
        for key in keys:
            try:
                self.store.delete(key)
                removed.append(key)
            except (OSError, BlobStoreError) as exc:
                log.warning("cannot delete %s (the sweep removes it later): %s", key, exc)
        self.index.blobs_removed(removed)
        if keys and self.config.storage.max_archive_size:
            self._stored_bytes = self.index.total_size()
        return keys


def _named(stored: Stored, record: InstanceRecord) -> Stored:
    """``stored`` with the UIDs of ``record`` (the answers of :meth:`Archive.ingest_batch`)."""
    return replace(stored, sop_instance_uid=record.sop_instance_uid, sop_class_uid=record.sop_class_uid,
                   study_instance_uid=record.study_instance_uid)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def hash_file(path: Path | str) -> tuple[Any, Any, int, int]:
    """(SHA-256 of the file, SHA-256 of its data set, data set offset, size) of a Part 10 file."""
    file_hash, content_hash = hashlib.sha256(), hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        offset = meta_end(head) if head[128:132] == b"DICM" else 0
        file_hash.update(head)
        content_hash.update(memoryview(head)[offset:])
        size = len(head)
        while chunk := f.read(1 << 20):
            file_hash.update(chunk)
            content_hash.update(chunk)
            size += len(chunk)
    return file_hash, content_hash, offset, size


def _uids_of(path: Path) -> tuple[str, str, str] | None:
    from ..io.reader import read_file_meta

    try:
        meta = read_file_meta(path)
    except (OSError, DicomError):
        return None
    return _meta_uids(meta)


def _meta_uids(meta: Any) -> tuple[str, str, str] | None:
    """(Media Storage SOP Class UID, Media Storage SOP Instance UID, Transfer Syntax UID) of a File Meta
    Information, None unless it has all three."""
    values = [str(meta.value(t) or "").strip("\x00 ") for t in (0x00020002, 0x00020003, 0x00020010)]
    if not all(values):
        return None
    return values[0], values[1], values[2]


# -- the Storage SCP's target --------------------------------------------------------------------------------
class ArchiveStoreTarget:
    """One C-STORE being received into the archive (a :class:`~dicomkit.services.storage.StoreTarget`)."""

    def __init__(self, archive: Archive, request: CStoreRQ, rc: RequestContext, temp: TempBlob | None,
                 log_line: Callable[..., None]) -> None:
        self.archive = archive
        self.rc = rc
        self.sop_class_uid = str(request.affected_sop_class_uid or "")
        self.sop_instance_uid = str(request.affected_sop_instance_uid or "")
        self.transfer_syntax = rc.transfer_syntax
        self._temp = temp  # None: made in a worker thread when first needed (never on the event loop)
        self._log = log_line
        meta = part10_header(self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax, rc.calling_ae_title)
        self.dataset_offset = len(meta)
        self.size = len(meta)
        self.error: OSError | BlobStoreError | None = None
        self._buffer: list[bytes] = [meta]
        self._buffered = len(meta)
        self._spilled = False  # part of the object is in the temporary file already
        self._finished_at = 0.0

    # -- DataSink ---------------------------------------------------------------------------------------------
    def write(self, data: memoryview) -> None:
        """Keep the data (small objects stay in memory until they are complete; larger ones stream to the
        temporary file). Hashing waits for the worker thread: nothing but a copy happens on the event loop."""
        if self.error is not None:
            return
        chunk = bytes(data)
        self.size += len(chunk)
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        chunks, self._buffer, self._buffered = self._buffer, [], 0
        self._spilled = True
        try:
            self.temp.write(chunks)  # a large object: its first part makes the file here, if there is no spare
        except (OSError, BlobStoreError) as exc:
            self.error = exc

    def finish(self) -> None:
        self._finished_at = time.perf_counter()

    @property
    def temp(self) -> TempBlob:
        """The temporary file (made now when none was ready: OSError / BlobStoreError when it cannot be)."""
        if self._temp is None:
            self._temp = self.archive.store.create_temp()
        return self._temp

    def discard(self) -> None:
        if self._temp is not None:
            self._temp.discard()

    # -- commit -------------------------------------------------------------------------------------------------
    async def commit(self) -> StoreOutcome:
        stored = await self._commit()
        archive = self.archive
        elapsed = time.perf_counter() - (self._finished_at or time.perf_counter())
        if stored.status == SUCCESS:
            archive.metrics.stored(stored.outcome, self.size - self.dataset_offset, elapsed)
            self._log(logging.DEBUG, "%s %s (%d bytes): %s", self.sop_instance_uid, stored.outcome,
                      self.size - self.dataset_offset, stored.blob_key or "")
        else:
            archive.metrics.failed(stored.status)
            self._log(logging.WARNING, "%s refused with 0x%04X: %s", self.sop_instance_uid, stored.status,
                      stored.comment)
        archive.events("answered", self.sop_instance_uid)
        return stored.outcome_for_scp

    async def _commit(self) -> Stored:
        """One hop to a worker thread, which writes (and syncs) the object, checks it, builds its record,
        places it and hands it to the group-commit writer; the event loop wakes once, when the commit is
        done (see the module documentation for the steps)."""
        archive = self.archive
        events = archive.events
        if self.error is not None:
            self.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"cannot write the object: {_why(self.error)}"), "refused")
        events("received", self.sop_instance_uid)
        refusal = archive.space_refusal(self.size)
        if refusal:
            self.discard()
            return Stored(OUT_OF_RESOURCES, refusal, "refused")
        data: bytes | None = None
        if self._spilled:
            self._flush()
            if self.error is not None:
                self.discard()
                return Stored(OUT_OF_RESOURCES, _short(f"cannot write the object: {_why(self.error)}"), "refused")
        else:
            data = b"".join(self._buffer)  # checked from memory, never read back; written by a worker
            self._buffer = []
        done = _LoopFuture(asyncio.get_running_loop())
        # the file reaches the disk in one worker while another checks it (posted first: never waits
        # behind the work that waits for it)
        synced = Signal() if archive.durable else None
        if synced is not None:
            archive.workers.post(self._sync, data, synced)
        archive.workers.post(self._work, data, synced, done)
        outcome: Stored | tuple[InstanceRecord, StoreResult | None, BaseException | None] = await done.future
        if isinstance(outcome, Stored):
            return outcome
        record, result, failure = outcome
        if failure is not None:
            return await asyncio.get_running_loop().run_in_executor(archive.executor, archive.commit_failed, record,
                                                                    failure)
        assert result is not None  # store_instance returns its StoreResult
        events("committed", record.sop_instance_uid)
        if result.delete_after_commit or result.outcome == "duplicate":
            return await asyncio.get_running_loop().run_in_executor(archive.executor, archive.after_commit, record,
                                                                    result)
        return archive.after_commit(record, result)

    def _work(self, data: bytes | None, synced: Signal | None, done: _LoopFuture) -> None:
        """In a worker: the steps up to the index transaction, then ``done`` is completed by the writer."""
        if synced is None:
            try:
                self._write_out(data)
            except (OSError, BlobStoreError) as exc:
                self.discard()
                done.set_result(Stored(OUT_OF_RESOURCES, _short(f"cannot store: {_why(exc)}"), "refused"))
                return
        try:
            placed = self._prepare_and_place(data, synced)
        except BaseException as exc:  # pragma: no cover - a bug; the SCP answers a failure
            done.set_exception(exc)
            return
        if isinstance(placed, Stored):
            done.set_result(placed)
            return
        archive = self.archive
        # the commit (or its failure) completes the loop's future directly, in the thread that ran the batch
        archive.index.store_then(placed, archive.duplicates, lambda result, exc: done.set_result((placed, result, exc)),
                                 here=True, before_commit=archive.folder_sync(placed.blob_key))

    def _write_out(self, data: bytes | None) -> None:
        """The object into its temporary file (into the page cache), unless it streamed there already."""
        if data is not None:
            self.temp.write([data])

    def _sync(self, data: bytes | None, synced: Signal) -> None:
        try:
            self._write_out(data)
            self.temp.sync()
            self.archive.events("file synced", self.sop_instance_uid)
        except BaseException as exc:  # for the worker that waits for it (_prepare_and_place)
            synced.set(exc)
            return
        synced.set()

    def _prepare_and_place(self, data: bytes | None, synced: Signal | None) -> InstanceRecord | Stored:
        archive = self.archive
        prepared = archive.prepare(data if data is not None else self.temp.path, self.sop_class_uid,
                                   self.sop_instance_uid, self.transfer_syntax, dataset_offset=self.dataset_offset,
                                   source_ae=self.rc.calling_ae_title or None, compress=True, meta_built=True)
        if synced is not None:
            try:
                synced.wait()
            except (OSError, BlobStoreError) as exc:
                self.discard()
                return Stored(OUT_OF_RESOURCES, _short(f"cannot store the object: {_why(exc)}"), "refused")
        if isinstance(prepared, StoreOutcome):
            self.discard()
            return Stored(prepared.status, prepared.comment, "refused")
        record = prepared
        try:
            archive.rewrite(self.temp, record)
        except OSError as exc:
            self.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"cannot store the object: {_why(exc)}"), "refused")
        try:
            existing = archive.precheck_duplicate(record)
        except Exception as exc:
            self.discard()
            return Stored(OUT_OF_RESOURCES, _short(f"index unavailable: {_why(exc)}"), "refused")
        settled = archive.place_checked(self.temp, record, existing)
        return settled if settled is not None else record


class _LoopFuture:
    """A future of the event loop that a worker thread completes: one wake-up of the loop, no future in
    between (what ``asyncio.wrap_future`` of a ``concurrent.futures.Future`` would add to every store)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def set_result(self, value: Any) -> None:
        self._complete(value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._complete(None, exc)

    def _complete(self, value: Any, exc: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(self._set, value, exc)

    def _set(self, value: Any, exc: BaseException | None) -> None:
        if self.future.done():  # cancelled (the association went away)
            return
        if exc is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(value)


class ArchiveReceiver:
    """The Storage SCP's receiver on an archive: ``StorageSCP(ArchiveReceiver(archive), immediate=False)``."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def __call__(self, request: CStoreRQ, rc: RequestContext) -> ArchiveStoreTarget:
        logger = association_logger(rc)
        refusal = self.archive.space_refusal()
        if refusal:
            self.archive.metrics.failed(OUT_OF_RESOURCES)
            logger(logging.WARNING, "%s refused with 0xA700: %s", request.affected_sop_instance_uid, refusal)
            raise StoreRefused(refusal, OUT_OF_RESOURCES)
        store = self.archive.store
        take_spare = getattr(store, "take_spare", None)
        if take_spare is not None:
            # a file made ahead; or none, and a worker makes it: creating a file can take half a millisecond
            # of the kernel's time here, which on the event loop would hold up every association
            return ArchiveStoreTarget(self.archive, request, rc, take_spare(), logger)
        try:
            temp = store.create_temp()
        except (OSError, BlobStoreError) as exc:
            self.archive.metrics.failed(OUT_OF_RESOURCES)
            logger(logging.WARNING, "%s refused with 0xA700: cannot store: %s", request.affected_sop_instance_uid,
                   _why(exc))
            raise StoreRefused(_short(f"cannot store: {_why(exc)}"), OUT_OF_RESOURCES) from exc
        return ArchiveStoreTarget(self.archive, request, rc, temp, logger)


def association_logger(rc: RequestContext) -> Callable[..., None]:
    """A log function whose lines carry the association's id and calling AE (``extra`` for JSON logs)."""
    extra = {"association": rc.association_id, "calling_ae": rc.calling_ae_title}
    prefix = f"{rc.association_id} {rc.calling_ae_title or '?'}: "

    def emit(level: int, message: str, *args: Any) -> None:
        if log.isEnabledFor(level):
            log.log(level, prefix + message, *args, extra=extra)
    return emit


__all__ = ["Archive", "ArchiveReceiver", "ArchiveStoreTarget", "Events", "Stored", "new_node_id"]
