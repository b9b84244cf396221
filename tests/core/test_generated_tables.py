"""The shipped dictionary and UID registry are exactly what tools/generate_standard.py makes from PS3.6."""

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


def test_dictionary_size_is_plausible():
    from dicomkit.core._dictionary_data import ELEMENTS, REPEATING
    from dicomkit.core._uid_data import UIDS

    assert len(ELEMENTS) > 5000 and len(REPEATING) > 50 and len(UIDS) > 400
