"""A connection lost while a migration's message is out: a new connection settles the outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from archon_plan.core.graph import build_graph
from archon_plan.core.model import NOBODY
from archon_plan.db import batch, connection, executor
from archon_plan.db.target import Target
from archon_plan.errors import ConnectionLostError, DatabaseError, ExitCode, Outcome
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, table_exists, tracking_rows, write_project
from tests.test_executor import Recorder
from tests.test_reliability import events

Conn = psycopg.Connection[tuple[object, ...]]


def project(tmp_path: Path) -> Path:
    files = {f"migrations/0.1.0/{stem}.sql": f"CREATE TABLE {stem[4:]} (id int);\n"
             for stem in ("001_first", "002_second", "003_third")}
    return write_project(tmp_path, files, "".join(
        entry("0.1.0", stem, rollback=False) for stem in ("001_first", "002_second", "003_third")))


def lose_connection(monkeypatch: pytest.MonkeyPatch, after_commit: bool) -> None:
    """The connection breaks around the message of 002_second: after the server ran it, or
    before it was sent."""
    real = batch.CountingCursor.execute

    def execute(self: batch.CountingCursor, query: bytes) -> batch.CountingCursor:
        if b"002_second" not in query:
            return real(self, query)
        if after_commit:
            real(self, query)
        self.connection.pgconn.finish()  # the socket is gone, as when a link drops
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(batch.CountingCursor, "execute", execute)
    monkeypatch.setattr(executor, "sleep", lambda seconds: None)


def apply(tmp_path: Path, database_url: str, reconnect: Callable[[], Conn] | None) -> ConnectionLostError:
    loaded = load_manifest(tmp_path / "migrations.toml")
    conn = connection.connect(Target(database_url, "test"))
    try:
        with pytest.raises(ConnectionLostError) as raised:
            executor.apply(conn, loaded.settings, build_graph(loaded.migrations), Recorder(), actor=NOBODY,
                           reconnect=reconnect)
    finally:
        conn.close()
    assert raised.value.exit_code == ExitCode.UNREACHABLE
    return raised.value


def test_a_connection_lost_after_the_commit_is_reported_as_committed(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    lose_connection(monkeypatch, after_commit=True)
    error = apply(tmp_path, database_url, lambda: connection.connect(Target(database_url, "t")))
    assert error.outcome is Outcome.COMMITTED and "its tracking row shows that it committed" in str(error)
    assert [n for _, n in tracking_rows(db)] == ["001_first.sql", "002_second.sql"]
    assert events(db) == [("apply", "001_first.sql"), ("apply", "002_second.sql")]
    assert not table_exists(db, "third")  # the run stopped


def test_a_connection_lost_before_the_commit_is_reported_as_not_committed_with_its_event(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    lose_connection(monkeypatch, after_commit=False)
    error = apply(tmp_path, database_url, lambda: connection.connect(Target(database_url, "t")))
    assert error.outcome is Outcome.ROLLED_BACK and "did not commit" in str(error)
    assert [n for _, n in tracking_rows(db)] == ["001_first.sql"]
    assert not table_exists(db, "second")
    assert events(db) == [("apply", "001_first.sql"), ("apply-failed", "002_second.sql")]


def test_when_the_database_cannot_be_reached_again_the_outcome_is_unknown_and_says_what_to_check(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    lose_connection(monkeypatch, after_commit=True)
    attempts: list[int] = []

    def unreachable() -> Conn:
        attempts.append(1)
        raise DatabaseError("cannot connect to postgresql://127.0.0.1:1/x")

    error = apply(tmp_path, database_url, unreachable)
    assert error.outcome is Outcome.UNKNOWN and "whether it committed is unknown" in str(error)
    assert "archon-plan status" in (error.hint or "") and len(attempts) == 3


def test_every_connection_probes_a_silent_link_with_keepalives_and_a_user_timeout(database_url: str) -> None:
    conn = connection.connect(Target(database_url, "test"))
    try:
        found = {k: v for k, v in conn.info.get_parameters().items() if k.startswith(("keepalives", "tcp_"))}
    finally:
        conn.close()
    assert found == {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
                     "keepalives_count": "3", "tcp_user_timeout": "30000"}
