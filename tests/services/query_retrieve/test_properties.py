"""Property tests of matching (hypothesis): wild cards, LIKE patterns, ranges, offsets, response charsets."""

from __future__ import annotations

import datetime as dt
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

import dicomkit
from dicomkit import Dataset
from dicomkit.services.query_retrieve import (
    STUDY_ROOT,
    Operation,
    PlanOptions,
    Wildcard,
    plan_from_identifier,
    response_identifier,
)

SETTINGS = settings(max_examples=150, deadline=None)
# Values without the backslash (the value separator) and without leading/trailing spaces (padding).
ALPHABET = st.sampled_from(list("abcXYZ019 %_^.-é山ß"))
VALUE = st.text(ALPHABET, min_size=1, max_size=12).map(str.strip).filter(bool)


def _plan(keys: dict[str, object], level: str = "STUDY", **options: object):  # type: ignore[no-untyped-def]
    q = Dataset()
    q.QueryRetrieveLevel = level
    for k, v in keys.items():
        setattr(q, k, v)
    return plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND, options=PlanOptions(**options))


def _record(**attrs: object) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


@st.composite
def value_and_pattern(draw: st.DrawFn) -> tuple[str, str]:
    """A value and a wild card pattern made from it: characters kept, turned into '?', or runs into '*'."""
    value = draw(VALUE)
    out, i = [], 0
    while i < len(value):
        action = draw(st.sampled_from(["keep", "keep", "question", "star"]))
        if action == "keep":
            out.append(value[i])
            i += 1
        elif action == "question":
            out.append("?")
            i += 1
        else:
            run = draw(st.integers(0, len(value) - i))
            out.append("*")
            i += run
    return value, "".join(out)


@SETTINGS
@given(value_and_pattern())
def test_a_wildcard_made_from_a_value_matches_it(vp: tuple[str, str]) -> None:
    value, pattern = vp
    plan = _plan({"StudyDescription": pattern})
    assert plan.matcher(_record(StudyDescription=value)), (value, pattern)


@SETTINGS
@given(value_and_pattern())
def test_a_person_name_wildcard_matches_in_any_case(vp: tuple[str, str]) -> None:
    value, pattern = vp
    value, pattern = value.replace("^", "_"), pattern.replace("^", "_")
    for fuzzy in (False, True):
        upper = "".join(c.upper() if len(c.upper()) == 1 else c for c in pattern)  # "ß".upper() is "SS"
        plan = _plan({"PatientName": upper}, pn_case_insensitive=True, fuzzy_names=fuzzy)
        assert plan.matcher(_record(PatientName=value.lower())), (value, pattern, fuzzy)


_LIKE_ALPHABET = st.sampled_from(list("ab%_\\*?é"))


@SETTINGS
@given(st.text(st.sampled_from(list("ab%_é")), max_size=8), st.text(_LIKE_ALPHABET, min_size=1, max_size=8))
def test_the_like_pattern_agrees_with_the_regular_expression(value: str, pattern: str) -> None:
    # LT may hold a backslash: the LIKE pattern escapes it like % and _
    plan = _plan({"StudyComments": pattern})
    key = plan.key(0x00324000)
    assert key is not None
    if not key.terms or not isinstance(key.terms[0], Wildcard):
        return  # no wild card (or "*" alone: universal)
    term = key.terms[0]
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA case_sensitive_like = ON")
    (like,) = db.execute("SELECT ? LIKE ? ESCAPE '\\'", (value, term.like)).fetchone()
    assert bool(like) == (term.regex.fullmatch(value) is not None), (value, pattern, term.like)
    assert value.startswith(term.prefix) or not like


@SETTINGS
@given(st.lists(st.text(st.sampled_from(list("ABCxyzé")), min_size=1, max_size=5), min_size=1, max_size=3))
def test_a_person_name_matches_itself(components: list[str]) -> None:
    name = "^".join(components)
    for ci in (True, False):
        plan = _plan({"PatientName": name}, pn_case_insensitive=ci)
        assert plan.matcher(_record(PatientName=name))


DATES = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))


@SETTINGS
@given(DATES, DATES, DATES)
def test_a_date_range_holds_exactly_the_dates_between(d: dt.date, a: dt.date, b: dt.date) -> None:
    low, high = min(a, b), max(a, b)
    plan = _plan({"StudyDate": f"{low:%Y%m%d}-{high:%Y%m%d}"})
    assert plan.matcher(_record(StudyDate=f"{d:%Y%m%d}")) == (low <= d <= high)
    until = _plan({"StudyDate": f"-{high:%Y%m%d}"})
    assert until.matcher(_record(StudyDate=f"{d:%Y%m%d}")) == (d <= high)


@SETTINGS
@given(st.datetimes(dt.datetime(1950, 1, 2), dt.datetime(2090, 12, 30)).map(lambda t: t.replace(microsecond=0)),
       st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15))
def test_an_offset_is_taken_into_account(moment: dt.datetime, offset: int) -> None:
    sign = "+" if offset >= 0 else "-"
    local = moment + dt.timedelta(minutes=offset)
    stored = f"{local:%Y%m%d%H%M%S}{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    q = Dataset()
    q.QueryRetrieveLevel = "IMAGE"
    q.StudyInstanceUID, q.SeriesInstanceUID = "1.2.3", "1.2.4"
    q.AcquisitionDateTime = f"{moment:%Y%m%d%H%M%S}+0000"
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    assert plan.matcher(_record(AcquisitionDateTime=stored)), (stored, q.AcquisitionDateTime)


NAMES = st.text(st.sampled_from(list("AbcÅøüßΩЖ山あ한")), min_size=1, max_size=10)


@SETTINGS
@given(NAMES)
def test_the_response_is_in_the_request_character_set_when_it_can_be(name: str) -> None:
    plan = _plan({"PatientName": "", "SpecificCharacterSet": "ISO_IR 100"})
    record = _record(SpecificCharacterSet="ISO_IR 192", PatientName=name)
    record = dicomkit.read(record.to_bytes("1.2.840.10008.1.2.1"), force=True)
    response = response_identifier(plan, record)
    try:
        name.encode("latin-1")
        expected = "ISO_IR 100"
    except UnicodeEncodeError:
        expected = "ISO_IR 192"
    assert response.SpecificCharacterSet == expected
    decoded = dicomkit.read(response.to_bytes("1.2.840.10008.1.2.1"), force=True)
    assert str(decoded.PatientName) == name
