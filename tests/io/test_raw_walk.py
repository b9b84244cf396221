"""check_lengths steps over plain elements inline (io.raw._skip_plain) and walks the others in general: the
inline stepping must change no outcome. Every corpus file and every deviation case, whole, cut short at many
points and with bytes overwritten, gives the same result (passes, or the same error at the same offset) with
and without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomkit.core.errors import InvalidFileError
from dicomkit.io import raw
from dicomkit.io.raw import EXPLICIT_LITTLE, IMPLICIT_LITTLE, Layout, check_lengths, meta_end, probe_part10
from tests.conftest import corpus_files
from tests.io.deviations import CASES, IMPLICIT_LE

BIG_LITTLE = Layout(little=False, implicit=False)


def _outcome(data: bytes, start: int, layout: Layout) -> tuple[str, int | None, str] | None:
    try:
        check_lengths(data, start, len(data), layout)
    except InvalidFileError as exc:
        return type(exc).__name__, exc.offset, exc.detail
    return None


def _general(monkeypatch: pytest.MonkeyPatch, data: bytes, start: int,
             layout: Layout) -> tuple[str, int | None, str] | None:
    with monkeypatch.context() as m:
        m.setattr(raw, "_skip_plain", lambda buf, pos, end, layout: pos)
        return _outcome(data, start, layout)


def _variants(data: bytes, start: int) -> list[bytes]:
    """The data whole, cut at ~40 points (element boundaries and mid-value), and with 8 bytes overwritten at
    ~20 points (lengths, VRs and tags turned into garbage)."""
    n = len(data)
    cuts = sorted({start + (n - start) * k // 40 for k in range(40)} | {start + k for k in range(0, 64, 3)})
    out = [data] + [data[:c] for c in cuts if start <= c < n]
    for k in range(20):
        at = start + (n - start) * k // 20
        for junk in (b"\xff" * 8, b"\x00" * 8, b"SQ\x00\x00\xff\xff\xff\xff"):
            out.append(data[:at] + junk + data[at + 8:])
    return out


def _files() -> list[object]:
    """The corpus's plain Part 10 files (those the probe takes; raw data sets and deflated ones go to the full
    reader and are not walked by check_lengths)."""
    files = []
    for f in corpus_files():
        if f.stat().st_size >= 4 << 20:
            continue
        with open(f, "rb") as stream:
            probe = probe_part10(stream.read(1 << 16))
        if probe is not None and Layout.of(probe.transfer_syntax) is not None:
            files.append(pytest.param(f, id=f.name))
    return files or [pytest.param(None, marks=pytest.mark.skip(reason="corpus not found"))]


@pytest.mark.parametrize("path", _files())
def test_inline_stepping_changes_no_outcome_on_corpus_files(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    probe = probe_part10(data[:1 << 16])
    assert probe is not None
    layout = Layout.of(probe.transfer_syntax)
    assert layout is not None
    checked = 0
    for variant in _variants(data, probe.data_offset):
        assert _outcome(variant, probe.data_offset, layout) == _general(monkeypatch, variant, probe.data_offset,
                                                                        layout)
        checked += 1
    assert checked > 60


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_inline_stepping_changes_no_outcome_on_deviations(case: object, monkeypatch: pytest.MonkeyPatch) -> None:
    data = case.build()  # type: ignore[attr-defined]
    start = meta_end(data)
    layout = IMPLICIT_LITTLE if IMPLICIT_LE.encode() + b"\0" in data[:300] else EXPLICIT_LITTLE
    for variant in _variants(data, start):
        for each in (layout, BIG_LITTLE):
            assert _outcome(variant, start, each) == _general(monkeypatch, variant, start, each)


def test_a_truncated_pixel_data_is_found_by_the_inline_steps() -> None:
    """The common case the SCU relies on: a file cut inside its Pixel Data fails, naming the element."""
    path = next((f for f in corpus_files() if f.name == "MR2_UNCR.dcm"), None)
    if path is None:
        pytest.skip("corpus not found")
    data = path.read_bytes()
    probe = probe_part10(data)
    assert probe is not None
    with pytest.raises(InvalidFileError, match=r"\(7FE0,0010\) declares \d+ bytes but only \d+ remain"):
        check_lengths(data[:len(data) // 2], probe.data_offset, len(data) // 2, EXPLICIT_LITTLE)
