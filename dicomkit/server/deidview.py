"""De-identified views (issue 14): what HTTP users designated in ``[deid]`` (``deid.users``, ``deid.roles``)
see of the archive, and the reverse lookup of the replacement UIDs they are given.

The replacement UIDs are the keyed pseudonyms of :class:`~.deidexport.DeidExport` (HMAC-SHA256 under
``deid.key``): the same original gets the same replacement in a QIDO answer, a WADO body, a C-MOVE and a
STOW-RS export. A pseudonym cannot be inverted, so every replacement handed out is recorded with its
original in the index (``deid_uids``, schema version 4): a viewer that navigates by the UIDs of a QIDO
answer, or a partner that sends a received UID back, finds the original through :meth:`UidMap.original`.
A lookup is checked against the key (the pseudonym of the stored original must be the UID asked for), so a
row left by an earlier key (``deid.key = ""`` draws a new one at each start) resolves nothing.

:func:`burned_in_refusal` applies the engine's policy for pixel data to stored headers: an instance whose
pixels may carry burned-in identification (Burned In Annotation YES, or unstated for US, SC, XA —
:func:`dicomkit.deid.burned_in.burned_in_reason`) is not shown to a de-identified user unless
``deid.allow_burned_in``: not as a whole object, frame, rendered image, thumbnail or pixel bulk data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import DicomError
from ..core.tag import is_private_group
from ..deid.burned_in import burned_in_reason
from ..deid.profile import Profile
from ..services.query_retrieve.plan import KeyMatch, MatchKind, QueryPlan, Single
from ..services.sources import Requester
from .deidexport import DeidExport

if TYPE_CHECKING:
    from .auth import Identity
    from .index import Index

LEVELS = ("study", "series", "instance")
STUDY_UID, SERIES_UID, SOP_UID = 0x0020000D, 0x0020000E, 0x00080018
UID_LEVELS = {STUDY_UID: "study", SERIES_UID: "series", SOP_UID: "instance"}
_MEMORY = 200_000  # replacements remembered in memory (beyond: looked up in the index again)
_PIXEL_KEYS = ("7FE00010", "7FE00008", "7FE00009")


class UidMap:
    """Replacement UID -> original, kept in the index table ``deid_uids`` (thread-safe)."""

    def __init__(self, index: Index, export: DeidExport) -> None:
        self.index, self.export = index, export
        self._known: dict[str, tuple[str, str]] = {}  # replacement -> (original, level)
        self._lock = threading.Lock()

    def replace(self, original: str, level: str) -> str:
        """The replacement of ``original`` (recorded later by :meth:`remember`)."""
        return self.export.uid(original)

    def remember(self, pairs: Iterable[tuple[str, str, str]]) -> None:
        """Record (replacement, original, level) triples not recorded yet (one write transaction)."""
        with self._lock:
            new = [(r, o, lv) for r, o, lv in pairs if r not in self._known]
            if not new:
                return
        now = time.time()
        rows = list({r: (r, o, lv, now) for r, o, lv in new}.values())

        def work(db: Any) -> None:
            db.executemany("INSERT INTO deid_uids (replacement, original, level, created_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (replacement) DO NOTHING", rows)
        self.index.write(work)
        with self._lock:
            if len(self._known) > _MEMORY:
                self._known.clear()
            for r, o, lv, _t in rows:
                self._known[r] = (o, lv)

    def original(self, replacement: str, level: str) -> str | None:
        """The original UID of a replacement handed out at ``level``; None when there is none (never handed
        out, another level, or made under another key)."""
        with self._lock:
            found = self._known.get(replacement)
        if found is None:
            rows = self.index.read().rows("SELECT original, level FROM deid_uids WHERE replacement = ?",
                                          (replacement,))
            if not rows:
                return None
            found = (str(rows[0][0]), str(rows[0][1]))
        original, stored_level = found
        if stored_level != level or self.export.uid(original) != replacement:
            return None
        return original


class DeidView:
    """The de-identified view the configuration asks for: who gets it, the engine, the UID map."""

    def __init__(self, config: Any, export: DeidExport, index: Index) -> None:
        self.export = export
        self.users = frozenset(config.deid.users)
        self.roles = frozenset(config.deid.roles)
        self.allow_burned_in = bool(config.deid.allow_burned_in)
        self.uids = UidMap(index, export)

    def applies(self, identity: Identity | None) -> bool:
        """Whether what this HTTP user receives is de-identified."""
        if identity is None:
            return False
        return identity.name in self.users or any(role in self.roles for role in identity.roles)

    def applies_dimse(self, requester: Requester) -> bool:
        """Whether what this association's requester (calling AE, verified user) finds is de-identified."""
        return self.export.applies(ae_title=requester.calling_ae_title, user=requester.user_identity)

    def clean_matches(self, matches: list[Dataset], path: Mapping[int, str] | None = None) -> list[Dataset]:
        """Query matches de-identified (:func:`clean_match`); the replacement UIDs recorded (one transaction)."""
        pairs: list[tuple[str, str, str]] = []
        out = [clean_match(self.export, m, pairs, path) for m in matches]
        self.uids.remember(pairs)
        return out


class DeidentifiedMatchingError(DicomError):
    """A query by a de-identified requester matches on an attribute the profile changes."""


def identifying_match(plan: QueryPlan, profile: Profile) -> str | None:
    """Why the plan may not run for a de-identified requester: a matching key on an attribute the profile
    changes (the answer would tell which originals match it; PS3.15 E.1); None when it may. The unique keys
    of the levels match by their replacements (:func:`translate_plan`)."""

    def check(key: KeyMatch, nested: bool) -> str | None:
        if key.kind is MatchKind.SEQUENCE:
            return next((why for item in key.items if (why := check(item, True))), None)
        if key.kind is MatchKind.UNIVERSAL or (key.tag in UID_LEVELS and not nested):
            return None
        action = profile.action(key.tag)
        if is_private_group(key.tag >> 16) or action not in (None, "K"):
            return (f"{key.keyword or f'{key.tag:08X}'}: matching on an attribute that is de-identified (PS3.15 "
                    "Table E.1-1) is not available to this user; search by the UIDs of earlier answers or by "
                    "attributes that are kept")
        return None

    return next((why for key in plan.keys if (why := check(key, False))), None)


def translate_plan(plan: QueryPlan, uids: UidMap, *, keep_unknown: bool) -> QueryPlan:
    """The plan with the Study / Series / SOP Instance UIDs it matches on taken as replacements: each one
    becomes its original; one never handed out stays as it is (``keep_unknown``, for requesters that may name
    originals) or matches nothing."""
    keys = []
    for key in plan.keys:
        level = UID_LEVELS.get(key.tag)
        if level is None or key.kind not in (MatchKind.SINGLE_VALUE, MatchKind.UID_LIST):
            keys.append(key)
            continue
        texts = []
        for term in key.terms:
            text = term.text if isinstance(term, Single) else str(term)
            original = uids.original(text, level)
            texts.append(original if original is not None else text if keep_unknown else NOWHERE)
        unique = tuple(dict.fromkeys(texts))
        keys.append(replace(key, terms=tuple(Single(t, t) for t in unique), text="\\".join(unique),
                            kind=MatchKind.UID_LIST if len(unique) > 1 else MatchKind.SINGLE_VALUE))
    return replace(plan, keys=tuple(keys))


NOWHERE = "2.25.0"  # a UID no stored entity has: what a replacement never handed out matches


def clean_match(export: DeidExport, match: Dataset, pairs: list[tuple[str, str, str]],
                path: Mapping[int, str] | None = None) -> Dataset:
    """One query match de-identified: the attributes it had, as the profile leaves them (none added but the
    level UIDs of ``path`` it lacks, so that no original stands in for them); the (replacement, original,
    level) of its UIDs added to ``pairs``."""
    work = match.copy()
    for tag, uid in (path or {}).items():
        if tag not in work and uid != NOWHERE:
            work.add(DataElement(tag, "UI", uid))
    clean = export.dataset(work)
    out = Dataset()
    for tag in work.tags():
        elem = clean.get(tag)
        if elem is not None:
            out.add(elem)
    for tag, level in UID_LEVELS.items():
        original, new = work.get(tag), out.get(tag)
        if original is not None and new is not None and original.value and new.value:
            pairs.append((str(new.value), str(original.value), level))
    return out


class DeidFindSource:
    """The archive's C-FIND source with the matches of de-identified requesters (the AEs and users of
    ``[deid]``) de-identified: identifying matches refused, UIDs matched by their replacements (or, as the
    move/get export always allowed, by the originals), answers without identities."""

    def __init__(self, inner: Any, view: DeidView) -> None:
        self.inner, self.view = inner, view

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        keys: frozenset[int] = self.inner.unsupported_keys(plan)
        return keys

    def find_rows(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Any] | None:
        """The inner source's rows for everyone the view does not apply to (the SCP's fast path); None for a
        de-identified requester, whose matches go through :meth:`find`."""
        inner = getattr(self.inner, "find_rows", None)
        if inner is None or self.view.applies_dimse(requester):
            return None
        rows: AsyncIterator[Any] = inner(plan, requester)
        return rows

    def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        if not self.view.applies_dimse(requester):
            found: AsyncIterator[Dataset] = self.inner.find(plan, requester)
            return found
        return self._deidentified(plan, requester)

    async def _deidentified(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        import asyncio

        why = identifying_match(plan, self.view.export.engine.profile)
        if why is not None:
            raise DeidentifiedMatchingError(why)
        loop = asyncio.get_running_loop()
        plan = await loop.run_in_executor(None, lambda: translate_plan(plan, self.view.uids, keep_unknown=True))
        batch: list[Dataset] = []
        async for match in self.inner.find(plan, requester):
            batch.append(match)
            if len(batch) >= 100:
                for clean in await loop.run_in_executor(None, self.view.clean_matches, batch):
                    yield clean
                batch = []
        if batch:
            for clean in await loop.run_in_executor(None, self.view.clean_matches, batch):
                yield clean


def burned_in_refusal(header: Mapping[str, Any], sop_class_uid: str, allow: bool) -> str | None:
    """Why a de-identified user may not see the pixels of an instance (its stored DICOM JSON header), or
    None when it may."""
    if allow or not any(key in header for key in _PIXEL_KEYS):
        return None
    probe = Dataset()
    probe.add(DataElement(0x7FE00010, "OB", b""))
    probe.add(DataElement(0x00080016, "UI", sop_class_uid))
    for tag in (0x00080060, 0x00280301):  # Modality, Burned In Annotation
        value = header.get(f"{tag:08X}", {}).get("Value")
        if value:
            probe.add(DataElement(tag, "CS", str(value[0])))
    reason = burned_in_reason(probe)
    return None if reason is None else f"its pixel data may carry burned-in identification ({reason})"


__all__ = ["LEVELS", "NOWHERE", "UID_LEVELS", "DeidFindSource", "DeidView", "DeidentifiedMatchingError", "UidMap",
           "burned_in_refusal", "clean_match", "identifying_match", "translate_plan"]
