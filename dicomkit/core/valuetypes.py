"""Value types for string VRs that carry numbers and dates (PS3.5 6.2): DS, IS, DA, TM, DT.

Each keeps the exact text it was read from, so writing an unchanged value reproduces the original bytes,
while behaving as the Python type it stands for (``float``, ``int``, ``str`` with date accessors).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal
from typing import Any

from .errors import InvalidValueError


class DS(float):
    """Decimal String (PS3.5 6.2): a ``float`` that remembers its original text (``str(ds)``)."""

    original_string: str

    def __new__(cls, value: Any) -> DS:
        if isinstance(value, DS):
            return value
        if isinstance(value, str | bytes):
            text = value.decode("ascii") if isinstance(value, bytes) else value
            stripped = text.strip(" \x00")
            try:
                number = float(stripped)
            except ValueError:
                raise InvalidValueError(f"not a Decimal String: {text!r}") from None
            self = float.__new__(cls, number)
            self.original_string = stripped
            return self
        if isinstance(value, Decimal | int | float):
            number = float(value)
            if not math.isfinite(number):
                raise InvalidValueError(f"a Decimal String cannot hold {number}")
            self = float.__new__(cls, number)
            self.original_string = format_ds(value)
            return self
        raise InvalidValueError(f"cannot make a Decimal String from {value!r}")

    def __str__(self) -> str:
        return self.original_string

    def __repr__(self) -> str:
        return f"DS({self.original_string!r})"

    def __hash__(self) -> int:
        return float.__hash__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DS, (self.original_string,))


def format_ds(value: float | int | Decimal) -> str:
    """Shortest text of at most 16 characters that represents ``value`` (PS3.5 6.2 DS)."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        if len(text) <= 16:
            return text
    number = float(value)
    text = repr(number)
    if text.endswith(".0"):
        text = text[:-2]
    if len(text) <= 16:
        return text
    for precision in range(15, 0, -1):
        text = f"{number:.{precision}g}"
        if "e" in text:
            mantissa, _, exp = text.partition("e")
            text = f"{mantissa}e{int(exp)}"
        if len(text) <= 16:
            return text
    raise InvalidValueError(f"{value!r} cannot be written as a Decimal String")


class IS(int):
    """Integer String (PS3.5 6.2): an ``int`` that remembers its original text."""

    original_string: str

    def __new__(cls, value: Any) -> IS:
        if isinstance(value, IS):
            return value
        if isinstance(value, str | bytes):
            text = value.decode("ascii") if isinstance(value, bytes) else value
            stripped = text.strip(" \x00")
            try:
                number = int(stripped)
            except ValueError:
                try:
                    as_float = float(stripped)
                except ValueError:
                    raise InvalidValueError(f"not an Integer String: {text!r}") from None
                if not as_float.is_integer():
                    raise InvalidValueError(f"not an Integer String: {text!r}") from None
                number = int(as_float)
            self = int.__new__(cls, number)
            self.original_string = stripped
            return self
        if isinstance(value, float) and not value.is_integer():
            raise InvalidValueError(f"an Integer String cannot hold {value!r}")
        if isinstance(value, int | float | Decimal):
            number = int(value)  # its range (PS3.5 6.2: 32 bits) is a VR rule, checked when it is assigned
            self = int.__new__(cls, number)
            self.original_string = str(number)
            return self
        raise InvalidValueError(f"cannot make an Integer String from {value!r}")

    def __str__(self) -> str:
        return self.original_string

    def __repr__(self) -> str:
        return f"IS({self.original_string!r})"

    def __hash__(self) -> int:
        return int.__hash__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (IS, (self.original_string,))


_DA_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DA_OLD_RE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")  # ACR-NEMA 2.0 form
_TM_RE = re.compile(r"^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?$")
_TM_OLD_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")
_DT_RE = re.compile(
    r"^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?([+-]\d{4})?$"
)


class DA(str):
    """Date (PS3.5 6.2 DA): the original text, with ``.date`` giving a ``datetime.date``.

    ``DA(datetime.date(2020, 1, 31))`` gives ``'20200131'``. A range used in queries (``'2020-2021'``) stays
    text; ``.date`` raises for it.
    """

    def __new__(cls, value: Any) -> DA:
        if isinstance(value, _dt.datetime):
            value = value.date()
        if isinstance(value, _dt.date):
            return str.__new__(cls, value.strftime("%Y%m%d"))
        if isinstance(value, str):
            return str.__new__(cls, value.strip(" \x00"))
        raise InvalidValueError(f"cannot make a DA from {value!r}")

    @property
    def date(self) -> _dt.date | None:
        if not self:
            return None
        m = _DA_RE.match(self) or _DA_OLD_RE.match(self)
        if not m:
            raise InvalidValueError(f"not a DICOM date: {str(self)!r}")
        try:
            return _dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as exc:
            raise InvalidValueError(f"not a valid date: {str(self)!r} ({exc})") from None


class TM(str):
    """Time (PS3.5 6.2 TM): the original text, with ``.time`` giving a ``datetime.time``."""

    def __new__(cls, value: Any) -> TM:
        if isinstance(value, _dt.time):
            text = value.strftime("%H%M%S")
            if value.microsecond:
                text += f".{value.microsecond:06d}"
            return str.__new__(cls, text)
        if isinstance(value, str):
            return str.__new__(cls, value.strip(" \x00"))
        raise InvalidValueError(f"cannot make a TM from {value!r}")

    @property
    def time(self) -> _dt.time | None:
        if not self:
            return None
        m = _TM_RE.match(self) or _TM_OLD_RE.match(self)
        if not m:
            raise InvalidValueError(f"not a DICOM time: {str(self)!r}")
        hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
        micro = int((m[4] or "0").ljust(6, "0"))
        if second == 60:  # PS3.5 6.2: leap second
            second = 59
        try:
            return _dt.time(hour, minute, second, micro)
        except ValueError as exc:
            raise InvalidValueError(f"not a valid time: {str(self)!r} ({exc})") from None


class DT(str):
    """Date Time (PS3.5 6.2 DT): the original text, with ``.datetime`` giving a ``datetime.datetime``."""

    def __new__(cls, value: Any) -> DT:
        if isinstance(value, _dt.datetime):
            text = value.strftime("%Y%m%d%H%M%S")
            if value.microsecond:
                text += f".{value.microsecond:06d}"
            if value.tzinfo is not None:
                offset = value.utcoffset()
                assert offset is not None
                minutes = int(offset.total_seconds() // 60)
                sign = "+" if minutes >= 0 else "-"
                text += f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
            return str.__new__(cls, text)
        if isinstance(value, str):
            return str.__new__(cls, value.strip(" \x00"))
        raise InvalidValueError(f"cannot make a DT from {value!r}")

    @property
    def datetime(self) -> _dt.datetime | None:
        if not self:
            return None
        m = _DT_RE.match(self)
        if not m:
            raise InvalidValueError(f"not a DICOM date time: {str(self)!r}")
        tz = None
        if m[8]:
            sign = -1 if m[8][0] == "-" else 1
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(m[8][1:3]), minutes=int(m[8][3:5])))
        second = int(m[6] or 0)
        try:
            return _dt.datetime(
                int(m[1]), int(m[2] or 1), int(m[3] or 1), int(m[4] or 0), int(m[5] or 0),
                59 if second == 60 else second, int((m[7] or "0").ljust(6, "0")), tzinfo=tz,
            )
        except ValueError as exc:
            raise InvalidValueError(f"not a valid date time: {str(self)!r} ({exc})") from None
