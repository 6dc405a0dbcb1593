"""A non-transactional migration cut short at any moment is `failed`, never `pending`, and
`repair --retry` finishes it: after what committed, settling an in-doubt CREATE INDEX from the
catalog, and asking the operator about any other statement in doubt."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from archon_plan.core.model import EventKind
from archon_plan.db import autocommit
from archon_plan.errors import ExitCode
from tests.helpers import entry, tracking_rows, write_project
from tests.test_reliability import ENV, cli, run

Conn = psycopg.Connection[tuple[object, ...]]


class Died(BaseException):
    """The runner's process ending where it stands (no except clause of ours catches it)."""


def project(tmp_path: Path, first: str, second: str) -> Path:
    files = {"migrations/0.1.0/001_setup.sql": first, "migrations/0.1.0/002_work.sql": second}
    return write_project(tmp_path, files, entry("0.1.0", "001_setup", rollback=False)
                         + entry("0.1.0", "002_work", rollback=False) + "transactional = false\n")


def die_after_statement(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """The runner dies after statement `number` committed, before its `statement` event."""
    real = autocommit._progress

    def progress(run: object, item: autocommit.Prepared, kind: EventKind, done: list[str],
                 seconds: float, about_to_run: str | None = None) -> None:
        if kind is EventKind.STATEMENT and len(done) == number:
            raise Died
        real(run, item, kind, done, seconds, about_to_run)  # type: ignore[arg-type]

    monkeypatch.setattr(autocommit, "_progress", progress)


def apply_and_die(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(Died):
        run(tmp_path, database_url, "apply")


def second_status(tmp_path: Path, database_url: str) -> dict[str, object]:
    status = json.loads(run(tmp_path, database_url, "status", "--format", "json").stdout)
    return dict(status["migrations"][1])


def test_an_index_in_doubt_that_was_built_is_settled_as_done(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, 'CREATE TABLE "Items" (id int);\nINSERT INTO "Items" VALUES (1), (2);\n',
            'SELECT 1;\nCREATE INDEX CONCURRENTLY "Items_Id" ON "Items" (id);\n')
    die_after_statement(monkeypatch, 2)
    apply_and_die(tmp_path, database_url)
    monkeypatch.undo()
    second = second_status(tmp_path, database_url)
    assert second["state"] == "failed", second  # not `pending`: statement 2 may have run
    assert run(tmp_path, database_url, "apply").returncode == ExitCode.REFUSED
    retried = run(tmp_path, database_url, "repair", "--retry", "002_work")
    assert retried.returncode == 0, retried.stderr
    assert "the index Items_Id is valid" in retried.stderr and "from statement 3" in retried.stdout
    assert [n for _, n in tracking_rows(db)] == ["001_setup.sql", "002_work.sql"]
    assert run(tmp_path, database_url, "status", "--check").returncode == 0


@pytest.mark.parametrize(("choice", "balance"), [("--resume-after", 200), ("--resume-at", 300)])
def test_any_other_statement_in_doubt_is_not_guessed_and_the_operators_choice_is_recorded(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch, choice: str,
    balance: int,
) -> None:
    project(tmp_path, "CREATE TABLE accounts (balance int);\nINSERT INTO accounts VALUES (100);\n",
            "SELECT 1;\nUPDATE accounts SET balance = balance + 100;\n")
    die_after_statement(monkeypatch, 2)
    apply_and_die(tmp_path, database_url)
    monkeypatch.undo()
    refused = run(tmp_path, database_url, "repair", "--retry", "002_work")
    assert refused.returncode == ExitCode.REFUSED
    assert "whether it committed is unknown" in refused.stderr
    assert "--resume-at 2" in refused.stderr and "--resume-after 2" in refused.stderr
    assert run(tmp_path, database_url, "repair", "--retry", "002_work", choice, "3").returncode == 4
    assert run(tmp_path, database_url, "repair", "--retry", "002_work", choice, "2").returncode == 0
    assert db.execute("SELECT balance FROM accounts").fetchone() == (balance,)
    detail = db.execute("SELECT detail FROM archon_migrations_events WHERE event = 'retry'").fetchone()
    assert detail and dict(detail[0])["chosen"] == f"{choice[2:]} 2"  # type: ignore[call-overload]


def test_every_statement_committed_but_the_row_only_the_row_is_written(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, "CREATE TABLE counter (n int);\nINSERT INTO counter VALUES (0);\n",
            "UPDATE counter SET n = n + 1;\nUPDATE counter SET n = n + 10;\n")
    real_progress = autocommit._progress

    def progress(run_: object, item: autocommit.Prepared, kind: EventKind, done: list[str],
                 seconds: float, about_to_run: str | None = None) -> None:
        """Dies once the last statement's event is written, before the tracking row."""
        real_progress(run_, item, kind, done, seconds, about_to_run)  # type: ignore[arg-type]
        if kind is EventKind.STATEMENT and len(done) == len(item.statements):
            raise Died

    monkeypatch.setattr(autocommit, "_progress", progress)
    apply_and_die(tmp_path, database_url)
    monkeypatch.undo()
    assert second_status(tmp_path, database_url)["state"] == "failed"
    assert run(tmp_path, database_url, "repair", "--retry", "002_work").returncode == 0
    assert db.execute("SELECT n FROM counter").fetchone() == (11,)  # nothing ran twice
    assert [n for _, n in tracking_rows(db)] == ["001_setup.sql", "002_work.sql"]


def test_kill_9_during_create_index_concurrently_leaves_it_failed_and_retry_rebuilds_the_index(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    """The issue's case: 17 of 18 kills mid-CREATE INDEX CONCURRENTLY left it `pending` and stuck."""
    slow = ("CREATE FUNCTION slow_id(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN "
            "IF current_setting('archon_test.slow', true) = 'on' THEN PERFORM pg_sleep(0.02); END IF; "
            "RETURN i; END $$;\nCREATE TABLE items (id int);\n"
            "INSERT INTO items SELECT generate_series(1, 400);\n")
    project(tmp_path, slow, "SET archon_test.slow = 'on';\n"
            "CREATE INDEX CONCURRENTLY items_slow ON items (slow_id(id));\n")
    runner = subprocess.Popen(cli(tmp_path, database_url, "apply"), cwd=tmp_path, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    building = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE 'CREATE INDEX CONCURRENTLY%'")
    while db.execute(building).fetchone() != (1,):
        assert time.monotonic() < deadline and runner.poll() is None
    time.sleep(0.3)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    second = second_status(tmp_path, database_url)
    assert second["state"] == "failed", second
    retried = run(tmp_path, database_url, "repair", "--retry", "002_work")  # waits for the lock
    assert retried.returncode == 0, retried.stderr
    valid = db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_slow'::regclass")
    assert valid.fetchone() == (True,)
    assert [n for _, n in tracking_rows(db)] == ["001_setup.sql", "002_work.sql"]


def test_a_set_role_in_a_non_transactional_migration_cannot_break_its_bookkeeping(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    role = f"archon_limited_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE ROLE {role}")
    try:
        db.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
        project(tmp_path, "CREATE TABLE before_it (id int);\n",
                f"SET ROLE {role};\nCREATE TABLE made_by_role (id int);\nSELECT 1;\n")
        result = run(tmp_path, database_url, "apply")
        assert result.returncode == 0, result.stderr
        owner = db.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_role'").fetchone()
        assert owner == (role,)
        assert [n for _, n in tracking_rows(db)] == ["001_setup.sql", "002_work.sql"]
    finally:
        db.execute(f"DROP OWNED BY {role}")
        db.execute(f"DROP ROLE {role}")


def test_a_migration_whose_statements_all_committed_but_not_its_row_never_runs_them_again(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    project(tmp_path, "CREATE TABLE counter (n int);\nINSERT INTO counter VALUES (0);\n",
            "UPDATE counter SET n = n + 1;\nSELECT pg_advisory_unlock_all();\n")
    stopped = run(tmp_path, database_url, "apply")
    assert stopped.returncode == ExitCode.REFUSED and "--mark-applied" in stopped.stderr
    assert second_status(tmp_path, database_url)["state"] == "failed"  # not pending
    assert run(tmp_path, database_url, "apply").returncode == ExitCode.REFUSED
    assert db.execute("SELECT n FROM counter").fetchone() == (1,)  # the UPDATE ran once
