"""The table of matching cases (PS3.4 C.2.2.2, K.2.2), written as data so that every source runs it.

A case is an Identifier (keywords -> values), the model, level and negotiated options, and what must match
(record names) or the :class:`~dicomkit.services.query_retrieve.errors.Reason` it must be refused for. The
records are instances described as keyword dicts (:data:`RECORD_SETS`); :func:`record_datasets` turns them into
data sets encoded in their own Specific Character Set and decoded back (so matching sees decoded text, as
an SCP does), with deterministic UIDs. A source test builds its source from those data sets, runs
:func:`identifier` / :func:`plan_for` of each case, and compares :func:`result_names` of what it yields
with :attr:`Case.expected`.

Each record is one instance; records sharing ``_study`` / ``_series`` are one study / series; results are
named by study (STUDY), series (SERIES), instance (IMAGE), patient (PATIENT: ``_patient``, else
``_study``, else the record name) or worklist item (its Requested Procedure ID).

Note the unknown-value rule: in Query/Retrieve an entity whose value of a key is empty or absent matches
every value (PS3.4 C.2.2.1.2); in a worklist it matches none (K.2.2.1.1.1). The record ``noname`` (all
empty) is therefore in most expected sets of the Query/Retrieve cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import dicomkit
from dicomkit import Dataset
from dicomkit.core.uid import generate_uid
from dicomkit.services.query_retrieve.errors import Reason
from dicomkit.services.query_retrieve.levels import (
    MODALITY_WORKLIST,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    STUDY_ROOT,
    InformationModel,
    Operation,
)
from dicomkit.services.query_retrieve.plan import PlanOptions, QueryPlan, plan_from_identifier

MODELS: dict[str, InformationModel] = {"patient": PATIENT_ROOT, "study": STUDY_ROOT,
                                       "patient-study": PATIENT_STUDY_ONLY, "worklist": MODALITY_WORKLIST}
SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
EXPLICIT_LE = "1.2.840.10008.1.2.1"

# -- the records -----------------------------------------------------------------------------------------------
PEOPLE: dict[str, dict[str, Any]] = {
    "doe_john": dict(PatientName="DOE^JOHN", PatientID="P1", PatientSex="M", PatientBirthDate="19700101",
                     StudyDate="20240115", StudyTime="101500", AccessionNumber="A1", StudyDescription="Head CT",
                     Modality="CT", SeriesDescription="axial", ReferringPhysicianName="SMITH^ANNA",
                     OtherPatientNames=["DOE^J", "ROE^JOHNNY"],
                     ProcedureCodeSequence=[{"CodeValue": "CT-HEAD", "CodingSchemeDesignator": "LOCAL",
                                             "CodeMeaning": "CT head"}]),
    "doe_jane": dict(PatientName="DOE^JANE", PatientID="P2", PatientSex="F", StudyDate="20240301",
                     StudyTime="083000", AccessionNumber="A2", StudyDescription="Knee MR", Modality="MR",
                     SeriesDescription="sagittal", OtherPatientNames="SMITH^JANE",
                     ProcedureCodeSequence=[{"CodeValue": "MR-KNEE", "CodingSchemeDesignator": "LOCAL",
                                             "CodeMeaning": "MR knee"}]),
    "dole": dict(PatientName="DOLE^J", PatientID="P3", StudyDate="20231231", StudyTime="235959", AccessionNumber="A3",
                 StudyDescription="100% done", Modality="CT", SeriesDescription="chest"),
    "lower": dict(PatientName="doe^john", PatientID="P4", StudyDate="20240115", StudyTime="1015", AccessionNumber="A4",
                  StudyDescription="1000 done", Modality="CR", SeriesDescription="pa"),
    "under": dict(PatientName="ROE^RICHARD", PatientID="P5", StudyDate="20220610", StudyTime="120000",
                  AccessionNumber="A_5", StudyDescription="under_score", Modality="US", SeriesDescription="abdomen"),
    "underx": dict(PatientName="ROE^RITA", PatientID="P6", StudyDate="20220611", StudyTime="130000",
                   AccessionNumber="AX5", StudyDescription="underXscore", Modality="US", SeriesDescription="abdomen"),
    "mueller": dict(_charset=("ISO_IR 100",), PatientName="Müller^Jürgen", PatientID="P7", StudyDate="20240202",
                    StudyTime="090000", AccessionNumber="A7", StudyDescription="Brain MR", Modality="MR",
                    SeriesDescription="t1"),
    "odegard": dict(_charset=("ISO_IR 192",), PatientName="Ødegård^Åse", PatientID="P8", StudyDate="20240203",
                    StudyTime="090000", AccessionNumber="A8", StudyDescription="Spine MR", Modality="MR",
                    SeriesDescription="t2"),
    "yamada": dict(_charset=("", "ISO 2022 IR 87"), PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう",
                   PatientID="P9", StudyDate="20240204", StudyTime="090000", AccessionNumber="A9",
                   StudyDescription="Abdomen CT", Modality="CT", SeriesDescription="portal"),
    "noname": dict(PatientName="", PatientID="P10", StudyDate="", StudyTime="", AccessionNumber="",
                   StudyDescription="", Modality="OT", SeriesDescription=""),
    "petct_ct": dict(_study="petct", PatientName="PET^PAT", PatientID="P11", StudyDate="20240410", StudyTime="140000",
                     AccessionNumber="A11", StudyDescription="PET-CT WB", Modality="CT", SeriesDescription="CT for AC"),
    "petct_pt": dict(_study="petct", PatientName="PET^PAT", PatientID="P11", StudyDate="20240410", StudyTime="140000",
                     AccessionNumber="A11", StudyDescription="PET-CT WB", Modality="PT", SeriesDescription="PET WB"),
}
ALL = frozenset({"doe_john", "doe_jane", "dole", "lower", "under", "underx", "mueller", "odegard", "yamada", "noname",
                 "petct"})

IMAGES: dict[str, dict[str, Any]] = {
    name: dict(_study="imgs", _series="imgs", PatientName="IMG^PAT", PatientID="I1", StudyDate="20240101",
               Modality="CT", **attrs)
    for name, attrs in {
        "img1": dict(InstanceNumber="1", AcquisitionDateTime="20240101120000+0100", ImageType=["ORIGINAL", "PRIMARY"]),
        "img3": dict(InstanceNumber="03", AcquisitionDateTime="20240101110000", ImageType=["DERIVED", "SECONDARY"]),
        "img10": dict(InstanceNumber="10", AcquisitionDateTime="20240101123000.5-0500",
                      ImageType=["ORIGINAL", "SECONDARY"]),
    }.items()
}

WORKLIST: dict[str, dict[str, Any]] = {
    "wl1": dict(PatientName="DOE^JOHN", PatientID="P1", AccessionNumber="W1", RequestedProcedureID="wl1",
                ScheduledProcedureStepSequence=[dict(
                    ScheduledStationAETitle="CT1", Modality="CT", ScheduledProcedureStepStartDate="20240115",
                    ScheduledProcedureStepStartTime="0800", ScheduledPerformingPhysicianName="HOUSE^GREGORY",
                    ScheduledProcedureStepID="S1")]),
    "wl2": dict(PatientName="DOE^JANE", PatientID="P2", AccessionNumber="W2", RequestedProcedureID="wl2",
                ScheduledProcedureStepSequence=[dict(
                    ScheduledStationAETitle="MR1", Modality="MR", ScheduledProcedureStepStartDate="20240116",
                    ScheduledProcedureStepStartTime="1000", ScheduledPerformingPhysicianName="WILSON^JAMES",
                    ScheduledProcedureStepID="S2")]),
    "wl3": dict(PatientName="ROE^RICHARD", PatientID="P5", AccessionNumber="W3", RequestedProcedureID="wl3",
                ScheduledProcedureStepSequence=[
                    dict(ScheduledStationAETitle="CT1", Modality="CT", ScheduledProcedureStepStartDate="20240116",
                         ScheduledProcedureStepStartTime="1400", ScheduledPerformingPhysicianName="",
                         ScheduledProcedureStepID="S3"),
                    dict(ScheduledStationAETitle="CT2", Modality="CT", ScheduledProcedureStepStartDate="20240117",
                         ScheduledProcedureStepStartTime="0900", ScheduledPerformingPhysicianName="CUDDY^LISA",
                         ScheduledProcedureStepID="S4")]),
    "wl4": dict(PatientName="", PatientID="P10", AccessionNumber="W4", RequestedProcedureID="wl4",
                ScheduledProcedureStepSequence=[dict(
                    ScheduledStationAETitle="", Modality="", ScheduledProcedureStepStartDate="20240115",
                    ScheduledProcedureStepStartTime="", ScheduledProcedureStepID="S5")]),
}

RECORD_SETS: dict[str, dict[str, dict[str, Any]]] = {"people": PEOPLE, "images": IMAGES, "worklist": WORKLIST}


@dataclass(frozen=True)
class Case:
    id: str
    query: dict[str, Any]
    expected: frozenset[str] = frozenset()
    error: Reason | None = None
    level: str | None = "STUDY"
    model: str = "study"
    records: str = "people"
    options: dict[str, Any] = field(default_factory=dict)
    charset: tuple[str, ...] | None = None
    section: str = ""


def _c(id: str, query: dict[str, Any], expected: Any = (), *, section: str, **kw: Any) -> Case:
    if isinstance(expected, Reason):
        return Case(id, query, frozenset(), expected, section=section, **kw)
    return Case(id, query, frozenset(expected), section=section, **kw)


N = "noname"  # matches every key by the unknown-value rule (C.2.2.1.2)
CI = {"pn_case_insensitive": True}
CS = {"pn_case_insensitive": False}
IMG_UIDS = {"StudyInstanceUID": "{study:imgs}", "SeriesInstanceUID": "{series:imgs}"}

CASES: list[Case] = [
    # Universal Matching (C.2.2.2.3, C.2.2.2.4)
    _c("universal-zero-length", {"PatientName": ""}, ALL, section="C.2.2.2.3"),
    _c("universal-star", {"PatientName": "*"}, ALL, section="C.2.2.2.4"),
    # Single Value Matching (C.2.2.2.1), PN case rules
    _c("pn-single-case-insensitive", {"PatientName": "DOE^JOHN"}, {"doe_john", "lower", N}, options=CI,
       section="C.2.2.2.1"),
    _c("pn-single-case-sensitive", {"PatientName": "DOE^JOHN"}, {"doe_john", N}, options=CS, section="C.2.2.2.1"),
    _c("pn-trailing-delimiters", {"PatientName": "DOE^JOHN^^"}, {"doe_john", "lower", N}, section="PS3.5 6.2.1"),
    _c("pn-single-is-not-a-prefix", {"PatientName": "DOE"}, {N}, section="C.2.2.2.1"),
    _c("lo-single", {"StudyDescription": "Knee MR"}, {"doe_jane", N}, section="C.2.2.2.1"),
    _c("sh-single-with-underscore", {"AccessionNumber": "A_5"}, {"under", N}, section="C.2.2.2.1"),
    # Wild Card Matching (C.2.2.2.4)
    _c("pn-star", {"PatientName": "DOE*"}, {"doe_john", "doe_jane", "lower", N}, section="C.2.2.2.4"),
    _c("pn-question-mark", {"PatientName": "DO?E^J"}, {"dole", N}, section="C.2.2.2.4"),
    _c("pn-star-inside", {"PatientName": "*^JOHN"}, {"doe_john", "lower", N}, section="C.2.2.2.4"),
    _c("pn-star-case-sensitive", {"PatientName": "doe*"}, {"lower", N}, options=CS, section="C.2.2.2.4"),
    _c("lo-star-is-case-sensitive", {"StudyDescription": "head*"}, {N}, section="C.2.2.2.4"),
    _c("lo-star", {"StudyDescription": "Head*"}, {"doe_john", N}, section="C.2.2.2.4"),
    _c("sql-percent-is-literal", {"StudyDescription": "100%*"}, {"dole", N}, section="C.2.2.2.4"),
    _c("sql-underscore-is-literal", {"StudyDescription": "under_*"}, {"under", N}, section="C.2.2.2.4"),
    # Range Matching (C.2.2.2.5)
    _c("da-single", {"StudyDate": "20240115"}, {"doe_john", "lower", N}, section="C.2.2.2.1"),
    _c("da-range", {"StudyDate": "20240101-20240131"}, {"doe_john", "lower", N}, section="C.2.2.2.5.1"),
    _c("da-range-spaces", {"StudyDate": "20240101 - 20240131"}, {"doe_john", "lower", N}, section="C.2.2.2.5.1"),
    _c("da-until", {"StudyDate": "-20221231"}, {"under", "underx", N}, section="C.2.2.2.5.1"),
    _c("da-from", {"StudyDate": "20240301-"}, {"doe_jane", "petct", N}, section="C.2.2.2.5.1"),
    _c("da-reversed", {"StudyDate": "20240131-20240101"}, Reason.INVALID_DATE_TIME, section="C.2.2.2.5.1"),
    _c("da-not-a-date", {"StudyDate": "20241301"}, Reason.INVALID_DATE_TIME, section="C.2.2.2.5.1"),
    _c("tm-range", {"StudyTime": "0800-0900"}, {"doe_jane", "mueller", "odegard", "yamada", N},
       section="C.2.2.2.5.2"),
    _c("tm-partial-single", {"StudyTime": "10"}, {"doe_john", "lower", N}, section="C.2.2.2.1"),
    _c("tm-until", {"StudyTime": "-0830"}, {"doe_jane", N}, section="C.2.2.2.5.2"),
    _c("tm-crossing-midnight", {"StudyTime": "2300-0100"}, Reason.INVALID_DATE_TIME, section="C.2.2.2.5.2"),
    _c("combined-date-time", {"StudyDate": "20231231-20240301", "StudyTime": "2359-0830"},
       {"dole", "doe_john", "lower", "mueller", "odegard", "yamada", "doe_jane", N},
       options={"combined_datetime": True}, section="C.2.2.2.5.4"),
    _c("combined-not-negotiated", {"StudyDate": "20231231-20240301", "StudyTime": "2359-0830"},
       Reason.INVALID_DATE_TIME, section="C.2.2.2.5.2"),
    _c("combined-from", {"StudyDate": "20240202-", "StudyTime": "1000-"},
       {"odegard", "yamada", "doe_jane", "petct", N}, options={"combined_datetime": True}, section="C.2.2.2.5.4"),
    _c("separate-from", {"StudyDate": "20240202-", "StudyTime": "1000-"}, {"petct", N}, section="C.2.2.2.5"),
    _c("dt-range-utc", {**IMG_UIDS, "AcquisitionDateTime": "20240101110000+0000-20240101113000+0000"},
       {"img1", "img3"}, level="IMAGE", records="images", section="C.2.2.2.5.3"),
    _c("dt-partial-year", {**IMG_UIDS, "AcquisitionDateTime": "2024"}, {"img1", "img3", "img10"}, level="IMAGE",
       records="images", section="C.2.2.2.1"),
    _c("dt-negative-offset", {**IMG_UIDS, "AcquisitionDateTime": "20240101173000-20240101180000"}, {"img10"},
       level="IMAGE", records="images", section="C.2.2.2.5.3"),
    _c("dt-timezone-adjustment", {**IMG_UIDS, "TimezoneOffsetFromUTC": "+0100",
                                  "AcquisitionDateTime": "20240101120000-20240101123000"}, {"img1", "img3"},
       level="IMAGE", records="images", options={"timezone_adjustment": True}, section="C.4.1.1.3.1"),
    _c("dt-no-timezone-adjustment", {**IMG_UIDS, "TimezoneOffsetFromUTC": "+0100",
                                     "AcquisitionDateTime": "20240101120000-20240101123000"}, set(),
       level="IMAGE", records="images", section="C.2.2.2.5.3"),
    # numbers and multi-valued entities
    _c("is-numeric-single", {**IMG_UIDS, "InstanceNumber": "3"}, {"img3"}, level="IMAGE", records="images",
       section="C.2.2.2.1"),
    _c("multi-valued-entity", {**IMG_UIDS, "ImageType": "DERIVED"}, {"img3"}, level="IMAGE", records="images",
       section="C.2.2.2.1"),
    _c("multi-valued-entity-wildcard", {"OtherPatientNames": "ROE*"}, ALL - {"doe_jane"}, section="C.2.2.2.4"),
    _c("multi-valued-entity-second-value", {"OtherPatientNames": "SMITH^JANE"}, ALL - {"doe_john"},
       section="C.2.2.2.1"),
    # List of UID Matching (C.2.2.2.2)
    _c("uid-single", {"StudyInstanceUID": "{study:dole}"}, {"dole"}, section="C.2.2.2.1"),
    _c("uid-list", {"StudyInstanceUID": "{study:dole}\\{study:petct}"}, {"dole", "petct"}, section="C.2.2.2.2"),
    _c("uid-invalid", {"StudyInstanceUID": "1.2.abc"}, Reason.INVALID_UID, section="C.2.2.2.2"),
    # several values of another VR (C.2.2.2.8 when negotiated)
    _c("value-list-any", {"ModalitiesInStudy": ["MR", "PT"]}, {"doe_jane", "mueller", "odegard", "petct"},
       section="C.2.2.2.8"),
    _c("value-list-all", {"ModalitiesInStudy": ["CT", "PT"]}, {"petct"}, options={"multiple_value_matching": True},
       section="C.2.2.2.8"),
    _c("value-list-wildcards", {"ModalitiesInStudy": ["M*", "P?"]}, {"doe_jane", "mueller", "odegard", "petct"},
       section="C.2.2.2.4"),
    _c("value-list-all-no-wildcards", {"ModalitiesInStudy": ["CT", "P*"]}, Reason.INVALID_VALUE,
       options={"multiple_value_matching": True}, section="C.2.2.2.8"),
    # computed attributes (C.3.4, C.6)
    _c("number-of-study-related-instances", {"NumberOfStudyRelatedInstances": "2"}, {"petct"}, section="C.3.4"),
    _c("number-of-study-related-series", {"NumberOfStudyRelatedSeries": "1"}, ALL - {"petct"}, section="C.3.4"),
    # Sequence Matching (C.2.2.2.6)
    _c("sequence-one-key", {"ProcedureCodeSequence": [{"CodeValue": "CT-HEAD"}]}, ALL - {"doe_jane"},
       section="C.2.2.2.6"),
    _c("sequence-two-keys", {"ProcedureCodeSequence": [{"CodeValue": "MR-KNEE", "CodingSchemeDesignator": "LOCAL"}]},
       ALL - {"doe_john"}, section="C.2.2.2.6"),
    _c("sequence-empty-item", {"ProcedureCodeSequence": [{}]}, ALL, section="C.2.2.2.6"),
    _c("sequence-two-items", {"ProcedureCodeSequence": [{"CodeValue": "A"}, {"CodeValue": "B"}]},
       Reason.SEQUENCE_ITEMS, section="C.2.2.2.6"),
    # Empty Value Matching (C.2.2.2.7)
    _c("empty-value", {"PatientName": '""'}, {N}, options={"empty_value_matching": True}, section="C.2.2.2.7"),
    _c("empty-value-negotiated-excludes-unknown", {"PatientName": "DOE*"}, {"doe_john", "doe_jane", "lower"},
       options={"empty_value_matching": True}, section="C.2.2.2.7"),
    # character sets (C.2.2.2: matching on decoded text)
    _c("latin1-entity-utf8-query", {"PatientName": "Müller^Jürgen"}, {"mueller", N}, charset=("ISO_IR 192",),
       section="C.2.2.2"),
    _c("utf8-entity-latin1-query", {"PatientName": "Ødegård*"}, {"odegard", N}, charset=("ISO_IR 100",),
       section="C.2.2.2"),
    _c("non-ascii-case-insensitive", {"PatientName": "MÜLLER*"}, {"mueller", N}, charset=("ISO_IR 100",),
       options=CI, section="C.2.2.2.1"),
    _c("non-ascii-case-sensitive", {"PatientName": "MÜLLER*"}, {N}, charset=("ISO_IR 100",), options=CS,
       section="C.2.2.2.1"),
    _c("fuzzy-accents", {"PatientName": "muller*"}, {"mueller", N}, options={"fuzzy_names": True},
       section="C.2.2.2.1.1"),
    _c("literal-keeps-accents", {"PatientName": "muller*"}, {N}, section="C.2.2.2.1"),
    _c("pn-any-group", {"PatientName": "Yamada^Tarou"}, {"yamada", N}, section="C.2.2.2.1"),
    _c("pn-ideographic-group", {"PatientName": "=山田^太郎"}, {"yamada", N}, charset=("", "ISO 2022 IR 87"),
       section="C.2.2.2.1"),
    _c("pn-ideographic-wildcard", {"PatientName": "*=山田*"}, {"yamada", N}, charset=("", "ISO 2022 IR 87"),
       section="C.2.2.2.4"),
    _c("pn-phonetic-any-group", {"PatientName": "やまだ*"}, {"yamada", N}, charset=("", "ISO 2022 IR 87"),
       section="C.2.2.2.4"),
    # levels and the hierarchy (C.4.1.2, C.4.1.3)
    _c("relational-lower-level-key", {"SeriesDescription": "PET*"}, {"petct", N}, options={"relational": True},
       section="C.4.1.2.2"),
    _c("hierarchical-lower-level-key", {"SeriesDescription": "PET*"}, Reason.KEY_AT_WRONG_LEVEL, section="C.4.1.2.1"),
    _c("patient-level", {"PatientName": "DOE*"}, {"doe_john", "doe_jane", "lower", N}, level="PATIENT",
       model="patient", section="C.6.1.1.2"),
    _c("patient-related-instances", {"NumberOfPatientRelatedInstances": "2"}, {"petct"}, level="PATIENT",
       model="patient", section="C.3.4"),
    _c("patient-key-above-study", {"PatientID": "P1", "StudyDate": "20240115"}, {"doe_john"}, model="patient",
       section="C.4.1.3.1"),
    _c("patient-name-above-study-strict", {"PatientID": "P1", "PatientName": "DOE*"}, Reason.KEY_AT_WRONG_LEVEL,
       model="patient", section="C.4.1.2.1"),
    _c("patient-name-above-study-lenient", {"PatientName": "DOE*"}, {"doe_john", "doe_jane", "lower", N},
       model="patient", options={"strict_hierarchy": False}, section="C.4.1.2.1"),
    _c("patient-study-only", {"PatientID": "P2", "StudyDescription": ""}, {"doe_jane"}, model="patient-study",
       section="C.6.3"),
    _c("series-in-study", {"StudyInstanceUID": "{study:petct}", "Modality": "PT"}, {"petct_pt"}, level="SERIES",
       section="C.6.2.1.3"),
    _c("series-without-study-uid", {"Modality": "CT"}, Reason.UNIQUE_KEY_MISSING, level="SERIES",
       section="C.4.1.2.1"),
    _c("series-lenient", {"Modality": "CT"}, {"doe_john", "dole", "yamada", "petct_ct"}, level="SERIES",
       options={"strict_hierarchy": False}, section="C.4.1.2.1"),
    # Modality Worklist (K.2.2, K.6): item-by-item sequence matching; unknown values never match
    _c("worklist-station", {"ScheduledProcedureStepSequence": [{"ScheduledStationAETitle": "CT1"}]},
       {"wl1", "wl3"}, level=None, model="worklist", records="worklist", section="K.2.2.1.1.1"),
    _c("worklist-modality-and-dates", {"ScheduledProcedureStepSequence": [
        {"Modality": "CT", "ScheduledProcedureStepStartDate": "20240116-20240117"}]}, {"wl3"}, level=None,
       model="worklist", records="worklist", section="C.2.2.2.6"),
    _c("worklist-keys-match-in-one-item", {"ScheduledProcedureStepSequence": [
        {"ScheduledStationAETitle": "CT2", "ScheduledProcedureStepStartDate": "20240116"}]}, set(), level=None,
       model="worklist", records="worklist", section="C.2.2.2.6"),
    _c("worklist-physician-wildcard", {"ScheduledProcedureStepSequence": [
        {"ScheduledPerformingPhysicianName": "house*"}]}, {"wl1"}, level=None, model="worklist",
       records="worklist", section="C.2.2.2.4"),
    _c("worklist-unknown-value-fails", {"PatientName": "DOE*"}, {"wl1", "wl2"}, level=None, model="worklist",
       records="worklist", section="K.2.2.1.1.1"),
    _c("worklist-universal", {"PatientName": ""}, {"wl1", "wl2", "wl3", "wl4"}, level=None, model="worklist",
       records="worklist", section="C.2.2.2.3"),
]

# -- building data sets -------------------------------------------------------------------------------------------


def uid_for(kind: str, set_name: str, name: str) -> str:
    """The deterministic UID of a record set's study / series / instance."""
    return str(generate_uid(entropy=f"dicomkit matching cases/{set_name}/{kind}/{name}"))


def _fill(ds: Dataset, attrs: dict[str, Any]) -> None:
    for keyword, value in attrs.items():
        if keyword.startswith("_"):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = []
            for item_attrs in value:
                item = Dataset()
                _fill(item, item_attrs)
                items.append(item)
            setattr(ds, keyword, items)
        elif isinstance(value, list) and not value:
            setattr(ds, keyword, [])
        else:
            setattr(ds, keyword, value)


def _round_trip(ds: Dataset) -> Dataset:
    """Encode in the data set's own character set and read back: values are then decoded from bytes."""
    # validate=False: some identifiers break their VR on purpose, for the SCP to refuse them
    return dicomkit.read(ds.to_bytes(EXPLICIT_LE, validate=False), force=True)


def record_datasets(set_name: str) -> dict[str, Dataset]:
    """The records of a set as data sets (composite instances, or worklist items for ``worklist``)."""
    out = {}
    for name, attrs in RECORD_SETS[set_name].items():
        ds = Dataset()
        charset = attrs.get("_charset")
        if charset:
            ds.SpecificCharacterSet = list(charset) if len(charset) > 1 else charset[0]
        _fill(ds, attrs)
        if set_name != "worklist":
            ds.SOPClassUID = SOP_CLASS
            ds.SOPInstanceUID = uid_for("instance", set_name, name)
            ds.StudyInstanceUID = uid_for("study", set_name, attrs.get("_study", name))
            ds.SeriesInstanceUID = uid_for("series", set_name, attrs.get("_series", name))
        out[name] = _round_trip(ds)
    return out


_PLACEHOLDER = re.compile(r"\{(study|series|instance):([A-Za-z0-9_]+)\}")


def _resolve(value: Any, set_name: str) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: uid_for(m[1], set_name, m[2]), value)
    if isinstance(value, list):
        return [_resolve(v, set_name) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, set_name) for k, v in value.items()}
    return value


def identifier(case: Case) -> Dataset:
    """The case's Identifier, as an SCP receives it: encoded in the case's character set and decoded back,
    with the key that names the results (zero length) added."""
    ds = Dataset()
    if case.charset:
        ds.SpecificCharacterSet = list(case.charset) if len(case.charset) > 1 else case.charset[0]
    if case.level:
        ds.QueryRetrieveLevel = case.level
    query = dict(_resolve(case.query, case.records))
    name_key = _name_key(case)
    query.setdefault(name_key, "")
    _fill(ds, query)
    return _round_trip(ds)


def options(case: Case) -> PlanOptions:
    return PlanOptions(**case.options)


def plan_for(case: Case) -> QueryPlan:
    """The plan of a case (raises QueryError for the error cases)."""
    return plan_from_identifier(identifier(case), model=MODELS[case.model], operation=Operation.FIND,
                                options=options(case))


def _name_key(case: Case) -> str:
    if case.model == "worklist":
        return "RequestedProcedureID"
    return {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
            "IMAGE": "SOPInstanceUID"}[case.level or "STUDY"]


def _names_by_key(case: Case) -> dict[str, str]:
    records = RECORD_SETS[case.records]
    out: dict[str, str] = {}
    for name, attrs in records.items():
        if case.model == "worklist":
            out[attrs["RequestedProcedureID"]] = name
        elif case.level == "PATIENT":
            out[attrs["PatientID"]] = attrs.get("_patient", attrs.get("_study", name))
        elif case.level == "STUDY":
            study = attrs.get("_study", name)
            out[uid_for("study", case.records, study)] = study
        elif case.level == "SERIES":
            series = attrs.get("_series", name)
            out[uid_for("series", case.records, series)] = series
        else:
            out[uid_for("instance", case.records, name)] = name
    return out


def result_names(case: Case, matches: list[Dataset]) -> set[str]:
    """The record names of what a source yielded (or of the response Identifiers built from it)."""
    key = _name_key(case)
    names = _names_by_key(case)
    out = set()
    for ds in matches:
        value = ds.get(key)
        if value is None:
            raise AssertionError(f"a match without {key}: {ds}")
        out.add(names.get(str(value).strip(), f"<unknown {value}>"))
    return out
