"""QIDO-RS query parameters into query plans (PS3.18 8.3.4), run against the memory source."""

from __future__ import annotations

import asyncio

import pytest

from dicomkit import Dataset
from dicomkit.services.memory_source import MemorySource
from dicomkit.services.query_retrieve import MatchKind, QueryError, QueryRetrieveLevel, Reason
from dicomkit.services.query_retrieve.qido import (
    INSTANCE_DEFAULTS,
    SERIES_DEFAULTS,
    STUDY_DEFAULTS,
    parse_attribute_path,
    plan_from_query_params,
)
from dicomkit.services.sources import LOCAL

from .matching_cases import record_datasets, uid_for


def _keywords(query: object) -> set[str]:
    return {k.keyword for k in query.plan.keys}  # type: ignore[attr-defined]


def test_study_search_with_what_ohif_sends() -> None:
    q = plan_from_query_params("studies", [("PatientName", "*DOE*"), ("00100020", "P1"), ("limit", "101"),
                                           ("offset", "0"), ("fuzzymatching", "false"),
                                           ("includefield", "00081030,00080060")])
    assert q.plan.level is QueryRetrieveLevel.STUDY and q.limit == 101 and q.offset == 0 and not q.fuzzy_matching
    assert _keywords(q) >= set(STUDY_DEFAULTS) | {"StudyDescription", "Modality"}
    assert q.plan.key(0x00100010).kind is MatchKind.WILDCARD  # type: ignore[union-attr]
    assert q.plan.key(0x00100020).kind is MatchKind.SINGLE_VALUE  # type: ignore[union-attr]
    assert q.plan.options.relational and not q.plan.options.strict_hierarchy


def test_defaults_of_the_levels_searched() -> None:
    all_series = plan_from_query_params("series", {})
    assert _keywords(all_series) >= set(STUDY_DEFAULTS) | {p.split(".")[0] for p in SERIES_DEFAULTS}
    in_study = plan_from_query_params("series", {}, study_uid="1.2.3")
    assert "PatientName" not in _keywords(in_study)
    assert in_study.plan.unique_values(QueryRetrieveLevel.STUDY) == ("1.2.3",)
    instances = plan_from_query_params("instances", {}, study_uid="1.2.3", series_uid="1.2.4")
    assert _keywords(instances) >= set(INSTANCE_DEFAULTS)
    request = instances.plan.key(0x00400275)
    assert request is None  # series defaults only when searching across series
    seq = in_study.plan.key(0x00400275)
    assert seq is not None and [k.keyword for k in seq.items] == ["ScheduledProcedureStepID", "RequestedProcedureID"]


def test_lists_and_sequences() -> None:
    q = plan_from_query_params("studies", {"StudyInstanceUID": "1.2.3,1.2.4", "ModalitiesInStudy": "CT,MR",
                                           "ProcedureCodeSequence.CodeValue": "CT-HEAD"})
    uids = q.plan.key(0x0020000D)
    assert uids is not None and uids.kind is MatchKind.UID_LIST and len(uids.terms) == 2
    mods = q.plan.key(0x00080061)
    assert mods is not None and mods.kind is MatchKind.VALUE_LIST
    seq = q.plan.key(0x00081032)
    assert seq is not None and seq.kind is MatchKind.SEQUENCE and seq.items[0].keyword == "CodeValue"
    repeated = plan_from_query_params("studies", [("StudyInstanceUID", "1.2.3"), ("StudyInstanceUID", "1.2.5")])
    assert len(repeated.plan.key(0x0020000D).terms) == 2  # type: ignore[union-attr]
    commas = plan_from_query_params("studies", {"StudyDescription": "Head, neck"})
    assert commas.plan.key(0x00081030).kind is MatchKind.SINGLE_VALUE  # type: ignore[union-attr]


def test_flags_limits_and_warnings() -> None:
    q = plan_from_query_params("studies", {"fuzzymatching": "true", "emptyvaluematching": "TRUE", "limit": "5000",
                                           "includefield": "all"}, fuzzy_supported=False, max_limit=1000)
    assert q.include_all and q.fuzzy_matching and not q.plan.options.fuzzy_names
    assert q.plan.options.empty_value_matching
    assert q.limit == 1000 and len(q.warnings) == 2
    assert "fuzzymatching" in q.warnings[0]
    assert plan_from_query_params("studies", {}, max_limit=50).limit == 50
    assert plan_from_query_params("studies", {"fuzzymatching": "true"}).plan.options.fuzzy_names


@pytest.mark.parametrize(("params", "parameter", "reason"), [
    ({"limit": "-1"}, "limit", Reason.INVALID_PARAMETER),
    ({"offset": "ten"}, "offset", Reason.INVALID_PARAMETER),
    ({"offset": str(2**63)}, "offset", Reason.INVALID_PARAMETER),  # past SQL's 64-bit integers: 400, not 500
    ({"limit": str(2**64)}, "limit", Reason.INVALID_PARAMETER),
    ({"fuzzymatching": "yes"}, "fuzzymatching", Reason.INVALID_PARAMETER),
    ({"PatientNam": "X"}, "PatientNam", Reason.INVALID_PARAMETER),
    ({"includefield": "NotAKeyword"}, "includefield", Reason.INVALID_PARAMETER),
    ({"PatientName.FamilyName": "X"}, "PatientName.FamilyName", Reason.INVALID_PARAMETER),
    ({"ProcedureCodeSequence": "X"}, "ProcedureCodeSequence", Reason.INVALID_PARAMETER),
    ({"StudyDate": "2024-01-01"}, "StudyDate", Reason.INVALID_DATE_TIME),
    ({"StudyInstanceUID": "1.2.x"}, "StudyInstanceUID", Reason.INVALID_UID),
    ({"00280010": "abc"}, "00280010", Reason.INVALID_VALUE),
    ({"StudyTime": "2300-0100"}, "StudyTime", Reason.INVALID_DATE_TIME),
])
def test_bad_parameters_are_400_naming_the_parameter(params: dict[str, str], parameter: str, reason: Reason) -> None:
    with pytest.raises(QueryError) as info:
        plan_from_query_params("studies", params)
    assert info.value.http_status == 400
    assert info.value.parameter == parameter, str(info.value)
    assert info.value.reason is reason


def test_unknown_resource() -> None:
    with pytest.raises(QueryError) as info:
        plan_from_query_params("patients", {})
    assert info.value.parameter == "level"


def test_attribute_paths() -> None:
    assert parse_attribute_path("00400275.00400009") == [0x00400275, 0x00400009]
    assert parse_attribute_path("RequestAttributesSequence.ScheduledProcedureStepID") == [0x00400275, 0x00400009]


def _find(source: MemorySource, plan: object) -> list[Dataset]:
    async def run() -> list[Dataset]:
        return [m async for m in source.find(plan, LOCAL)]  # type: ignore[arg-type]

    return asyncio.run(run())


def test_qido_plans_run_on_a_source() -> None:
    source = MemorySource(record_datasets("people").values())
    studies = plan_from_query_params("studies", {"PatientName": "DOE*", "Modality": "MR"})  # relational: a series key
    found = {str(m.StudyInstanceUID) for m in _find(source, studies.plan)}
    assert found == {uid_for("study", "people", "doe_jane")}  # noname's name is unknown, but its series is OT
    series = plan_from_query_params("series", {"Modality": "PT"}, study_uid=uid_for("study", "people", "petct"))
    (match,) = _find(source, series.plan)
    assert match.SeriesDescription == "PET WB"
    everywhere = plan_from_query_params("series", {"PatientName": "PET^PAT"})
    # the two series of the PET-CT study, and noname's (an unknown name matches, PS3.4 C.2.2.1.2)
    assert len(_find(source, everywhere.plan)) == 3
