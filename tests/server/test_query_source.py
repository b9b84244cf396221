"""The shared table of matching cases against IndexQuerySource, on SQLite and on PostgreSQL: the same
answers as MemorySource (tests/services/query_retrieve/matching_cases.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomkit import Dataset
from dicomkit.server.config import load_config
from dicomkit.server.ingest import Archive
from dicomkit.server.sources import IndexQuerySource
from dicomkit.services.query_retrieve.errors import QueryError
from dicomkit.services.query_retrieve.matching import response_identifier
from dicomkit.services.sources import LOCAL

from ..services.query_retrieve.matching_cases import CASES, Case, plan_for, record_datasets, result_names
from .conftest import drop_database, new_database

QR_CASES = [c for c in CASES if c.model != "worklist"]
SETS = ("people", "images")


def _fill(archive: Archive, folder: Path, set_name: str) -> None:
    for name, ds in record_datasets(set_name).items():
        path = folder / f"{name}.dcm"
        ds.save(path, transfer_syntax="1.2.840.10008.1.2.1")
        stored = archive.ingest_file(path)
        assert stored.status == 0, stored


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def archives(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Archive]]:
    """One archive per record set, on SQLite or on PostgreSQL."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    made: dict[str, Archive] = {}
    urls = []
    try:
        for set_name in SETS:
            folder = tmp_path_factory.mktemp(f"{set_name}-{request.param}")
            url = new_database(server) if server is not None else ""
            urls.append(url)
            made[set_name] = Archive(load_config(None, {"storage.data_dir": str(folder / "data"),
                                                        "database.url": url}))
            _fill(made[set_name], folder, set_name)
        yield made
    finally:
        for a in made.values():
            a.close()
        if server is not None:
            for url in urls:
                drop_database(server, url)


async def _collect(source: IndexQuerySource, plan: object) -> list[Dataset]:
    return [m async for m in source.find(plan, LOCAL)]  # type: ignore[arg-type]


@pytest.mark.parametrize("case", QR_CASES, ids=[c.id for c in QR_CASES])
def test_case(case: Case, archives: dict[str, Archive]) -> None:
    if case.error is not None:
        with pytest.raises(QueryError):
            plan_for(case)
        return
    plan = plan_for(case)
    source = IndexQuerySource(archives[case.records].index)
    assert source.unsupported_keys(plan) == frozenset()
    matches = asyncio.run(_collect(source, plan))
    assert result_names(case, matches) == set(case.expected), plan.describe()
    responses = [response_identifier(plan, m) for m in matches]
    assert result_names(case, responses) == set(case.expected)
    assert source.count_sync(plan) == len(matches)
