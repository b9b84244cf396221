"""De-identified export (issue 14): what leaves the archive for designated AEs and users is de-identified on
the way out with :mod:`dicomkit.deid` (PS3.15 Annex E, the Basic Application Level Confidentiality Profile
and the options ``[deid]`` names), and "de-identify this study into a new one" as an operator action.

- C-MOVE to an AE of ``deid.remotes``, C-GET from one, and C-MOVE / C-GET by a user of ``deid.users``:
  each object is read (verified when ``storage.verify_on_retrieve``), de-identified in memory and sent with
  its replaced UIDs; an object the profile refuses (burned-in annotation that may identify, unless
  ``deid.allow_burned_in``) fails its sub-operation instead of leaving as it is.
- :func:`deidentify_study`: every instance of a study, de-identified, stored in the archive as a new study
  (``dicomkit archive deidentify --study UID``).

One keyed pseudonymizer (``deid.key``) gives the same replacement UIDs, patient IDs and date shifts for the
same originals in every export, so exports of one study fit together; with ``deid.mapping`` the replacements
are kept in that file (JSON, written atomically, 0600) for re-identification by those allowed to read it.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..deid import Deidentifier, MappingTable, Options
from ..io.reader import read
from ..io.writer import to_bytes
from ..services.sources import StoredObject

if TYPE_CHECKING:
    from .config import Config
    from .ingest import Archive

log = logging.getLogger("dicomkit.server.deid")


def _key(text: str) -> str | None:
    if text.startswith("env:"):
        value = os.environ.get(text[4:], "")
        if not value:
            raise DicomError(f"deid.key: the environment variable {text[4:]} is not set")
        return value
    return text or None


def deid_configured(config: Config) -> bool:
    """Whether anything is de-identified on the way out (AEs, users, roles or STOW-RS destinations)."""
    deid = config.deid
    return bool(deid.remotes or deid.users or deid.roles or deid.destinations)


class DeidExport:
    """The configured de-identification of exported objects (thread-safe)."""

    def __init__(self, config: Config) -> None:
        deid = config.deid
        self.remotes = frozenset(title.strip() for title in deid.remotes)
        self.users = frozenset(deid.users)
        self.destinations = frozenset(deid.destinations)
        self.mapping = deid.mapping_path(config.storage.data_dir)
        table = MappingTable.load(self.mapping) if self.mapping is not None and self.mapping.exists() else None
        options = Options(dates=deid.dates, retain_safe_private=deid.retain_safe_private,
                          retain_patient_characteristics=deid.retain_patient_characteristics,
                          allow_burned_in=deid.allow_burned_in)
        self.engine = Deidentifier(options, key=_key(deid.key), table=table)
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.remotes or self.users or self.destinations)

    def applies(self, *, ae_title: str | None = None, user: str | None = None) -> bool:
        """Whether what goes to this AE (or is asked for by this user) is de-identified."""
        return (ae_title or "").strip() in self.remotes or (user is not None and user in self.users)

    def uid(self, original: str) -> str:
        with self._lock:
            return self.engine.pseudonyms.uid(original)

    def deidentify(self, data: bytes, name: str = "object") -> bytes:
        """A Part 10 object de-identified (in its transfer syntax); the mapping saved when configured."""
        ds = read(data)
        ts = str(ds.transfer_syntax or "1.2.840.10008.1.2.1")
        return to_bytes(self.dataset(ds), transfer_syntax=ts)

    def dataset(self, ds: Dataset) -> Dataset:
        """A de-identified copy of a data set (BurnedInAnnotationError as the profile says); the mapping
        saved when configured."""
        with self._lock:
            clean = self.engine.apply(ds)
            if self.mapping is not None and self.engine.pseudonyms.take_new():
                self._save()
        return clean

    def _save(self) -> None:
        assert self.mapping is not None
        self.mapping.parent.mkdir(parents=True, exist_ok=True)
        self.engine.table.save(self.mapping)
        os.chmod(self.mapping, 0o600)

    def stored_object(self, obj: StoredObject) -> StoredObject:
        """The object as it leaves: its replaced UIDs, and a stream of the de-identified object."""

        def opener() -> BinaryIO:
            with obj.open() as f:
                data = f.read()
            return io.BytesIO(self.deidentify(data, obj.sop_instance_uid))

        return replace(obj, sop_instance_uid=self.uid(obj.sop_instance_uid), path=None, size=None,
                       study_instance_uid=self.uid(obj.study_instance_uid) if obj.study_instance_uid else None,
                       series_instance_uid=self.uid(obj.series_instance_uid) if obj.series_instance_uid else None,
                       opener=opener, dataset=None)


def deidentify_study(archive: Archive, export: DeidExport, study_uid: str) -> tuple[str, int, list[str]]:
    """Store a de-identified copy of every instance of ``study_uid`` as a new study; returns its Study Instance
    UID, how many instances were stored, and what could not be (SOP Instance UID: why)."""
    import tempfile

    rows = archive.index.instances(study_instance_uid=study_uid)
    if not rows:
        raise DicomError(f"no study {study_uid} in the archive")
    new_uid = export.uid(study_uid)
    stored, failed = 0, []
    with tempfile.TemporaryDirectory(prefix="deid-", dir=archive.config.storage.data_dir) as folder:
        for row in rows:
            try:
                with archive.store.open(row.blob_key) as f:
                    data = export.deidentify(f.read(), row.sop_instance_uid)
                path = Path(folder) / "object.dcm"
                path.write_bytes(data)
                result = archive.ingest_file(path, source_ae="DEIDENTIFY")
            except DicomError as exc:
                failed.append(f"{row.sop_instance_uid}: {exc}")
                continue
            if result.outcome in ("stored", "identical", "replaced"):
                stored += 1
            else:
                failed.append(f"{row.sop_instance_uid}: {result.comment or result.outcome}")
    return new_uid, stored, failed


__all__ = ["DeidExport", "deid_configured", "deidentify_study"]
