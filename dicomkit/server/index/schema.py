"""The index schema, one for SQLite and PostgreSQL, and its versioned migrations (from version 1).

Tables (the typed key columns of each level come from :data:`.attributes.COLUMNS`)::

    patients          pk, the patient keys, num_studies / num_series / num_instances
    studies           pk, patient_pk, the study keys, study_datetime, modalities_in_study,
                      sop_classes_in_study, num_series, num_instances
    series            pk, study_pk, the series keys, num_instances
    instances         pk, series_pk, the instance keys, transfer_syntax, size, sha256 (of the blob),
                      content_sha256 (of the data set: what duplicates compare), blob_key, node,
                      stored_at, source_ae
    instance_headers  instance_pk, header (zlib-compressed DICOM JSON of everything but bulk data),
                      bulk (JSON: frame and bulk data byte ranges in the blob), header_version
    extra_attributes  level, entity_pk, tag, value, value_fold (the per-deployment extra keys)
    quarantine        what keep-first refused and kept aside
    nodes             node_id, host, pid, started_at, heartbeat_at, stopped (multi-node sweeping)
    meta              key/value (e.g. the time of the last completed sweep)
    worklist_items    (version 2) Modality Worklist items as DICOM JSON, with columns for listing
    mpps              (version 2) performed procedure steps as DICOM JSON, their status
    mpps_references   (version 2) the instances each step references (SOP Instance, Class, Series)
    deleted_blobs     blobs whose rows were removed, until the blob is gone too
    schema_migrations version, applied_at
    study_labels      study_pk, label, source, created_at (version 3: who sees which study,
                      dicomkit.server.auth.labels)
    deid_uids         replacement, original, level, created_at (version 4: the replacement UIDs that
                      de-identified answers gave out, for their reverse lookup; dicomkit.server.deidview)

A migration is a list of DDL statements with ``{pk}``, ``{blob}``, ``{real}``, ``{bigint}`` and
``{pattern}`` in place of the dialect's words. Version 1 is made from the columns with ``since == 1``; a
later version adds its columns with ``ALTER TABLE ... ADD COLUMN`` from the columns marked with it, plus
whatever else it needs. Applied versions are never edited.
"""

from __future__ import annotations

import time

from .attributes import COLUMNS, TABLES
from .dialect import Database, IndexError_

HEADER_VERSION = 1  # how instance_headers.header was made; reindex --from-blobs rewrites older ones


def _level_columns(level: str, version: int) -> list[str]:
    out = []
    for column in COLUMNS:
        if column.level == level and column.since == version:
            for name, sql_type in column.sql_columns():
                out.append(f"{name} {sql_type}")
    return out


def _version_1() -> list[str]:
    patient_cols = ",\n  ".join(c for c in _level_columns("patient", 1) if not c.startswith(("patient_id ",
                                                                                              "issuer_of_patient_id ")))
    study_cols = ",\n  ".join(c for c in _level_columns("study", 1) if not c.startswith("study_instance_uid "))
    series_cols = ",\n  ".join(c for c in _level_columns("series", 1) if not c.startswith("series_instance_uid "))
    instance_cols = ",\n  ".join(c for c in _level_columns("instance", 1) if not c.startswith("sop_instance_uid "))
    return [
        f"""CREATE TABLE patients (
  pk {{pk}},
  patient_id TEXT NOT NULL,
  issuer_of_patient_id TEXT NOT NULL,
  {patient_cols},
  num_studies INTEGER NOT NULL DEFAULT 0,
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances INTEGER NOT NULL DEFAULT 0,
  UNIQUE (patient_id, issuer_of_patient_id)
)""",
        f"""CREATE TABLE studies (
  pk {{pk}},
  patient_pk {{bigint}} NOT NULL REFERENCES patients(pk),
  study_instance_uid TEXT NOT NULL UNIQUE,
  {study_cols},
  study_datetime TEXT,
  modalities_in_study TEXT,
  sop_classes_in_study TEXT,
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances INTEGER NOT NULL DEFAULT 0,
  created_at {{real}} NOT NULL,
  updated_at {{real}} NOT NULL
)""",
        f"""CREATE TABLE series (
  pk {{pk}},
  study_pk {{bigint}} NOT NULL REFERENCES studies(pk),
  series_instance_uid TEXT NOT NULL UNIQUE,
  {series_cols},
  num_instances INTEGER NOT NULL DEFAULT 0,
  created_at {{real}} NOT NULL
)""",
        f"""CREATE TABLE instances (
  pk {{pk}},
  series_pk {{bigint}} NOT NULL REFERENCES series(pk),
  sop_instance_uid TEXT NOT NULL UNIQUE,
  {instance_cols},
  transfer_syntax TEXT NOT NULL,
  size {{bigint}} NOT NULL,
  sha256 TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  dataset_offset INTEGER NOT NULL,
  blob_key TEXT NOT NULL UNIQUE,
  node TEXT NOT NULL,
  stored_at {{real}} NOT NULL,
  source_ae TEXT
)""",
        """CREATE TABLE instance_headers (
  instance_pk {bigint} PRIMARY KEY REFERENCES instances(pk) ON DELETE CASCADE,
  header {blob} NOT NULL,
  bulk TEXT,
  header_version INTEGER NOT NULL
)""",
        """CREATE TABLE extra_attributes (
  level TEXT NOT NULL,
  entity_pk {bigint} NOT NULL,
  tag INTEGER NOT NULL,
  value TEXT NOT NULL,
  value_fold TEXT NOT NULL,
  PRIMARY KEY (level, entity_pk, tag, value)
)""",
        """CREATE TABLE quarantine (
  pk {pk},
  sop_instance_uid TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  reason TEXT NOT NULL,
  content_sha256 TEXT,
  source_ae TEXT,
  received_at {real} NOT NULL
)""",
        """CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at {real} NOT NULL,
  heartbeat_at {real} NOT NULL,
  stopped INTEGER NOT NULL DEFAULT 0
)""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # blobs whose rows were removed (deletion, overwrite), until the blobs are gone too: what the sweep
        # removes rather than re-indexes after a crash between the commit and the removal
        "CREATE TABLE deleted_blobs (blob_key TEXT PRIMARY KEY, deleted_at {real} NOT NULL)",
        # the common queries: exact Patient ID, person name prefixes, date ranges, UIDs, the hierarchy
        "CREATE INDEX patients_patient_id ON patients (patient_id)",
        "CREATE INDEX patients_name_a ON patients (patient_name_a{pattern})",
        "CREATE INDEX patients_name_fz ON patients (patient_name_fz{pattern})",
        "CREATE INDEX patients_birth_date ON patients (patient_birth_date_norm)",
        "CREATE INDEX studies_patient ON studies (patient_pk)",
        "CREATE INDEX studies_date ON studies (study_date_norm)",
        "CREATE INDEX studies_datetime ON studies (study_datetime)",
        "CREATE INDEX studies_accession ON studies (accession_number)",
        "CREATE INDEX studies_study_id ON studies (study_id)",
        "CREATE INDEX studies_referring_a ON studies (referring_physician_name_a{pattern})",
        "CREATE INDEX studies_updated ON studies (updated_at)",
        "CREATE INDEX series_study ON series (study_pk, modality)",
        "CREATE INDEX series_modality ON series (modality)",
        "CREATE INDEX series_date ON series (series_date_norm)",
        "CREATE INDEX instances_series ON instances (series_pk, instance_number)",
        "CREATE INDEX instances_sop_class ON instances (sop_class_uid)",
        "CREATE INDEX instances_stored ON instances (stored_at)",
        "CREATE INDEX extra_value ON extra_attributes (tag, value)",
        "CREATE INDEX extra_fold ON extra_attributes (tag, value_fold{pattern})",
        "CREATE INDEX quarantine_sop ON quarantine (sop_instance_uid)",
    ]


def _version_2() -> list[str]:
    """Worklist items, performed procedure steps and the instances they reference."""
    return [
        # Modality Worklist items (PS3.4 K.6) kept whole as DICOM JSON; a few columns for listing
        """CREATE TABLE worklist_items (
  pk {pk},
  item_id TEXT NOT NULL UNIQUE,
  patient_id TEXT,
  patient_name TEXT,
  accession_number TEXT,
  requested_procedure_id TEXT,
  station_ae_title TEXT,
  modality TEXT,
  start_date TEXT,
  item {blob} NOT NULL,
  source TEXT,
  created_at {real} NOT NULL
)""",
        "CREATE INDEX worklist_patient ON worklist_items (patient_id)",
        "CREATE INDEX worklist_accession ON worklist_items (accession_number)",
        # Modality Performed Procedure Steps (PS3.4 F): the whole data set as DICOM JSON
        """CREATE TABLE mpps (
  pk {pk},
  sop_instance_uid TEXT NOT NULL UNIQUE,
  status TEXT,
  dataset {blob} NOT NULL,
  source_ae TEXT,
  created_at {real} NOT NULL,
  updated_at {real} NOT NULL
)""",
        # the instances a step names (Performed Series Sequence > Referenced Image / Non-Image Sequence)
        """CREATE TABLE mpps_references (
  mpps_pk {bigint} NOT NULL REFERENCES mpps(pk) ON DELETE CASCADE,
  sop_instance_uid TEXT NOT NULL,
  sop_class_uid TEXT,
  series_instance_uid TEXT,
  PRIMARY KEY (mpps_pk, sop_instance_uid)
)""",
        "CREATE INDEX mpps_references_sop ON mpps_references (sop_instance_uid)",
        # a person name without "=" may match any component group (PS3.4 C.2.2.2.1): the ideographic and
        # phonetic groups are indexed too, so that the OR of the three groups is three index range scans
        "CREATE INDEX patients_name_i ON patients (patient_name_i{pattern})",
        "CREATE INDEX patients_name_p ON patients (patient_name_p{pattern})",
        "CREATE INDEX studies_referring_i ON studies (referring_physician_name_i{pattern})",
        "CREATE INDEX studies_referring_p ON studies (referring_physician_name_p{pattern})",
        "CREATE INDEX studies_time ON studies (study_time_norm)",
        "CREATE INDEX series_number ON series (series_number)",
    ]


# Version 3: the labels of studies (the access policy's study labels, docs/security.md).
_VERSION_3 = [
    """CREATE TABLE study_labels (
  study_pk {bigint} NOT NULL REFERENCES studies(pk) ON DELETE CASCADE,
  label TEXT NOT NULL,
  source TEXT,
  created_at {real} NOT NULL,
  PRIMARY KEY (study_pk, label)
)""",
    "CREATE INDEX study_labels_label ON study_labels (label, study_pk)",
]

# Version 4: the replacement UIDs given to users and destinations that see de-identified data
# (docs/security.md "De-identified views"), so that a UID they send back leads to the original.
_VERSION_4 = [
    """CREATE TABLE deid_uids (
  replacement TEXT PRIMARY KEY,
  original TEXT NOT NULL,
  level TEXT NOT NULL,
  created_at {real} NOT NULL
)""",
    "CREATE INDEX deid_uids_original ON deid_uids (original)",
]

MIGRATIONS: dict[int, list[str]] = {1: _version_1(), 2: _version_2(), 3: _VERSION_3, 4: _VERSION_4}
LATEST = max(MIGRATIONS)


def current_version(db: Database) -> int:
    db.execute(f"CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
               f"applied_at {db.dialect.types['real']} NOT NULL)")
    version = db.scalar("SELECT max(version) FROM schema_migrations")
    return int(version or 0)


def migrate(db: Database, target: int = LATEST) -> int:
    """Bring the schema to ``target`` (:data:`LATEST`); returns the version it was at. Safe with several
    processes starting at once (PostgreSQL: an advisory lock; SQLite: an immediate transaction)."""
    if db.is_postgres:
        db.execute("SELECT pg_advisory_lock(742001)")
    try:
        before = current_version(db)
        if before > LATEST:
            raise IndexError_(f"the index has schema version {before}, newer than this dicomkit knows "
                              f"({LATEST}): upgrade dicomkit")
        for version in range(before + 1, target + 1):
            with db.transaction():
                if db.scalar("SELECT count(*) FROM schema_migrations WHERE version = ?", (version,)):
                    continue  # another process applied it first
                for statement in MIGRATIONS[version]:
                    db.execute(db.dialect.ddl(statement))
                db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                           (version, time.time()))
        return before
    finally:
        if db.is_postgres:
            db.execute("SELECT pg_advisory_unlock(742001)")


def table_of(level: str) -> str:
    return TABLES[level]


__all__ = ["HEADER_VERSION", "LATEST", "MIGRATIONS", "current_version", "migrate"]
