"""The plan carries what an SQL source needs: a minimal SQLite translation runs the table of cases.

This is a test of the plan's interface, not the server's index: one table of studies with a few typed
columns, filled with :func:`~dicomkit.services.query_retrieve.temporal.normalize` and
:func:`~dicomkit.services.query_retrieve.plan.fold`, and a translation of each key from its ``kind``,
``terms`` (``Single.compare``, ``Wildcard.like``, ``DateTimeRange`` bounds), ``case_insensitive`` / ``fuzzy``,
``person_names``, ``unknown_matches`` and ``paired_with``. Every case of the table that uses only those
columns must give the same studies as the Python evaluator.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from dicomkit import Dataset
from dicomkit.services.query_retrieve.matching import element_texts
from dicomkit.services.query_retrieve.plan import (
    DateTimeRange,
    KeyMatch,
    MatchKind,
    QueryPlan,
    Single,
    Wildcard,
    fold,
    person_name_groups,
)
from dicomkit.services.query_retrieve.temporal import combined_bounds, normalize

from .matching_cases import CASES, Case, plan_for, record_datasets, uid_for

# tag -> column holding the value as compared (text, or normalised date/time)
TEXT = {0x00080050: "accession", 0x00081030: "description", 0x0020000D: "study_uid", 0x00100020: "patient_id"}
DATES = {0x00080020: "study_date", 0x00080030: "study_time"}
PN = 0x00100010
SUPPORTED = {*TEXT, *DATES, PN, 0x00080005}


def _connect() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA case_sensitive_like = ON")
    db.execute("""CREATE TABLE studies (study_uid TEXT, patient_id TEXT, accession TEXT, description TEXT,
                  study_date TEXT, study_time TEXT, study_dt TEXT,
                  pn0 TEXT, pn1 TEXT, pn2 TEXT, pn0_ci TEXT, pn1_ci TEXT, pn2_ci TEXT,
                  pn0_fz TEXT, pn1_fz TEXT, pn2_fz TEXT)""")
    seen = set()
    for ds in record_datasets("people").values():
        uid = str(ds.StudyInstanceUID)
        if uid in seen:
            continue
        seen.add(uid)
        groups = person_name_groups(str(ds.get("PatientName", "") or ""))
        date, time = _text(ds, 0x00080020), _text(ds, 0x00080030)
        dt = combined_bounds(date, time)[0] if date and time else None
        db.execute("INSERT INTO studies VALUES (?,?,?,?,?,?,?, ?,?,?, ?,?,?, ?,?,?)", (
            uid, _text(ds, 0x00100020), _text(ds, 0x00080050), _text(ds, 0x00081030),
            normalize(date, "DA"), normalize(time, "TM"), dt,
            *(g or None for g in groups), *(fold(g) or None for g in groups),
            *(fold(g, fuzzy=True) or None for g in groups)))
    return db


def _text(ds: Dataset, tag: int) -> str:
    texts = element_texts(ds.get(tag))
    return texts[0] if texts else ""


def _term_sql(column: str, term: Any) -> tuple[str, list[Any]]:
    if isinstance(term, Wildcard):
        return f"{column} LIKE ? ESCAPE '\\'", [term.like]
    if isinstance(term, DateTimeRange):
        parts, args = [], []
        if term.lower is not None:
            parts.append(f"{column} >= ?")
            args.append(term.lower)
        if term.upper is not None:
            parts.append(f"{column} <= ?")
            args.append(term.upper)
        return " AND ".join(parts) or "1", args
    assert isinstance(term, Single)
    return f"{column} = ?", [term.compare]


def _key_sql(key: KeyMatch) -> tuple[str, list[Any]]:
    if key.tag == PN:
        suffix = "" if not key.case_insensitive else ("_fz" if key.fuzzy else "_ci")
        alternatives, args = [], []
        for term, name in zip(key.terms, key.person_names, strict=True):
            if name.any_group:
                ors = []
                for g in range(3):
                    sql, a = _term_sql(f"pn{g}{suffix}", term)
                    ors.append(f"(pn{g} IS NOT NULL AND {sql})")
                    args += a
                alternatives.append("(" + " OR ".join(ors) + ")")
            else:
                ands = []
                for g, group_term in enumerate(name.groups):
                    if group_term is not None:
                        sql, a = _term_sql(f"COALESCE(pn{g}{suffix}, '')", group_term)
                        ands.append(sql)
                        args += a
                alternatives.append("(" + " AND ".join(ands) + ")")
        cond, column = " OR ".join(alternatives), "(COALESCE(pn0, '') || COALESCE(pn1, '') || COALESCE(pn2, ''))"
    else:
        if key.paired_with is not None:
            column = "study_dt"
        else:
            column = TEXT.get(key.tag) or DATES[key.tag]
        parts, args = [], []
        for term in key.terms:
            sql, a = _term_sql(column, term)
            parts.append(f"({sql})")
            args += a
        cond = " OR ".join(parts)
        if key.paired_with is not None:  # an unknown time: the date decides (the evaluator's rule)
            term = key.terms[0]
            assert isinstance(term, DateTimeRange)
            day = _term_sql("study_date", DateTimeRange("", term.lower and term.lower[:8],
                                                        term.upper and term.upper[:8], "DA"))
            cond = f"({cond}) OR (study_dt IS NULL AND study_date IS NOT NULL AND {day[0]})"
            args += day[1]
            column = "study_date"
    if key.kind is MatchKind.EMPTY:
        return f"({column} IS NULL OR {column} = '')", []
    if key.unknown_matches:
        cond = f"({column} IS NULL OR {column} = '' OR {cond})"
    return f"({cond})", args


def _sql_find(db: sqlite3.Connection, plan: QueryPlan) -> set[str]:
    where, args = [], []
    for key in plan.matching_keys:
        sql, a = _key_sql(key)
        where.append(sql)
        args += a
    query = "SELECT study_uid FROM studies" + (" WHERE " + " AND ".join(where) if where else "")
    return {row[0] for row in db.execute(query, args)}


def _sql_cases() -> list[Case]:
    out = []
    from dicomkit.core.dictionary import tag_for_keyword

    for case in CASES:
        if case.records != "people" or case.level != "STUDY" or case.model != "study" or case.error is not None:
            continue
        if case.options.get("relational") or case.options.get("multiple_value_matching"):
            continue
        if all(tag_for_keyword(k) in SUPPORTED for k in case.query):
            out.append(case)
    return out


SQL_CASES = _sql_cases()


@pytest.mark.parametrize("case", SQL_CASES, ids=[c.id for c in SQL_CASES])
def test_sql_translation_agrees(case: Case) -> None:
    db = _connect()
    plan = plan_for(case)
    expected = {uid_for("study", "people", n) for n in case.expected}
    assert _sql_find(db, plan) == expected, plan.describe()


def test_the_sql_subset_covers_the_kinds() -> None:
    kinds = {k.kind for c in SQL_CASES for k in plan_for(c).matching_keys}
    assert kinds >= {MatchKind.SINGLE_VALUE, MatchKind.WILDCARD, MatchKind.RANGE, MatchKind.UID_LIST,
                     MatchKind.EMPTY}
    assert any(k.paired_with for c in SQL_CASES for k in plan_for(c).keys)
    assert len(SQL_CASES) >= 30
