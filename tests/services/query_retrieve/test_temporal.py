"""Dates and times as comparable text (PS3.4 C.2.2.2.5; PS3.5 6.2 DA, TM, DT)."""

from __future__ import annotations

import pytest

from dicomkit.services.query_retrieve.temporal import (
    TemporalError,
    bounds,
    combined_bounds,
    normalize,
    parse_offset,
    split_range,
)


@pytest.mark.parametrize(("text", "vr", "low", "high"), [
    ("20240229", "DA", "20240229", "20240229"),
    ("2024.02.29", "DA", "20240229", "20240229"),  # ACR-NEMA form, still seen in old files
    ("10", "TM", "100000000000", "105959999999"),
    ("1015", "TM", "101500000000", "101559999999"),
    ("101530", "TM", "101530000000", "101530999999"),
    ("101530.25", "TM", "101530250000", "101530259999"),
    ("10:15:30", "TM", "101530000000", "101530999999"),
    ("235960", "TM", "235959000000", "235959999999"),  # a leap second
    ("2024", "DT", "20240101000000000000", "20241231235959999999"),
    ("202402", "DT", "20240201000000000000", "20240229235959999999"),
    ("2024022912", "DT", "20240229120000000000", "20240229125959999999"),
    ("20240101000000+0100", "DT", "20231231230000000000", "20231231230000999999"),
    ("20240101120000.5-0500", "DT", "20240101170000500000", "20240101170000599999"),
])
def test_bounds(text: str, vr: str, low: str, high: str) -> None:
    assert bounds(text, vr) == (low, high)
    assert normalize(text, vr) == low


@pytest.mark.parametrize(("text", "vr"), [("20240230", "DA"), ("2024-02-01", "DA"), ("2400", "TM"), ("1060", "TM"),
                                          ("12345", "TM"), ("20241301", "DT"), ("2024+2500", "DT"), ("", "DA")])
def test_unreadable(text: str, vr: str) -> None:
    with pytest.raises(TemporalError):
        bounds(text, vr)
    assert normalize(text, vr) is None


def test_default_offset_applies_only_without_an_explicit_one() -> None:
    assert bounds("20240101120000", "DT", default_offset=60)[0] == "20240101110000000000"
    assert bounds("20240101120000+0000", "DT", default_offset=60)[0] == "20240101120000000000"


@pytest.mark.parametrize(("text", "vr", "parts"), [
    ("20240101-20240131", "DA", ("20240101", "20240131")),
    ("-20240131", "DA", ("", "20240131")),
    ("20240101-", "DA", ("20240101", "")),
    ("0800 - 1200", "TM", ("0800", "1200")),
    ("20240101", "DA", None),
    ("20240101120000-0500", "DT", None),  # a negative offset, not a range (the range would run backwards)
    ("20240101120000-0500-20240102", "DT", ("20240101120000-0500", "20240102")),
    ("2024-2025", "DT", ("2024", "2025")),
    ("-20240101120000+0100", "DT", ("", "20240101120000+0100")),
])
def test_split_range(text: str, vr: str, parts: tuple[str, str] | None) -> None:
    assert split_range(text, vr) == parts


def test_combined_bounds() -> None:
    assert combined_bounds("20240101", "10") == ("20240101100000000000", "20240101105959999999")
    assert combined_bounds("20240101", "") == ("20240101000000000000", "20240101235959999999")
    assert combined_bounds("20240101", "0030", 60) == ("20231231233000000000", "20231231233059999999")


def test_offsets() -> None:
    assert parse_offset("+0530") == 330 and parse_offset("-1000") == -600
    for bad in ("0100", "+1500", "+0160", "UTC"):
        with pytest.raises(TemporalError):
            parse_offset(bad)
