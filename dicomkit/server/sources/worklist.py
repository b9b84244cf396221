"""Modality Worklist items kept in the index, and the worklist source on them (PS3.4 K).

An item is a data set of the Modality Worklist information model (PS3.4 K.6: patient, visit, imaging
service request, requested procedure and the Scheduled Procedure Step Sequence), stored whole as DICOM JSON
in ``worklist_items`` with a few columns for listing. Items come from the operator (``dicomkit worklist
add``, :func:`add_items`) or from files dropped in the configured folder (:class:`WorklistFolder`: DICOM
JSON or DICOM files; each one picked up is moved to ``done/``, or to ``failed/`` with the reason beside it).

Matching is the plan's own evaluator on every item (worklists are small: the items of the coming days), so
every rule of K.2.2 — sequence matching item by item, unknown values never matching (K.2.2.1.1.1), person
name rules — is exactly that of :class:`~dicomkit.services.query_retrieve.matching.Matcher`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.dataset import Dataset
from ...core.dictionary import tag_for_keyword
from ...core.errors import DicomError
from ...io.json_model import from_json, to_json_dict
from ...services.query_retrieve.matching import project
from ...services.query_retrieve.plan import QueryPlan
from ...services.sources import Requester
from ..index.attributes import normalize_date, text_of
from ..index.dialect import Database
from ..index.header import compress_json, decompress_json

if TYPE_CHECKING:
    from ..index import Index

log = logging.getLogger("dicomkit.server.worklist")

PAGE = 200
SPS = 0x00400100  # Scheduled Procedure Step Sequence


class WorklistError(DicomError):
    """A worklist item cannot be read or kept."""


@dataclass(frozen=True)
class WorklistItem:
    item_id: str
    patient_id: str | None
    patient_name: str | None
    accession_number: str | None
    requested_procedure_id: str | None
    station_ae_title: str | None
    modality: str | None
    start_date: str | None
    source: str | None
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def item_json(ds: Dataset) -> dict[str, Any]:
    return to_json_dict(ds, bulk_data_threshold=1 << 30)


def item_id(ds: Dataset) -> str:
    """The item's id: the first 16 hex digits of the SHA-256 of its DICOM JSON (the same item added twice
    is one item)."""
    text = json.dumps(item_json(ds), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _value(ds: Dataset, keyword: str) -> str | None:
    tag = tag_for_keyword(keyword)
    elem = ds.get(tag) if tag is not None else None
    text = text_of(elem.value) if elem is not None and elem.vr != "SQ" else ""
    return text or None


def read_item(path: str | os.PathLike[str]) -> Dataset:
    """A worklist item from a DICOM JSON file (``.json``) or a DICOM file (Part 10, or a bare data set)."""
    from ...io.reader import read

    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, list):
                if len(data) != 1:
                    raise WorklistError(f"{path}: a JSON array of {len(data)} data sets; give one item per file")
                data = data[0]
            ds = from_json(data)
        else:
            ds = read(path, force=True)
    except (OSError, ValueError) as exc:
        raise WorklistError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    except DicomError as exc:
        raise WorklistError(f"{path}: {exc}") from None
    check_item(ds, str(path))
    return ds


def check_item(ds: Dataset, where: str = "item") -> None:
    """An item needs a Scheduled Procedure Step Sequence with at least one item (PS3.4 K.6.1.2.2)."""
    elem = ds.get(SPS)
    if elem is None or elem.vr != "SQ" or not elem.value:
        raise WorklistError(f"{where}: no Scheduled Procedure Step Sequence (0040,0100) with an item: "
                            "not a worklist item")


def _row(ds: Dataset, source: str | None) -> dict[str, Any]:
    step = ds.get(SPS).value[0]
    start = _value(step, "ScheduledProcedureStepStartDate")
    return {"item_id": item_id(ds), "patient_id": _value(ds, "PatientID"), "patient_name": _value(ds, "PatientName"),
            "accession_number": _value(ds, "AccessionNumber"),
            "requested_procedure_id": _value(ds, "RequestedProcedureID"),
            "station_ae_title": _value(step, "ScheduledStationAETitle"), "modality": _value(step, "Modality"),
            "start_date": normalize_date(start) if start else None,
            "item": compress_json(item_json(ds)), "source": source, "created_at": time.time()}


def add_items(index: Index, items: Iterable[tuple[Dataset, str | None]]) -> list[tuple[str, bool]]:
    """Keep items (with where each came from); (item id, added) per item — False when it was there."""
    rows = []
    for ds, source in items:
        check_item(ds, source or "item")
        rows.append(_row(ds, source))

    def work(db: Database) -> list[tuple[str, bool]]:
        out = []
        names = tuple(rows[0]) if rows else ()
        sql = (f"INSERT INTO worklist_items ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
               "ON CONFLICT (item_id) DO NOTHING RETURNING pk")
        for row in rows:
            added = db.one(sql, [row[n] for n in names]) is not None
            out.append((row["item_id"], added))
        return out

    result: list[tuple[str, bool]] = index.write(work)
    return result


def remove_items(index: Index, ids: Iterable[str]) -> list[str]:
    """Remove items by id (or a unique prefix of one); the ids removed."""
    wanted = list(ids)

    def work(db: Database) -> list[str]:
        removed = []
        for prefix in wanted:
            found = [r[0] for r in db.rows("SELECT item_id FROM worklist_items WHERE item_id LIKE ?",
                                           (prefix.replace("\\", "").replace("%", "").replace("_", "") + "%",))]
            if len(found) > 1:
                raise WorklistError(f"{prefix}: names {len(found)} items; give more of the id")
            if found:
                db.execute("DELETE FROM worklist_items WHERE item_id = ?", (found[0],))
                removed.append(found[0])
        return removed

    result: list[str] = index.write(work)
    return result


_LIST = ("SELECT item_id, patient_id, patient_name, accession_number, requested_procedure_id, station_ae_title, "
         "modality, start_date, source, created_at FROM worklist_items")


def list_items(index: Index) -> list[WorklistItem]:
    rows = index.read().rows(_LIST + " ORDER BY start_date, pk")
    return [WorklistItem(*r) for r in rows]


def get_item(index: Index, item_id_: str) -> Dataset | None:
    rows = index.read().rows("SELECT item FROM worklist_items WHERE item_id = ?", (item_id_,))
    return from_json(decompress_json(rows[0][0])) if rows else None


def iter_items(index: Index, page: int = PAGE) -> Iterator[list[Dataset]]:
    """Every item, a page at a time (in the order they were added)."""
    last = 0
    while True:
        rows = index.read().rows("SELECT pk, item FROM worklist_items WHERE pk > ? ORDER BY pk LIMIT ?", (last, page))
        if not rows:
            return
        last = rows[-1][0]
        out = []
        for pk, blob in rows:
            try:
                out.append(from_json(decompress_json(blob)))
            except (DicomError, ValueError) as exc:
                log.warning("worklist item %s unreadable: %s", pk, exc)
        yield out


class IndexWorklistSource:
    """Modality Worklist C-FIND on the items kept in the index (a
    :class:`~dicomkit.services.sources.WorklistSource`)."""

    def __init__(self, index: Index, *, page: int = PAGE) -> None:
        self.index = index
        self.page = page

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return frozenset()  # the evaluator matches every key on the stored items

    def find_sync(self, plan: QueryPlan) -> Iterator[Dataset]:
        matcher = plan.matcher
        for chunk in iter_items(self.index, self.page):
            for item in chunk:
                if matcher(item):
                    yield project(plan, item)

    async def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        matcher = plan.matcher
        pages = iter_items(self.index, self.page)

        def next_page() -> list[Dataset] | None:
            chunk = next(pages, None)
            return None if chunk is None else [project(plan, i) for i in chunk if matcher(i)]

        while True:
            matches = await self.index.run_query(next_page)
            if matches is None:
                return
            for match in matches:
                yield match


class WorklistFolder:
    """Files dropped in a folder become worklist items: ``*.json`` (DICOM JSON) and DICOM files. Each file
    picked up is moved to ``done/`` (or ``failed/``, with ``NAME.error`` saying why). Files still being
    written are left for the next scan (untouched for ``settle`` seconds first)."""

    def __init__(self, index: Index, folder: str | os.PathLike[str], *, settle: float = 1.0) -> None:
        self.index = index
        self.folder = Path(folder)
        self.settle = settle

    def scan(self) -> tuple[int, int]:
        """Pick up the files there now: (items added, files failed)."""
        if not self.folder.is_dir():
            return 0, 0
        added = failed = 0
        now = time.time()
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if not entry.is_file() or entry.name.startswith(".") or entry.name.endswith(".error"):
                continue
            try:
                if now - entry.stat().st_mtime < self.settle:
                    continue
            except OSError:
                continue
            path = Path(entry.path)
            try:
                ds = read_item(path)
                results = add_items(self.index, [(ds, f"file:{path.name}")])
                added += sum(1 for _, new in results if new)
                self._move(path, "done")
                log.info("worklist item %s from %s", results[0][0], path.name)
            except WorklistError as exc:
                failed += 1
                target = self._move(path, "failed")
                if target is not None:
                    target.with_name(target.name + ".error").write_text(str(exc) + "\n")
                log.warning("worklist file %s refused: %s", path.name, exc)
        return added, failed

    def _move(self, path: Path, where: str) -> Path | None:
        target_dir = self.folder / where
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        n = 1
        while target.exists():
            target = target_dir / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError as exc:
            log.warning("cannot move %s to %s: %s", path, target_dir, exc)
            return None
        return target


__all__ = ["IndexWorklistSource", "WorklistError", "WorklistFolder", "WorklistItem", "add_items", "get_item",
           "item_id", "list_items", "read_item", "remove_items"]
