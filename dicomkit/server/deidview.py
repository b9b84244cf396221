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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..deid.burned_in import burned_in_reason
from .deidexport import DeidExport

if TYPE_CHECKING:
    from .auth import Identity
    from .index import Index

LEVELS = ("study", "series", "instance")
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


__all__ = ["LEVELS", "DeidView", "UidMap", "burned_in_refusal"]
