"""Response Identifiers (PS3.4 C.4.1.1.3.2, K.4.1.1.3.2) and the plan's helpers for SCPs and SQL sources."""

from __future__ import annotations

import asyncio

import dicomkit
from dicomkit import Dataset
from dicomkit.services.memory_source import MemorySource, MemoryWorklistSource
from dicomkit.services.query_retrieve import (
    MODALITY_WORKLIST,
    STUDY_ROOT,
    MatchKind,
    Operation,
    PlanOptions,
    Single,
    Wildcard,
    plan_from_identifier,
    response_identifier,
)
from dicomkit.services.query_retrieve.matching import project, response_character_set
from dicomkit.services.query_retrieve.plan import DateTimeRange, fold, person_name_groups
from dicomkit.services.sources import LOCAL

from .matching_cases import record_datasets

ELE = "1.2.840.10008.1.2.1"


def _q(**attrs: object) -> Dataset:
    q = Dataset()
    for k, v in attrs.items():
        setattr(q, k, v)
    return q


def _find(source: object, plan: object) -> list[Dataset]:
    async def run() -> list[Dataset]:
        return [m async for m in source.find(plan, LOCAL)]  # type: ignore[attr-defined]

    return asyncio.run(run())


def test_return_keys_only_zero_length_filled_and_level() -> None:
    source = MemorySource(record_datasets("people").values())
    plan = plan_from_identifier(_q(QueryRetrieveLevel="STUDY", PatientName="DOE^JOHN", StudyDate="",
                                   AdmittingDiagnosesDescription="", RetrieveAETitle="", InstanceAvailability=""),
                                model=STUDY_ROOT, operation=Operation.FIND,
                                options=PlanOptions(pn_case_insensitive=False))
    matches = [m for m in _find(source, plan) if m.get("PatientName")]
    assert len(matches) == 1
    r = response_identifier(plan, matches[0], retrieve_ae_title="DICOMKIT", instance_availability="ONLINE")
    assert [e.keyword for e in r] == ["StudyDate", "QueryRetrieveLevel", "RetrieveAETitle", "InstanceAvailability",
                                      "AdmittingDiagnosesDescription", "PatientName"]
    assert r.StudyDate == "20240115" and r.QueryRetrieveLevel == "STUDY" and r.RetrieveAETitle == "DICOMKIT"
    assert r["AdmittingDiagnosesDescription"].length == 0  # asked for, unknown: zero length
    assert "SpecificCharacterSet" not in r  # all ASCII and none asked for


def test_sequence_response_has_the_matching_items_and_the_requested_item_keys() -> None:
    items = record_datasets("worklist")
    source = MemoryWorklistSource(items.values())
    sps = Dataset()
    sps.ScheduledStationAETitle = "CT2"
    sps.ScheduledProcedureStepID = ""
    plan = plan_from_identifier(_q(ScheduledProcedureStepSequence=[sps], PatientName=""), model=MODALITY_WORKLIST,
                                operation=Operation.FIND)
    (match,) = _find(source, plan)
    r = response_identifier(plan, match)
    assert "QueryRetrieveLevel" not in r
    (item,) = r.ScheduledProcedureStepSequence
    assert [e.keyword for e in item] == ["ScheduledStationAETitle", "ScheduledProcedureStepID"]
    assert (item.ScheduledStationAETitle, item.ScheduledProcedureStepID) == ("CT2", "S4")


def test_a_universal_sequence_key_returns_the_whole_sequence() -> None:
    source = MemoryWorklistSource(record_datasets("worklist").values())
    plan = plan_from_identifier(_q(ScheduledProcedureStepSequence=[], RequestedProcedureID="wl3"),
                                model=MODALITY_WORKLIST, operation=Operation.FIND)
    (match,) = _find(source, plan)
    r = response_identifier(plan, match)
    assert [i.ScheduledProcedureStepID for i in r.ScheduledProcedureStepSequence] == ["S3", "S4"]
    assert "ScheduledPerformingPhysicianName" in r.ScheduledProcedureStepSequence[1]


def test_response_character_set() -> None:
    latin = Dataset()
    latin.PatientName = "Müller"
    assert response_character_set(("ISO_IR 100",), latin) == ("ISO_IR 100",)
    assert response_character_set((), latin) == ("ISO_IR 192",)
    japanese = Dataset()
    japanese.PatientName = "山田^太郎"
    assert response_character_set(("ISO_IR 100",), japanese) == ("ISO_IR 192",)
    assert response_character_set(("", "ISO 2022 IR 87"), japanese) == ("", "ISO 2022 IR 87")
    ascii_only = Dataset()
    ascii_only.PatientName = "DOE"
    assert response_character_set(("ISO_IR 100",), ascii_only) == ("ISO_IR 100",)
    assert response_character_set(("ISO_IR 999",), latin) == ("ISO_IR 192",)  # unknown term


def test_a_japanese_record_answered_to_a_latin1_request_goes_out_in_utf8() -> None:
    source = MemorySource(record_datasets("people").values())
    plan = plan_from_identifier(_q(SpecificCharacterSet="ISO_IR 100", QueryRetrieveLevel="STUDY",
                                   PatientName="Yamada*"), model=STUDY_ROOT, operation=Operation.FIND)
    named = [m for m in _find(source, plan) if m.get("PatientName")]
    r = response_identifier(plan, named[0])
    assert r.SpecificCharacterSet == "ISO_IR 192"
    wire = dicomkit.read(r.to_bytes(ELE), force=True)
    assert wire.PatientName == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_project_keeps_the_record_character_set_for_decoding() -> None:
    record = record_datasets("people")["mueller"]
    plan = plan_from_identifier(_q(QueryRetrieveLevel="STUDY", PatientName=""), model=STUDY_ROOT,
                                operation=Operation.FIND)
    small = project(plan, record)
    assert [e.keyword for e in small] == ["SpecificCharacterSet", "PatientName"]
    assert small.PatientName == "Müller^Jürgen"


def test_relaxed_plan_turns_unsupported_keys_into_return_keys() -> None:
    plan = plan_from_identifier(_q(QueryRetrieveLevel="STUDY", StudyDescription="Head*", StudyDate="20240101-",
                                   StudyTime="10-"), model=STUDY_ROOT, operation=Operation.FIND,
                                options=PlanOptions(combined_datetime=True))
    assert plan.key(0x00080020).paired_with == 0x00080030  # type: ignore[union-attr]
    relaxed = plan.relaxed({0x00081030, 0x00080030})
    assert [k.keyword for k in relaxed.matching_keys] == []  # the date went with its paired time
    assert [k.keyword for k in relaxed.keys] == [k.keyword for k in plan.keys]
    assert plan.relaxed(()) is plan


def test_terms_for_sql_sources() -> None:
    plan = plan_from_identifier(_q(QueryRetrieveLevel="STUDY", PatientName="Mü?ler*", StudyDescription="100%_x*",
                                   StudyDate="20240101-", AccessionNumber="A1", NumberOfStudyRelatedInstances="3"),
                                model=STUDY_ROOT, operation=Operation.FIND)
    pn = plan.key(0x00100010)
    assert pn is not None and pn.case_insensitive and pn.kind is MatchKind.WILDCARD
    (term,) = pn.terms
    assert isinstance(term, Wildcard) and term.compare == "mü?ler*" and term.like == "mü_ler%"
    assert term.prefix == "mü"
    (group,) = pn.person_names
    assert group.any_group
    desc = plan.key(0x00081030)
    assert desc is not None and isinstance(desc.terms[0], Wildcard)
    assert desc.terms[0].like == "100\\%\\_x%" and not desc.case_insensitive
    date = plan.key(0x00080020)
    assert date is not None and date.terms == (DateTimeRange("20240101-", "20240101", None, "DA"),)
    acc = plan.key(0x00080050)
    assert acc is not None and acc.terms == (Single("A1", "A1"),)
    count = plan.key(0x00201208)
    assert count is not None and count.terms == (Single("3", "3", 3.0),)
    assert fold("MÜLLER^Jürgen") == "müller^jürgen" and fold("Müller", fuzzy=True) == "muller"
    assert person_name_groups("Doe^John^^=^^=") == ("Doe^John", "", "")
    assert plan.unique_values(plan.level) is None  # type: ignore[arg-type]
    assert "PatientName [PN] wildcard" in plan.describe()


def test_pixel_data_is_never_returned_by_a_query() -> None:
    record = Dataset()
    record.add_new(0x7FE00010, "OW", bytes(64))
    record.SOPInstanceUID = "1.2.3"
    q = _q(QueryRetrieveLevel="IMAGE", StudyInstanceUID="1.2", SeriesInstanceUID="1.2.1", SOPInstanceUID="")
    q.add_new(0x7FE00010, "OW", b"")
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    r = response_identifier(plan, record)
    assert r[0x7FE00010].length == 0 and r.SOPInstanceUID == "1.2.3"
