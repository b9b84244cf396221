"""Reconciling the store with the index: the start-up sweep and ``dicomkit archive verify``.

What a crash can leave, and what becomes of it (the ingest order makes these the only cases):

- a **temporary file** (the crash came while receiving or before placing): removed — only when untouched
  for ``storage.temp_grace`` seconds or owned by a node that is gone (its heartbeat expired, or on this
  host its process no longer runs), so a node starting never sweeps another live node's uploads;
- an **orphan blob** (placed, its transaction not committed; or the loser of a duplicate, or a deleted
  instance, whose blob removal did not happen): removed when its row was removed on purpose (the delete
  transaction records the blob in ``deleted_blobs``) or another blob holds its SOP Instance UID, else
  re-indexed (it was received whole and checked, only its answer was lost);
- a **dangling row** (a row whose blob is missing or differs): never made by ingest (the blob is durable
  before its row is committed); reported, and removed by ``verify --repair``.

The start-up sweep looks at temporary files, and at the series folders changed since the previous
completed sweep (a new entry changes its folder's modification time), so it stays quick at any archive
size; ``verify`` checks everything: every row against its blob (present, size, SHA-256) and every blob
against the index.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import DicomError
from ..services.storage.scp import StoreOutcome
from .blobs import BlobInfo, BlobStoreError
from .index import InstanceRow
from .ingest import Archive, hash_file

log = logging.getLogger("dicomkit.server.sweep")

LAST_SWEEP = "last_sweep"
SWEEP_MARGIN = 600.0  # folders changed this long before the previous sweep are looked at again


@dataclass
class SweepReport:
    temp_removed: list[str] = field(default_factory=list)
    orphans_indexed: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    orphans_kept: list[str] = field(default_factory=list)  # in flight on a live node
    dangling: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.temp_removed:
            out.append(f"removed {len(self.temp_removed)} temporary file(s) of interrupted stores")
        if self.orphans_indexed:
            out.append(f"re-indexed {len(self.orphans_indexed)} stored object(s) whose index rows were missing")
        if self.orphans_removed:
            out.append(f"removed {len(self.orphans_removed)} blob(s) that no index row needs")
        if self.dangling:
            out.append(f"{len(self.dangling)} index row(s) without their blob: run dicomkit archive verify")
        return out


def _live(archive: Archive) -> set[str]:
    try:
        live = archive.index.live_nodes()
    except Exception as exc:  # without the nodes table, trust only the grace period
        log.warning("cannot read the nodes table: %s", exc)
        live = set()
    live.add(archive.node)
    return live


def sweep_temp_files(archive: Archive, live: set[str] | None = None) -> list[str]:
    live = _live(archive) if live is None else live
    now = time.time()
    grace = archive.config.storage.temp_grace
    removed = []
    for temp in archive.store.temp_files():
        if temp.node == archive.node:
            continue
        if temp.node in live and now - temp.mtime < grace:
            continue
        try:
            os.unlink(temp.path)
            removed.append(str(temp.path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove the leftover %s: %s", temp.path, exc)
    return removed


def adopt(archive: Archive, key: str) -> str:
    """Settle an orphan blob: ``"indexed"`` (its UID had no row), ``"removed"`` (another blob holds its
    UID, or it cannot be read)."""
    path_of = getattr(archive.store, "path_of", None)
    if path_of is None:  # pragma: no cover - stores without paths come with their own sweep
        raise BlobStoreError("this blob store cannot re-index objects")
    path: Path = path_of(key)
    if archive.index.is_deleted_blob(key):  # its row was removed on purpose (deletion, overwrite)
        archive.store.delete(key)
        archive.index.blobs_removed([key])
        return "removed"
    try:
        file_hash, content_hash, offset, size = hash_file(path)
        from ..io.reader import read_file_meta

        meta = read_file_meta(path)
        sop_class, sop_instance, ts = (str(meta.value(t) or "").strip("\x00 ")
                                       for t in (0x00020002, 0x00020003, 0x00020010))
    except (OSError, DicomError) as exc:
        log.warning("orphan %s cannot be read (%s): removed", key, exc)
        archive.store.delete(key)
        return "removed"
    existing = archive.index.lookup_duplicate(sop_instance)
    if existing is not None and existing[1] != key:
        archive.store.delete(key)
        return "removed"
    if existing is not None:
        return "indexed"
    prepared = archive.prepare(path, sop_class, sop_instance, ts, size=size, sha256=file_hash.hexdigest(),
                               content_sha256=content_hash.hexdigest(), dataset_offset=offset, source_ae=None)
    if isinstance(prepared, StoreOutcome):
        log.warning("orphan %s is not a storable object (%s): removed", key, prepared.comment)
        archive.store.delete(key)
        return "removed"
    prepared.blob_key = key
    result = archive.index.store(prepared, "keep-first").result()
    if result.outcome != "stored":
        archive.store.delete(key)
        return "removed"
    return "indexed"


def _orphans(archive: Archive, blobs: Iterable[BlobInfo], live: set[str], report: SweepReport,
             repair: bool = True) -> list[BlobInfo]:
    now = time.time()
    grace = archive.config.storage.temp_grace
    pending: list[BlobInfo] = []
    found: list[BlobInfo] = []

    def settle() -> None:
        known = archive.index.blob_keys(b.key for b in pending)
        for blob in pending:
            if blob.key in known:
                continue
            if blob.node in live and blob.node != archive.node and now - blob.mtime < grace:
                report.orphans_kept.append(blob.key)  # a live node is committing it right now
                continue
            found.append(blob)
            if repair:
                outcome = adopt(archive, blob.key)
                (report.orphans_indexed if outcome == "indexed" else report.orphans_removed).append(blob.key)
        pending.clear()

    for blob in blobs:
        pending.append(blob)
        if len(pending) >= 500:
            settle()
    settle()
    return found


def startup_sweep(archive: Archive, *, full: bool = False) -> SweepReport:
    """The sweep a node runs before it accepts anything (see the module documentation)."""
    started = time.time()
    report = SweepReport()
    live = _live(archive)
    report.temp_removed = sweep_temp_files(archive, live)
    last = archive.index.get_meta(LAST_SWEEP)
    since = None if full or last is None else float(last) - max(SWEEP_MARGIN, archive.config.storage.temp_grace)
    _orphans(archive, archive.store.iterate(modified_since=since), live, report)
    if since is not None:
        rows = archive.index.query("SELECT sop_instance_uid, blob_key, size FROM instances WHERE stored_at >= ?",
                                   (since,))
        for row in rows:
            if archive.store.size(row["blob_key"]) is None:
                report.dangling.append(str(row["sop_instance_uid"]))
    archive.index.set_meta(LAST_SWEEP, repr(started))
    for line in report.lines():
        log.warning("start-up sweep: %s", line)
    return report


# -- verify ----------------------------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    rows: int = 0
    blobs: int = 0
    missing: list[str] = field(default_factory=list)  # rows whose blob is missing
    corrupt: list[str] = field(default_factory=list)  # rows whose blob has another size or checksum
    orphans: list[str] = field(default_factory=list)  # blobs without a row
    temp_leftovers: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: int = 0

    @property
    def problems(self) -> int:
        return len(self.missing) + len(self.corrupt) + len(self.orphans)

    @property
    def ok(self) -> bool:
        return self.problems == 0 or (bool(self.repaired) and self.unrepaired == 0)


def _check_row(archive: Archive, row: InstanceRow) -> str | None:
    """None when the row's blob is there with its size and checksum, else what is wrong."""
    size = archive.store.size(row.blob_key)
    if size is None:
        return "missing"
    if size != row.size:
        return f"corrupt: {size} bytes, the index says {row.size}"
    digest = hashlib.sha256()
    try:
        with archive.store.open(row.blob_key) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (OSError, BlobStoreError) as exc:
        return f"missing: {exc}"
    if digest.hexdigest() != row.sha256:
        return "corrupt: SHA-256 differs from the index"
    return None


def verify(archive: Archive, *, repair: bool = False, workers: int = 4,
           progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check every row against its blob and every blob against the index (see the module documentation)."""
    report = VerifyReport()
    problems: list[tuple[InstanceRow, str]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        batch: list[InstanceRow] = []

        def run(rows: list[InstanceRow]) -> None:
            for row, problem in zip(rows, pool.map(lambda r: _check_row(archive, r), rows)):
                report.rows += 1
                if problem is not None:
                    problems.append((row, problem))
            if progress is not None:
                progress(len(rows))

        for row in archive.index.iter_instances():
            batch.append(row)
            if len(batch) >= 256:
                run(batch)
                batch = []
        if batch:
            run(batch)
    for row, problem in problems:
        line = f"{row.sop_instance_uid} ({row.blob_key}): {problem}"
        (report.missing if problem.startswith("missing") else report.corrupt).append(line)
    live = _live(archive)
    sweep = SweepReport()

    def counted(blobs: Iterable[BlobInfo]) -> Iterable[BlobInfo]:
        for blob in blobs:
            report.blobs += 1
            yield blob

    orphans = _orphans(archive, counted(archive.store.iterate()), live, sweep, repair=False)
    report.orphans = [b.key for b in orphans]
    now = time.time()
    report.temp_leftovers = [str(t.path) for t in archive.store.temp_files()
                             if t.node not in live or now - t.mtime > archive.config.storage.temp_grace]
    if repair:
        _repair(archive, report, problems, orphans)
    return report


def _repair(archive: Archive, report: VerifyReport, problems: list[tuple[InstanceRow, str]],
            orphans: list[BlobInfo]) -> None:
    for row, problem in problems:
        try:
            if not problem.startswith("missing"):
                kept = archive.store.quarantine(row.blob_key, row.sop_instance_uid)
                archive.index.record_quarantine(row.sop_instance_uid, kept, f"verify: {problem}",
                                                row.content_sha256, row.source_ae).result()
            archive.index.delete("instance", row.sop_instance_uid)
            report.repaired.append(f"{row.sop_instance_uid}: row removed ({problem})")
        except (OSError, DicomError) as exc:
            report.unrepaired += 1
            log.warning("cannot repair %s: %s", row.sop_instance_uid, exc)
    for blob in orphans:
        try:
            outcome = adopt(archive, blob.key)
            report.repaired.append(f"{blob.key}: {'re-indexed' if outcome == 'indexed' else 'removed'}")
        except (OSError, DicomError) as exc:
            report.unrepaired += 1
            log.warning("cannot repair %s: %s", blob.key, exc)
    for path in report.temp_leftovers:
        with contextlib.suppress(OSError):
            os.unlink(path)


__all__ = ["SweepReport", "VerifyReport", "adopt", "startup_sweep", "sweep_temp_files", "verify"]
