"""Ctrl-C and SIGTERM stop a run cleanly: the statement cancelled, the migration rolled back
(or, when the signal lands after its commit, reported as committed), an event, exit 130/143."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from archon_plan.core.graph import build_graph
from archon_plan.core.model import NOBODY
from archon_plan.db import batch, connection, executor
from archon_plan.db.target import Target
from archon_plan.errors import ExitCode, Outcome, RunInterruptedError
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, table_exists, tracking_rows, write_project
from tests.test_executor import Recorder
from tests.test_reliability import ENV, cli, events, run

Conn = psycopg.Connection[tuple[object, ...]]
SLEEP = "SELECT pg_sleep(CASE WHEN to_regclass('public.go_slow') IS NULL THEN 0 ELSE 60 END);\n"


def project(tmp_path: Path, savepoints: bool) -> Path:
    slow = "CREATE TABLE half_done (id int);\n" + SLEEP
    if savepoints:
        slow = f"SAVEPOINT before_sleep;\n{slow}RELEASE SAVEPOINT before_sleep;\n"
    files = {"migrations/0.1.0/001_fast.sql": "CREATE TABLE fast (id int);\n",
             "migrations/0.1.0/002_slow.sql": slow,
             "migrations/0.1.0/003_after.sql": "CREATE TABLE after_it (id int);\n"}
    return write_project(tmp_path, files, "".join(
        entry("0.1.0", stem, rollback=False) for stem in ("001_fast", "002_slow", "003_after")))


def running_backend(db: Conn, fragment: str, timeout: float = 20) -> int:
    """The backend of this test's database running a query that contains fragment."""
    for _ in range(int(timeout / 0.05)):
        row = db.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                         "AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE %s",
                         (f"%{fragment}%",)).fetchone()
        if row:
            return int(str(row[0]))
        db.execute("SELECT pg_sleep(0.05)")
    raise AssertionError(f"no backend ran {fragment!r}")


@pytest.mark.parametrize("savepoints", [False, True], ids=["plain", "savepoints"])
@pytest.mark.parametrize(("sent", "code", "said"), [
    (signal.SIGINT, ExitCode.INTERRUPTED, "interrupted during apply of 0.1.0/002_slow"),
    (signal.SIGTERM, ExitCode.TERMINATED, "terminated (SIGTERM) during apply of 0.1.0/002_slow"),
], ids=["sigint", "sigterm"])
def test_a_signal_mid_migration_cancels_it_rolls_back_records_it_and_exits_with_its_code(
    tmp_path: Path, database_url: str, db: Conn, savepoints: bool, sent: signal.Signals, code: ExitCode,
    said: str,
) -> None:
    project(tmp_path, savepoints)
    db.execute("CREATE TABLE go_slow ()")
    runner = subprocess.Popen(cli(tmp_path, database_url, "apply"), cwd=tmp_path, env=ENV, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    backend = running_backend(db, "pg_sleep(CASE")
    runner.send_signal(sent)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == code, err
    assert f"{said}; it was rolled back" in err and "Traceback" not in err
    busy = db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'", (backend,))
    assert busy.fetchone() == (0,)
    assert [n for _, n in tracking_rows(db)] == ["001_fast.sql"]
    assert not table_exists(db, "half_done") and not table_exists(db, "after_it")
    assert events(db) == [("apply", "001_fast.sql"), ("interrupted", "002_slow.sql")]
    db.execute("DROP TABLE go_slow")
    assert run(tmp_path, database_url, "apply").returncode == 0
    assert table_exists(db, "after_it")


def test_an_interrupt_that_lands_after_the_commit_is_reported_as_committed(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server committed the message, then Ctrl-C arrived before the answer was read."""
    project(tmp_path, savepoints=False)
    real = batch.CountingCursor.execute

    def commit_then_interrupt(self: batch.CountingCursor, query: bytes) -> batch.CountingCursor:
        real(self, query)
        if b"002_slow" in query:
            raise KeyboardInterrupt
        return self

    monkeypatch.setattr(batch.CountingCursor, "execute", commit_then_interrupt)
    loaded = load_manifest(tmp_path / "migrations.toml")
    conn = connection.connect(Target(database_url, "test"))
    try:
        with pytest.raises(RunInterruptedError) as raised:
            executor.apply(conn, loaded.settings, build_graph(loaded.migrations), Recorder(), actor=NOBODY)
    finally:
        conn.close()
    assert raised.value.outcome is Outcome.COMMITTED
    assert "it had committed, with its tracking row" in str(raised.value)
    assert [n for _, n in tracking_rows(db)] == ["001_fast.sql", "002_slow.sql"]
    assert events(db) == [("apply", "001_fast.sql"), ("apply", "002_slow.sql")]
    assert not table_exists(db, "after_it")  # the run stopped there
