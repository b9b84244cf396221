"""Reading the local audit file (``dicomkit audit tail`` and ``search``): the JSON lines the
:class:`~.sinks.FileSink` writes, oldest first across the rotated files."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import DicomError


class AuditFileError(DicomError):
    """An audit file that cannot be read."""


def files(path: Path) -> list[Path]:
    """The rotated files (oldest first) and then the current one."""
    rotated = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1:]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    out = [p for _, p in sorted(rotated, reverse=True)]
    if path.exists():
        out.append(path)
    return out


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """Every entry, oldest first; a line that is not JSON (a torn last line) is skipped."""
    found = files(path)
    if not found:
        raise AuditFileError(f"{path}: no audit file (is auditing to a file configured?)")
    for file in found:
        try:
            with open(file, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict):
                        yield entry
        except OSError as exc:
            raise AuditFileError(f"{file}: cannot read: {exc.strerror or exc}") from None


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``2026-01-31``, ``2026-01-31T12:00``, an ISO time with offset, or ``90m`` / ``2h`` / ``7d`` ago."""
    now = now or dt.datetime.now(dt.UTC)
    m = _RELATIVE.match(text.strip())
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
        return now - dt.timedelta(seconds=int(m[1]) * unit)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditFileError(f"--since {text!r}: expected a date, an ISO time, or 30m / 2h / 7d") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Filter:
    user: str | None = None
    study: str | None = None
    since: dt.datetime | None = None
    event: str | None = None
    calling_ae: str | None = None
    failures: bool = False

    def __call__(self, entry: dict[str, Any]) -> bool:
        if self.user is not None and entry.get("user") != self.user:
            return False
        if self.study is not None and self.study not in entry.get("studies", ()):
            return False
        if self.event is not None and entry.get("event") != self.event:
            return False
        if self.calling_ae is not None and entry.get("calling_ae") != self.calling_ae:
            return False
        if self.failures and not entry.get("outcome"):
            return False
        if self.since is not None:
            try:
                when = dt.datetime.fromisoformat(str(entry.get("time")))
            except ValueError:
                return False
            if when < self.since:
                return False
        return True


def search(path: Path, where: Filter) -> Iterator[dict[str, Any]]:
    return (e for e in entries(path) if where(e))


def tail(path: Path, count: int = 20, where: Filter | None = None) -> list[dict[str, Any]]:
    last: deque[dict[str, Any]] = deque(maxlen=max(count, 0))
    for entry in entries(path):
        if where is None or where(entry):
            last.append(entry)
    return list(last)


def summary(entry: dict[str, Any]) -> str:
    """One line: time, event, outcome, who, from where, what."""
    outcome = {0: "ok", 4: "minor-failure", 8: "serious-failure", 12: "major-failure"}.get(
        entry.get("outcome", 0), str(entry.get("outcome")))
    who = entry.get("user") or entry.get("calling_ae") or "-"
    if entry.get("user") and entry.get("calling_ae"):
        who = f"{entry['user']}/{entry['calling_ae']}"
    parts = [str(entry.get("time", "?")), str(entry.get("event", "?")), outcome, who]
    if entry.get("address"):
        parts.append(f"from {entry['address']}")
    for key in ("alert", "subject", "destination"):
        if entry.get(key):
            parts.append(f"{key}={entry[key]}")
    studies = entry.get("studies") or []
    if studies:
        parts.append("studies=" + ",".join(studies))
    return " ".join(parts)


__all__ = ["AuditFileError", "Filter", "entries", "files", "parse_since", "search", "summary", "tail"]
