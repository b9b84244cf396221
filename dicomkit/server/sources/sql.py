"""A :class:`~dicomkit.services.query_retrieve.plan.QueryPlan` as one SQL query on the index (SQLite and
PostgreSQL alike).

:func:`translate` decides, key by key, how each matching key of a plan is answered at a *target* level
(the plan's level for C-FIND; the instances for C-MOVE / C-GET):

==========  ================================================================================================
``sql``     a condition on the typed columns (:mod:`dicomkit.server.index.attributes`): single values,
            wild cards (``LIKE`` on the column, or on the folded person-name columns), ranges on the
            normalised date / time columns (combined date-time on ``date_norm || time_norm``), UID lists,
            value lists, the computed attributes (counts, Modalities / SOP Classes in Study as ``EXISTS`` on
            the series / instances), and keys of the levels below (relational queries) as ``EXISTS``
``columns`` matched in Python (the plan's own evaluator) on the row's columns, after the SQL: multi-valued
            columns (Image Type, Other Patient Names ...), numbers kept as text (DS), case-sensitive or
            fuzzy person names (the SQL keeps a superset through the folded columns), combined date-time
            with timezone adjustment
``header``  matched in Python on the stored header (DICOM JSON) of the entity's first instance: sequences
            and every attribute without a column
==========  ================================================================================================

Keys of the levels below the target that have no exact SQL form, and keys of no known level above the
instance level, are *unsupported*: the SCP relaxes them and answers 0xFF01 (PS3.4 C.4.1.1.4).

The empty-value rules are the plan's: ``unknown_matches`` adds ``col IS NULL`` (PS3.4 C.2.2.1.2), Empty
Value Matching (``MatchKind.EMPTY``) matches only that (C.2.2.2.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ...core.dictionary import lookup, tag_for_keyword
from ...services.query_retrieve.levels import PATIENT_ROOT, TIMEZONE_OFFSET_FROM_UTC, Level
from ...services.query_retrieve.plan import (
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
)
from ..index.attributes import COLUMNS

# the tables of the levels, by depth (PS3.4 C.6: patient, study, series, composite object instance)
TABLES = ("patients", "studies", "series", "instances")
LEVEL_NAMES = ("patient", "study", "series", "instance")  # extra_attributes.level
EXTRA_TEXT_VRS = frozenset({"AE", "CS", "LO", "SH", "UC", "UI"})  # extra keys matched in SQL first (no PN: groups)
ALIASES = ("p", "st", "se", "i")
PARENT = (None, "patient_pk", "study_pk", "series_pk")  # the column of each table that names its parent
DEPTH = {Level.PATIENT: 0, Level.STUDY: 1, Level.SERIES: 2, Level.IMAGE: 3}


@dataclass(frozen=True)
class Spec:
    """Where a key lives in the index: table depth, column, kind (see attributes.py, plus ``count`` for
    the aggregates and ``set`` for Modalities / SOP Classes in Study), and whether it holds several values."""

    depth: int
    name: str
    kind: str
    multi: bool = False
    # for ``set``: the table depth and column whose distinct values the set is
    source: tuple[int, str] | None = None


def _specs() -> dict[int, Spec]:
    depth = {"patient": 0, "study": 1, "series": 2, "instance": 3}
    out: dict[int, Spec] = {}
    for c in COLUMNS:
        entry = lookup(c.tag)
        multi = entry is not None and entry.vm != "1"
        out[c.tag] = Spec(depth[c.level], c.name, c.kind, multi)
    computed = {  # PS3.4 C.3.4 (Additional Query/Retrieve Attributes): kept up to date at ingest
        "NumberOfPatientRelatedStudies": Spec(0, "num_studies", "count"),
        "NumberOfPatientRelatedSeries": Spec(0, "num_series", "count"),
        "NumberOfPatientRelatedInstances": Spec(0, "num_instances", "count"),
        "NumberOfStudyRelatedSeries": Spec(1, "num_series", "count"),
        "NumberOfStudyRelatedInstances": Spec(1, "num_instances", "count"),
        "NumberOfSeriesRelatedInstances": Spec(2, "num_instances", "count"),
        "ModalitiesInStudy": Spec(1, "modalities_in_study", "set", True, (2, "modality")),
        "SOPClassesInStudy": Spec(1, "sop_classes_in_study", "set", True, (3, "sop_class_uid")),
    }
    for keyword, spec in computed.items():
        tag = tag_for_keyword(keyword)
        assert tag is not None
        out[tag] = spec
    return out


SPECS: dict[int, Spec] = _specs()


def _date_time_columns() -> dict[int, int]:
    out = {}
    for tag, spec in SPECS.items():
        entry = lookup(tag)
        if spec.kind == "date" and entry is not None and entry.keyword.endswith("Date"):
            time_tag = tag_for_keyword(entry.keyword[:-4] + "Time")
            if time_tag is not None and time_tag in SPECS and SPECS[time_tag].depth == spec.depth:
                out[tag] = time_tag
    return out


DATE_TIME_COLUMNS: dict[int, int] = _date_time_columns()  # DA tag -> its TM tag, both columns of one table


@cache
def entity_depth(tag: int) -> int | None:
    """The depth of the Information Entity an attribute belongs to (patient attributes at 0 whatever the
    model), None for private and unknown attributes."""
    level = PATIENT_ROOT.level_of(tag)
    return DEPTH[level] if level is not None else None


def column_sql(spec: Spec, labels: frozenset[str] | None, alias: str | None = None) -> str:
    """The SQL expression of a column (in the SELECT and in conditions); for a requester restricted to labels,
    the patient's counts of studies, series and instances count only the studies it sees: the stored totals
    would reveal the others, as return keys and as matching keys alike."""
    alias = alias or ALIASES[spec.depth]
    column = f"{alias}.{spec.name}"
    if labels is None or spec.depth != 0 or spec.kind != "count":
        return column
    from ..auth.labels import check_label  # the labels are the server's

    # the labels are checked tokens of [a-z0-9_.:-]: safe as SQL literals, which keeps the SELECT free of
    # parameters (they would have to precede the WHERE's)
    names = ", ".join(f"'{check_label(label)}'" for label in sorted(labels)) or "NULL"
    seen = f"EXISTS (SELECT 1 FROM study_labels vsl WHERE vsl.study_pk = vst.pk AND vsl.label IN ({names}))"
    where = f"FROM studies vst WHERE vst.patient_pk = {alias}.pk AND {seen}"
    if spec.name == "num_studies":
        return f"(SELECT count(*) {where})"
    return f"(SELECT coalesce(sum(vst.{spec.name}), 0) {where})"  # num_series, num_instances


class Sql:
    """SQL text and its parameters, built together."""

    def __init__(self, text: str = "", params: list[Any] | None = None) -> None:
        self.text = text
        self.params = params or []


@dataclass
class Translation:
    """The plan at a target level: ``where`` (conditions with ``?`` parameters), the tables to join above
    the target, the keys left to Python (on columns / on headers), and the unsupported ones."""

    target: int
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    depths: set[int] = field(default_factory=set)  # tables joined (target and above)
    python_columns: list[KeyMatch] = field(default_factory=list)
    python_header: list[KeyMatch] = field(default_factory=list)
    unsupported: set[int] = field(default_factory=set)

    @property
    def needs_python(self) -> bool:
        return bool(self.python_columns or self.python_header)

    def from_clause(self, extra_depths: set[int] | frozenset[int] = frozenset()) -> str:
        """``instances i JOIN series se ON ...`` from the target up to the highest table used."""
        depths = self.depths | extra_depths | {self.target}
        top = min(depths)
        parts = [f"{TABLES[self.target]} {ALIASES[self.target]}"]
        for d in range(self.target - 1, top - 1, -1):
            parts.append(f"JOIN {TABLES[d]} {ALIASES[d]} ON {ALIASES[d]}.pk = {ALIASES[d + 1]}.{PARENT[d + 1]}")
        return " ".join(parts)

    def where_clause(self) -> str:
        return " AND ".join(self.where) if self.where else "1 = 1"


class _Builder:
    def __init__(self, plan: QueryPlan, target: int, postgres: bool, extra: Mapping[int, int],
                 labels: frozenset[str] | None = None) -> None:
        self.labels = labels
        self.plan = plan
        self.target = target
        self.postgres = postgres
        self.extra = extra
        self.adjust = plan.options.timezone_adjustment

    # -- classification ----------------------------------------------------------------------------------
    def build(self) -> Translation:
        t = Translation(self.target)
        lower: list[KeyMatch] = []
        for key in self.plan.matching_keys:
            spec = SPECS.get(key.tag)
            if key.kind is MatchKind.SEQUENCE or spec is None:
                depth = entity_depth(key.tag)
                if (depth is None and self.target != 3) or (depth is not None and depth > self.target):
                    t.unsupported.add(key.tag)
                else:
                    t.python_header.append(key)
                    self._extra_prefilter(t, key)
                continue
            if spec.depth > self.target:
                lower.append(key)
                continue
            cond = self.condition(key, spec, ALIASES[spec.depth])
            t.depths.add(spec.depth)
            if key.paired_with is not None:
                t.depths.add(SPECS[key.paired_with].depth if key.paired_with in SPECS else spec.depth)
            if cond is None:
                t.python_columns.append(key)
                continue
            sql, exact = cond
            if sql.text:
                t.where.append(sql.text)
                t.params.extend(sql.params)
            if not exact:
                t.python_columns.append(key)
        if lower:
            self._relational(t, lower)
        return t

    def _relational(self, t: Translation, keys: list[KeyMatch]) -> None:
        """Keys of the levels below the target: one descendant must match them all (PS3.4 C.4.1.2.2)."""
        deepest = max(SPECS[k.tag].depth for k in keys)
        conds: list[str] = []
        params: list[Any] = []
        for key in keys:
            spec = SPECS[key.tag]
            cond = self.condition(key, spec, f"x{spec.depth}")
            if cond is None or not cond[1]:
                t.unsupported.add(key.tag)
                continue
            if cond[0].text:
                conds.append(cond[0].text)
                params.extend(cond[0].params)
        if not conds:
            return
        parts = [f"{TABLES[deepest]} x{deepest}"]
        for d in range(deepest - 1, self.target, -1):
            parts.append(f"JOIN {TABLES[d]} x{d} ON x{d}.pk = x{d + 1}.{PARENT[d + 1]}")
        link = f"x{self.target + 1}.{PARENT[self.target + 1]} = {ALIASES[self.target]}.pk"
        t.where.append(f"EXISTS (SELECT 1 FROM {' '.join(parts)} WHERE {link} AND {' AND '.join(conds)})")
        t.params.extend(params)

    def _extra_prefilter(self, t: Translation, key: KeyMatch) -> None:
        """A key kept for Python that is one of the deployment's extra keys (``index.extra_keys``, in
        ``extra_attributes`` at the entity's level or above): narrow the rows in SQL first, on the folded
        values — a superset (folded, any stored value matching any term; entities without a row for the key,
        which includes those stored before the key was configured and not yet re-indexed, are kept), which
        Python finishes on the stored header as before."""
        depth = self.extra.get(key.tag)
        if depth is None or depth > self.target or key.vr not in EXTRA_TEXT_VRS or key.kind not in (
                MatchKind.SINGLE_VALUE, MatchKind.WILDCARD, MatchKind.VALUE_LIST):
            return
        terms = [term for term in key.terms if isinstance(term, Single | Wildcard)]
        if not terms or len(terms) != len(key.terms):
            return
        conds, params = [], []
        for term in terms:
            if isinstance(term, Single):
                conds.append("xa.value_fold = ?")
                params.append(fold(term.text.strip(" ")))
            else:
                conds.append("xa.value_fold LIKE ?" if self.postgres else "xa.value_fold LIKE ? ESCAPE '\\'")
                params.append(fold(term.like))
        alias, level = ALIASES[depth], LEVEL_NAMES[depth]
        own = f"xa.level = ? AND xa.entity_pk = {alias}.pk AND xa.tag = ?"
        t.where.append(f"(NOT EXISTS (SELECT 1 FROM extra_attributes xa WHERE {own}) OR EXISTS (SELECT 1 FROM "
                       f"extra_attributes xa WHERE {own} AND ({' OR '.join(conds)})))")
        t.params.extend([level, key.tag, level, key.tag, *params])
        t.depths.add(depth)

    # -- one key -------------------------------------------------------------------------------------------
    def condition(self, key: KeyMatch, spec: Spec, alias: str) -> tuple[Sql, bool] | None:
        """(SQL, exact) for a key on its column; None when only Python can match it."""
        col = column_sql(spec, self.labels, alias)
        kind = spec.kind
        if key.kind is MatchKind.EMPTY:
            return Sql(self._unknown(col, kind)), True
        if key.paired_with is not None:
            return self._combined(key, spec, alias)
        if kind == "set":
            return self._set(key, spec, alias)
        if kind in ("count", "int"):
            return self._numbers(key, col, kind)
        if kind == "pn" and not spec.multi:
            return self._person_name(key, col)
        if kind in ("date", "time"):
            if spec.multi or key.vr not in DATE_TIME_VRS:
                return None
            return self._ranges(key, f"{col}_norm", col, kind)
        if spec.multi or key.vr in NUMBER_VRS or key.case_insensitive:
            return None  # several values in one column, numbers kept as text, folded text: in Python
        return self._text(key, col, kind)

    def _unknown(self, col: str, kind: str) -> str:
        """An empty (zero-length or absent) value, tested on an indexed column where there is one: the
        folded alphabetic group is NULL exactly when the name is; the normalised date is NULL when the
        date is (or does not read)."""
        if kind == "pn":
            return f"{col}_a IS NULL"
        if kind in ("date", "time"):
            return f"({col}_norm IS NULL AND {col} IS NULL)"
        if col.endswith((".patient_id", ".issuer_of_patient_id")):
            return f"{col} = ''"  # the patient's identity: NOT NULL, '' when absent
        return f"{col} IS NULL"  # every other column holds NULL for an empty value

    def _wrap(self, key: KeyMatch, col: str, kind: str, parts: list[Sql], exact: bool = True) -> tuple[Sql, bool]:
        joiner = " AND " if key.all_terms else " OR "
        text = joiner.join(f"({p.text})" for p in parts) if parts else "1 = 0"
        params = [a for p in parts for a in p.params]
        if key.unknown_matches:
            text = f"{self._unknown(col, kind)} OR {text}"
        return Sql(f"({text})", params), exact

    def _compare(self, col: str, term: Single | Wildcard, compare: str | None = None) -> Sql:
        """Equality, or LIKE with the literal prefix as an index range."""
        if isinstance(term, Single):
            return Sql(f"{col} = ?", [term.compare if compare is None else compare])
        like = term.like if compare is None else compare
        prefix = term.prefix if compare is None else _like_prefix(compare)
        if self.postgres:
            text, params = f"{col} LIKE ?", [like]  # backslash is PostgreSQL's default LIKE escape
            if prefix:
                text += f" AND {col} ~>=~ ? AND {col} ~<~ ?"
                params += [prefix, _after(prefix)]
            return Sql(text, params)
        text, params = f"{col} LIKE ? ESCAPE '\\'", [like]
        if prefix:
            text += f" AND {col} >= ? AND {col} < ?"
            params += [prefix, _after(prefix)]
        return Sql(text, params)

    def _text(self, key: KeyMatch, col: str, kind: str) -> tuple[Sql, bool]:
        terms = [t for t in key.terms if isinstance(t, Single | Wildcard)]
        if kind == "uid" and len(terms) > 1 and all(isinstance(t, Single) for t in terms) and not key.all_terms:
            marks = ", ".join("?" * len(terms))
            return self._wrap(key, col, kind, [Sql(f"{col} IN ({marks})", [t.compare for t in terms])])
        return self._wrap(key, col, kind, [self._compare(col, t) for t in terms])

    def _numbers(self, key: KeyMatch, col: str, kind: str) -> tuple[Sql, bool]:
        parts = []
        for term in key.terms:
            if not isinstance(term, Single) or term.number is None:
                return Sql("1 = 0"), True
            number = term.number
            parts.append(Sql(f"{col} = ?", [int(number)]) if number == int(number) else Sql("1 = 0"))
        return self._wrap(key, col, kind, parts)

    def _ranges(self, key: KeyMatch, norm: str, raw: str, kind: str) -> tuple[Sql, bool]:
        parts = []
        for term in key.terms:
            if not isinstance(term, DateTimeRange):
                return Sql("1 = 0"), True
            parts.append(_range(norm, term.lower, term.upper))
        return self._wrap(key, raw, kind, parts)

    def _combined(self, key: KeyMatch, spec: Spec, alias: str) -> tuple[Sql, bool] | None:
        """A DA key carrying the DT range of itself and its TM key (PS3.4 C.2.2.2.5.4); an unknown time
        lets the date decide (C.2.2.1.2), as the evaluator does."""
        if not key.terms:
            return Sql(""), True  # the TM half of a pair: its DA key has the range
        time_tag = key.paired_with
        if spec.kind != "date" or DATE_TIME_COLUMNS.get(key.tag) != time_tag or self.adjust:
            return None  # no such pair of columns, or the record's timezone shifts the values: in Python
        term = key.terms[0]
        assert isinstance(term, DateTimeRange) and time_tag is not None
        date = f"{alias}.{spec.name}"
        tm = f"{alias}.{SPECS[time_tag].name}"
        joined = f"{alias}.study_datetime" if spec.name == "study_date" else f"({date}_norm || {tm}_norm)"
        with_time = _range(joined, term.lower, term.upper)
        day = _range(f"{date}_norm", term.lower[:8] if term.lower else None, term.upper[:8] if term.upper else None)
        text = (f"({tm} IS NOT NULL AND {tm}_norm IS NOT NULL AND {date}_norm IS NOT NULL AND {with_time.text}) "
                f"OR ({tm} IS NULL AND {day.text})")
        return self._wrap(key, date, "date", [Sql(text, with_time.params + day.params)])

    def _set(self, key: KeyMatch, spec: Spec, alias: str) -> tuple[Sql, bool] | None:
        """Modalities / SOP Classes in Study: the distinct values of the study's series / instances."""
        if key.case_insensitive:
            return None
        assert spec.source is not None
        depth, column = spec.source
        parts = [f"{TABLES[depth]} y{depth}"]
        for d in range(depth - 1, spec.depth, -1):
            parts.append(f"JOIN {TABLES[d]} y{d} ON y{d}.pk = y{d + 1}.{PARENT[d + 1]}")
        link = f"y{spec.depth + 1}.{PARENT[spec.depth + 1]} = {alias}.pk"
        exists = f"EXISTS (SELECT 1 FROM {' '.join(parts)} WHERE {link} AND (" + "{}))"
        terms = [t for t in key.terms if isinstance(t, Single | Wildcard)]
        if key.all_terms:
            conds = [self._compare(f"y{depth}.{column}", t) for t in terms]
            items = [Sql(exists.format(c.text), c.params) for c in conds]
        else:
            inner = [self._compare(f"y{depth}.{column}", t) for t in terms]
            text = " OR ".join(f"({c.text})" for c in inner) if inner else "1 = 0"
            items = [Sql(exists.format(text), [a for c in inner for a in c.params])]
        col = column_sql(spec, self.labels, alias)
        joiner = " AND " if key.all_terms else " OR "
        text = joiner.join(f"({p.text})" for p in items)
        params = [a for p in items for a in p.params]
        if key.unknown_matches:
            text = f"{col} IS NULL OR {text}"
        return Sql(f"({text})", params), True

    def _person_name(self, key: KeyMatch, col: str) -> tuple[Sql, bool]:
        """The folded component-group columns (``_a``, ``_i``, ``_p``; ``_fz`` for fuzzy matching).
        Case-insensitive matching is exact there; case-sensitive and fuzzy matching keep a superset,
        which Python then checks on the stored name."""
        exact = key.case_insensitive and not key.fuzzy
        parts = []
        for name in key.person_names:
            parts.append(self._one_name(name, col, key, exact))
        return self._wrap(key, col, "pn", parts, exact)

    def _one_name(self, name: PersonNameKey, col: str, key: KeyMatch, exact: bool) -> Sql:
        def compare(column: str, term: Single | Wildcard) -> Sql:
            if exact:
                return self._compare(column, term)
            # case-sensitive (compare is the raw text) or fuzzy (folded without accents): fold it again
            # to compare with the folded columns; Python decides afterwards
            text = term.like if isinstance(term, Wildcard) else term.compare
            return self._compare(column, term, fold(text))

        groups = ("a", "i", "p")
        if name.any_group:
            term = name.groups[0]
            assert term is not None
            alternatives = []
            for g in groups:
                column = f"{col}_{'fz' if key.fuzzy and g == 'a' else g}"
                if key.fuzzy and g != "a":
                    alternatives.append(Sql(f"{column} IS NOT NULL"))
                    continue
                c = compare(column, term)
                guard = f"{column} <> ''" if g == "a" else f"{column} IS NOT NULL"
                alternatives.append(Sql(f"{guard} AND {c.text}", c.params))
            return Sql(" OR ".join(f"({a.text})" for a in alternatives), [p for a in alternatives for p in a.params])
        conds = []
        for g, term in zip(groups, name.groups, strict=True):
            if term is None:
                continue
            if key.fuzzy and g != "a":
                continue  # no fuzzy column for these groups: Python decides
            column = f"{col}_{'fz' if key.fuzzy else g}"
            c = compare(f"coalesce({column}, '')", term)
            conds.append(c)
        if not conds:
            return Sql("1 = 1")
        return Sql(" AND ".join(f"({c.text})" for c in conds), [p for c in conds for p in c.params])


def _range(column: str, lower: str | None, upper: str | None) -> Sql:
    parts, params = [], []
    if lower is not None:
        parts.append(f"{column} >= ?")
        params.append(lower)
    if upper is not None:
        parts.append(f"{column} <= ?")
        params.append(upper)
    if not parts:
        return Sql(f"{column} IS NOT NULL")
    return Sql(" AND ".join(parts), params)


def _like_prefix(pattern: str) -> str:
    """The literal text before the first wild card of a LIKE pattern with backslash escapes."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch in "%_":
            break
        out.append(ch)
        i += 1
    return "".join(out)


def _after(prefix: str) -> str:
    """The smallest text greater than every text starting with ``prefix`` (code point order)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return prefix + "\U0010ffff"
    return prefix[:-1] + chr(last + 1)


def translate(plan: QueryPlan, target: Level | None = None, *, postgres: bool = False,
              extra: Mapping[int, int] | None = None, labels: frozenset[str] | None = None) -> Translation:
    """The plan's matching keys at ``target`` (default: the plan's level), see the module documentation;
    ``extra``: the tags of the deployment's extra keys and the depth (0 patient ... 3 instance) they are kept at;
    ``labels``: the requester sees only the studies with one of these (None: all), which the patient's counts
    of studies, series and instances then count (:func:`column_sql`)."""
    level = target or plan.level
    if level is None:
        raise ValueError("a Query/Retrieve plan has a level")
    return _Builder(plan, DEPTH[level], postgres, extra or {}, labels).build()


def extra_depths(extra_keys: Mapping[str, str]) -> dict[int, int]:
    """``index.extra_keys`` (keyword -> level name) as tag -> depth for :func:`translate`."""
    out = {}
    for keyword, level in extra_keys.items():
        tag = tag_for_keyword(keyword)
        if tag is not None and level in LEVEL_NAMES:
            out[int(tag)] = LEVEL_NAMES.index(level)
    return out


def timezone_depth() -> int:
    return SPECS[TIMEZONE_OFFSET_FROM_UTC].depth


__all__ = ["ALIASES", "DEPTH", "SPECS", "TABLES", "Spec", "Translation", "column_sql", "entity_depth", "translate"]
