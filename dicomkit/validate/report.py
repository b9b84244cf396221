"""Findings of a validation and their report, in the words of dciodvfy where it has words for them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING, NOTE = "Error", "Warning", "Note"


@dataclass(frozen=True)
class Finding:
    """One finding: severity (Error / Warning / Note), its kind, the message, the module (dciodvfy's
    CamelCase name) and the element's keyword and path (``ReferencedSeriesSequence[1].SeriesInstanceUID``).

    Kinds: ``missing``, ``empty``, ``vr`` (wrong VR), ``value`` (invalid for its VR), ``uid-root``, ``vm``,
    ``enumerated``, ``defined-term``, ``sequence-items``, ``module-missing``, ``not-in-iod``, ``meta``,
    ``unknown-iod``, ``not-evaluated``, ``no-table``, ``unreadable``.
    """

    severity: str
    kind: str
    message: str
    module: str = ""
    keyword: str = ""
    path: str = ""

    def __str__(self) -> str:
        return f"{self.severity} - {self.message}"


@dataclass
class Report:
    """What :func:`dicomkit.validate.validate` found in one data set."""

    source: str
    iod: str = ""
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        if finding not in self.findings:
            self.findings.append(finding)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == NOTE]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_text(self, *, notes: bool = False) -> str:
        lines = [self.iod or "(unknown IOD)"]
        lines += [str(f) for f in self.findings if notes or f.severity != NOTE]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.source, "iod": self.iod, "errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [asdict(f) for f in self.findings]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


__all__ = ["ERROR", "NOTE", "WARNING", "Finding", "Report"]
