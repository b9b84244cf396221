"""Dates under the Retain Longitudinal Temporal Information with Modified Dates Option (PS3.15 E.3.6).

Every date of a patient moves back by the same whole number of days (derived from the key and the Patient
ID, see :meth:`Pseudonymizer.date_offset`). Whole days keep the intervals between all of a patient's
studies and the time of day of every event, so decay corrections and dynamic series still compute
(E.3.6 Notes 3 and 4); times (TM) are therefore left as they are.
"""

from __future__ import annotations

import datetime as _dt
import re

# PS3.5 6.2: DA is YYYYMMDD (ACR-NEMA YYYY.MM.DD is read too); DT starts with YYYY[MM[DD...]].
_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(.*)$")


def shift_da(value: str, days: int) -> str:
    """A DA value (or ``A-B`` range) moved back by ``days``; text that is not a date becomes empty."""
    value = value.strip()
    if not value:
        return ""
    if "-" in value:
        start, _, end = value.partition("-")
        return f"{shift_da(start, days) if start else ''}-{shift_da(end, days) if end else ''}"
    m = _DA.match(value)
    if m is None:
        return ""
    try:
        day = _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return ""
    shifted = _minus(day, days)
    return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"


def shift_dt(value: str, days: int) -> str:
    """A DT value moved back by ``days``; its time, fraction and UTC offset are kept."""
    value = value.strip()
    if not value:
        return ""
    m = _DT.match(value)
    if m is None:
        return ""
    year, month, day, rest = m[1], m[2], m[3], m[4]
    try:
        if day:
            shifted = _minus(_dt.date(int(year), int(month), int(day)), days)
            return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}{rest}"
        # Only a year (and month): move by whole years' worth so the precision stays what it was.
        first = _minus(_dt.date(int(year), int(month or 1), 1), days)
        return f"{first.year:04d}" + (f"{first.month:02d}" if month else "") + rest
    except ValueError:
        return ""


def _minus(day: _dt.date, days: int) -> _dt.date:
    try:
        return day - _dt.timedelta(days=days)
    except OverflowError:
        return _dt.date(1, 1, 1)
