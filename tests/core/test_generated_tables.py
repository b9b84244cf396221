"""The shipped dictionaries and UID registry are exactly what tools/generate_standard.py makes from PS3.6 and
the vendors' private element table."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT, SHARED

STANDARD = SHARED / "standard"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_standard", ROOT / "tools" / "generate_standard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (STANDARD / "elements.tsv").exists(), reason=f"{STANDARD} not found")
def test_shipped_tables_are_current():
    gen = _generator()
    core = ROOT / "dicomkit" / "core"
    assert (core / "_dictionary_data.py").read_text(encoding="utf-8") == gen.generate_dictionary(STANDARD)
    assert (core / "_uid_data.py").read_text(encoding="utf-8") == gen.generate_uids(STANDARD)
    assert (core / "_private_dictionary_data.py").read_text(encoding="utf-8") == \
        gen.generate_private_dictionary(STANDARD)


def test_dictionary_size_is_plausible():
    from dicomkit.core._dictionary_data import ELEMENTS, REPEATING
    from dicomkit.core._uid_data import UIDS

    assert len(ELEMENTS) > 5000 and len(REPEATING) > 50 and len(UIDS) > 400


def test_private_dictionary_holds_every_row_of_the_table():
    from dicomkit.core._private_dictionary_data import PRIVATE, PRIVATE_RANGES

    # 2,836 rows, three of which repeat another row exactly
    count = sum(len(t) for t in PRIVATE.values()) + sum(len(t) for r in PRIVATE_RANGES.values() for *_, t in r)
    assert count == 2833
