"""dciodvfy's findings and ours as comparable keys: (kind, element) where element is a keyword, or a tag for the
value checks (dciodvfy names the tag there)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dicomkit.validate import Report

_PATTERNS = (
    ("missing", re.compile(r"^Error - Missing attribute Type \S+ \S+ Element=<(\w+)>")),
    ("empty", re.compile(r"^Error - Empty attribute \(no value\) Type \S+ \S+ Element=<(\w+)>")),
    ("vr", re.compile(r"^Error - Invalid Value Representation [A-Z]{2} \(.*Required\) Element=<(\w+)>")),
    ("vm", re.compile(r"^Error - Bad attribute Value Multiplicity \d+ \(.* Required by Dictionary\) Element=<(\w+)>")),
    ("value", re.compile(r"^Error - Value invalid for this VR - \((0x[0-9a-f]{4},0x[0-9a-f]{4})\)")),
    ("uid-root", re.compile(r"^Error - Illegal root for UID - .* in \((0x[0-9a-f]{4},0x[0-9a-f]{4})\)")),
    ("enumerated", re.compile(r"^Error - Unrecognized enumerated value <.*> for value \d+ of attribute <(.+)>")),
    ("sequence-items", re.compile(r"^Error - Bad Sequence number of Items .* Element=<(\w+)>")),
    ("meta", re.compile(r"^Error - (MediaStorageSOP\w+) different from")),
)


def keys_of_lines(lines: list[str]) -> set[tuple[str, str]]:
    out = set()
    for line in lines:
        for kind, pattern in _PATTERNS:
            m = pattern.match(line)
            if m:
                out.add((kind, m.group(1)))
                break
    return out


def dciodvfy_keys(path: Path, dciodvfy: str) -> set[tuple[str, str]]:
    done = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, errors="replace", timeout=120)
    return keys_of_lines((done.stdout + done.stderr).splitlines())


def our_keys(report: Report) -> set[tuple[str, str]]:
    return keys_of_lines([str(f) for f in report.findings])
