"""Matches as rows (services/query_retrieve/rows.py): the C-FIND Identifier written from a row is the Identifier
the data set path writes for the same match, byte for byte — every VR of the index columns, padding, NULs and
backslashes, multi-byte text and the request's character set, integers in and out of range, elements of the
stored header, NULL and empty values, each transfer syntax; and the FIND SCP sends those bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomkit import Dataset
from dicomkit.core.dictionary import tag_for_keyword
from dicomkit.core.element import DataElement
from dicomkit.core.errors import DicomError
from dicomkit.io.writer import encode_dataset
from dicomkit.services.query_retrieve import PATIENT_ROOT, STUDY_ROOT, Operation, PlanOptions, plan_from_identifier
from dicomkit.services.query_retrieve.matching import response_identifier
from dicomkit.services.query_retrieve.plan import QueryPlan, vr_of
from dicomkit.services.query_retrieve.rows import IdentifierEncoder, RowLayout, RowMatch, as_dataset, value_text
from dicomkit.services.sources import Requester
from dicomkit.services.wire import decode

from ..live import run, serving

IMPLICIT, EXPLICIT, BIG, DEFLATED = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                                     "1.2.840.10008.1.2.1.99")
SYNTAXES = (IMPLICIT, EXPLICIT, BIG, DEFLATED)
RETRIEVE_AE_TITLE, INSTANCE_AVAILABILITY = 0x00080054, 0x00080056

# return keys of a STUDY query (Study Root) and of an IMAGE query: the VRs of the index columns and more
STUDY_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "OtherPatientNames", "PatientComments",
              "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "StudyID", "StudyDescription",
              "ReferringPhysicianName", "PatientAge", "PatientWeight", "TimezoneOffsetFromUTC",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy", "StudyComments",
              "RetrieveAETitle", "InstanceAvailability", "IssuerOfPatientID", "InterpretationAuthor")
IMAGE_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "InstanceNumber", "Rows",
              "Columns", "NumberOfFrames", "ImageType", "ContentDate", "ContentTime", "AcquisitionDateTime",
              "WindowCenter", "BurnedInAnnotation", "RetrieveAETitle", "InstanceAvailability", "ImageComments",
              "ContainerIdentifier")
INTEGER_KEYS = frozenset({"NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "InstanceNumber", "Rows",
                          "Columns", "NumberOfFrames"})
CHARSETS = ((), ("ISO_IR 100",), ("ISO_IR 192",), ("ISO 2022 IR 6", "ISO 2022 IR 87"), ("ISO_IR 13",),
            ("GB18030",), ("ISO_IR 144",), ("ISO 2022 IR 100",), ("ISO_IR 999",))
ALPHABET = st.sampled_from(["A", "b", "1", "0", ".", " ", "\x00", "\\", "^", "=", "-", "é", "Ж", "山", "ｱ", "\x1b",
                            "+", "*", "\t"])
TEXT = st.text(ALPHABET, max_size=9)
ASCII_TEXT = st.text(st.sampled_from(["A", "1", "0", ".", " ", "\x00", "\\", "^", "-", "+"]), max_size=9)
CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "PN", "UC", "UT"})


def _text(vr: str) -> st.SearchStrategy[str]:
    """Any text for the VRs the character set applies to; mostly ASCII for the others (which refuse the rest)."""
    return TEXT if vr in CHARSET_VRS else st.one_of(*[ASCII_TEXT] * 15, TEXT)


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    assert tag is not None
    return int(tag)


def _plan(level: str, keys: tuple[str, ...], charset: tuple[str, ...], model: Any = STUDY_ROOT) -> QueryPlan:
    q = Dataset()
    q.QueryRetrieveLevel = level
    if charset:
        q.SpecificCharacterSet = list(charset) if len(charset) > 1 else charset[0]
    for keyword in keys:
        q.add(DataElement(_tag(keyword), vr_of(_tag(keyword)), None))
    if level == "IMAGE":
        q.StudyInstanceUID = "1.2.3"
        q.SeriesInstanceUID = "1.2.3.4"
    return plan_from_identifier(q, model=model, operation=Operation.FIND,
                                options=PlanOptions(relational=True, strict_hierarchy=False))


@st.composite
def rows(draw: st.DrawFn) -> tuple[QueryPlan, RowMatch, str, dict[str, Any]]:
    """A plan, a row match under a layout of some of its keys (others from a header), a transfer syntax and the
    SCP's options."""
    level = draw(st.sampled_from(["STUDY", "IMAGE"]))
    pool = STUDY_KEYS if level == "STUDY" else IMAGE_KEYS
    keys = tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique=True)))
    plan = _plan(level, keys, draw(st.sampled_from(CHARSETS)))
    fields: list[tuple[int, str, bool]] = []
    values: list[Any] = ["pk"]
    header = Dataset()
    for key in plan.keys:
        keyword, tag = key.keyword, key.tag
        where = draw(st.sampled_from(["field", "field", "header", "none"]))
        if where == "field":
            integer = keyword in INTEGER_KEYS
            fields.append((tag, vr_of(tag), integer))
            if integer:
                values.append(draw(st.one_of(st.none(), st.integers(-5, 70000), st.sampled_from([2**31, -(2**40)]))))
            else:
                values.append(draw(st.one_of(st.none(), _text(vr_of(tag)))))
        elif where == "header":
            vr = vr_of(tag)
            if vr in ("US", "SS", "UL", "SL"):
                header.add(DataElement(tag, vr, draw(st.integers(0, 600)), validate=False))
            elif vr != "SQ":
                header.add(DataElement(tag, vr, draw(_text(vr)), validate=False))
    constants = draw(st.sampled_from([{}, {RETRIEVE_AE_TITLE: DataElement(RETRIEVE_AE_TITLE, "AE", "ARCH"),
                                           INSTANCE_AVAILABILITY: DataElement(INSTANCE_AVAILABILITY, "CS", "ONLINE")},
                                       {RETRIEVE_AE_TITLE: None}]))
    layout = RowLayout([k.tag for k in plan.keys], fields, offset=1, constants=constants,
                       in_header=lambda tag: tag not in {f[0] for f in fields})
    match = RowMatch(layout, tuple(values), header if len(header) else None)
    options = draw(st.sampled_from([{}, {"retrieve_ae_title": "DICOMKIT"},
                                    {"retrieve_ae_title": "DICOMKIT", "instance_availability": "ONLINE"}]))
    return plan, match, draw(st.sampled_from(SYNTAXES)), options


def general(plan: QueryPlan, match: RowMatch, ts: str, options: dict[str, Any]) -> bytes | str:
    """What the data set path sends: the Identifier of the data set the source yielded (or its error)."""
    try:
        return encode_dataset(response_identifier(plan, match.dataset(), **options), ts, validate=False)
    except DicomError as exc:
        return type(exc).__name__


def fast(plan: QueryPlan, match: RowMatch, ts: str, options: dict[str, Any]) -> bytes | str:
    try:
        return IdentifierEncoder(plan, ts, **options).encode(match)
    except DicomError as exc:
        return type(exc).__name__


@settings(max_examples=400, deadline=None)
@given(rows())
def test_the_identifier_of_a_row_is_the_data_set_paths(case: tuple[QueryPlan, RowMatch, str, dict[str, Any]]) -> None:
    plan, match, ts, options = case
    assert fast(plan, match, ts, options) == general(plan, match, ts, options)


@settings(max_examples=300, deadline=None)
@given(vr=st.sampled_from(["AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI",
                           "UR", "UT"]), text=TEXT)
def test_value_text_is_the_text_the_writer_encodes(vr: str, text: str) -> None:
    from dicomkit.core.values import _string_item_text, normalize_value

    value = normalize_value(vr, text)
    expected = "\\".join(_string_item_text(vr, v) for v in value) if isinstance(value, tuple) else \
        _string_item_text(vr, value)
    assert value_text(vr, text) == expected


def test_a_row_is_a_record_and_gives_the_data_set_the_source_yielded() -> None:
    plan = _plan("STUDY", ("PatientName", "StudyDate", "NumberOfStudyRelatedInstances", "StudyComments",
                           "RetrieveAETitle", "InstanceAvailability"), ())
    name, date, count = _tag("PatientName"), _tag("StudyDate"), _tag("NumberOfStudyRelatedInstances")
    header = Dataset()
    header.StudyComments = "from the header"
    header.PatientName = "NOT^THIS"  # a tag with a field is never read from the header
    layout = RowLayout([k.tag for k in plan.keys], [(name, "PN", False), (date, "DA", False), (count, "IS", True)],
                       offset=1, constants={RETRIEVE_AE_TITLE: None,
                                            INSTANCE_AVAILABILITY: DataElement(INSTANCE_AVAILABILITY, "CS", "ONLINE")},
                       in_header=lambda tag: tag not in (name, date, count))
    match = RowMatch(layout, (7, "DOE^JANE ", None, 3), header)
    assert match.get(name).value == "DOE^JANE" and match.get(date) is None and match.get(count).value == 3
    assert match.get(_tag("StudyComments")).value == "from the header"
    assert match.get(INSTANCE_AVAILABILITY) is None  # the record: what the entity holds
    ds = as_dataset(match)
    assert [e.keyword for e in ds] == ["InstanceAvailability", "PatientName", "NumberOfStudyRelatedInstances",
                                       "StudyComments"]
    assert ds.InstanceAvailability == "ONLINE" and match.value(INSTANCE_AVAILABILITY) == "ONLINE"
    assert match.value(RETRIEVE_AE_TITLE, "none") == "none"
    r = response_identifier(plan, match, retrieve_ae_title="AE1")
    assert r.RetrieveAETitle == "AE1" and r.PatientName == "DOE^JANE" and r["StudyDate"].length == 0


def test_non_ascii_values_take_the_request_character_set_or_utf8() -> None:
    name = _tag("PatientName")
    for charset, expected in (((), ("ISO_IR 192",)), (("ISO_IR 100",), ("ISO_IR 100",)),
                              (("ISO 2022 IR 6", "ISO 2022 IR 87"), ("ISO_IR 192",))):
        plan = _plan("STUDY", ("PatientName",), charset)
        layout = RowLayout([name], [(name, "PN", False)], offset=1)
        ds = decode(IdentifierEncoder(plan, EXPLICIT).encode(RowMatch(layout, (1, "Müller^Jörg"))), EXPLICIT)
        assert ds.character_set == expected and ds.PatientName == "Müller^Jörg"


def test_plans_with_sequence_keys_take_the_general_path() -> None:
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    item = Dataset()
    item.ReferencedSOPClassUID = ""
    q.ReferencedStudySequence = [item]
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    assert IdentifierEncoder(plan, EXPLICIT).general
    uid = _tag("StudyInstanceUID")
    header = Dataset()
    sq_item = Dataset()
    sq_item.ReferencedSOPClassUID = "1.2.3"
    sq_item.ReferencedSOPInstanceUID = "1.2.3.4"
    header.ReferencedStudySequence = [sq_item]
    layout = RowLayout([k.tag for k in plan.keys], [(uid, "UI", False)], offset=1, in_header=lambda t: t != uid)
    match = RowMatch(layout, (1, "1.2.9"), header)
    assert IdentifierEncoder(plan, EXPLICIT).encode(match) == general(plan, match, EXPLICIT, {})


class RowSource:
    """A query source of rows (a RowQuerySource), as the archive's index is."""

    def __init__(self, plan_rows: list[tuple[Any, ...]], fields: list[tuple[int, str, bool]]) -> None:
        self.plan_rows = plan_rows
        self.fields = fields
        self.datasets = 0

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return frozenset()

    async def find_rows(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[RowMatch]:
        layout = RowLayout([k.tag for k in plan.keys], self.fields, offset=1)
        for row in self.plan_rows:
            yield RowMatch(layout, row)

    async def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        async for match in self.find_rows(plan, requester):
            self.datasets += 1
            yield match.dataset()


@pytest.mark.parametrize("ts", [IMPLICIT, EXPLICIT])
def test_the_find_scp_sends_the_rows_identifiers(ts: str) -> None:
    from dicomkit.net import ApplicationEntity, PresentationContext
    from dicomkit.services.query_retrieve.find import FindSCP, find_all

    name, pid, date = _tag("PatientName"), _tag("PatientID"), _tag("StudyDate")
    source = RowSource([(1, "DOE^JANE", "P1", "20240101"), (2, "Ståhl^Åsa", "P2", None), (3, None, "P3", "2023")],
                       [(name, "PN", False), (pid, "LO", False), (date, "DA", False)])

    async def main() -> list[Dataset]:
        async with serving(FindSCP(source, models=[STUDY_ROOT, PATIENT_ROOT])) as server:
            contexts = [PresentationContext(str(STUDY_ROOT.find_uid), [ts])]
            async with ApplicationEntity("SCU").connect("127.0.0.1", server.port, contexts,
                                                       called_ae_title="SCP") as assoc:
                return await find_all(assoc, ["QueryRetrieveLevel=STUDY", "PatientName", "PatientID", "StudyDate"])

    matches = run(main())
    assert source.datasets == 0  # no data set was made of a row
    assert [(str(m.PatientName), m.PatientID, m.StudyDate) for m in matches] == [
        ("DOE^JANE", "P1", "20240101"), ("Ståhl^Åsa", "P2", ""), ("", "P3", "2023")]
    assert matches[1].character_set == ("ISO_IR 192",) and "SpecificCharacterSet" not in matches[0]
