"""The typed columns of the index: which attribute goes where, and the normalised forms matching needs.

:data:`COLUMNS` is the one table of them — level, column, keyword, kind — from which the schema
(:mod:`.schema`) and the extraction at ingest (:func:`extract`) are both made. The keys are those of the
Query/Retrieve information models (PS3.4 C.6.1 / C.6.2, Tables C.6-1 to C.6-7: unique, required and the
optional keys most asked for), plus the attributes QIDO-RS returns by default (PS3.18 Table 10.6.3-3..5).

Kinds, and the columns each makes (what a query plan's terms compare with, see docs/server.md):

========  ==================================================================================================
text      ``col``: the value as text (several values joined by ``\\``), trailing padding removed
uid       ``col``: the UID
int       ``col``: INTEGER (IS values; unparsable ones are NULL)
date      ``col``: the value as stored; ``col_norm``: ``YYYYMMDD`` (DA, PS3.4 C.2.2.2.5), NULL if unparsable
time      ``col``: as stored; ``col_norm``: ``HHMMSSffffff``, the start of the period the value names
pn        ``col``: the name as stored (all component groups); ``col_a`` / ``col_i`` / ``col_p``: the
          alphabetic, ideographic and phonetic groups *folded* (lower-cased character by character, trailing
          empty components removed); ``col_fz``: the alphabetic group folded without accents (fuzzy matching)
========  ==================================================================================================

Folding keeps the length of the text (``?`` still stands for one character), so a wildcard of the query,
folded the same way, becomes an SQL ``LIKE`` pattern on the folded column. Study rows also hold
``study_datetime`` (``YYYYMMDDHHMMSSffffff``: the date and time together, for combined date-time matching
and sorting).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.dataset import Dataset
from ...core.dictionary import tag_for_keyword
from ...services.query_retrieve import temporal
from ...services.query_retrieve.plan import fold, person_name_groups

LEVELS = ("patient", "study", "series", "instance")
TABLES = {"patient": "patients", "study": "studies", "series": "series", "instance": "instances"}


@dataclass(frozen=True)
class Column:
    level: str
    name: str
    keyword: str
    kind: str  # text, uid, int, date, time, pn
    since: int = 1  # the schema version that added it

    @property
    def tag(self) -> int:
        return _TAGS[self.keyword]

    def sql_columns(self) -> list[tuple[str, str]]:
        """(column name, SQL type) of every column this key makes."""
        if self.kind == "int":
            return [(self.name, "{bigint}")]
        if self.kind in ("date", "time"):
            return [(self.name, "TEXT"), (f"{self.name}_norm", "TEXT")]
        if self.kind == "pn":
            return [(self.name, "TEXT"), *((f"{self.name}_{g}", "TEXT") for g in ("a", "i", "p", "fz"))]
        return [(self.name, "TEXT")]


def _c(level: str, name: str, keyword: str, kind: str = "text") -> Column:
    return Column(level, name, keyword, kind)


COLUMNS: tuple[Column, ...] = (
    # PS3.4 Table C.6-1 (patient level; study level in the Study Root model, Table C.6-5)
    _c("patient", "patient_id", "PatientID"),
    _c("patient", "issuer_of_patient_id", "IssuerOfPatientID"),
    _c("patient", "patient_name", "PatientName", "pn"),
    _c("patient", "patient_birth_date", "PatientBirthDate", "date"),
    _c("patient", "patient_birth_time", "PatientBirthTime", "time"),
    _c("patient", "patient_sex", "PatientSex"),
    _c("patient", "other_patient_names", "OtherPatientNames"),
    _c("patient", "ethnic_group", "EthnicGroup"),
    _c("patient", "patient_comments", "PatientComments"),
    _c("patient", "patient_species_description", "PatientSpeciesDescription"),
    _c("patient", "patient_breed_description", "PatientBreedDescription"),
    _c("patient", "responsible_person", "ResponsiblePerson", "pn"),
    _c("patient", "responsible_organization", "ResponsibleOrganization"),
    # PS3.4 Table C.6-2 (study level)
    _c("study", "study_instance_uid", "StudyInstanceUID", "uid"),
    _c("study", "study_date", "StudyDate", "date"),
    _c("study", "study_time", "StudyTime", "time"),
    _c("study", "accession_number", "AccessionNumber"),
    _c("study", "study_id", "StudyID"),
    _c("study", "study_description", "StudyDescription"),
    _c("study", "referring_physician_name", "ReferringPhysicianName", "pn"),
    _c("study", "name_of_physicians_reading_study", "NameOfPhysiciansReadingStudy"),
    _c("study", "admitting_diagnoses_description", "AdmittingDiagnosesDescription"),
    _c("study", "patient_age", "PatientAge"),
    _c("study", "patient_size", "PatientSize"),
    _c("study", "patient_weight", "PatientWeight"),
    _c("study", "occupation", "Occupation"),
    _c("study", "additional_patient_history", "AdditionalPatientHistory"),
    _c("study", "other_study_numbers", "OtherStudyNumbers"),
    _c("study", "timezone_offset_from_utc", "TimezoneOffsetFromUTC"),
    # PS3.4 Tables C.6-3 / C.6-6 (series level) and QIDO-RS's series attributes
    _c("series", "series_instance_uid", "SeriesInstanceUID", "uid"),
    _c("series", "modality", "Modality"),
    _c("series", "series_number", "SeriesNumber", "int"),
    _c("series", "series_description", "SeriesDescription"),
    _c("series", "series_date", "SeriesDate", "date"),
    _c("series", "series_time", "SeriesTime", "time"),
    _c("series", "body_part_examined", "BodyPartExamined"),
    _c("series", "laterality", "Laterality"),
    _c("series", "protocol_name", "ProtocolName"),
    _c("series", "performed_procedure_step_start_date", "PerformedProcedureStepStartDate", "date"),
    _c("series", "performed_procedure_step_start_time", "PerformedProcedureStepStartTime", "time"),
    _c("series", "institution_name", "InstitutionName"),
    _c("series", "station_name", "StationName"),
    _c("series", "manufacturer", "Manufacturer"),
    _c("series", "operators_name", "OperatorsName"),
    # PS3.4 Tables C.6-4 / C.6-7 (composite object instance level) and QIDO-RS's instance attributes
    _c("instance", "sop_instance_uid", "SOPInstanceUID", "uid"),
    _c("instance", "sop_class_uid", "SOPClassUID", "uid"),
    _c("instance", "instance_number", "InstanceNumber", "int"),
    _c("instance", "content_date", "ContentDate", "date"),
    _c("instance", "content_time", "ContentTime", "time"),
    _c("instance", "acquisition_date", "AcquisitionDate", "date"),
    _c("instance", "acquisition_time", "AcquisitionTime", "time"),
    _c("instance", "number_of_frames", "NumberOfFrames", "int"),
    _c("instance", "rows", "Rows", "int"),
    _c("instance", "columns", "Columns", "int"),
    _c("instance", "image_type", "ImageType"),
    _c("instance", "container_identifier", "ContainerIdentifier"),
)

COLUMNS_BY_LEVEL: dict[str, tuple[Column, ...]] = {lv: tuple(c for c in COLUMNS if c.level == lv) for lv in LEVELS}


def _tags() -> dict[str, int]:
    out = {}
    for c in COLUMNS:
        tag = tag_for_keyword(c.keyword)
        assert tag is not None, c.keyword
        out[c.keyword] = tag
    return out


_TAGS: dict[str, int] = _tags()
_BY_LEVEL_TAGS: dict[str, tuple[tuple[Column, int], ...]] = {
    lv: tuple((c, _TAGS[c.keyword]) for c in cols) for lv, cols in COLUMNS_BY_LEVEL.items()}


# -- normalisation: the query plan's own rules (services.query_retrieve), so stored and asked values agree ------
def normalize_date(text: str) -> str | None:
    """``YYYYMMDD`` of a DA value (also the ACR-NEMA ``YYYY.MM.DD``), None when it is not a date."""
    return temporal.normalize(text.strip(), "DA")


def normalize_time(text: str) -> str | None:
    """``HHMMSSffffff`` of a TM value: the start of the period it names (``10`` is 10:00:00.000000)."""
    return temporal.normalize(text.strip(), "TM")


# -- extraction ---------------------------------------------------------------------------------------------
def text_of(value: Any) -> str:
    """A value as index text: several values joined by backslash, padding removed."""
    if isinstance(value, str):  # the common case first (UIDs, codes, names, dates)
        return str(value).strip("\x00 ")
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return "\\".join(text_of(v) for v in value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1").strip("\x00 ")
    return str(value).strip("\x00 ")


def _int(text: str) -> int | None:
    first = text.split("\\", 1)[0].strip()
    try:
        number = int(first)
    except ValueError:
        try:
            number = int(float(first))
        except (ValueError, OverflowError):
            return None
    return number if -(2**63) < number < 2**63 else None


def column_values(column: Column, value: Any) -> dict[str, Any]:
    """The column values of one key (see the kinds in the module documentation)."""
    text = text_of(value)
    name = column.name
    kind = column.kind
    if kind == "int":
        return {name: _int(text) if text else None}
    if kind == "date":
        return {name: text or None, f"{name}_norm": normalize_date(text) if text else None}
    if kind == "time":
        return {name: text or None, f"{name}_norm": normalize_time(text) if text else None}
    if kind == "pn":
        if not text:
            return {name: None, f"{name}_a": None, f"{name}_i": None, f"{name}_p": None, f"{name}_fz": None}
        first = text.split("\\", 1)[0]
        a, i, p = person_name_groups(first)
        return {name: text, f"{name}_a": fold(a), f"{name}_i": fold(i) or None, f"{name}_p": fold(p) or None,
                f"{name}_fz": fold(a, fuzzy=True)}
    return {name: text or None}


def extract(ds: Dataset, level: str) -> dict[str, Any]:
    """Every column value of ``level`` from a data set."""
    return extract_levels(ds)[level]


def _empty_row(level: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in COLUMNS_BY_LEVEL[level]:
        out.update(column_values(column, None))
    return out


def _extractor(column: Column) -> Callable[[Any], dict[str, Any]]:
    """:func:`column_values` of one column as a function of the value alone (its kind decided once)."""
    name, kind = column.name, column.kind
    if kind in ("text", "uid"):
        return lambda value: {name: text_of(value) or None}
    if kind == "int":
        def integer(value: Any) -> dict[str, Any]:
            text = text_of(value)
            return {name: _int(text) if text else None}
        return integer
    if kind in ("date", "time"):
        norm, normalize = f"{name}_norm", normalize_date if kind == "date" else normalize_time

        def temporal_value(value: Any) -> dict[str, Any]:
            text = text_of(value)
            return {name: text or None, norm: normalize(text) if text else None}
        return temporal_value
    return lambda value: column_values(column, value)


# the row of each level when none of its keys is present, and which key each tag feeds
_EMPTY_ROWS: dict[str, dict[str, Any]] = {level: _empty_row(level) for level in LEVELS}
_COLUMN_OF_TAG: dict[int, Column] = {tag: column for level in LEVELS for column, tag in _BY_LEVEL_TAGS[level]}
_EXTRACT_TAG: dict[int, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    tag: (column.level, _extractor(column)) for tag, column in _COLUMN_OF_TAG.items()}


# the tags of every typed column (what :func:`extract_values` reads)
COLUMN_TAGS: frozenset[int] = frozenset(_EXTRACT_TAG)


def extract_levels(ds: Dataset) -> dict[str, dict[str, Any]]:
    """Every column value of every level (``{level: {column: value}}``) in one pass over the keys present:
    the absent ones keep the values of an empty key."""
    get = ds.get
    present = {}
    for tag in _EXTRACT_TAG.keys() & ds.tags():
        elem = get(tag)
        present[tag] = elem.value if elem is not None else None
    return extract_values(present)


def extract_values(values: Mapping[int, Any]) -> dict[str, dict[str, Any]]:
    """:func:`extract_levels` of a data set whose top-level values are ``values`` (``{tag: ds[tag].value}``
    for the tags of :data:`COLUMN_TAGS` it has; others are ignored)."""
    rows = {level: dict(empty) for level, empty in _EMPTY_ROWS.items()}
    for tag in _EXTRACT_TAG.keys() & values.keys():
        level, extractor = _EXTRACT_TAG[tag]
        rows[level].update(extractor(values[tag]))
    patient, study = rows["patient"], rows["study"]
    patient["patient_id"] = patient["patient_id"] or ""
    patient["issuer_of_patient_id"] = patient["issuer_of_patient_id"] or ""
    study["study_datetime"] = study_datetime(study.get("study_date_norm"), study.get("study_time_norm"))
    return rows


def study_datetime(date: str | None, time: str | None) -> str | None:
    """``YYYYMMDDHHMMSSffffff`` of a study's date and time (midnight when the time is missing)."""
    if not date:
        return None
    return date + (time or "000000000000")


def column_names(level: str) -> list[str]:
    names = [name for c in COLUMNS_BY_LEVEL[level] for name, _ in c.sql_columns()]
    if level == "study":
        names.append("study_datetime")
    return names


def extra_values(ds: Dataset, keywords: Iterable[str]) -> list[tuple[int, str, str]]:
    """``(tag, value, folded value)`` for each value of each extra key present in ``ds`` (one row per
    value of a multi-valued attribute)."""
    out: list[tuple[int, str, str]] = []
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is None or tag not in ds:
            continue
        value = ds.value(tag)
        values = value if isinstance(value, tuple | list) else (value,)
        seen: set[str] = set()
        for v in values:
            text = text_of(v)
            if text and text not in seen:
                seen.add(text)
                out.append((tag, text, fold(text)))
    return out


__all__ = ["COLUMNS", "COLUMNS_BY_LEVEL", "COLUMN_TAGS", "LEVELS", "TABLES", "Column", "column_names", "column_values",
           "extra_values", "extract", "extract_levels", "extract_values", "fold", "normalize_date", "normalize_time",
           "person_name_groups", "study_datetime", "text_of"]
