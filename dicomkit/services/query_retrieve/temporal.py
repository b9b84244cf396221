"""Dates, times and date-times as comparable text, for Single Value and Range Matching (PS3.4 C.2.2.2.5).

Every DA, TM and DT value becomes fixed-width digits that compare as text exactly as the moments compare:

- DA: ``YYYYMMDD`` (8 digits),
- TM: ``HHMMSSffffff`` (12 digits),
- DT (and a combined DA + TM pair): ``YYYYMMDDHHMMSSffffff`` (20 digits), in UTC when the value's offset
  from UTC is known (PS3.4 C.2.2.2.5.3 d), as given otherwise.

A partial value stands for the whole period it names: the TM ``10`` is 10:00:00.000000 to 10:59:59.999999,
the DT ``2024`` the whole year. :func:`bounds` gives both ends of that period (a query's single value matches
every value inside it); :func:`normalize` gives its start (how a stored value is compared). The same
functions are meant for an SQL index: store ``normalize(...)`` in a text column and compare it with the
bounds of the plan.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re

DATE_WIDTH, TIME_WIDTH, DATETIME_WIDTH = 8, 12, 20

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")  # also the ACR-NEMA form YYYY.MM.DD
_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")  # also HH:MM:SS (ACR-NEMA)
_DT = re.compile(
    r"^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?([+-]\d{4})?$"
)
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


class TemporalError(ValueError):
    """A DA, TM or DT value (or range) that cannot be read."""


def parse_offset(text: str) -> int:
    """Minutes east of UTC of an offset ``&ZZXX`` (PS3.5 6.2 DT; Timezone Offset From UTC (0008,0201))."""
    m = _OFFSET.match(text.strip())
    if not m:
        raise TemporalError(f"not an offset from UTC (+HHMM or -HHMM): {text!r}")
    hours, minutes = int(m[2]), int(m[3])
    if hours > 14 or minutes > 59:
        raise TemporalError(f"offset from UTC out of range: {text!r}")
    value = hours * 60 + minutes
    return -value if m[1] == "-" else value


def date_bounds(text: str) -> tuple[str, str]:
    m = _DA.match(text.strip())
    if not m:
        raise TemporalError(f"not a DICOM date (YYYYMMDD): {text!r}")
    try:
        _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise TemporalError(f"not a calendar date: {text!r}") from None
    value = m[1] + m[2] + m[3]
    return value, value


def time_bounds(text: str) -> tuple[str, str]:
    m = _TM.match(text.strip())
    if not m:
        raise TemporalError(f"not a DICOM time (HHMMSS.FFFFFF): {text!r}")
    hh, mm, ss, frac = m[1], m[2], m[3], m[4]
    if int(hh) > 23 or (mm and int(mm) > 59) or (ss and int(ss) > 60):
        raise TemporalError(f"time out of range: {text!r}")
    if ss == "60":  # PS3.5 6.2: a leap second; it sorts with the last second of the minute
        ss = "59"
    low = hh + (mm or "00") + (ss or "00") + (frac or "").ljust(6, "0")
    high = hh + (mm or "59") + (ss or "59") + (frac or "").ljust(6, "9")
    return low, high


def _dt_parts(text: str) -> tuple[list[str | None], int | None]:
    m = _DT.match(text.strip())
    if not m:
        raise TemporalError(f"not a DICOM date time (YYYYMMDDHHMMSS.FFFFFF&ZZXX): {text!r}")
    offset = parse_offset(m[8]) if m[8] else None
    return [m[i] for i in range(1, 8)], offset


def datetime_bounds(text: str, default_offset: int | None = None) -> tuple[str, str]:
    """Both ends of the period a DT value names; shifted to UTC when it has an offset (or a default one)."""
    parts, offset = _dt_parts(text)
    year, month, day, hour, minute, second, frac = parts
    y = int(year or 0)
    try:
        lo = _dt.datetime(y, int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                          min(int(second or 0), 59), int((frac or "").ljust(6, "0")))
        hi_month = int(month or 12)
        hi_day = int(day) if day else calendar.monthrange(y, hi_month)[1]
        hi = _dt.datetime(y, hi_month, hi_day, int(hour) if hour else 23, int(minute) if minute else 59,
                          min(int(second), 59) if second else 59, int((frac or "").ljust(6, "9")))
    except ValueError:
        raise TemporalError(f"date time out of range: {text!r}") from None
    if offset is None:
        offset = default_offset
    if offset:
        lo, hi = _shift(lo, offset), _shift(hi, offset)
    return _dt_text(lo), _dt_text(hi)


def _shift(value: _dt.datetime, offset_minutes: int) -> _dt.datetime:
    try:
        return value - _dt.timedelta(minutes=offset_minutes)
    except OverflowError:  # year 1 or 9999 at the edge: clamp
        return _dt.datetime.min if offset_minutes > 0 else _dt.datetime.max


def _dt_text(value: _dt.datetime) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}{value.hour:02d}{value.minute:02d}" \
           f"{value.second:02d}{value.microsecond:06d}"


def bounds(text: str, vr: str, default_offset: int | None = None) -> tuple[str, str]:
    """Both ends (inclusive) of the period a DA, TM or DT value names, as comparable text."""
    if vr == "DA":
        return date_bounds(text)
    if vr == "TM":
        return time_bounds(text)
    if vr == "DT":
        return datetime_bounds(text, default_offset)
    raise TemporalError(f"{vr} is not a date or time VR")


def normalize(text: str, vr: str, default_offset: int | None = None) -> str | None:
    """The comparable start of a stored DA, TM or DT value; None for an empty or unreadable value."""
    if not text:
        return None
    try:
        return bounds(text, vr, default_offset)[0]
    except TemporalError:
        return None


def combined_bounds(date_text: str, time_text: str, offset: int | None = None) -> tuple[str, str]:
    """The period of a DA value and a TM value read as one DT (PS3.4 C.2.2.2.5.4), as DT text."""
    d = date_bounds(date_text)[0]
    t_lo, t_hi = time_bounds(time_text) if time_text else ("000000000000", "235959999999")
    lo, hi = d + t_lo, d + t_hi
    if offset:
        lo = _dt_text(_shift(_parse20(lo), offset))
        hi = _dt_text(_shift(_parse20(hi), offset))
    return lo, hi


def _parse20(text: str) -> _dt.datetime:
    return _dt.datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                        int(text[12:14]), int(text[14:20]))


def split_range(text: str, vr: str) -> tuple[str, str] | None:
    """``(lower, upper)`` texts of a range ``a-b``, ``-b`` or ``a-`` (either may be empty), or None when the
    text is a single value. A DT's negative offset (``...-0500``) is not taken for a range separator."""
    s = text.strip()
    if "-" not in s:
        return None
    if vr != "DT":
        if s.count("-") != 1:
            raise TemporalError(f"a range has one '-': {text!r}")
        low, _, high = s.partition("-")
        return low.strip(), high.strip()
    # DT: try every '-' as the separator; prefer a split whose sides are both valid DTs.
    candidates = []
    for i, ch in enumerate(s):
        if ch != "-":
            continue
        low, high = s[:i].strip(), s[i + 1:].strip()
        if all(not part or _DT.match(part) for part in (low, high)) and (low or high):
            candidates.append((low, high))
    single = bool(_DT.match(s))
    for low, high in candidates:
        if not (low and high) or single is False:
            return low, high
        # both a single value with a negative offset and a closed range: a range only when ordered
        try:
            if datetime_bounds(low)[0] <= datetime_bounds(high)[1]:
                return low, high
        except TemporalError:
            continue
    if single:
        return None
    raise TemporalError(f"not a DICOM date time or range: {text!r}")
