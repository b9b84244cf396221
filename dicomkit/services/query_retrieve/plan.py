"""The query plan: an Identifier (PS3.4 C.4.1.1.3, C.4.2.1.4, K.4.1.1.3) read once into typed matching rules.

:func:`plan_from_identifier` turns the Identifier of a C-FIND, C-MOVE or C-GET request (or of a Modality
Worklist C-FIND) into a :class:`QueryPlan`: the information model, the level, and per key its tag, VR,
level, :class:`MatchKind` and normalised :data:`Term` values. Everything of PS3.4 C.2.2.2 (Attribute
Matching) is decided here, once:

=================  ==========================================================================================
kind               from (PS3.4)
=================  ==========================================================================================
UNIVERSAL          a zero-length value, or ``*`` (C.2.2.2.3, C.2.2.2.4): every entity matches; a return key
SINGLE_VALUE       one value without wild cards (C.2.2.2.1); for DA/TM/DT the period the value names
WILDCARD           ``*`` / ``?`` in AE, CS, LO, LT, PN, SH, ST, UC, UR, UT (C.2.2.2.4)
RANGE              ``a-b``, ``-b``, ``a-`` in DA, TM, DT (C.2.2.2.5); a DA + TM pair as one DT when combined
                   date-time matching was negotiated (C.2.2.2.5.4)
UID_LIST           several UIDs separated by backslash (C.2.2.2.2)
VALUE_LIST         several values of another VR: any may match; every one must match a value of the
                   entity with Multiple Value Matching negotiated (C.2.2.2.8)
SEQUENCE           one item of item keys, matched item by item (C.2.2.2.6)
EMPTY              ``""`` with Empty Value Matching negotiated (C.2.2.2.7): only entities without a value
=================  ==========================================================================================

A key's :attr:`KeyMatch.terms` are what a source compares, ready for Python and for SQL alike:
:class:`Single` (the text, its case-folded form, a number for numeric VRs), :class:`Wildcard` (a compiled
regular expression and an SQL ``LIKE`` pattern with ``\\`` escapes) and :class:`DateTimeRange` (inclusive
bounds as fixed-width digits, see :mod:`.temporal`). Person names carry their component groups
(:attr:`KeyMatch.person_names`, one :class:`PersonNameKey` per term) and whether matching ignores case
(:attr:`KeyMatch.case_insensitive`).

Building a plan from a bad Identifier raises :class:`~.errors.QueryError` with the DIMSE status and Error
Comment to answer. Keys the plan accepts but a source cannot match are the source's to report
(:meth:`QueryPlan.relaxed` then turns them into return keys and the SCP answers 0xFF01).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from ...core.dataset import Dataset
from ...core.dictionary import lookup
from ...core.element import DataElement
from ...core.errors import DicomError
from ...core.uid import UID
from .errors import QueryError, Reason
from .levels import (
    QUERY_RETRIEVE_LEVEL,
    QUERY_RETRIEVE_VIEW,
    SPECIFIC_CHARACTER_SET,
    TIMEZONE_OFFSET_FROM_UTC,
    InformationModel,
    KeyType,
    Level,
    Operation,
    keyword,
    model_for_sop_class,
)
from .negotiation import FindOptions, RetrieveOptions, WorklistOptions
from .temporal import TemporalError, bounds, combined_bounds, parse_offset, split_range

if TYPE_CHECKING:
    from .matching import Matcher


class MatchKind(str, Enum):
    UNIVERSAL = "universal"
    SINGLE_VALUE = "single"
    WILDCARD = "wildcard"
    RANGE = "range"
    UID_LIST = "uid-list"
    VALUE_LIST = "value-list"
    SEQUENCE = "sequence"
    EMPTY = "empty"


WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})  # PS3.4 C.2.2.2.4
DATE_TIME_VRS = frozenset({"DA", "TM", "DT"})
NUMBER_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
# PS3.4 C.2.2.2.8: the VRs for which Multiple Value Matching applies
MULTIPLE_VALUE_VRS = frozenset({"AE", "AS", "AT", "CS", "LO", "PN", "SH", "UC"})
EMPTY_VALUE = '""'  # PS3.4 C.2.2.2.7: two QUOTATION MARKs


# -- terms -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Single:
    """One value to compare for equality. ``compare`` is the text to compare with a stored value that was
    normalised the same way (:func:`fold` for case-insensitive person names); ``number`` the numeric value of
    IS, DS and binary number VRs, compared as numbers."""

    text: str
    compare: str
    number: float | None = None


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A value with ``*`` (any characters, also none) and ``?`` (one character), PS3.4 C.2.2.2.4.

    ``regex`` matches a whole (folded, when case-insensitive) stored value; ``like`` is the same pattern for
    SQL ``LIKE ... ESCAPE '\\'`` (``%``, ``_`` and ``\\`` of the value are escaped); ``prefix`` is the literal
    text before the first wild card (for an index range scan).
    """

    LIKE_ESCAPE: ClassVar[str] = "\\"

    text: str
    compare: str
    regex: re.Pattern[str]
    like: str
    prefix: str


@dataclass(frozen=True, slots=True)
class DateTimeRange:
    """An inclusive range of DA/TM/DT values as comparable digits (:mod:`.temporal`); ``None`` is open.

    ``vr`` is the form of the bounds: ``DA`` 8 digits, ``TM`` 12, ``DT`` 20 (also for a combined DA + TM).
    """

    text: str
    lower: str | None
    upper: str | None
    vr: str

    def contains(self, value: str) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value <= self.upper)


Term = Single | Wildcard | DateTimeRange


@dataclass(frozen=True, slots=True)
class PersonNameKey:
    """The component groups of a PN key (PS3.5 6.2.1): alphabetic, ideographic, phonetic.

    A group that is None does not constrain. With ``any_group`` (the key has a single group, i.e. no ``=``)
    the term may match any non-empty group of the stored name (``Yamada^Tarou`` finds
    ``Yamada^Tarou=山田^太郎=やまだ^たろう``); otherwise each given group is matched with the same group.
    """

    groups: tuple[Single | Wildcard | None, Single | Wildcard | None, Single | Wildcard | None]
    any_group: bool


@dataclass(frozen=True)
class KeyMatch:
    """One key of the Identifier: what to match and what to return.

    ``unknown_matches``: whether an entity without a value (zero length or absent) matches this key — true in
    Query/Retrieve (PS3.4 C.2.2.1.2), false in worklists (K.2.2.1.1.1) and when Empty Value Matching was
    negotiated (then only ``""`` finds empty values).
    ``paired_with``: for combined date-time matching, the DA key carries the DT range and names its TM key;
    the TM key names its DA key and has no terms of its own.
    """

    tag: int
    keyword: str
    vr: str
    level: Level | None
    key_type: KeyType
    kind: MatchKind
    text: str = ""
    terms: tuple[Term, ...] = ()
    all_terms: bool = False
    case_insensitive: bool = False
    fuzzy: bool = False
    person_names: tuple[PersonNameKey, ...] = ()
    unknown_matches: bool = True
    items: tuple[KeyMatch, ...] = ()
    paired_with: int | None = None

    @property
    def is_matching(self) -> bool:
        """True when the key constrains which entities match (it is not just a return key)."""
        if self.kind is MatchKind.UNIVERSAL:
            return False
        if self.kind is MatchKind.SEQUENCE:
            return any(item.is_matching for item in self.items)
        return not (self.paired_with is not None and not self.terms)

    @property
    def is_sequence(self) -> bool:
        return self.vr == "SQ"

    def as_universal(self) -> KeyMatch:
        return replace(self, kind=MatchKind.UNIVERSAL, terms=(), person_names=(), all_terms=False,
                       items=tuple(i.as_universal() for i in self.items), paired_with=None)

    def __repr__(self) -> str:
        return f"<KeyMatch {self.keyword or hex(self.tag)} {self.vr} {self.kind.value} {self.text!r}>"


@dataclass(frozen=True)
class PlanOptions:
    """How an Identifier is read: what was negotiated (PS3.4 C.5) and the SCP's own choices.

    - ``relational``: relational-queries (C-FIND) or relational-retrieval (C-MOVE/C-GET) was accepted;
      keys of any level may be given and unique keys of the levels above may be left out.
    - ``strict_hierarchy`` (the SCP's choice, PS3.4 C.4.1.2.1): a hierarchical query refuses matching keys
      of the levels above other than their unique keys, needs those unique keys, and refuses keys of the
      levels below. False accepts the first two (many SCUs send Patient's Name in a Patient Root STUDY query)
      and zero-length keys of the levels below (answered with zero length); matching keys of the levels below
      are refused in hierarchical queries either way.
    - ``pn_case_insensitive`` (the SCP's choice, PS3.4 C.2.2.2.1): literal PN matching ignores case.
    - ``unknown_values_match``: None follows the model (an entity with a zero-length value of a key matches
      it in Query/Retrieve, PS3.4 C.2.2.1.2 and C.2.2.1.3; not in worklists, K.2.2.1.1.1). False makes such
      entities match only universal keys, as DCMTK's dcmqrscp and Orthanc do.
    """

    relational: bool = False
    combined_datetime: bool = False
    fuzzy_names: bool = False
    timezone_adjustment: bool = False
    empty_value_matching: bool = False
    multiple_value_matching: bool = False
    pn_case_insensitive: bool = True
    strict_hierarchy: bool = True
    unknown_values_match: bool | None = None

    @classmethod
    def from_negotiation(cls, accepted: FindOptions | RetrieveOptions | WorklistOptions | None,
                         **choices: Any) -> PlanOptions:
        """The options for what the A-ASSOCIATE-AC accepted (see :mod:`.negotiation`)."""
        if isinstance(accepted, FindOptions):
            return cls(relational=accepted.relational_queries,
                       combined_datetime=accepted.combined_datetime_matching,
                       fuzzy_names=accepted.fuzzy_semantic_matching,
                       timezone_adjustment=accepted.timezone_query_adjustment,
                       empty_value_matching=accepted.empty_value_matching,
                       multiple_value_matching=accepted.multiple_value_matching, **choices)
        if isinstance(accepted, RetrieveOptions):
            return cls(relational=accepted.relational_retrieval, **choices)
        if isinstance(accepted, WorklistOptions):
            return cls(fuzzy_names=accepted.fuzzy_semantic_matching,
                       timezone_adjustment=accepted.timezone_query_adjustment, **choices)
        return cls(**choices)


@dataclass(frozen=True)
class QueryPlan:
    """A parsed Identifier. ``keys`` holds every key in tag order (matching keys are return keys too,
    PS3.4 C.2.2.1.3); ``character_set`` is the request's Specific Character Set (for the response),
    ``timezone`` its Timezone Offset From UTC in minutes (None when absent)."""

    model: InformationModel
    level: Level | None
    operation: Operation
    keys: tuple[KeyMatch, ...]
    options: PlanOptions = field(default_factory=PlanOptions)
    character_set: tuple[str, ...] = ()
    timezone: int | None = None
    query_retrieve_view: str | None = None
    ignored: tuple[int, ...] = ()  # keys left out of a C-MOVE/C-GET plan: only unique keys identify there

    def key(self, tag: int) -> KeyMatch | None:
        return next((k for k in self.keys if k.tag == tag), None)

    def __contains__(self, tag: object) -> bool:
        return any(k.tag == tag for k in self.keys)

    @property
    def matching_keys(self) -> tuple[KeyMatch, ...]:
        return tuple(k for k in self.keys if k.is_matching)

    @property
    def return_keys(self) -> tuple[KeyMatch, ...]:
        return self.keys

    def keys_at(self, *levels: Level | None) -> tuple[KeyMatch, ...]:
        return tuple(k for k in self.keys if k.level in levels)

    def unique_values(self, level: Level) -> tuple[str, ...] | None:
        """The values a unique key of ``level`` must have (single value or UID list), None when that
        key does not constrain — for sources that look entities up by their unique keys."""
        if self.model.is_worklist or level not in self.model.levels:
            return None
        k = self.key(self.model.unique_key(level).tag)
        if k is None or k.kind not in (MatchKind.SINGLE_VALUE, MatchKind.UID_LIST):
            return None
        return tuple(t.text for t in k.terms if isinstance(t, Single))

    def relaxed(self, tags: Iterable[int]) -> QueryPlan:
        """The same plan with the keys of ``tags`` matched universally (kept as return keys): what an SCP
        runs when its source cannot match them, answering 0xFF01 (PS3.4 C.4.1.1.4)."""
        drop = set(tags)
        if not drop:
            return self
        keys = []
        for k in self.keys:
            if k.tag in drop or (k.paired_with is not None and k.paired_with in drop):
                keys.append(k.as_universal())
            else:
                keys.append(k)
        return replace(self, keys=tuple(keys))

    @cached_property
    def matcher(self) -> Matcher:
        """The compiled evaluator of this plan (see :mod:`.matching`)."""
        from .matching import Matcher

        return Matcher(self)

    def describe(self) -> str:
        """One line per key, for logs."""
        head = f"{self.model.name} {self.operation.value}" + (f" at {self.level.value}" if self.level else "")
        return "\n".join([head, *(f"  {k.keyword or hex(k.tag)} [{k.vr}] {k.kind.value} {k.text!r}"
                                  for k in self.keys)])


# -- normalisation shared with the evaluator and with SQL sources ----------------------------------------
def fold(text: str, fuzzy: bool = False) -> str:
    """Text for case-insensitive comparison: each character lower-cased, and with ``fuzzy`` also without its
    accents (dicomkit's fuzzy semantic matching of person names, PS3.4 C.2.2.2.1.1). Character by character
    and never changing the length (``ß`` stays ``ß``), so that ``?`` still stands for one character."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c, fuzzy) for c in text)


@lru_cache(maxsize=4096)
def _fold_char(c: str, fuzzy: bool) -> str:
    low = c.lower()
    if len(low) != 1:
        low = c
    if fuzzy:
        base = "".join(b for b in unicodedata.normalize("NFKD", low) if not unicodedata.combining(b))
        if len(base) == 1:
            return base
    return low


def person_name_groups(value: str) -> tuple[str, str, str]:
    """The three component groups of a PN value, each without trailing empty components (PS3.5 6.2.1:
    ``Doe^John^^`` is ``Doe^John``)."""
    parts = str(value).split("=")
    parts += [""] * (3 - len(parts))
    return parts[0].rstrip("^ "), parts[1].rstrip("^ "), parts[2].rstrip("^ ")


def _wildcard(text: str, compare: str) -> Wildcard:
    regex_parts, like_parts = [], []
    for ch in compare:
        if ch == "*":
            regex_parts.append(".*")
            like_parts.append("%")
        elif ch == "?":
            regex_parts.append(".")
            like_parts.append("_")
        else:
            regex_parts.append(re.escape(ch))
            like_parts.append("\\" + ch if ch in "%_\\" else ch)
    cut = min((i for i in (compare.find("*"), compare.find("?")) if i >= 0), default=len(compare))
    return Wildcard(text, compare, re.compile("".join(regex_parts), re.DOTALL), "".join(like_parts),
                    compare[:cut])


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


# -- parsing an Identifier -------------------------------------------------------------------------------
@dataclass
class _Context:
    model: InformationModel
    operation: Operation
    options: PlanOptions
    offset: int | None
    parameter_of: dict[int, str] = field(default_factory=dict)  # QIDO: tag -> query parameter name

    def error(self, reason: Reason, message: str, tag: int | None = None, comment: str | None = None) -> QueryError:
        tags = (tag,) if tag is not None else ()
        parameter = self.parameter_of.get(tag) if tag is not None else None
        if parameter is None and tag is not None:
            parameter = keyword(tag)
        return QueryError(reason, message, tags=tags, parameter=parameter, comment=comment)


_SKIPPED = frozenset({SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL, QUERY_RETRIEVE_VIEW})


def plan_from_identifier(identifier: Dataset, sop_class_uid: str | None = None, *,
                         model: InformationModel | None = None, operation: Operation | None = None,
                         options: PlanOptions | None = None) -> QueryPlan:
    """The plan of an Identifier received with a request of SOP Class ``sop_class_uid`` (or of the given
    ``model`` and ``operation``, FIND by default). Raises :class:`~.errors.QueryError` when the Identifier
    cannot be served."""
    if model is None or operation is None:
        found = model_for_sop_class(sop_class_uid) if sop_class_uid else None
        if found is None:
            if model is None:
                raise QueryError(Reason.INVALID_VALUE,
                                 f"{sop_class_uid} is not a Query/Retrieve or Worklist SOP Class")
            found = (model, Operation.FIND)
        model, operation = model or found[0], operation or found[1]
    return _build(identifier, model, operation, options or PlanOptions(), {})


def _build(identifier: Dataset, model: InformationModel, operation: Operation, options: PlanOptions,
           parameter_of: dict[int, str]) -> QueryPlan:
    try:
        return _build_plan(identifier, model, operation, options, parameter_of)
    except QueryError:
        raise
    except DicomError as exc:  # a value that cannot even be decoded (a broken sequence, a short binary value)
        raise QueryError(Reason.INVALID_VALUE, f"the Identifier cannot be read: {exc}",
                         comment="the Identifier cannot be read") from None


def _build_plan(identifier: Dataset, model: InformationModel, operation: Operation, options: PlanOptions,
                parameter_of: dict[int, str]) -> QueryPlan:
    offset = _timezone(identifier, parameter_of)
    ctx = _Context(model, operation, options, offset if options.timezone_adjustment else None, parameter_of)
    level = _level(identifier, ctx)
    view = identifier.value(QUERY_RETRIEVE_VIEW) if QUERY_RETRIEVE_VIEW in identifier else None
    keys: list[KeyMatch] = []
    for elem in identifier:
        tag = int(elem.tag)
        if tag >> 16 < 0x0008 or tag & 0xFFFF == 0 or tag in _SKIPPED:
            continue  # PS3.4 C.4.1.1.3: no groups below 0008 in a data set; group lengths carry nothing
        if elem.tag.is_private_creator:
            continue
        key_level = model.level_of(tag) if level is not None else None
        key_level = key_level if key_level is not None else level
        if tag == TIMEZONE_OFFSET_FROM_UTC:  # the query's timezone (C.4.1.1.3.1), returned but never matched
            keys.append(KeyMatch(tag, "TimezoneOffsetFromUTC", "SH", key_level, KeyType.OPTIONAL, MatchKind.UNIVERSAL))
            continue
        try:
            keys.append(_parse_key(elem, key_level, ctx))
        except QueryError:
            raise
        except DicomError as exc:
            raise ctx.error(Reason.INVALID_VALUE, f"{elem.keyword or elem.tag}: {exc}", tag,
                            comment=f"cannot read {elem.keyword or elem.tag}") from None
    if options.combined_datetime:
        keys = _pair_dates_and_times(keys, ctx)
    plan = QueryPlan(model, level, operation, tuple(keys), options, identifier.character_set, offset,
                     str(view) if view else None)
    if level is not None:
        plan = _check_hierarchy(plan, ctx)
    return plan


def _timezone(identifier: Dataset, parameter_of: dict[int, str]) -> int | None:
    if TIMEZONE_OFFSET_FROM_UTC not in identifier:
        return None
    value = identifier.value(TIMEZONE_OFFSET_FROM_UTC)
    if not value:
        return None
    try:
        return parse_offset(str(value))
    except TemporalError as exc:
        raise QueryError(Reason.INVALID_DATE_TIME, f"TimezoneOffsetFromUTC: {exc}", tags=(TIMEZONE_OFFSET_FROM_UTC,),
                         parameter=parameter_of.get(TIMEZONE_OFFSET_FROM_UTC, "TimezoneOffsetFromUTC")) from None


def _level(identifier: Dataset, ctx: _Context) -> Level | None:
    if ctx.model.is_worklist:
        return None  # PS3.4 K.2.1: one level; a Query/Retrieve Level sent anyway is ignored
    value = identifier.value(QUERY_RETRIEVE_LEVEL) if QUERY_RETRIEVE_LEVEL in identifier else None
    if isinstance(value, tuple):
        raise ctx.error(Reason.LEVEL_UNKNOWN, "QueryRetrieveLevel has several values", QUERY_RETRIEVE_LEVEL)
    if not value:
        raise ctx.error(Reason.LEVEL_MISSING, "QueryRetrieveLevel (0008,0052) missing", QUERY_RETRIEVE_LEVEL,
                        comment="QueryRetrieveLevel missing")
    level = ctx.model.parse_level(str(value))
    if level is None:
        allowed = "/".join(lv.value for lv in ctx.model.levels)
        raise ctx.error(Reason.LEVEL_UNKNOWN, f"QueryRetrieveLevel {str(value)!r} is not a level of the "
                        f"{ctx.model.name} model ({allowed})", QUERY_RETRIEVE_LEVEL,
                        comment=f"unknown QueryRetrieveLevel {str(value)[:16]}")
    return level


def _values(elem: DataElement) -> list[Any]:
    value = elem.value
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, tuple | list):
        return list(value)
    return [value]


def _parse_key(elem: DataElement, level: Level | None, ctx: _Context) -> KeyMatch:
    tag = int(elem.tag)
    vr = str(elem.vr)
    kw = elem.keyword
    key_type = ctx.model.key_type(tag)
    unknown = ctx.model.unknown_value_matches if ctx.options.unknown_values_match is None \
        else ctx.options.unknown_values_match
    base = KeyMatch(tag, kw, vr, level, key_type, MatchKind.UNIVERSAL,
                    unknown_matches=unknown and not ctx.options.empty_value_matching)
    if vr == "SQ":
        return _parse_sequence(elem, base, level, ctx)
    values = _values(elem)
    if vr == "UN" or vr in ("OB", "OW", "OD", "OF", "OL", "OV"):
        if not values:
            return base
        data = bytes(elem.value) if isinstance(elem.value, bytes | bytearray | memoryview) else b""
        if not data:
            return base
        text = data.hex()
        return replace(base, kind=MatchKind.SINGLE_VALUE, text=text, terms=(Single(text, text),))
    if vr == "AT":
        texts = [f"{int(v):08X}" for v in values]
    else:
        texts = [str(v) for v in values]
    text = "\\".join(texts)
    if "\x00" in text:  # PS3.5 6.1.2 / 6.2: no NUL in text values (a UI's padding is stripped when read)
        raise ctx.error(Reason.INVALID_VALUE, f"{kw or hex(tag)}: the value holds a NUL character", tag,
                        comment=f"NUL character in {kw or hex(tag)}")
    base = replace(base, text=text)
    if not texts or (len(texts) == 1 and texts[0] == "*"):
        return base  # C.2.2.2.3; "*" alone is Universal Matching (C.2.2.2.4), taken so for every VR
    if ctx.options.empty_value_matching and texts == [EMPTY_VALUE]:
        return replace(base, kind=MatchKind.EMPTY)
    if vr == "PN":
        return _parse_person_name(texts, base, ctx)
    if vr == "UI":
        for t in texts:
            if not UID(t).is_valid:
                raise ctx.error(Reason.INVALID_UID, f"{kw or hex(tag)}: {t!r} is not a valid UID (PS3.5 9.1)", tag,
                                comment=f"invalid UID in {kw or hex(tag)}")
        uids = tuple(Single(t, t) for t in dict.fromkeys(texts))
        return replace(base, kind=MatchKind.UID_LIST if len(uids) > 1 else MatchKind.SINGLE_VALUE, terms=uids)
    if len(texts) > 1 and ctx.options.multiple_value_matching and vr in MULTIPLE_VALUE_VRS:
        if any(has_wildcard(t) for t in texts):
            raise ctx.error(Reason.INVALID_VALUE, f"{kw}: Multiple Value Matching takes no wild cards "
                            "(PS3.4 C.2.2.2.8)", tag)
        terms = tuple(_term(t, vr, tag, kw, ctx) for t in texts)
        return replace(base, kind=MatchKind.VALUE_LIST, terms=terms, all_terms=True)
    terms = tuple(_term(t, vr, tag, kw, ctx) for t in texts)
    if len(terms) > 1:
        return replace(base, kind=MatchKind.VALUE_LIST, terms=terms)
    term = terms[0]
    if isinstance(term, Wildcard):
        kind = MatchKind.WILDCARD
    elif isinstance(term, DateTimeRange) and "-" in texts[0] and split_range(texts[0], vr) is not None:
        kind = MatchKind.RANGE
    else:
        kind = MatchKind.SINGLE_VALUE
    return replace(base, kind=kind, terms=terms)


def _term(text: str, vr: str, tag: int, kw: str, ctx: _Context) -> Term:
    if vr in DATE_TIME_VRS:
        return _date_time_term(text, vr, tag, kw, ctx)
    if vr in WILDCARD_VRS and has_wildcard(text):
        return _wildcard(text, text)
    if vr in NUMBER_VRS:
        try:
            number = float(text)
        except ValueError:
            raise ctx.error(Reason.INVALID_VALUE, f"{kw or hex(tag)}: {text!r} is not a number ({vr})", tag,
                            comment=f"invalid {vr} value in {kw or hex(tag)}") from None
        return Single(text, text, number)
    return Single(text, text)


def _date_time_term(text: str, vr: str, tag: int, kw: str, ctx: _Context) -> DateTimeRange:
    offset = ctx.offset if vr == "DT" else None
    try:
        parts = split_range(text, vr)
        if parts is None:
            single = bounds(text, vr, offset)
            return DateTimeRange(text, single[0], single[1], vr)
        low_text, high_text = parts
        if not low_text and not high_text:
            raise TemporalError("a range needs at least one end")
        low = bounds(low_text, vr, offset)[0] if low_text else None
        high = bounds(high_text, vr, offset)[1] if high_text else None
    except TemporalError as exc:
        raise ctx.error(Reason.INVALID_DATE_TIME, f"{kw or hex(tag)}: {exc} (PS3.4 C.2.2.2.5)", tag,
                        comment=f"unparsable {vr} range in {kw or hex(tag)}") from None
    if low is not None and high is not None and low > high and not (ctx.options.combined_datetime and vr != "DT"):
        raise _reversed(text, vr, tag, kw, ctx)  # with combined matching, checked once DA and TM are paired
    return DateTimeRange(text, low, high, vr)


def _reversed(text: str, vr: str, tag: int, kw: str, ctx: _Context) -> QueryError:
    what = "crosses midnight" if vr == "TM" else "ends before it starts"
    return ctx.error(Reason.INVALID_DATE_TIME, f"{kw or hex(tag)}: the range {text!r} {what} (PS3.4 C.2.2.2.5)",
                     tag, comment=f"invalid {vr} range in {kw or hex(tag)}")


def _check_unpaired_ranges(keys: list[KeyMatch], ctx: _Context) -> None:
    for k in keys:
        if k.paired_with is None:
            for t in k.terms:
                if isinstance(t, DateTimeRange) and t.lower is not None and t.upper is not None and t.lower > t.upper:
                    raise _reversed(t.text, k.vr, k.tag, k.keyword, ctx)


def _parse_person_name(texts: list[str], base: KeyMatch, ctx: _Context) -> KeyMatch:
    fuzzy = ctx.options.fuzzy_names
    insensitive = fuzzy or ctx.options.pn_case_insensitive
    base = replace(base, case_insensitive=insensitive, fuzzy=fuzzy)

    def term_of(text: str) -> Single | Wildcard:
        compare = fold(text, fuzzy) if insensitive else text
        return _wildcard(text, compare) if has_wildcard(text) else Single(text, compare)

    terms: list[Single | Wildcard] = []
    names: list[PersonNameKey] = []
    for text in texts:
        groups = person_name_groups(text)
        given = text.count("=") + 1
        if given == 1:
            whole = term_of(groups[0])
            names.append(PersonNameKey((whole, None, None), any_group=True))
            terms.append(whole)
        else:
            parts = tuple(term_of(g) if g and g != "*" else None for g in groups)
            names.append(PersonNameKey((parts[0], parts[1], parts[2]), any_group=False))
            terms.append(term_of("=".join(g for g in groups[:given]).rstrip("=")))
    if len(texts) > 1:
        all_terms = ctx.options.multiple_value_matching
        if all_terms and any(isinstance(t, Wildcard) for t in terms):
            raise ctx.error(Reason.INVALID_VALUE, f"{base.keyword}: Multiple Value Matching takes no wild cards "
                            "(PS3.4 C.2.2.2.8)", base.tag)
        return replace(base, kind=MatchKind.VALUE_LIST, terms=tuple(terms), all_terms=all_terms,
                       person_names=tuple(names))
    if names[0].groups == (None, None, None):
        return replace(base, kind=MatchKind.UNIVERSAL)  # e.g. "*=*": no group constrains
    return replace(base, kind=_pn_kind(terms[0]), terms=(terms[0],), person_names=(names[0],))


def _pn_kind(term: Single | Wildcard) -> MatchKind:
    return MatchKind.WILDCARD if isinstance(term, Wildcard) else MatchKind.SINGLE_VALUE


def _parse_sequence(elem: DataElement, base: KeyMatch, level: Level | None, ctx: _Context) -> KeyMatch:
    items = elem.value
    if not items:
        return base  # zero items: universal, the whole sequence is returned (C.2.2.2.6)
    if len(items) > 1:
        raise ctx.error(Reason.SEQUENCE_ITEMS, f"{base.keyword or hex(base.tag)} has {len(items)} items; a sequence "
                        "key has one (PS3.4 C.2.2.2.6)", base.tag, comment=f"{base.keyword} has several items")
    item = items[0]
    sub = [_parse_key(e, level, ctx) for e in item
           if int(e.tag) & 0xFFFF != 0 and not e.tag.is_private_creator and int(e.tag) != SPECIFIC_CHARACTER_SET]
    if not sub:
        return base  # an empty item: universal (C.2.2.2.6)
    if ctx.options.combined_datetime:
        sub = _pair_dates_and_times(sub, ctx)
    return replace(base, kind=MatchKind.SEQUENCE, items=tuple(sub))


# -- combined date-time matching (PS3.4 C.2.2.2.5.4) ------------------------------------------------------
def _date_time_pairs() -> dict[int, int]:
    from ...core._dictionary_data import ELEMENTS
    from ...core.dictionary import tag_for_keyword

    pairs: dict[int, int] = {}
    for tag, entry in ELEMENTS.items():
        kw = entry[3]
        if entry[0] == "DA" and kw.endswith("Date"):
            time_tag = tag_for_keyword(kw[:-4] + "Time")
            if time_tag is not None and ELEMENTS.get(time_tag, ("",))[0] == "TM":
                pairs[tag] = time_tag
    return pairs


DATE_TIME_PAIRS: dict[int, int] = _date_time_pairs()  # DA tag -> its TM tag (StudyDate -> StudyTime, ...)


def _range_form(key: KeyMatch) -> str | None:
    """``closed``, ``from``, ``until`` or None (not a single range) — the form C.2.2.2.5.4 compares."""
    if key.kind is not MatchKind.RANGE or len(key.terms) != 1:
        return None
    term = key.terms[0]
    assert isinstance(term, DateTimeRange)
    if term.lower is not None and term.upper is not None:
        return "closed"
    return "from" if term.lower is not None else "until"


def _pair_dates_and_times(keys: list[KeyMatch], ctx: _Context) -> list[KeyMatch]:
    by_tag = {k.tag: k for k in keys}
    for date_tag, time_tag in DATE_TIME_PAIRS.items():
        d, t = by_tag.get(date_tag), by_tag.get(time_tag)
        if d is None or t is None:
            continue
        form = _range_form(d)
        if form is None or form != _range_form(t):
            continue  # "both of which specify the same form of Range Matching"
        d_text, t_text = d.text.split("-", 1), t.text.split("-", 1)
        try:
            low = combined_bounds(d_text[0].strip(), t_text[0].strip(), ctx.offset)[0] if form != "until" else None
            high = combined_bounds(d_text[1].strip(), t_text[1].strip(), ctx.offset)[1] if form != "from" else None
        except TemporalError as exc:
            raise ctx.error(Reason.INVALID_DATE_TIME, f"{d.keyword}/{t.keyword}: {exc}", date_tag) from None
        if low is not None and high is not None and low > high:
            raise ctx.error(Reason.INVALID_DATE_TIME, f"{d.keyword}/{t.keyword}: the combined range ends before "
                            "it starts (PS3.4 C.2.2.2.5.4)", date_tag)
        by_tag[date_tag] = replace(d, terms=(DateTimeRange(f"{d.text} {t.text}", low, high, "DT"),),
                                   paired_with=time_tag)
        by_tag[time_tag] = replace(t, terms=(), paired_with=date_tag)
    out = [by_tag[k.tag] for k in keys]
    _check_unpaired_ranges(out, ctx)
    return out


# -- the hierarchy (PS3.4 C.4.1.2, C.4.2.2, C.4.3.2) -----------------------------------------------------
def _check_hierarchy(plan: QueryPlan, ctx: _Context) -> QueryPlan:
    level = plan.level
    assert level is not None
    model = plan.model
    relational = plan.options.relational
    above = model.levels_above(level)
    below = model.levels_below(level)
    retrieve = plan.operation is not Operation.FIND
    keep: list[KeyMatch] = []
    ignored: list[int] = []
    for key in plan.keys:
        if retrieve and key.key_type is not KeyType.UNIQUE:
            ignored.append(key.tag)  # PS3.4 C.4.2.1.4.1: a retrieval is identified by unique keys only
            continue
        if key.level in below and (retrieve or not relational) and (key.is_matching or plan.options.strict_hierarchy):
            what = "C-MOVE/C-GET" if retrieve else "hierarchical"
            raise ctx.error(Reason.KEY_AT_WRONG_LEVEL, f"{key.keyword or hex(key.tag)} is a {key.level.value} "
                            f"key: a {what} request at {level.value} level has no keys of the levels below "
                            "(PS3.4 C.4.1.2)", key.tag,
                            comment=f"{key.keyword} is a {key.level.value} key, level is {level.value}")
        if (key.level in above and key.key_type is not KeyType.UNIQUE and key.is_matching and not retrieve
                and not relational and plan.options.strict_hierarchy):
            raise ctx.error(Reason.KEY_AT_WRONG_LEVEL, f"{key.keyword or hex(key.tag)} is a {key.level.value} key: "
                            f"a hierarchical query at {level.value} level matches only the unique keys of the "
                            "levels above (PS3.4 C.4.1.2.1)", key.tag,
                            comment=f"{key.keyword} is a {key.level.value} key, level is {level.value}")
        keep.append(key)
    plan = replace(plan, keys=tuple(keep), ignored=tuple(ignored))
    _check_unique_keys(plan, above, ctx)
    return plan


def _check_unique_keys(plan: QueryPlan, above: tuple[Level, ...], ctx: _Context) -> None:
    level = plan.level
    assert level is not None
    model = plan.model
    retrieve = plan.operation is not Operation.FIND
    need_above = not plan.options.relational and (retrieve or plan.options.strict_hierarchy)
    for lv in above:
        unique = model.unique_key(lv)
        key = plan.key(unique.tag)
        if key is None or key.kind is MatchKind.UNIVERSAL:
            if need_above:
                raise ctx.error(Reason.UNIQUE_KEY_MISSING, f"{unique.keyword} missing: a {plan.operation.value} at "
                                f"{level.value} level needs the unique key of the {lv.value} level "
                                "(PS3.4 C.4.1.2.1, C.4.2.2.1)", unique.tag, comment=f"{unique.keyword} missing")
            continue
        if (key.kind is not MatchKind.SINGLE_VALUE or isinstance(key.terms[0], Wildcard)) and (need_above or retrieve):
            raise ctx.error(Reason.UNIQUE_KEY_NOT_SINGLE, f"{unique.keyword} of the {lv.value} level needs a "
                            "single value (PS3.4 C.4.1.2.1, C.4.2.2.1)", unique.tag,
                            comment=f"{unique.keyword} needs a single value")
    if retrieve:
        unique = model.unique_key(level)
        key = plan.key(unique.tag)
        if key is None or not key.is_matching:
            raise ctx.error(Reason.UNIQUE_KEY_MISSING, f"{unique.keyword} missing: a {plan.operation.value} at "
                            f"{level.value} level is identified by it (PS3.4 C.4.2.1.4.1)", unique.tag,
                            comment=f"{unique.keyword} missing")
        allowed = (MatchKind.SINGLE_VALUE,) if level is Level.PATIENT else (MatchKind.SINGLE_VALUE, MatchKind.UID_LIST)
        if key.kind not in allowed or any(isinstance(t, Wildcard) for t in key.terms):
            what = "a single value" if level is Level.PATIENT else "a UID or a list of UIDs"
            raise ctx.error(Reason.UNIQUE_KEY_NOT_SINGLE, f"{unique.keyword} of a {plan.operation.value} needs {what} "
                            "(PS3.4 C.4.2.1.4.1)", unique.tag, comment=f"{unique.keyword} needs {what}")


def iter_keys(keys: Iterable[KeyMatch]) -> Iterator[KeyMatch]:
    """Every key, depth first through sequence items."""
    for k in keys:
        yield k
        if k.kind is MatchKind.SEQUENCE:
            yield from iter_keys(k.items)


def vr_of(tag: int) -> str:
    """The dictionary VR of a tag for building keys (the first of an ambiguous ``US or SS``)."""
    entry = lookup(tag)
    if entry is None or entry.vr == "NONE":
        return "UN"
    return entry.vr.split(" or ")[0]
