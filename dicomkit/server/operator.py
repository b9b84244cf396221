"""The operator's actions on an archive — stats, import, reindex, delete — as library functions; the
``dicomkit archive`` command calls them. Each works while a server runs on the same archive (SQLite lets
several processes write, one transaction at a time; PostgreSQL is made for it) or while none does.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..io.json_model import from_json
from ..services.storage.scp import StoreOutcome
from .index import InstanceRecord, _update_modalities, supplement
from .index.attributes import LEVELS, TABLES, column_names, extra_values, extract
from .index.dialect import Database
from .index.header import decompress_json
from .index.schema import HEADER_VERSION
from .ingest import Archive, Stored, hash_file


def stats(archive: Archive) -> dict[str, Any]:
    out = archive.index.stats()
    with contextlib.suppress(OSError):
        out["free_bytes"] = archive.store.free_space()
    out["nodes"] = [{"node": n["node_id"], "host": n["host"], "pid": n["pid"], "stopped": bool(n["stopped"])}
                    for n in archive.index.nodes()]
    return out


# -- import -----------------------------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    bytes: int = 0

    @property
    def stored(self) -> int:
        return self.outcomes["stored"] + self.outcomes["replaced"]


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and every file below the folders named (hidden ones left out), in sorted order."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield p


def import_files(archive: Archive, files: Iterable[Path], *, workers: int = 4,
                 progress: Callable[[Path, Stored, int], None] | None = None) -> ImportSummary:
    """Store each file through the ingest steps (hashing, checks, fsync, commit), ``workers`` at a time:
    reading and hashing run in parallel, and their index transactions are grouped."""
    summary = ImportSummary()

    def one(path: Path) -> tuple[Path, Stored, int]:
        try:
            size = path.stat().st_size
        except OSError as exc:
            return path, Stored(0xA700, exc.strerror or str(exc), "refused"), 0
        return path, archive.ingest_file(path), size

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[concurrent.futures.Future[tuple[Path, Stored, int]]] = set()
        for path in files:
            pending.add(pool.submit(one, path))
            if len(pending) >= workers * 4:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    _account(summary, *future.result(), progress)
        for future in concurrent.futures.as_completed(pending):
            _account(summary, *future.result(), progress)
    return summary


def _account(summary: ImportSummary, path: Path, stored: Stored, size: int,
             progress: Callable[[Path, Stored, int], None] | None) -> None:
    if stored.status == 0:
        summary.outcomes[stored.outcome] += 1
        summary.bytes += size
    else:
        summary.outcomes["failed" if stored.outcome != "duplicate" else "duplicate"] += 1
        summary.failed.append((str(path), f"0x{stored.status:04X} {stored.comment or ''}".strip()))
    if progress is not None:
        progress(path, stored, size)


# -- reindex ----------------------------------------------------------------------------------------------------
def _dataset_of_header(header: bytes) -> Dataset:
    return from_json(decompress_json(header))


def reindex(archive: Archive, *, from_blobs: bool = False, batch: int = 200,
            progress: Callable[[int], None] | None = None) -> int:
    """Recompute every typed column and extra key from the stored headers (``from_blobs``: re-read each blob
    and rebuild its header and frame offsets too), and every aggregate from the rows. Returns the number of
    instances. Patient, study and series columns come from the first instance stored for them."""
    index = archive.index
    seen: dict[str, set[int]] = {"patient": set(), "study": set(), "series": set()}
    done = 0
    last = 0
    while True:
        rows = index.query(
            "SELECT i.pk, i.series_pk, s.study_pk, st.patient_pk, i.blob_key, i.transfer_syntax, i.size, "
            "i.dataset_offset, h.header FROM instances i JOIN series s ON s.pk = i.series_pk JOIN studies st "
            "ON st.pk = s.study_pk LEFT JOIN instance_headers h ON h.instance_pk = i.pk WHERE i.pk > ? "
            "ORDER BY i.pk LIMIT ?", (last, batch))
        if not rows:
            break
        updates: list[tuple[dict[str, Any], Dataset, InstanceRecord | None]] = []
        for row in rows:
            record = None
            if from_blobs or row["header"] is None:
                record = _reread(archive, row)
                if record is None:
                    continue
                ds = _dataset_of_header(record.header.header)
            else:
                ds = _dataset_of_header(row["header"])
            updates.append((row, ds, record))
        # the work may run again (a retried transaction): what it saw first counts once it has committed
        first = index.write(lambda db, u=updates: _apply(db, u, seen, archive.config.index.extra_keys))
        for level, pks in first.items():
            seen[level] |= pks
        done += len(rows)
        last = rows[-1]["pk"]
        if progress is not None:
            progress(len(rows))
    index.write(_aggregates)
    return done


def _reread(archive: Archive, row: dict[str, Any]) -> InstanceRecord | None:
    path_of = getattr(archive.store, "path_of", None)
    if path_of is None:
        return None
    path = path_of(row["blob_key"])
    try:
        file_hash, content_hash, offset, size = hash_file(path)
    except (OSError, DicomError):
        return None
    from ..io.reader import read_file_meta

    meta = read_file_meta(path)
    sop_class, sop_instance = (str(meta.value(t) or "").strip("\x00 ") for t in (0x00020002, 0x00020003))
    prepared = archive.prepare(path, sop_class, sop_instance, row["transfer_syntax"], size=size,
                               sha256=file_hash.hexdigest(), content_sha256=content_hash.hexdigest(),
                               dataset_offset=offset, source_ae=None)
    return None if isinstance(prepared, StoreOutcome) else prepared


def _set(db: Database, table: str, values: dict[str, Any], pk: int) -> None:
    names = list(values)
    db.execute(f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE pk = ?",
               [values[n] for n in names] + [pk])


def _apply(db: Database, updates: list[tuple[dict[str, Any], Dataset, InstanceRecord | None]],
           seen: dict[str, set[int]], extra_keys: dict[str, str]) -> dict[str, set[int]]:
    """Recompute the rows of ``updates``; a patient, study or series in ``seen`` (recomputed by an earlier,
    committed batch) is only supplemented. Returns those this batch recomputed; ``seen`` is left alone, so
    that a retried transaction recomputes them again."""
    first: dict[str, set[int]] = {level: set() for level in seen}
    for row, ds, record in updates:
        pks = {"patient": row["patient_pk"], "study": row["study_pk"], "series": row["series_pk"],
               "instance": row["pk"]}
        for level in LEVELS:
            pk = pks[level]
            values = extract(ds, level)
            values = {k: v for k, v in values.items() if k in column_names(level)}
            if level != "instance":
                if pk in seen[level] or pk in first[level]:
                    filled = supplement(db, level, pk, values)  # later instances fill what is empty
                    if "modality" in filled:
                        _update_modalities(db, row["study_pk"])
                    continue
                first[level].add(pk)
            if level == "patient":  # the identity of the row stays; its other columns are recomputed
                values.pop("patient_id", None)
                values.pop("issuer_of_patient_id", None)
            for unique in ("study_instance_uid", "series_instance_uid", "sop_instance_uid"):
                values.pop(unique, None)
            _set(db, TABLES[level], values, pk)
            db.execute("DELETE FROM extra_attributes WHERE level = ? AND entity_pk = ?", (level, pk))
            keywords = [k for k, lv in extra_keys.items() if lv == level]
            if keywords:
                db.executemany("INSERT INTO extra_attributes (level, entity_pk, tag, value, value_fold) "
                               "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                               [(level, pk, t, v, f) for t, v, f in extra_values(ds, keywords)])
        if record is not None:
            db.execute("UPDATE instance_headers SET header = ?, bulk = ?, header_version = ? WHERE instance_pk = ?",
                       (record.header.header, record.header.bulk_json(), HEADER_VERSION, row["pk"]))
            db.execute("INSERT INTO instance_headers (instance_pk, header, bulk, header_version) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (instance_pk) DO NOTHING",
                       (row["pk"], record.header.header, record.header.bulk_json(), HEADER_VERSION))
    return first


def _aggregates(db: Database) -> None:
    db.execute("UPDATE series SET num_instances = (SELECT count(*) FROM instances i WHERE i.series_pk = series.pk)")
    db.execute("UPDATE studies SET num_series = (SELECT count(*) FROM series s WHERE s.study_pk = studies.pk), "
               "num_instances = (SELECT coalesce(sum(s.num_instances), 0) FROM series s WHERE s.study_pk = studies.pk)")
    db.execute("UPDATE patients SET num_studies = (SELECT count(*) FROM studies st WHERE st.patient_pk = patients.pk), "
               "num_series = (SELECT coalesce(sum(st.num_series), 0) FROM studies st "
               "WHERE st.patient_pk = patients.pk), num_instances = (SELECT coalesce(sum(st.num_instances), 0) "
               "FROM studies st WHERE st.patient_pk = patients.pk)")
    from .index import _update_sop_classes

    for (study_pk,) in db.rows("SELECT pk FROM studies"):
        _update_modalities(db, study_pk)
        _update_sop_classes(db, study_pk)


# -- delete -----------------------------------------------------------------------------------------------------
def delete(archive: Archive, level: str, uid: str) -> list[str]:
    """Remove a patient (Patient ID), study, series or instance: rows in one transaction, then the blobs."""
    return archive.delete(level, uid)


def stats_json(archive: Archive) -> str:
    return json.dumps(stats(archive), indent=2)


__all__ = ["ImportSummary", "delete", "import_files", "iter_files", "reindex", "stats", "stats_json"]
