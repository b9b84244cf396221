"""Comparing data sets element by element, for the JSON, XML and DICOMDIR tests."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import dicomkit
from dicomkit import Dataset, PersonName
from dicomkit.core.vr import VR
from tests.conftest import corpus_files, read_options


def _items(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _pn_parts(value: Any) -> list[list[tuple[str, ...]]]:
    # Trailing empty components and groups are not significant (PS3.5 6.2.1).
    return [[PersonName(str(v or "")).components(g) for g in range(3)] for v in _items(value)]


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or (rel_tol > 0 and math.isclose(a, b, rel_tol=rel_tol))


def differences(a: Dataset, b: Dataset, *, where: str = "", pn_components: bool = False, float_tolerance: float = 0.0,
                numeric_decimals: bool = False, skip: frozenset[int] = frozenset()) -> list[str]:
    """Every element of ``a`` and ``b`` whose presence, VR or value differs (group lengths ignored).

    - ``pn_components``: compare Person Names by their components (the XML model keeps components);
    - ``float_tolerance``: FL/FD (and OF/OD) may differ by that relative amount (DCMTK converts floating
      point numbers to and from text with errors of a few units in the last place, and drops digits past
      about the 16th decimal place);
    - ``numeric_decimals``: compare DS/IS by number, not text (DCMTK rewrites DS text for JSON).
    """
    problems: list[str] = []
    tags_a = [t for t in a.tags() if t & 0xFFFF and t not in skip]
    tags_b = [t for t in b.tags() if t & 0xFFFF and t not in skip]
    if tags_a != tags_b:
        return [f"{where}tags differ: {sorted(f'{t:08X}' for t in set(tags_a) ^ set(tags_b))}"]
    for tag in tags_a:
        x, y = a[tag], b[tag]
        here = f"{where}{x.tag}"
        if x.vr is VR.SQ or y.vr is VR.SQ:
            if x.vr != y.vr or len(x.value) != len(y.value):
                problems.append(f"{here}: sequences differ")
                continue
            for i, (p, q) in enumerate(zip(x.value, y.value)):
                problems += differences(p, q, where=f"{here}[{i}].", pn_components=pn_components,
                                        float_tolerance=float_tolerance, numeric_decimals=numeric_decimals)
            continue
        if x.vr != y.vr:
            problems.append(f"{here}: VR {x.vr} != {y.vr}")
            continue
        vr = x.vr.value
        if vr == "PN" and pn_components:
            same = _pn_parts(x.value) == _pn_parts(y.value)
        elif vr in ("OF", "OD") and float_tolerance and x.value != y.value:
            fmt, size = ("f", 4) if vr == "OF" else ("d", 8)
            xs = struct.unpack(f"<{len(x.value) // size}{fmt}", x.value)
            ys = struct.unpack(f"<{len(y.value) // size}{fmt}", y.value) if len(y.value) == len(x.value) else ()
            same = len(xs) == len(ys) and all(_close(p, q, float_tolerance) for p, q in zip(xs, ys))
        elif vr in ("FL", "FD") or (vr in ("DS", "IS") and numeric_decimals):
            xs, ys = _items(x.value), _items(y.value)
            same = len(xs) == len(ys) and all(_close(p, q, float_tolerance) for p, q in zip(xs, ys))
        else:
            same = x.value == y.value
        if not same:
            problems.append(f"{here} {vr}: {str(x.value)[:60]!r} != {str(y.value)[:60]!r}")
    return problems


def read_corpus(path: Path) -> Dataset:
    return dicomkit.read(path, **read_options(path))


def corpus_by_transfer_syntax() -> tuple[list[Path], list[Path]]:
    """(native, encapsulated) corpus files, by the transfer syntax they are read with."""
    native, encapsulated = [], []
    for path in corpus_files():
        ds = dicomkit.read(path, stop_before_pixels=True, **read_options(path))
        ts = ds.transfer_syntax or ds.read_transfer_syntax
        (encapsulated if ts.is_encapsulated else native).append(path)
    return native, encapsulated
