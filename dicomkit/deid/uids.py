"""Consistent replacement of UIDs and identifiers (PS3.15 E.1.1 items 2 and 5, action U).

A :class:`Pseudonymizer` derives every replacement from a secret key with HMAC-SHA256, so the same original
gives the same replacement in every file, process and run that uses the same key, and a different one under
another key: a study keeps one Study Instance UID, references keep resolving, and nothing needs to be shared
between worker processes but the key. The replacements it made can be written to a mapping table
(:class:`MappingTable`, JSON or CSV) that lets whoever holds it re-identify; the key itself cannot be
recovered from the output.

Replacement UIDs are ``2.25.<integer>`` (PS3.5 B.2): the integer is 128 bits of the HMAC shaped as an
RFC 9562 version 8 UUID, at most 44 characters.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
from pathlib import Path

from ..core._uid_data import UIDS
from .profile import DeidentificationError

MAP_FORMAT = "dicomkit-deid-map"

# UI attributes that hold no instance identity but a registry value or a definition (never replaced even
# when their value is a private UID): SOP classes, transfer syntaxes, coding schemes, context groups, ...
STRUCTURAL_UID_TAGS = frozenset({
    0x00000002, 0x00000003,  # Affected / Requested SOP Class UID
    0x00020002, 0x00020010, 0x00020012,  # Media Storage SOP Class, Transfer Syntax, Implementation Class
    0x00041510, 0x00041512, 0x0004151A,  # Referenced SOP Class / Transfer Syntax / Related General in File
    0x00080016, 0x0008001A, 0x0008001B,  # SOP Class, Related General SOP Class, Original Specialized SOP Class
    0x0008010C, 0x0008010D, 0x00080117, 0x00080118,  # Coding Scheme, Context Group Extension Creator,
    # Context, Mapping Resource UID
    0x00020032, 0x00020100,  # RTV Communication SOP Class UID, Private Information Creator UID
    0x00080062, 0x0008040E, 0x00083002,  # SOP Classes in Study, Stored Instance / Available Transfer Syntax
    0x00081150, 0x0008115A,  # Referenced SOP Class UID, SOP Classes Supported
    0x00340003, 0x3010001F, 0x30100052, 0x30100053,  # Flow Transfer Syntax, Segmentation Template, ...
    0x04000010, 0x04000510,  # MAC Calculation / Encrypted Content Transfer Syntax UID
})


def is_well_known(uid: str) -> bool:
    """True for UIDs in the PS3.6 registry (SOP classes, transfer syntaxes, coding schemes, well-known
    instances, ...): they identify definitions, not patients, and are never replaced."""
    return uid in UIDS


def _as_key(key: str | bytes | None) -> bytes:
    if key is None:
        return secrets.token_bytes(32)
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise DeidentificationError("the de-identification key is empty")
    return key


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """A key from a file (its bytes, surrounding whitespace removed)."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise DeidentificationError(f"key file {path}: {exc.strerror or exc}") from None
    if not key:
        raise DeidentificationError(f"key file {path} is empty")
    return key


class Pseudonymizer:
    """Keyed, deterministic replacements for UIDs, patient identifiers and per-patient date offsets.

    ``key=None`` draws a random key: replacements are then consistent within this object (and the
    processes it is given to) but never reproducible. ``table`` pre-seeds replacements (a previous run's
    mapping) and records the new ones.
    """

    def __init__(self, key: str | bytes | None = None, *, table: MappingTable | None = None,
                 max_shift_days: int = 3650) -> None:
        self.key = _as_key(key)
        self.table = table if table is not None else MappingTable()
        self.fresh = MappingTable()  # what was added since the last take_new()
        if max_shift_days < 1:
            raise DeidentificationError("max_shift_days must be at least 1")
        self.max_shift_days = max_shift_days

    def _digest(self, kind: bytes, value: str) -> bytes:
        return hmac.new(self.key, kind + b"\x00" + value.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement of an instance UID (``original`` when it is a registry UID or empty)."""
        original = original.strip("\x00 ")
        if not original or original in UIDS:
            return original
        uids = self.table.uids
        new = uids.get(original)
        if new is None:
            raw = bytearray(self._digest(b"uid", original)[:16])
            raw[6] = (raw[6] & 0x0F) | 0x80  # RFC 9562 version 8 (custom)
            raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
            new = "2.25." + str(int.from_bytes(raw, "big"))
            uids[original] = self.fresh.uids[original] = new
        return new

    def take_new(self) -> MappingTable:
        """The replacements made since the last call (what a worker process reports back)."""
        fresh, self.fresh = self.fresh, MappingTable()
        return fresh

    def patient_id(self, original: str) -> str:
        """A pseudonym for a Patient ID (or Patient's Name): stable under the key, 20 characters."""
        original = original.strip()
        if not original:
            return ""
        patients = self.table.patients
        new = patients.get(original)
        if new is None:
            new = "DK" + self._digest(b"patient", original).hex()[:18].upper()
            patients[original] = self.fresh.patients[original] = new
        return new

    def text(self, kind: str, original: str, length: int = 16) -> str:
        """A stable pseudonym of ``length`` upper-case hex digits behind ``kind`` (for AE titles and the like)."""
        return self._digest(kind.encode(), original.strip()).hex()[:length].upper()

    def date_offset(self, patient_id: str) -> int:
        """Days by which this patient's dates move back (1..max_shift_days), from the key and Patient ID."""
        key = patient_id.strip()
        offsets = self.table.date_offsets
        days = offsets.get(key)
        if days is None:
            days = 1 + int.from_bytes(self._digest(b"dates", key)[:8], "big") % self.max_shift_days
            offsets[key] = self.fresh.date_offsets[key] = days
        return days


class MappingTable:
    """What was replaced by what: UIDs, patient identifiers and date offsets (by original Patient ID).

    Saved as JSON (``{"format": "dicomkit-deid-map", "uids": {...}, "patients": {...}, "date_offsets":
    {...}}``) or, for a ``.csv`` path, as rows ``kind,original,replacement``. It identifies patients: keep
    it where only authorised people can read it.
    """

    def __init__(self) -> None:
        self.uids: dict[str, str] = {}
        self.patients: dict[str, str] = {}
        self.date_offsets: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.uids) + len(self.patients) + len(self.date_offsets)

    def update(self, other: MappingTable) -> None:
        self.uids.update(other.uids)
        self.patients.update(other.patients)
        self.date_offsets.update(other.date_offsets)

    def snapshot(self) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
        return dict(self.uids), dict(self.patients), dict(self.date_offsets)

    def original_uid(self, replacement: str) -> str | None:
        """Re-identification: the original of a replacement UID, if this table made it."""
        for original, new in self.uids.items():
            if new == replacement:
                return original
        return None

    # -- files ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MappingTable:
        table = cls()
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DeidentificationError(f"mapping table {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise DeidentificationError(f"mapping table {p}: not UTF-8 text") from None
        if p.suffix.lower() == ".csv":
            for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
                if n == 1 and row == ["kind", "original", "replacement"]:
                    continue
                if len(row) != 3 or row[0] not in ("uid", "patient", "date_offset"):
                    raise DeidentificationError(f"mapping table {p}, line {n}: expected kind,original,replacement")
                kind, original, new = row
                if kind == "uid":
                    table.uids[original] = new
                elif kind == "patient":
                    table.patients[original] = new
                else:
                    try:
                        table.date_offsets[original] = int(new)
                    except ValueError:
                        raise DeidentificationError(f"mapping table {p}, line {n}: {new!r} is not a number "
                                                    "of days") from None
            return table
        try:
            doc = json.loads(text) if text.strip() else {"format": MAP_FORMAT}
        except json.JSONDecodeError as exc:
            raise DeidentificationError(f"mapping table {p}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(doc, dict) or doc.get("format") != MAP_FORMAT:
            raise DeidentificationError(f"mapping table {p}: not a {MAP_FORMAT} file")
        for name, target in (("uids", table.uids), ("patients", table.patients)):
            section = doc.get(name, {})
            if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
                raise DeidentificationError(f"mapping table {p}: {name!r} must map strings to strings")
            target.update(section)
        offsets = doc.get("date_offsets", {})
        if not isinstance(offsets, dict) or not all(isinstance(v, int) for v in offsets.values()):
            raise DeidentificationError(f"mapping table {p}: 'date_offsets' must map strings to numbers of days")
        table.date_offsets.update(offsets)
        return table

    def dumps(self, csv_format: bool = False) -> str:
        if csv_format:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["kind", "original", "replacement"])
            for original, new in sorted(self.uids.items()):
                writer.writerow(["uid", original, new])
            for original, new in sorted(self.patients.items()):
                writer.writerow(["patient", original, new])
            for original, days in sorted(self.date_offsets.items()):
                writer.writerow(["date_offset", original, str(days)])
            return out.getvalue()
        doc = {"format": MAP_FORMAT, "version": 1, "uids": dict(sorted(self.uids.items())),
               "patients": dict(sorted(self.patients.items())),
               "date_offsets": dict(sorted(self.date_offsets.items()))}
        return json.dumps(doc, indent=1) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the table atomically (a temporary file renamed over ``path``), readable by its owner only."""
        p = Path(path)
        text = self.dumps(csv_format=p.suffix.lower() == ".csv")
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DeidentificationError(f"mapping table {p}: {exc.strerror or exc}") from None
