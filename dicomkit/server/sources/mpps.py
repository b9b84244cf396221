"""Modality Performed Procedure Steps kept in the index (PS3.4 F), linked to the stored instances.

:class:`IndexMppsSource` is an :class:`~dicomkit.services.sources.MppsSource`: the SCP applies the state
rules (:mod:`dicomkit.services.mpps`) and hands it the whole data set to keep. Each step is one row of
``mpps`` (its DICOM JSON and status); the instances it names — Performed Series Sequence (0040,0340) >
Referenced Image Sequence (0008,1140) and Referenced Non-Image Composite SOP Instance Sequence
(0040,0220) — are rows of ``mpps_references``, so :meth:`IndexMppsSource.instances` tells which of them
the archive holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.dataset import Dataset
from ...io.json_model import from_json
from ...services.sources import DuplicateInstanceError, NoSuchInstanceError, Requester
from ..index.attributes import text_of
from ..index.dialect import Database
from ..index.header import compress_json, decompress_json
from .worklist import item_json

if TYPE_CHECKING:
    from ..index import Index

PERFORMED_SERIES = 0x00400340
REFERENCED_IMAGES = 0x00081140
REFERENCED_NON_IMAGES = 0x00400220
SERIES_UID = 0x0020000E
REF_CLASS, REF_INSTANCE = 0x00081150, 0x00081155
STATUS = 0x00400252  # Performed Procedure Step Status


@dataclass(frozen=True)
class MppsReference:
    """An instance a step names, and whether the archive holds it."""

    sop_instance_uid: str
    sop_class_uid: str | None
    series_instance_uid: str | None
    stored: bool


def references(ds: Dataset) -> Iterator[tuple[str, str | None, str | None]]:
    """(SOP Instance UID, SOP Class UID, Series Instance UID) of every instance a step names."""
    series_items = ds.get(PERFORMED_SERIES)
    if series_items is None or series_items.vr != "SQ":
        return
    for series in series_items.value:
        series_uid = _text(series, SERIES_UID)
        for tag in (REFERENCED_IMAGES, REFERENCED_NON_IMAGES):
            refs = series.get(tag)
            if refs is None or refs.vr != "SQ":
                continue
            for ref in refs.value:
                uid = _text(ref, REF_INSTANCE)
                if uid:
                    yield uid, _text(ref, REF_CLASS), series_uid


def _text(ds: Dataset, tag: int) -> str | None:
    elem = ds.get(tag)
    return (text_of(elem.value) or None) if elem is not None else None


def _write_references(db: Database, pk: int, ds: Dataset) -> None:
    db.execute("DELETE FROM mpps_references WHERE mpps_pk = ?", (pk,))
    rows = {uid: (pk, uid, cls, series) for uid, cls, series in references(ds)}
    db.executemany("INSERT INTO mpps_references (mpps_pk, sop_instance_uid, sop_class_uid, series_instance_uid) "
                   "VALUES (?, ?, ?, ?)", list(rows.values()))


class IndexMppsSource:
    """Performed procedure steps in the index (see the module documentation)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    # -- blocking ---------------------------------------------------------------------------------------------
    def get_sync(self, sop_instance_uid: str) -> Dataset | None:
        rows = self.index.read().rows("SELECT dataset FROM mpps WHERE sop_instance_uid = ?", (sop_instance_uid,))
        return from_json(decompress_json(rows[0][0])) if rows else None

    def create_sync(self, sop_instance_uid: str, dataset: Dataset, source_ae: str | None = None) -> None:
        blob, status, now = compress_json(item_json(dataset)), _text(dataset, STATUS), time.time()

        def work(db: Database) -> None:
            pk = db.scalar("INSERT INTO mpps (sop_instance_uid, status, dataset, source_ae, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sop_instance_uid) DO NOTHING RETURNING pk",
                           (sop_instance_uid, status, blob, source_ae, now, now))
            if pk is None:
                raise DuplicateInstanceError(f"Performed Procedure Step {sop_instance_uid} exists")
            _write_references(db, int(pk), dataset)

        self.index.write(work)

    def set_sync(self, sop_instance_uid: str, dataset: Dataset) -> None:
        blob, status, now = compress_json(item_json(dataset)), _text(dataset, STATUS), time.time()

        def work(db: Database) -> None:
            pk = db.scalar("UPDATE mpps SET dataset = ?, status = ?, updated_at = ? WHERE sop_instance_uid = ? "
                           "RETURNING pk", (blob, status, now, sop_instance_uid))
            if pk is None:
                raise NoSuchInstanceError(f"no Performed Procedure Step {sop_instance_uid}")
            _write_references(db, int(pk), dataset)

        self.index.write(work)

    def instances(self, sop_instance_uid: str) -> list[MppsReference]:
        """The instances a step references, each with whether the archive holds it."""
        rows = self.index.read().rows(
            "SELECT r.sop_instance_uid, r.sop_class_uid, r.series_instance_uid, i.pk FROM mpps_references r "
            "JOIN mpps m ON m.pk = r.mpps_pk LEFT JOIN instances i ON i.sop_instance_uid = r.sop_instance_uid "
            "WHERE m.sop_instance_uid = ? ORDER BY r.series_instance_uid, r.sop_instance_uid", (sop_instance_uid,))
        return [MppsReference(r[0], r[1], r[2], r[3] is not None) for r in rows]

    def steps_of(self, sop_instance_uid: str) -> list[str]:
        """The steps that reference a stored instance."""
        rows = self.index.read().rows("SELECT m.sop_instance_uid FROM mpps m JOIN mpps_references r ON r.mpps_pk = "
                                      "m.pk WHERE r.sop_instance_uid = ? ORDER BY m.pk", (sop_instance_uid,))
        return [r[0] for r in rows]

    # -- the MppsSource protocol --------------------------------------------------------------------------------
    async def get(self, sop_instance_uid: str, requester: Requester) -> Dataset | None:
        return await self.index.run_query(self.get_sync, sop_instance_uid)

    async def create(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        await self.index.run_query(self.create_sync, sop_instance_uid, dataset, requester.calling_ae_title or None)

    async def set(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        await self.index.run_query(self.set_sync, sop_instance_uid, dataset)


__all__ = ["IndexMppsSource", "MppsReference", "references"]
