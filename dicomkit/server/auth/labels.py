"""Study labels and who sees which study (issue 14).

A study carries a set of labels: short strings (``cardio``, ``site-b``, ``research``) set by an operator
command, the API, or rules on what arrives (the calling AE, an attribute such as Institution Name:
:class:`~dicomkit.server.securityconfig.LabelRule`). A user or role is given labels too, and **sees the
studies that carry at least one of its labels**; a user without labels (``Visibility.ALL``) sees every
study, and so does ``admin``. A study without labels is seen only by unrestricted users.

The rule exists once, as :class:`Visibility`: :meth:`Visibility.sql` gives the SQL predicate for a query on
``studies`` (C-FIND, QIDO-RS, WADO-RS, thumbnails and counts all join studies), :meth:`Visibility.sees`
the Python predicate for a set of labels. The labels are kept in the index table ``study_labels``
(schema version 3, :mod:`dicomkit.server.index.schema`): :func:`set_labels`, :func:`add_labels`,
:func:`remove_labels`, :func:`labels_of`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.errors import DicomError

if TYPE_CHECKING:
    from ..index.dialect import Database
    from ..securityconfig import LabelRule

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.:\-]{0,63}$")


class LabelError(DicomError):
    """A label that is not a short lower-case token, or a study that is not in the index."""


def check_label(label: str) -> str:
    """A label: 1-64 characters of a-z, 0-9, ``_ . : -``, starting with a letter or digit."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise LabelError(f"label {label!r}: expected 1 to 64 characters of a-z, 0-9, '_', '.', ':' or '-'")
    return label


@dataclass(frozen=True)
class Visibility:
    """Which studies a user sees: ``labels`` None = all of them; otherwise those carrying one of ``labels``."""

    labels: frozenset[str] | None = None

    @classmethod
    def of(cls, labels: Iterable[str] | None, roles: Iterable[str] = ()) -> Visibility:
        if labels is None or "admin" in set(roles):
            return cls(None)
        return cls(frozenset(check_label(label) for label in labels) or None)

    @property
    def restricted(self) -> bool:
        return self.labels is not None

    def sees(self, study_labels: Iterable[str]) -> bool:
        """The Python predicate: does a study with ``study_labels`` show?"""
        return self.labels is None or not self.labels.isdisjoint(study_labels)

    def sql(self, study_pk: str = "studies.pk") -> tuple[str, list[Any]]:
        """The SQL predicate (with ``?`` placeholders) and its parameters, for a query in which
        ``study_pk`` names the study's primary key column: ``WHERE ... AND <predicate>``."""
        if self.labels is None:
            return "1 = 1", []
        marks = ", ".join("?" for _ in self.labels)
        return (f"EXISTS (SELECT 1 FROM study_labels sl WHERE sl.study_pk = {study_pk} AND sl.label IN ({marks}))",
                sorted(self.labels))


ALL = Visibility(None)


def _match(pattern: str, value: str) -> bool:
    pattern, value = pattern.strip().casefold(), value.strip().casefold()
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


def labels_for(rules: Iterable[LabelRule], *, calling_ae: str | None, attributes: Mapping[str, Any]) -> set[str]:
    """The labels the rules give an arriving instance (``attributes``: keyword -> value, e.g. the data set)."""
    out = set()
    for rule in rules:
        if rule.calling_ae is not None and (calling_ae or "").strip() != rule.calling_ae.strip():
            continue
        if rule.attribute is not None:
            value = attributes.get(rule.attribute)
            values = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value or "")]
            if rule.value is None or not any(_match(rule.value, v) for v in values):
                continue
        out.add(rule.label)
    return out


def _study_pk(db: Database, study_uid: str) -> int:
    pk = db.scalar("SELECT pk FROM studies WHERE study_instance_uid = ?", (study_uid,))
    if pk is None:
        raise LabelError(f"no study {study_uid} in the index")
    return int(pk)


def labels_of(db: Database, study_uid: str) -> set[str]:
    rows = db.rows("SELECT sl.label FROM study_labels sl JOIN studies s ON s.pk = sl.study_pk "
                    "WHERE s.study_instance_uid = ?", (study_uid,))
    return {str(r[0]) for r in rows}


def add_labels(db: Database, study_uid: str, labels: Iterable[str], *, source: str = "api") -> set[str]:
    """Add labels to a study; returns the study's labels after. Like the other writers here it runs in the
    caller's transaction: ``index.write(lambda db: add_labels(db, uid, ["cardio"]))``."""
    wanted = {check_label(label) for label in labels}
    pk = _study_pk(db, study_uid)
    have = {str(r[0]) for r in db.rows("SELECT label FROM study_labels WHERE study_pk = ?", (pk,))}
    for label in sorted(wanted - have):
        db.execute("INSERT INTO study_labels (study_pk, label, source, created_at) VALUES (?, ?, ?, ?)",
                   (pk, label, source, time.time()))
    return have | wanted


def remove_labels(db: Database, study_uid: str, labels: Iterable[str]) -> set[str]:
    gone = {check_label(label) for label in labels}
    pk = _study_pk(db, study_uid)
    for label in sorted(gone):
        db.execute("DELETE FROM study_labels WHERE study_pk = ? AND label = ?", (pk, label))
    return {str(r[0]) for r in db.rows("SELECT label FROM study_labels WHERE study_pk = ?", (pk,))}


def set_labels(db: Database, study_uid: str, labels: Iterable[str], *, source: str = "api") -> set[str]:
    wanted = {check_label(label) for label in labels}
    pk = _study_pk(db, study_uid)
    db.execute("DELETE FROM study_labels WHERE study_pk = ?", (pk,))
    for label in sorted(wanted):
        db.execute("INSERT INTO study_labels (study_pk, label, source, created_at) VALUES (?, ?, ?, ?)",
                   (pk, label, source, time.time()))
    return wanted


__all__ = ["ALL", "LabelError", "Visibility", "add_labels", "check_label", "labels_for",
           "labels_of", "remove_labels", "set_labels"]
