"""Fixtures of the archive tests: every index test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``DICOMKIT_TEST_POSTGRES`` (what .ci/run exports) or from a throw-away cluster this
session starts when the binaries are installed (tests/server/postgres.py); the PostgreSQL runs are skipped,
saying why, only when neither can be had. Each test gets a database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomkit.server.config import Config, load_config

from .postgres import ENV, start_cluster, stop_cluster

_cluster: dict[str, object] = {}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server (its default database)."""
    url = os.environ.get(ENV)
    if url:
        yield url
        return
    try:
        url, folder = start_cluster()
    except (RuntimeError, OSError, ImportError) as exc:
        pytest.skip(f"no PostgreSQL server: {exc} (set {ENV} or install Debian's postgresql)")
    try:
        yield url
    finally:
        stop_cluster(folder)


def new_database(server_url: str) -> str:
    import psycopg

    name = f"dk_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base = server_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(server_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL: SQLite in the test's folder (""), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres_server")
    url = new_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture
def config(tmp_path: Path, database: str) -> Config:
    return load_config(None, {"storage.data_dir": str(tmp_path / "data"), "database.url": database,
                              "dicom.host": "127.0.0.1", "dicom.port": 0, "http.host": "127.0.0.1",
                              "http.port": 0})
