"""The Python evaluator of a :class:`~.plan.QueryPlan`, and the response Identifier of a match.

:class:`Matcher` compiles a plan once (one predicate per matching key; wild cards are compiled regular
expressions of the plan) and then tells, record by record, whether an entity matches. A *record* is anything
with ``get(tag) -> DataElement | None`` — a :class:`~dicomkit.core.dataset.Dataset`, or a source's view over
the patient, study, series and instance attributes of one entity.

:func:`response_identifier` builds what a C-FIND SCP sends for a match (PS3.4 C.4.1.1.3.2, K.4.1.1.3.2):
the return keys only, each with the entity's value or zero length, sequences reduced to the matching items
and the requested item attributes (C.2.2.2.6), the Query/Retrieve Level, the Retrieve AE Title and
Instance Availability the caller gives, and a Specific Character Set: the request's when every value can be
encoded in it, else ISO_IR 192 (UTF-8).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any, Protocol

from ...core.charset import character_set
from ...core.dataset import Dataset
from ...core.element import DataElement
from ...core.errors import InvalidValueError
from ...core.sequence import Sequence
from ...core.vr import CHARSET_VRS
from .levels import (
    INSTANCE_AVAILABILITY,
    QUERY_RETRIEVE_LEVEL,
    RETRIEVE_AE_TITLE,
    RETRIEVE_URL,
    SPECIFIC_CHARACTER_SET,
    TIMEZONE_OFFSET_FROM_UTC,
    Level,
)
from .plan import (
    DATE_TIME_VRS,
    NUMBER_VRS,
    DateTimeRange,
    KeyMatch,
    MatchKind,
    PersonNameKey,
    QueryPlan,
    Single,
    Wildcard,
    fold,
    person_name_groups,
)
from .temporal import TemporalError, combined_bounds, normalize, parse_offset

UTF8 = ("ISO_IR 192",)


class Record(Protocol):
    """What the evaluator reads: an element by tag, or None."""

    def get(self, key: Any, default: Any = None) -> Any: ...


Predicate = Callable[[Record, "int | None"], bool]


def element_texts(elem: DataElement | None) -> list[str]:
    """The non-empty values of an element as text (AT as 8 hex digits, bytes as hex)."""
    if elem is None:
        return []
    value = elem.value
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value).hex()]
    items = value if isinstance(value, tuple | list) else (value,)
    if elem.vr == "AT":
        return [f"{int(v):08X}" for v in items]
    return [s for s in (str(v) for v in items if v is not None) if s != ""]


def record_offset(record: Record) -> int | None:
    """The record's Timezone Offset From UTC (0008,0201) in minutes, when it has a readable one."""
    elem = record.get(TIMEZONE_OFFSET_FROM_UTC)
    texts = element_texts(elem) if elem is not None else []
    if not texts:
        return None
    try:
        return parse_offset(texts[0])
    except TemporalError:
        return None


class Matcher:
    """A compiled plan: ``matcher(record)`` is True when the record matches every matching key.

    ``levels`` restricts the keys evaluated to those of the given levels (a source evaluating a relational
    query level by level); None evaluates them all.
    """

    def __init__(self, plan: QueryPlan, levels: Collection[Level | None] | None = None) -> None:
        self.plan = plan
        self.adjust = plan.options.timezone_adjustment
        keys = [k for k in plan.keys if k.is_matching and (levels is None or k.level in levels)]
        self._subs: dict[int, Matcher] = {}
        self.keys = tuple(keys)
        self._predicates = [self._compile(k) for k in keys]

    def __call__(self, record: Record) -> bool:
        offset = record_offset(record) if self.adjust else None
        return all(p(record, offset) for p in self._predicates)

    matches = __call__

    def for_levels(self, *levels: Level | None) -> Matcher:
        return Matcher(self.plan, levels)

    # -- compilation --------------------------------------------------------------------------------------
    def _compile(self, key: KeyMatch) -> Predicate:
        tag = key.tag
        unknown = key.unknown_matches
        if key.kind is MatchKind.EMPTY:
            return lambda record, offset: not element_texts(record.get(tag)) and not _has_items(record.get(tag))
        if key.kind is MatchKind.SEQUENCE:
            return self._compile_sequence(key)
        if key.paired_with is not None and key.terms and key.vr == "DA":
            return self._compile_combined(key)
        value_test = self._value_test(key)
        return _values_predicate(tag, unknown, value_test)

    def _value_test(self, key: KeyMatch) -> Callable[[list[str], int | None], bool]:
        """A test over the record's values (all non-empty): any value matches (multi-valued entities),
        every term must find a value with Multiple Value Matching."""
        vr = key.vr
        if key.person_names:
            pn_tests: list[Callable[[Any], bool]] = [
                _pn_test(n, key.fuzzy if key.case_insensitive else None) for n in key.person_names]
            return _combine(pn_tests, key.all_terms, lambda v, off: v)
        if vr in DATE_TIME_VRS:
            ranges = [t for t in key.terms if isinstance(t, DateTimeRange)]
            range_tests: list[Callable[[Any], bool]] = [_range_test(r) for r in ranges]

            def convert(values: list[str], offset: int | None) -> list[str]:
                out = []
                for v in values:
                    n = normalize(v, vr, offset if vr == "DT" else None)
                    if n is not None:
                        out.append(n)
                return out

            return _combine(range_tests, key.all_terms, convert)
        if vr in NUMBER_VRS:
            numbers = [t.number for t in key.terms if isinstance(t, Single) and t.number is not None]
            number_tests: list[Callable[[Any], bool]] = [_number_test(n) for n in numbers]
            return _combine(number_tests, key.all_terms, lambda v, off: _floats(v))
        text_tests: list[Callable[[Any], bool]] = [_text_test(t) for t in key.terms if isinstance(t, Single | Wildcard)]
        return _combine(text_tests, key.all_terms, lambda v, off: v)

    def _compile_combined(self, key: KeyMatch) -> Predicate:
        date_tag, time_tag = key.tag, key.paired_with
        term = key.terms[0]
        assert isinstance(term, DateTimeRange) and time_tag is not None
        unknown = key.unknown_matches
        low_date = term.lower[:8] if term.lower else None
        high_date = term.upper[:8] if term.upper else None

        def predicate(record: Record, offset: int | None) -> bool:
            dates = element_texts(record.get(date_tag))
            if not dates:
                return unknown
            times = element_texts(record.get(time_tag))
            for d in dates:
                try:
                    if times:
                        value = combined_bounds(d, times[0], offset)[0]
                        if term.contains(value):
                            return True
                    else:  # the time is unknown: the date decides (C.2.2.1.2)
                        day = combined_bounds(d, "", None)[0][:8]
                        if (low_date is None or day >= low_date) and (high_date is None or day <= high_date):
                            return True
                except TemporalError:
                    continue
            return False

        return predicate

    def _sub_matcher(self, key: KeyMatch) -> Matcher:
        """The compiled item keys of a sequence key (compiled once per plan)."""
        sub = self._subs.get(id(key))
        if sub is None:
            sub = Matcher.__new__(Matcher)
            sub.plan = self.plan
            sub.adjust = self.adjust
            sub._subs = self._subs
            sub.keys = tuple(k for k in key.items if k.is_matching)
            sub._predicates = [sub._compile(k) for k in sub.keys]
            self._subs[id(key)] = sub
        return sub

    def _compile_sequence(self, key: KeyMatch) -> Predicate:
        tag = key.tag
        unknown = key.unknown_matches
        sub = self._sub_matcher(key)

        def predicate(record: Record, offset: int | None) -> bool:
            elem = record.get(tag)
            items = elem.value if elem is not None and elem.vr == "SQ" else None
            if not items:
                return unknown
            return any(sub(item) for item in items)

        return predicate

    def matching_items(self, key: KeyMatch, items: Sequence) -> Iterator[Dataset]:
        """The items of a stored sequence that match a sequence key (all of them when it has no matching
        item keys)."""
        sub = self._sub_matcher(key)
        for item in items:
            if sub(item):
                yield item


def _has_items(elem: DataElement | None) -> bool:
    return elem is not None and elem.vr == "SQ" and bool(elem.value)


def _values_predicate(tag: int, unknown: bool, test: Callable[[list[str], int | None], bool]) -> Predicate:
    def predicate(record: Record, offset: int | None) -> bool:
        values = element_texts(record.get(tag))
        if not values:
            return unknown
        return test(values, offset)

    return predicate


def _combine(tests: list[Callable[[Any], bool]], all_terms: bool,
             convert: Callable[[list[str], int | None], list[Any]]) -> Callable[[list[str], int | None], bool]:
    if len(tests) == 1:
        test = tests[0]

        def one(values: list[str], offset: int | None) -> bool:
            return any(test(v) for v in convert(values, offset))

        return one
    if all_terms:  # PS3.4 C.2.2.2.8: each key value matches some value of the entity
        def every(values: list[str], offset: int | None) -> bool:
            converted = convert(values, offset)
            return all(any(t(v) for v in converted) for t in tests)

        return every

    def any_of(values: list[str], offset: int | None) -> bool:
        converted = convert(values, offset)
        return any(t(v) for t in tests for v in converted)

    return any_of


def _text_test(term: Single | Wildcard) -> Callable[[str], bool]:
    if isinstance(term, Wildcard):
        fullmatch = term.regex.fullmatch
        return lambda v: fullmatch(v) is not None
    expected = term.compare
    return lambda v: v == expected


def _range_test(term: DateTimeRange) -> Callable[[str], bool]:
    low, high = term.lower, term.upper
    if low is not None and high is not None:
        return lambda v: low <= v <= high
    if low is not None:
        return lambda v: v >= low
    if high is not None:
        return lambda v: v <= high
    return lambda v: True


def _number_test(expected: float) -> Callable[[float], bool]:
    return lambda v: v == expected


def _floats(values: list[str]) -> list[float]:
    out = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            continue
    return out


def _pn_test(name: PersonNameKey, fuzzy: bool | None) -> Callable[[str], bool]:
    """A test of one stored PN value; ``fuzzy`` None means case-sensitive literal matching."""
    def folded(text: str) -> str:
        return text if fuzzy is None else fold(text, fuzzy)

    def matches(term: Single | Wildcard, text: str) -> bool:
        if isinstance(term, Wildcard):
            return term.regex.fullmatch(text) is not None
        return text == term.compare

    if name.any_group:
        term = name.groups[0]
        assert term is not None

        def any_group(value: str) -> bool:
            return any(g and matches(term, folded(g)) for g in person_name_groups(value))

        return any_group

    groups = name.groups

    def by_group(value: str) -> bool:
        stored = person_name_groups(value)
        return all(t is None or matches(t, folded(stored[i])) for i, t in enumerate(groups))

    return by_group


# -- response Identifiers --------------------------------------------------------------------------------
FILLED_BY_CALLER = frozenset({RETRIEVE_AE_TITLE, INSTANCE_AVAILABILITY, RETRIEVE_URL})


def project(plan: QueryPlan, record: Record) -> Dataset:
    """A small data set with the elements of ``record`` that are return keys of the plan (sequences whole)
    — what a source yields for a match; :func:`response_identifier` completes it."""
    out = Dataset()
    for key in plan.keys:
        elem = record.get(key.tag)
        if elem is not None:
            out.add(elem)
    cs = record.get(SPECIFIC_CHARACTER_SET)
    if cs is not None:
        out.add(cs)
    return out


def response_identifier(plan: QueryPlan, match: Record, *, retrieve_ae_title: str | None = None,
                        instance_availability: str | None = None, retrieve_url: str | None = None) -> Dataset:
    """The C-FIND response Identifier for a matching record (see the module docstring)."""
    out = Dataset()
    matcher = plan.matcher
    for key in plan.keys:
        if key.tag in FILLED_BY_CALLER:
            continue
        out.add(_response_element(key, match.get(key.tag), matcher))
    if plan.level is not None:
        out.add(DataElement(QUERY_RETRIEVE_LEVEL, "CS", plan.level.value))
    if retrieve_ae_title:
        out.add(DataElement(RETRIEVE_AE_TITLE, "AE", retrieve_ae_title))
    elif RETRIEVE_AE_TITLE in plan:
        out.add(DataElement(RETRIEVE_AE_TITLE, "AE", None))
    if instance_availability:
        out.add(DataElement(INSTANCE_AVAILABILITY, "CS", instance_availability))
    elif INSTANCE_AVAILABILITY in plan:
        out.add(DataElement(INSTANCE_AVAILABILITY, "CS", None))
    if retrieve_url:
        out.add(DataElement(RETRIEVE_URL, "UR", retrieve_url))
    elif RETRIEVE_URL in plan:
        out.add(DataElement(RETRIEVE_URL, "UR", None))
    terms = response_character_set(plan.character_set, out)
    if terms:
        out.add(DataElement(SPECIFIC_CHARACTER_SET, "CS", list(terms) if len(terms) > 1 else terms[0]))
    return out


def _response_element(key: KeyMatch, elem: DataElement | None, matcher: Matcher) -> DataElement:
    if elem is None or key.tag >> 16 == 0x7FE0:  # pixel data is retrieved, never returned by a query
        return DataElement(key.tag, key.vr, None)
    if not key.is_sequence or elem.vr != "SQ":
        return elem.copy()
    if key.kind is MatchKind.UNIVERSAL and not key.items:
        return elem.copy()  # zero items or an empty item: the whole sequence (C.2.2.2.6)
    items = []
    for item in matcher.matching_items(key, elem.value):
        reduced = Dataset()
        for sub in key.items:
            reduced.add(_response_element(sub, item.get(sub.tag), matcher))
        items.append(reduced)
    return DataElement(key.tag, "SQ", items)


def _texts_of(ds: Dataset) -> Iterator[tuple[str, str]]:
    for elem in ds:
        if elem.vr == "SQ":
            for item in elem.value:
                yield from _texts_of(item)
        elif elem.vr in CHARSET_VRS:
            value = elem.value
            if value is None or value == "":
                continue
            text = "\\".join(str(v) for v in value) if isinstance(value, tuple | list) else str(value)
            yield str(elem.vr), text


def response_character_set(request: tuple[str, ...], response: Dataset) -> tuple[str, ...]:
    """The Specific Character Set for a response: the request's when every text value can be encoded in
    it (PS3.4 C.2.2.2: it "specifies how other Attributes are encoded in the Request and Response
    Identifiers"), else ISO_IR 192."""
    return character_set_for(request, list(_texts_of(response)))


def character_set_for(request: tuple[str, ...], texts: list[tuple[str, str]]) -> tuple[str, ...]:
    """:func:`response_character_set` of a response whose values of the VRs the character set applies to
    are ``texts`` ((VR, text) pairs)."""
    if all(t.isascii() for _, t in texts):
        return request
    cs = character_set(request)
    if cs.unknown:
        return UTF8
    try:
        for vr, text in texts:
            cs.encode(text, vr)
    except InvalidValueError:
        return UTF8
    return request


__all__ = ["FILLED_BY_CALLER", "Matcher", "Record", "character_set_for", "element_texts", "project",
           "response_character_set", "response_identifier"]
