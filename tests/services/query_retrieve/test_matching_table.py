"""The table of matching cases (matching_cases.py) against every source: memory and folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dicomkit import Dataset
from dicomkit.services.memory_source import FolderSource, MemorySource, MemoryWorklistSource
from dicomkit.services.query_retrieve.errors import QueryError
from dicomkit.services.query_retrieve.matching import response_identifier
from dicomkit.services.sources import LOCAL

from .matching_cases import CASES, Case, plan_for, record_datasets, result_names

# worklist items are not Part 10 files: the memory worklist source runs those cases
RUNS = [pytest.param(case, kind, id=f"{case.id}-{kind}") for case in CASES for kind in ("memory", "folder")
        if not (case.model == "worklist" and kind == "folder")]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for set_name in ("people", "images"):
        folder = tmp_path_factory.mktemp(set_name)
        for name, ds in record_datasets(set_name).items():
            ds.save(folder / f"{name}.dcm", transfer_syntax="1.2.840.10008.1.2.1")
        out[set_name] = folder
    return out


def _source(kind: str, case: Case, folders: dict[str, Path]) -> object:
    if case.model == "worklist":
        return MemoryWorklistSource(record_datasets(case.records).values())
    if kind == "memory":
        return MemorySource(record_datasets(case.records).values())
    return FolderSource(folders[case.records])


async def _collect(source: object, plan: object) -> list[Dataset]:
    return [m async for m in source.find(plan, LOCAL)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("case", "kind"), RUNS)
def test_case(case: Case, kind: str, folders: dict[str, Path]) -> None:
    if case.error is not None:
        with pytest.raises(QueryError) as info:
            plan_for(case)
        assert info.value.reason is case.error, str(info.value)
        return
    plan = plan_for(case)
    source = _source(kind, case, folders)
    assert source.unsupported_keys(plan) == frozenset()  # type: ignore[attr-defined]
    matches = asyncio.run(_collect(source, plan))
    assert result_names(case, matches) == set(case.expected), plan.describe()
    # the response Identifiers name the same entities
    responses = [response_identifier(plan, m) for m in matches]
    assert result_names(case, responses) == set(case.expected)


def test_every_case_names_its_section() -> None:
    assert all(c.section for c in CASES)
    assert len({c.id for c in CASES}) == len(CASES)
