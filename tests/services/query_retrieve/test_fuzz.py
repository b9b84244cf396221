"""Fuzzing the two parsers of this package: Identifiers as received (raw bytes) and QIDO-RS parameters.

Whatever arrives, planning ends in a plan or a QueryError (never another exception), and a plan evaluates
and answers any record without raising.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomkit import VR, Dataset
from dicomkit.core.element import DataElement, SourceEncoding
from dicomkit.services.query_retrieve import (
    MODALITY_WORKLIST,
    PATIENT_ROOT,
    STUDY_ROOT,
    Operation,
    PlanOptions,
    QueryError,
    plan_from_identifier,
    response_identifier,
)
from dicomkit.services.query_retrieve.qido import plan_from_query_params

from .matching_cases import record_datasets

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = [(0x00100010, "PN"), (0x00100020, "LO"), (0x00080020, "DA"), (0x00080030, "TM"),
        (0x0008002A, "DT"), (0x0020000D, "UI"), (0x0020000E, "UI"), (0x00080061, "CS"), (0x00200013, "IS"),
        (0x00080201, "SH"), (0x00281050, "DS"), (0x00280010, "US"), (0x00081030, "LO"), (0x00091001, "UN"),
        (0x00200032, "DS"), (0x00000902, "LO")]
PIECES = st.sampled_from([b"", b"*", b"?", b"-", b"\\", b"=", b'""', b"^", b"20240101", b"1200", b"1.2.3", b"01.2",
                          b"STUDY", b"IMAGE", b"PATIENT", b"+0100", b"\xff\xfe", b"\x1b$B", b"DOE", b" ", b"\x00"])
RAW = st.lists(PIECES, max_size=6).map(b"".join)
LATIN = SourceEncoding()


LEVELS = st.sampled_from([b"STUDY", b"STUDY ", b"SERIES", b"IMAGE", b"PATIENT"]) | RAW


@st.composite
def identifiers(draw: st.DrawFn) -> Dataset:
    ds = Dataset()
    ds.add(DataElement.from_raw(0x00080052, VR.CS, draw(LEVELS), LATIN))
    for tag, vr in draw(st.lists(st.sampled_from(KEYS), max_size=7, unique=True)):
        ds.add(DataElement.from_raw(tag, VR(vr), draw(RAW), LATIN))
    if draw(st.booleans()):
        item = Dataset()
        for tag, vr in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
            item.add(DataElement.from_raw(tag, VR(vr), draw(RAW), LATIN))
        ds.add(DataElement(0x00400100, "SQ", [item] * draw(st.integers(0, 2))))
    return ds


OPTIONS = st.builds(PlanOptions, relational=st.booleans(), combined_datetime=st.booleans(),
                    fuzzy_names=st.booleans(), timezone_adjustment=st.booleans(), empty_value_matching=st.booleans(),
                    multiple_value_matching=st.booleans(), pn_case_insensitive=st.booleans(),
                    strict_hierarchy=st.booleans())
RECORDS = [*record_datasets("people").values(), *record_datasets("worklist").values()]


@SETTINGS
@given(identifiers(), st.sampled_from([PATIENT_ROOT, STUDY_ROOT, MODALITY_WORKLIST]),
       st.sampled_from(list(Operation)), OPTIONS)
def test_identifiers_plan_or_refuse(ds: Dataset, model: object, operation: Operation, options: PlanOptions) -> None:
    if model is MODALITY_WORKLIST:
        operation = Operation.FIND
    try:
        plan = plan_from_identifier(ds, model=model, operation=operation, options=options)  # type: ignore[arg-type]
    except QueryError as exc:
        assert exc.error_comment.isascii() and 0xA900 <= exc.status <= 0xCFFF
        return
    for record in RECORDS:
        if plan.matcher(record):
            response_identifier(plan, record, retrieve_ae_title="AE")


NAMES = st.sampled_from(["PatientName", "00100010", "StudyDate", "StudyInstanceUID", "ModalitiesInStudy",
                         "includefield", "limit", "offset", "fuzzymatching", "emptyvaluematching",
                         "RequestAttributesSequence.ScheduledProcedureStepID", "00400275.00400009", "Rows",
                         "NumberOfFrames", "TimezoneOffsetFromUTC", "junk", "", ".", "PatientName.",
                         "AcquisitionDateTime"])
VALUES = st.text(st.sampled_from(list("019*?-,\\^=.\"%_ aZé+")), max_size=12)


@SETTINGS
@given(st.sampled_from(["studies", "series", "instances"]), st.lists(st.tuples(NAMES, VALUES), max_size=6))
def test_query_parameters_plan_or_refuse(level: str, params: list[tuple[str, str]]) -> None:
    try:
        query = plan_from_query_params(level, params)
    except QueryError as exc:
        assert exc.http_status == 400 and exc.parameter is not None
        return
    for record in RECORDS[:6]:
        if query.plan.matcher(record):
            response_identifier(query.plan, record)
