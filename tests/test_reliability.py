"""Concurrency, crashes, interrupts, lock timeouts and the event history, on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from archon_plan.core import planning
from archon_plan.core.graph import build_graph
from archon_plan.core.model import Actor, Manifest
from archon_plan.db import connection, executor, lock, state, tracker
from archon_plan.db.run import Run
from archon_plan.db.target import Target
from archon_plan.errors import ExitCode, MigrationFailedError, RefusedError
from archon_plan.project.loader import load_manifest
from tests.helpers import FakeClock, entry, run_in_process, table_exists, tracking_rows, write_project
from tests.test_executor import Recorder

Conn = psycopg.Connection[tuple[object, ...]]
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL")
}


def arguments(tmp_path: Path, database_url: str, *args: str) -> list[str]:
    return ["--manifest", str(tmp_path / "migrations.toml"), "--database-url", database_url, *args]


def cli(tmp_path: Path, database_url: str, *args: str) -> list[str]:
    """The command line of a real process, for the tests that race, kill or interrupt one."""
    return [sys.executable, "-m", "archon_plan", *arguments(tmp_path, database_url, *args)]


def run(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command through cli.main in this process."""
    return run_in_process(arguments(tmp_path, database_url, *args), tmp_path, ENV)


def many_migrations(tmp_path: Path, count: int) -> Path:
    files, manifest = {}, ""
    for n in range(1, count + 1):
        stem = f"{n:03d}_table_{n}"
        files[f"migrations/0.1.0/{stem}.sql"] = f"CREATE TABLE t{n} (id int);\nSELECT pg_sleep(0.02);\n"
        files[f"migrations/0.1.0/rollbacks/{stem}.sql"] = f"DROP TABLE t{n};\n"
        manifest += entry("0.1.0", stem)
    return write_project(tmp_path, files, manifest)


def wait_for_query(db: Conn, fragment: str, timeout: float = 20) -> int:
    """The pid of the backend running a query that contains fragment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE query LIKE %s AND state = 'active' AND pid <> pg_backend_pid()"
            " AND datname = current_database()",
            (f"%{fragment}%",),
        ).fetchone()
        if row:
            return int(str(row[0]))
        time.sleep(0.05)
    raise AssertionError(f"no backend ran {fragment!r} within {timeout}s")


def events(db: Conn) -> list[tuple[str, str | None]]:
    return [
        (str(e), None if n is None else str(n))
        for e, n in db.execute("SELECT event, migration_name FROM archon_migrations_events ORDER BY id")
    ]


def test_eight_concurrent_runners_apply_each_migration_exactly_once(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    many_migrations(tmp_path, 10)
    runners = [
        subprocess.Popen(
            cli(tmp_path, database_url, "apply"),
            cwd=tmp_path,
            env=ENV,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(8)
    ]
    results = [(r.wait(timeout=120), *r.communicate()) for r in runners]
    assert [code for code, _, _ in results] == [0] * 8, results
    outputs = [out for _, out, _ in results]
    assert sum("10 migration(s) applied." in out for out in outputs) == 1
    assert sum("Nothing to apply: all 10 migration(s) are up to date." in out for out in outputs) == 7
    assert len(tracking_rows(db)) == 10
    assert [e for e, _ in events(db)] == ["apply"] * 10


def test_lock_timeout_names_the_holder_and_exits_7(
    tmp_path: Path, database_url: str, db: Conn, fake_clock: FakeClock
) -> None:
    many_migrations(tmp_path, 1)
    settings = load_manifest(tmp_path / "migrations.toml").settings
    db.execute("SET application_name = 'the-other-deploy'")
    db.execute("SELECT pg_advisory_lock(%s)", (lock.lock_key(settings),))
    result = run(tmp_path, database_url, "--lock-wait", "1", "apply")
    assert result.returncode == ExitCode.LOCK_TIMEOUT, result.stderr
    assert "the-other-deploy" in result.stderr and "pid " in result.stderr and "since" in result.stderr
    assert "waiting for the migration lock" in result.stderr
    assert not table_exists(db, "t1")
    assert sum(fake_clock.slept) >= 1  # waited the second out on the fake clock


def slow_project(tmp_path: Path) -> Path:
    files = {
        "migrations/0.1.0/001_fast.sql": "CREATE TABLE fast (id int);\n",
        "migrations/0.1.0/002_slow.sql": (
            "CREATE TABLE half_done (id int);\n"
            "SELECT pg_sleep(CASE WHEN to_regclass('public.go_slow') IS NULL THEN 0 ELSE 60 END);\n"
        ),
    }
    return write_project(
        tmp_path,
        files,
        entry("0.1.0", "001_fast", rollback=False) + entry("0.1.0", "002_slow", rollback=False),
    )


def test_sigkill_mid_migration_leaves_nothing_and_the_next_apply_finishes_in_seconds(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    slow_project(tmp_path)
    db.execute("CREATE TABLE go_slow ()")
    runner = subprocess.Popen(
        cli(tmp_path, database_url, "apply"),
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_query(db, "pg_sleep(CASE")
    runner.kill()
    runner.wait(timeout=10)
    db.execute("DROP TABLE go_slow")
    assert not table_exists(db, "half_done")  # never committed
    started = time.monotonic()
    result = run(tmp_path, database_url, "apply")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    if db.info.server_version >= 140000:  # client_connection_check_interval frees the lock
        assert took < 15, f"the next apply waited {took:.1f}s for the dead runner"
    assert [n for _, n in tracking_rows(db)] == ["001_fast.sql", "002_slow.sql"]


def test_ctrl_c_cancels_the_statement_rolls_back_and_exits_130(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    slow_project(tmp_path)
    db.execute("CREATE TABLE go_slow ()")
    runner = subprocess.Popen(
        cli(tmp_path, database_url, "apply"),
        cwd=tmp_path,
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    backend = wait_for_query(db, "pg_sleep(CASE")
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=20)
    assert runner.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted during apply of 0.1.0/002_slow; it was rolled back" in err and "Traceback" not in err
    busy = db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'", (backend,))
    assert busy.fetchone() == (0,)
    assert [n for _, n in tracking_rows(db)] == ["001_fast.sql"]
    assert not table_exists(db, "half_done")
    assert events(db) == [("apply", "001_fast.sql"), ("interrupted", "002_slow.sql")]
    db.execute("DROP TABLE go_slow")
    assert run(tmp_path, database_url, "apply").returncode == 0


def test_history_keeps_apply_revert_and_failure_events(tmp_path: Path, database_url: str, db: Conn) -> None:
    files = {
        "migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n",
        "migrations/0.1.0/rollbacks/001_a.sql": "DROP TABLE a;\n",
        "migrations/0.1.0/002_b.sql": "CREATE TABLE b (id int);\nSELECT 1/0;\n",
    }
    write_project(tmp_path, files, entry("0.1.0", "001_a") + entry("0.1.0", "002_b", rollback=False))
    assert run(tmp_path, database_url, "apply").returncode == ExitCode.MIGRATION_FAILED
    assert run(tmp_path, database_url, "revert", "001_a").returncode == 0
    assert tracking_rows(db) == []
    result = run(tmp_path, database_url, "history", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    kinds = [(e["event"], e["migration_name"]) for e in document["events"]]
    assert kinds == [("apply", "001_a.sql"), ("apply-failed", "002_b.sql"), ("revert", "001_a.sql")]
    failed = document["events"][1]
    assert "22012" in failed["error"] and failed["db_user"] and failed["tool_version"]
    assert failed["os_user"] and failed["host"] and failed["duration_ms"] >= 0
    applied = document["events"][0]
    assert applied["checksum"] == load_manifest(tmp_path / "migrations.toml").migrations[0].checksum
    text = run(tmp_path, database_url, "history").stdout
    assert "apply-failed" in text and "0.1.0/002_b.sql" in text


def test_repair_accept_checksum_then_apply_goes_on(tmp_path: Path, database_url: str, db: Conn) -> None:
    path = many_migrations(tmp_path, 2)
    assert run(tmp_path, database_url, "apply").returncode == 0
    sql_file = tmp_path / "migrations/0.1.0/001_table_1.sql"
    sql_file.write_text(sql_file.read_text() + "-- reviewed: comment only\n")
    assert run(tmp_path, database_url, "apply").returncode == ExitCode.REFUSED
    refused = run(tmp_path, database_url, "repair", "--accept-checksum", "001_table_1")
    assert refused.returncode == ExitCode.REFUSED and "--yes" in refused.stderr
    accepted = run(tmp_path, database_url, "repair", "--accept-checksum", "001_table_1", "--yes")
    assert accepted.returncode == 0, accepted.stderr
    assert run(tmp_path, database_url, "status", "--check").returncode == 0
    new = load_manifest(path).migrations[0].checksum
    row = db.execute("SELECT checksum FROM archon_migrations WHERE migration_name = '001_table_1.sql'")
    assert row.fetchone() == (new,)
    detail = db.execute(
        "SELECT detail, os_user FROM archon_migrations_events WHERE event = 'accept-checksum'"
    )
    found = detail.fetchone()
    assert found is not None and found[0]["file_checksum"] == new and found[1]


def test_repair_mark_applied_and_mark_reverted_run_no_sql(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    many_migrations(tmp_path, 2)
    assert run(tmp_path, database_url, "repair", "--mark-applied", "001_table_1", "--yes").returncode == 0
    assert not table_exists(db, "t1")  # baselined, not run
    assert run(tmp_path, database_url, "apply").returncode == 0
    assert not table_exists(db, "t1") and table_exists(db, "t2")
    assert run(tmp_path, database_url, "repair", "--mark-reverted", "002_table_2", "--yes").returncode == 0
    assert table_exists(db, "t2") and [n for _, n in tracking_rows(db)] == ["001_table_1.sql"]
    again = run(tmp_path, database_url, "repair", "--mark-reverted", "002_table_2", "--yes")
    assert again.returncode == ExitCode.INVALID and "is pending" in again.stderr
    assert [e for e, _ in events(db)] == ["mark-applied", "apply", "mark-reverted"]


def lock_blocked_project(tmp_path: Path, retries: int) -> Manifest:
    files = {"migrations/0.1.0/001_alter.sql": "ALTER TABLE busy ADD COLUMN note text;\n"}
    manifest = f'[settings]\nlock_timeout = "100ms"\nlock_retries = {retries}\n\n'
    return load_manifest(
        write_project(tmp_path, files, manifest + entry("0.1.0", "001_alter", rollback=False))
    )


def apply_in_process(database_url: str, loaded: Manifest) -> Recorder:
    recorder = Recorder()
    graph = build_graph(loaded.migrations)
    with connection.connect(Target(url=database_url, source="test")) as conn:
        executor.apply(conn, loaded.settings, graph, recorder, actor=Actor("tester", "here", "x"))
    return recorder


def test_lock_not_available_is_retried_then_fails_with_every_try_logged(
    tmp_path: Path, database_url: str, db: Conn, fake_clock: FakeClock
) -> None:
    db.execute("CREATE TABLE busy (id int)")
    loaded = lock_blocked_project(tmp_path, retries=2)
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE busy IN ACCESS SHARE MODE")  # held until the block ends
        with pytest.raises(MigrationFailedError, match="55P03"):
            apply_in_process(database_url, loaded)
    assert [e for e, _ in events(db)] == ["retry", "retry", "apply-failed"]
    assert tracking_rows(db) == []
    # Before retry n: 0.5 * 2**n seconds, times a jitter of 0.5 to 1.5.
    jitters = [delay / (0.5 * 2**n) for n, delay in enumerate(fake_clock.slept, 1)]
    assert len(jitters) == 2 and all(0.5 <= j <= 1.5 for j in jitters), fake_clock.slept


def test_lock_not_available_succeeds_once_the_lock_is_released(
    tmp_path: Path, database_url: str, db: Conn, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute("CREATE TABLE busy (id int)")
    loaded = lock_blocked_project(tmp_path, retries=5)
    holder = psycopg.connect(database_url)
    holder.execute("LOCK TABLE busy IN ACCESS SHARE MODE")

    def back_off(seconds: float) -> None:  # the other session finishes its work meanwhile
        fake_clock.sleep(seconds)
        holder.close()

    monkeypatch.setattr(executor, "sleep", back_off)
    recorder = apply_in_process(database_url, loaded)
    assert recorder.finished == ["0.1.0/001_alter"]
    assert any("lock not available; retry 1" in n for n in recorder.notices)
    assert [e for e, _ in events(db)][-1] == "apply" and "retry" in [e for e, _ in events(db)]


def test_statement_timeout_from_the_command_line_applies_to_each_migration(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {"migrations/0.1.0/001_sleep.sql": "SELECT pg_sleep(2);\n"}
    write_project(tmp_path, files, entry("0.1.0", "001_sleep", rollback=False))
    result = run(tmp_path, database_url, "apply", "--statement-timeout", "200ms")
    assert result.returncode == ExitCode.MIGRATION_FAILED and "57014" in result.stderr
    assert tracking_rows(db) == []
    bad = run(tmp_path, database_url, "apply", "--statement-timeout", "soon")
    assert bad.returncode == ExitCode.INVALID and "is not a duration" in bad.stderr


def test_a_changed_backend_between_transactions_stops_the_run(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    loaded = load_manifest(many_migrations(tmp_path, 1))
    settings = replace(loaded.settings)
    with connection.connect(Target(url=database_url, source="test")) as conn:
        tracker.ensure_table(conn, settings)
        prepared = executor.prepare(
            planning.forwards_plan(
                build_graph(loaded.migrations),
                state.read_state(conn, settings, build_graph(loaded.migrations)),
            )
        )
        # What a transaction pooler does: the next transaction lands on another backend.
        run_ = Run(conn, settings, Recorder(), Actor(), backend_pid=conn.info.backend_pid + 1)
        with pytest.raises(RefusedError, match="transaction-mode pooler"):
            executor.run_prepared(run_, prepared)
    assert not table_exists(db, "t1") and tracking_rows(db) == []


def concurrent_index_project(tmp_path: Path, transactional: bool = False) -> Path:
    files = {
        "migrations/0.1.0/001_items.sql": "CREATE TABLE items (id int, code text);\n"
        "INSERT INTO items VALUES (1, 'a'), (2, 'a');\n",
        "migrations/0.1.0/002_indexes.sql": "CREATE INDEX CONCURRENTLY items_id ON items (id);\n"
        "CREATE UNIQUE INDEX CONCURRENTLY items_code ON items (code);\n"
        "CREATE INDEX CONCURRENTLY items_both ON items (id, code);\n",
    }
    manifest = entry("0.1.0", "001_items", rollback=False) + entry("0.1.0", "002_indexes", rollback=False)
    if not transactional:
        manifest += "transactional = false\n"
    return write_project(tmp_path, files, manifest)


def indexes(db: Conn) -> dict[str, bool]:
    rows = db.execute(
        "SELECT indexrelid::regclass::text, indisvalid FROM pg_index WHERE indrelid = 'items'::regclass"
    )
    return {str(name): bool(valid) for name, valid in rows}


def test_check_says_to_add_transactional_false_for_create_index_concurrently(tmp_path: Path) -> None:
    concurrent_index_project(tmp_path, transactional=True)
    result = run_in_process(["--manifest", str(tmp_path / "migrations.toml"), "check"], tmp_path, ENV)
    assert result.returncode == ExitCode.INVALID
    # The first error on stderr, every one (AP502) in the report on stdout.
    assert "002_indexes.sql:1:1: migration 0.1.0/002_indexes: CREATE INDEX CONCURRENTLY" in result.stderr
    assert "add `transactional = false` to its [[migration]] entry" in result.stderr
    assert "002_indexes.sql:2:1: error AP502 [migration 0.1.0/002_indexes]" in result.stdout


def test_non_transactional_failure_is_recorded_blocks_apply_and_retry_resumes(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    concurrent_index_project(tmp_path)
    failed = run(tmp_path, database_url, "apply")
    assert failed.returncode == ExitCode.MIGRATION_FAILED
    assert "002_indexes.sql:2:1" in failed.stderr and "23505" in failed.stderr
    assert "statements 1..1 of 3 stay committed" in failed.stderr
    assert "repair --retry 0.1.0/002_indexes" in failed.stderr
    assert indexes(db) == {"items_id": True, "items_code": False}  # the INVALID leftover
    assert [n for _, n in tracking_rows(db)] == ["001_items.sql"]

    status = json.loads(run(tmp_path, database_url, "status", "--format", "json").stdout)
    second = status["migrations"][1]
    assert second["state"] == "failed" and second["failed"]["statements_done"] == 1
    assert run(tmp_path, database_url, "status", "--check").returncode == ExitCode.NOT_UP_TO_DATE
    blocked = run(tmp_path, database_url, "apply")
    assert blocked.returncode == ExitCode.REFUSED and "stopped part-way" in blocked.stderr

    db.execute("UPDATE items SET code = 'b' WHERE id = 2")
    retried = run(tmp_path, database_url, "repair", "0.1.0/002_indexes", "--retry")
    assert retried.returncode == 0, retried.stderr
    assert "dropped the INVALID index items_code" in retried.stderr
    assert indexes(db) == {"items_id": True, "items_code": True, "items_both": True}
    assert [n for _, n in tracking_rows(db)] == ["001_items.sql", "002_indexes.sql"]
    assert [e for e, _ in events(db)] == [
        "apply",
        "statement-started",  # committed before each statement is sent (the resume protocol)
        "statement",
        "statement-started",
        "apply-failed",
        "retry",
        "statement-started",
        "statement",
        "statement-started",
        "statement",
        "apply",
    ]
    assert run(tmp_path, database_url, "status", "--check").returncode == 0


def test_retry_refuses_when_statements_that_ran_were_edited(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    concurrent_index_project(tmp_path)
    assert run(tmp_path, database_url, "apply").returncode == ExitCode.MIGRATION_FAILED
    path = tmp_path / "migrations/0.1.0/002_indexes.sql"
    path.write_text(path.read_text().replace("items_id ON items (id)", "items_id2 ON items (id)"))
    refused = run(tmp_path, database_url, "repair", "--retry", "002_indexes")
    assert refused.returncode == ExitCode.REFUSED and "were edited since" in refused.stderr
    assert [n for _, n in tracking_rows(db)] == ["001_items.sql"]
