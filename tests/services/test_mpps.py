"""The MPPS state table and the N-CREATE / N-SET rules of PS3.4 F.7.2."""

from __future__ import annotations

from typing import Any

import pytest

from dicomkit import Dataset
from dicomkit.services import mpps
from dicomkit.services.mpps import (
    ATTRIBUTES,
    INVALID_ATTRIBUTE_VALUE,
    MAY_NO_LONGER_BE_UPDATED,
    MISSING_ATTRIBUTE,
    MISSING_ATTRIBUTE_VALUE,
    PROCESSING_FAILURE,
    TRANSITIONS,
    MppsState,
    apply_set,
    check_create,
    check_set,
    state_of,
)

S = MppsState


def _ds(**attrs: Any) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def created(**changes: Any) -> Dataset:
    """An N-CREATE Attribute List with every type 1 and type 2 attribute of Table F.7.2-1."""
    step = _ds(
        ScheduledStepAttributesSequence=[_ds(StudyInstanceUID="1.2.3", ReferencedStudySequence=[], AccessionNumber="A1",
                                             RequestedProcedureID="RP1", RequestedProcedureDescription="",
                                             ScheduledProcedureStepID="SPS1", ScheduledProcedureStepDescription="",
                                             ScheduledProtocolCodeSequence=[])],
        PatientName="DOE^JOHN", PatientID="P1", PatientBirthDate="", PatientSex="M", ReferencedPatientSequence=[],
        PerformedProcedureStepID="PPS1", PerformedStationAETitle="CT1", PerformedStationName="", PerformedLocation="",
        PerformedProcedureStepStartDate="20240115", PerformedProcedureStepStartTime="101500",
        PerformedProcedureStepStatus="IN PROGRESS", PerformedProcedureStepDescription="",
        PerformedProcedureTypeDescription="", ProcedureCodeSequence=[], PerformedProcedureStepEndDate="",
        PerformedProcedureStepEndTime="", Modality="CT", StudyID="", PerformedProtocolCodeSequence=[],
        PerformedSeriesSequence=[])
    for k, v in changes.items():
        if v is None:
            delattr(step, k)
        else:
            setattr(step, k, v)
    return step


def series_item(**changes: Any) -> Dataset:
    item = _ds(PerformingPhysicianName="", ProtocolName="HEAD", OperatorsName="", SeriesInstanceUID="1.2.3.4",
               SeriesDescription="", RetrieveAETitle="", ReferencedImageSequence=[],
               ReferencedNonImageCompositeSOPInstanceSequence=[])
    for k, v in changes.items():
        if v is None:
            delattr(item, k)
        else:
            setattr(item, k, v)
    return item


def test_the_state_table_is_complete() -> None:
    current: list[S | None] = [None, *S]
    for state in current:
        for asked in [None, *S]:
            if state is None and asked is None:
                continue  # an N-CREATE always carries a status
            assert (state, asked) in TRANSITIONS
    allowed = {k for k, v in TRANSITIONS.items() if v is None}
    assert allowed == {(None, S.IN_PROGRESS), (S.IN_PROGRESS, None), (S.IN_PROGRESS, S.IN_PROGRESS),
                       (S.IN_PROGRESS, S.COMPLETED), (S.IN_PROGRESS, S.DISCONTINUED)}
    refusal = TRANSITIONS[(S.COMPLETED, None)]
    assert refusal is not None and refusal.status == PROCESSING_FAILURE and refusal.error_id == MAY_NO_LONGER_BE_UPDATED
    assert refusal.comment == "Performed Procedure Step Object may no longer be updated"  # PS3.4 Table F.7.2-2


def test_create() -> None:
    assert check_create(created()) is None
    assert state_of(created()) is S.IN_PROGRESS
    r = check_create(created(PerformedProcedureStepStatus="COMPLETED"))
    assert r is not None and r.status == INVALID_ATTRIBUTE_VALUE and r.tags == (0x00400252,)  # F.7.2.1.3
    r = check_create(created(PerformedProcedureStepStatus="STARTED"))
    assert r is not None and r.status == INVALID_ATTRIBUTE_VALUE
    r = check_create(created(PerformedProcedureStepStatus=None))
    assert r is not None and r.status == MISSING_ATTRIBUTE
    r = check_create(created(Modality=None))
    assert r is not None and (r.status, r.tags) == (MISSING_ATTRIBUTE, (0x00080060,))
    r = check_create(created(PerformedStationAETitle=""))
    assert r is not None and (r.status, r.tags) == (MISSING_ATTRIBUTE_VALUE, (0x00400241,))
    sched = created().ScheduledStepAttributesSequence[0]
    del sched.StudyInstanceUID
    r = check_create(created(ScheduledStepAttributesSequence=[sched]))
    assert r is not None and r.tags == (0x0020000D,) and "ScheduledStepAttributesSequence" in r.comment


def test_type_2_attributes_are_checked_only_when_strict() -> None:
    lax = created(PatientBirthDate=None)
    assert check_create(lax) is None
    r = check_create(lax, strict=True)
    assert r is not None and (r.status, r.tags) == (MISSING_ATTRIBUTE, (0x00100030,))


def test_set_while_in_progress() -> None:
    current = created()
    assert check_set(current, _ds(PerformedProcedureStepDescription="head")) is None
    assert check_set(current, _ds(PerformedProcedureStepStatus="IN PROGRESS")) is None
    r = check_set(current, _ds(PatientName="ROE^RICHARD"))  # "Not allowed" in the N-SET column
    assert r is not None and (r.status, r.tags) == (INVALID_ATTRIBUTE_VALUE, (0x00100010,))
    assert check_set(current, _ds(PatientName="DOE^JOHN")) is None  # the same value again changes nothing
    r = check_set(current, _ds(PerformedProcedureStepStatus="DONE"))
    assert r is not None and r.status == INVALID_ATTRIBUTE_VALUE


def test_completion_needs_the_final_state_attributes() -> None:
    current = created()
    r = check_set(current, _ds(PerformedProcedureStepStatus="COMPLETED"))
    assert r is not None and (r.status, r.tags) == (MISSING_ATTRIBUTE_VALUE, (0x00400250,))  # End Date: type 1
    ends = dict(PerformedProcedureStepEndDate="20240115", PerformedProcedureStepEndTime="103000")
    r = check_set(current, _ds(PerformedProcedureStepStatus="COMPLETED", **ends))
    assert r is not None and r.tags == (0x00400340,)  # a series must exist (Table F.7.2-1 Note 2)
    r = check_set(current, _ds(PerformedProcedureStepStatus="DISCONTINUED", PerformedSeriesSequence=[
        series_item(SeriesInstanceUID=None)], **ends))
    assert r is not None and r.tags == (0x0020000E,) and r.status == MISSING_ATTRIBUTE_VALUE
    modification = _ds(PerformedProcedureStepStatus="COMPLETED", PerformedSeriesSequence=[series_item()], **ends)
    assert check_set(current, modification) is None
    done = apply_set(current, modification)
    assert state_of(done) is S.COMPLETED and done.PerformedProcedureStepEndTime == "103000"
    assert state_of(current) is S.IN_PROGRESS  # apply_set leaves the current step alone


def test_no_change_after_a_final_state() -> None:
    for final in ("COMPLETED", "DISCONTINUED"):
        current = created(PerformedProcedureStepStatus=final)
        for modification in (_ds(PerformedProcedureStepDescription="x"),
                             _ds(PerformedProcedureStepStatus="IN PROGRESS"), _ds(PerformedProcedureStepStatus=final)):
            r = check_set(current, modification)
            assert r is not None and (r.status, r.error_id) == (PROCESSING_FAILURE, MAY_NO_LONGER_BE_UPDATED)
            assert str(r).startswith("0x0110: ")


@pytest.mark.parametrize("row", ATTRIBUTES, ids=lambda a: a.keyword)
def test_table_rows(row: mpps.MppsAttribute) -> None:
    assert row.create in ("1", "2", "3")
    assert row.final in (None, "1", "2")
    if row.final is not None:
        assert row.settable  # a final-state requirement can only be met through N-SET if it is settable
