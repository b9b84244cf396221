"""Malformed Identifiers: each refusal path with its DIMSE status, offending element and Error Comment."""

from __future__ import annotations

from typing import Any

import pytest

from dicomkit import VR, Dataset
from dicomkit.core.element import DataElement, SourceEncoding
from dicomkit.services.query_retrieve import (
    MODALITY_WORKLIST,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    STUDY_ROOT,
    InformationModel,
    MatchKind,
    Operation,
    PlanOptions,
    QueryError,
    Reason,
    plan_from_identifier,
)
from dicomkit.services.query_retrieve.errors import ERROR_COMMENT_LENGTH

UID1, UID2 = "1.2.826.0.1.3680043.10.5.1", "1.2.826.0.1.3680043.10.5.2"


def _ds(**attrs: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def _refused(ds: Dataset, model: InformationModel = STUDY_ROOT, operation: Operation = Operation.FIND,
             **options: Any) -> QueryError:
    with pytest.raises(QueryError) as info:
        plan_from_identifier(ds, model=model, operation=operation, options=PlanOptions(**options))
    return info.value


# (id, identifier, model, operation, options, reason, status, offending tag)
REFUSALS = [
    ("level-missing", dict(PatientName="DOE*"), STUDY_ROOT, Operation.FIND, {}, Reason.LEVEL_MISSING, 0xA900,
     0x00080052),
    ("level-empty", dict(QueryRetrieveLevel="", PatientName=""), STUDY_ROOT, Operation.FIND, {}, Reason.LEVEL_MISSING,
     0xA900, 0x00080052),
    ("level-unknown", dict(QueryRetrieveLevel="FOO"), STUDY_ROOT, Operation.FIND, {}, Reason.LEVEL_UNKNOWN, 0xA900,
     0x00080052),
    ("level-not-in-model", dict(QueryRetrieveLevel="PATIENT"), STUDY_ROOT, Operation.FIND, {}, Reason.LEVEL_UNKNOWN,
     0xA900, 0x00080052),
    ("series-in-patient-study-only", dict(QueryRetrieveLevel="SERIES", PatientID="P1"), PATIENT_STUDY_ONLY,
     Operation.FIND, {}, Reason.LEVEL_UNKNOWN, 0xA900, 0x00080052),
    ("level-two-values", dict(QueryRetrieveLevel=["STUDY", "SERIES"]), STUDY_ROOT, Operation.FIND, {},
     Reason.LEVEL_UNKNOWN, 0xA900, 0x00080052),
    ("lower-level-key", dict(QueryRetrieveLevel="STUDY", SeriesInstanceUID=""), STUDY_ROOT, Operation.FIND, {},
     Reason.KEY_AT_WRONG_LEVEL, 0xA900, 0x0020000E),
    ("lower-level-key-lenient", dict(QueryRetrieveLevel="STUDY", Modality="CT"), STUDY_ROOT, Operation.FIND,
     {"strict_hierarchy": False}, Reason.KEY_AT_WRONG_LEVEL, 0xA900, 0x00080060),
    ("upper-level-key", dict(QueryRetrieveLevel="SERIES", StudyInstanceUID=UID1, StudyDate="20240101"), STUDY_ROOT,
     Operation.FIND, {}, Reason.KEY_AT_WRONG_LEVEL, 0xA900, 0x00080020),
    ("upper-unique-key-missing", dict(QueryRetrieveLevel="IMAGE", StudyInstanceUID=UID1), STUDY_ROOT, Operation.FIND,
     {}, Reason.UNIQUE_KEY_MISSING, 0xA900, 0x0020000E),
    ("upper-unique-key-zero-length", dict(QueryRetrieveLevel="SERIES", StudyInstanceUID=""), STUDY_ROOT,
     Operation.FIND, {}, Reason.UNIQUE_KEY_MISSING, 0xA900, 0x0020000D),
    ("upper-unique-key-list", dict(QueryRetrieveLevel="SERIES", StudyInstanceUID=[UID1, UID2]), STUDY_ROOT,
     Operation.FIND, {}, Reason.UNIQUE_KEY_NOT_SINGLE, 0xA900, 0x0020000D),
    ("upper-unique-key-wildcard", dict(QueryRetrieveLevel="STUDY", PatientID="P*"), PATIENT_ROOT, Operation.FIND, {},
     Reason.UNIQUE_KEY_NOT_SINGLE, 0xA900, 0x00100020),
    ("sequence-two-items", dict(QueryRetrieveLevel="STUDY", ProcedureCodeSequence=[_ds(CodeValue="A"),
                                                                                  _ds(CodeValue="B")]),
     STUDY_ROOT, Operation.FIND, {}, Reason.SEQUENCE_ITEMS, 0xA900, 0x00081032),
    ("range-unparsable", dict(QueryRetrieveLevel="STUDY", StudyDate="2024-01"), STUDY_ROOT, Operation.FIND, {},
     Reason.INVALID_DATE_TIME, 0xC001, 0x00080020),
    ("range-only-a-hyphen", dict(QueryRetrieveLevel="STUDY", StudyDate="-"), STUDY_ROOT, Operation.FIND, {},
     Reason.INVALID_DATE_TIME, 0xC001, 0x00080020),
    ("range-two-hyphens", dict(QueryRetrieveLevel="STUDY", StudyDate="20240101-20240102-20240103"), STUDY_ROOT,
     Operation.FIND, {}, Reason.INVALID_DATE_TIME, 0xC001, 0x00080020),
    ("time-out-of-range", dict(QueryRetrieveLevel="STUDY", StudyTime="2500"), STUDY_ROOT, Operation.FIND, {},
     Reason.INVALID_DATE_TIME, 0xC001, 0x00080030),
    ("timezone-offset", dict(QueryRetrieveLevel="STUDY", TimezoneOffsetFromUTC="CET"), STUDY_ROOT, Operation.FIND, {},
     Reason.INVALID_DATE_TIME, 0xC001, 0x00080201),
    ("uid-invalid-in-list", dict(QueryRetrieveLevel="STUDY", StudyInstanceUID=[UID1, "1.02.3"]), STUDY_ROOT,
     Operation.FIND, {}, Reason.INVALID_UID, 0xC002, 0x0020000D),
    ("uid-wildcard", dict(QueryRetrieveLevel="STUDY", StudyInstanceUID="1.2.*"), STUDY_ROOT, Operation.FIND, {},
     Reason.INVALID_UID, 0xC002, 0x0020000D),
    ("move-query-level-unique-key-missing", dict(QueryRetrieveLevel="STUDY", PatientName="DOE"), STUDY_ROOT,
     Operation.MOVE, {}, Reason.UNIQUE_KEY_MISSING, 0xA900, 0x0020000D),
    ("move-upper-unique-key-missing", dict(QueryRetrieveLevel="SERIES", SeriesInstanceUID=UID1), STUDY_ROOT,
     Operation.MOVE, {}, Reason.UNIQUE_KEY_MISSING, 0xA900, 0x0020000D),
    ("get-patient-id-list", dict(QueryRetrieveLevel="PATIENT", PatientID=["P1", "P2"]), PATIENT_ROOT, Operation.GET,
     {}, Reason.UNIQUE_KEY_NOT_SINGLE, 0xA900, 0x00100020),
    ("move-lower-level-unique-key", dict(QueryRetrieveLevel="STUDY", StudyInstanceUID=UID1, SeriesInstanceUID=UID2),
     STUDY_ROOT, Operation.MOVE, {}, Reason.KEY_AT_WRONG_LEVEL, 0xA900, 0x0020000E),
    ("move-wildcard-uid", dict(QueryRetrieveLevel="PATIENT", PatientID="P*"), PATIENT_ROOT, Operation.MOVE, {},
     Reason.UNIQUE_KEY_NOT_SINGLE, 0xA900, 0x00100020),
]


@pytest.mark.parametrize(("attrs", "model", "operation", "options", "reason", "status", "tag"),
                         [pytest.param(*r[1:], id=r[0]) for r in REFUSALS])
def test_refusal(attrs: dict[str, Any], model: InformationModel, operation: Operation, options: dict[str, Any],
                 reason: Reason, status: int, tag: int) -> None:
    err = _refused(_ds(**attrs), model, operation, **options)
    assert err.reason is reason, str(err)
    assert err.status == status
    assert err.offending == (tag,)
    comment = err.error_comment
    assert comment and comment.isascii() and len(comment) <= ERROR_COMMENT_LENGTH
    assert "\\" not in comment  # an LO value holds no backslash
    assert err.http_status == 400


def test_number_that_is_not_a_number() -> None:
    # as received: the decoder keeps text it cannot read as an IS
    ds = _ds(QueryRetrieveLevel="IMAGE", StudyInstanceUID=UID1, SeriesInstanceUID=UID2)
    ds.add(DataElement.from_raw(0x00200013, VR.IS, b"x1", SourceEncoding()))
    err = _refused(ds)
    assert (err.reason, err.status, err.offending) == (Reason.INVALID_VALUE, 0xC003, (0x00200013,))


@pytest.mark.parametrize(("tag", "vr", "raw"), [(0x00100010, VR.PN, b"DO\x00E*"), (0x00100020, VR.LO, b"P\x001"),
                                               (0x00080050, VR.SH, b"A\x00B")])
def test_nul_inside_a_text_value(tag: int, vr: VR, raw: bytes) -> None:
    # a NUL is no character of a text value (PS3.5 6.1.2); PostgreSQL could not even hold it as a parameter
    ds = _ds(QueryRetrieveLevel="STUDY")
    ds.add(DataElement.from_raw(tag, vr, raw, SourceEncoding()))
    err = _refused(ds)
    assert (err.reason, err.offending, err.http_status) == (Reason.INVALID_VALUE, (tag,), 400)
    assert err.error_comment is not None and "NUL" in err.error_comment


def test_nul_padding_is_not_refused() -> None:
    # what some devices send: a text value padded with a NUL instead of a space; the reader strips it
    ds = _ds(QueryRetrieveLevel="STUDY")
    ds.add(DataElement.from_raw(0x00100020, VR.LO, b"P1\x00", SourceEncoding()))
    plan = plan_from_identifier(ds, model=STUDY_ROOT, operation=Operation.FIND)
    assert [k.text for k in plan.keys if k.tag == 0x00100020] == ["P1"]


def test_missing_level_comment_says_so() -> None:
    err = _refused(_ds(PatientName="DOE*"))
    assert err.error_comment == "QueryRetrieveLevel missing"
    assert "(0008,0052)" in str(err)


def test_comment_of_a_non_ascii_value_stays_in_the_default_repertoire() -> None:
    err = _refused(_ds(QueryRetrieveLevel="STUDY", StudyInstanceUID="1.2.ü"))
    assert err.error_comment.isascii()


def test_not_a_query_sop_class() -> None:
    with pytest.raises(QueryError) as info:
        plan_from_identifier(_ds(QueryRetrieveLevel="STUDY"), "1.2.840.10008.5.1.4.1.1.2")
    assert info.value.reason is Reason.INVALID_VALUE


def test_sop_class_selects_model_and_operation() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=UID1),
                                str(PATIENT_ROOT.move_uid), options=PlanOptions(relational=True))
    assert plan.model is PATIENT_ROOT and plan.operation is Operation.MOVE
    assert plan.unique_values(plan.level) == (UID1,)  # type: ignore[arg-type]


def test_retrieve_keeps_unique_keys_only() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", StudyInstanceUID=[UID1, UID2], PatientName="X",
                                    StudyDate="20240101"), model=STUDY_ROOT, operation=Operation.MOVE)
    assert [k.keyword for k in plan.keys] == ["StudyInstanceUID"]
    assert plan.key(0x0020000D).kind is MatchKind.UID_LIST  # type: ignore[union-attr]
    assert set(plan.ignored) == {0x00100010, 0x00080020}


def test_relational_retrieval_needs_no_upper_unique_keys() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="SERIES", SeriesInstanceUID=UID1), model=STUDY_ROOT,
                                operation=Operation.GET, options=PlanOptions(relational=True))
    assert plan.unique_values(plan.level) == (UID1,)  # type: ignore[arg-type]


def test_relational_query_takes_keys_of_every_level() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", PatientName="DOE*", Modality="CT",
                                    SOPClassUID="1.2.840.10008.5.1.4.1.1.2"), model=PATIENT_ROOT,
                                operation=Operation.FIND, options=PlanOptions(relational=True))
    assert {k.keyword: k.level.value for k in plan.keys} == {  # type: ignore[union-attr]
        "PatientName": "PATIENT", "Modality": "SERIES", "SOPClassUID": "IMAGE"}


def test_upper_level_return_keys_are_allowed_in_strict_hierarchical_queries() -> None:
    # zero-length keys of the levels above only ask for values: they constrain nothing
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", PatientID="P1", PatientName="", StudyDate=""),
                                model=PATIENT_ROOT, operation=Operation.FIND)
    assert [k.keyword for k in plan.matching_keys] == ["PatientID"]


def test_worklist_ignores_a_query_retrieve_level() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", PatientName="DOE*"), model=MODALITY_WORKLIST,
                                operation=Operation.FIND)
    assert plan.level is None
    assert [k.keyword for k in plan.keys] == ["PatientName"]
    assert plan.keys[0].unknown_matches is False  # PS3.4 K.2.2.1.1.1


def test_group_lengths_private_creators_and_command_groups_are_not_keys() -> None:
    ds = _ds(QueryRetrieveLevel="STUDY", PatientName="")
    ds.add_new(0x00080000, "UL", 10)
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091001, "LO", "x")
    plan = plan_from_identifier(ds, model=STUDY_ROOT, operation=Operation.FIND)
    assert [k.tag for k in plan.keys] == [0x00091001, 0x00100010]
    assert plan.key(0x00091001).level is not None  # type: ignore[union-attr]  (private: the query level)


def test_lenient_hierarchy_takes_zero_length_keys_of_lower_levels() -> None:
    plan = plan_from_identifier(_ds(QueryRetrieveLevel="STUDY", SeriesDescription=""), model=STUDY_ROOT,
                                operation=Operation.FIND, options=PlanOptions(strict_hierarchy=False))
    key = plan.key(0x0008103E)
    assert key is not None and not key.is_matching and key.level is not None and key.level.value == "SERIES"
