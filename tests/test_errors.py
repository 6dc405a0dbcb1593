"""A failed or interrupted migration's error carries its data as fields; the message is built from them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from archon_plan.errors import ExitCode, Location, MigrationFailedError, Outcome, RunInterruptedError
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, tracking_rows, write_project
from tests.test_executor import apply
from tests.test_reliability import concurrent_index_project, run, wait_for_query

Conn = psycopg.Connection[tuple[object, ...]]

DUPLICATE = {
    "migrations/0.1.0/001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "migrations/0.1.0/002_seed.sql": "INSERT INTO users VALUES (1);\n\n  INSERT INTO users VALUES (1);\n",
}
RAISES = {
    "migrations/0.1.0/001_raises.sql": (
        "CREATE TABLE kept (id int);\n"
        "DO $$ BEGIN RAISE EXCEPTION 'no way' USING DETAIL = 'the detail', HINT = 'the hint'; END $$;\n"
    ),
}


def in_order(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project of files applied in the order given, without rollbacks."""
    return write_project(tmp_path, files, "".join(
        entry("0.1.0", Path(name).stem, rollback=False) for name in files))


def failure_of(database_url: str, manifest: Path) -> MigrationFailedError:
    with pytest.raises(MigrationFailedError) as failed:
        apply(database_url, load_manifest(manifest))
    return failed.value


def test_unique_violation_exposes_sqlstate_location_and_detail(tmp_path: Path, database_url: str) -> None:
    error = failure_of(database_url, in_order(tmp_path, DUPLICATE))
    assert (error.migration, error.direction, error.sqlstate) == ("0.1.0/002_seed", "apply", "23505")
    assert error.location == Location("migrations/0.1.0/002_seed.sql", 3, 3)
    assert error.primary.startswith('duplicate key value violates unique constraint "users_pkey"')
    assert (error.detail, error.hint) == ("Key (id)=(1) already exists.", None)
    assert error.in_sql and error.outcome is Outcome.ROLLED_BACK and error.committed is None
    assert error.exit_code == ExitCode.MIGRATION_FAILED
    assert error.message == (
        "migrations/0.1.0/002_seed.sql:3:3: apply of 0.1.0/002_seed failed in its SQL: 23505 "
        f"{error.primary}; rolled back, earlier migrations are kept"
    )
    assert str(error).splitlines()[1:] == ["DETAIL: Key (id)=(1) already exists."]


def test_postgres_detail_and_hint_are_separate_fields_and_lines(tmp_path: Path, database_url: str) -> None:
    error = failure_of(database_url, in_order(tmp_path, RAISES))
    assert (error.sqlstate, error.primary) == ("P0001", "no way")
    assert (error.detail, error.hint) == ("the detail", "the hint")
    assert (error.location.line, error.location.column) == (2, 1)
    assert error.advice is None
    assert str(error).splitlines()[1:] == ["DETAIL: the detail", "HINT: the hint"]


def test_failure_in_the_tracking_row_is_not_blamed_on_the_sql(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {"migrations/0.1.0/001_guard.sql": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS\n"
        "$$ BEGIN RAISE EXCEPTION 'no rows here'; END $$;\n"
        "CREATE TRIGGER refuse BEFORE INSERT ON archon_migrations EXECUTE FUNCTION refuse();\n"
    )}
    error = failure_of(database_url, in_order(tmp_path, files))
    assert not error.in_sql and error.location == Location("migrations/0.1.0/001_guard.sql")
    assert (error.sqlstate, error.primary, error.outcome) == ("P0001", "no rows here", Outcome.ROLLED_BACK)
    assert "failed in its setup or tracking row: P0001 no rows here" in error.message
    assert tracking_rows(db) == []


def test_non_transactional_failure_exposes_the_statements_that_stay_committed(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    error = failure_of(database_url, concurrent_index_project(tmp_path))
    assert (error.outcome, error.committed, error.statements) == (Outcome.PARTLY_COMMITTED, 1, 3)
    assert (error.sqlstate, error.location.line, error.location.column) == ("23505", 2, 1)
    assert error.detail == "Key (code)=(a) is duplicated." and error.hint is None
    assert error.message.endswith("; statements 1..1 of 3 stay committed")
    assert error.advice == (
        "fix the cause, then `archon-plan repair --retry 0.1.0/002_indexes` resumes at statement 2")
    stored = db.execute("SELECT error FROM archon_migrations_events WHERE event = 'apply-failed'").fetchone()
    assert stored == (error.message,)  # the history keeps the first line, as before


def test_a_terminated_backend_is_settled_on_a_new_connection_not_guessed(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    """The backend dies mid-migration: the CLI reconnects and reads the row, which says the
    migration did not commit (exit 6: the run stopped on a lost connection)."""
    files = {"migrations/0.1.0/001_slow.sql": "CREATE TABLE t (id int);\nSELECT pg_sleep(30);\n"}

    def terminate() -> None:
        backend = wait_for_query(db, "pg_sleep(30)")
        db.execute("SELECT pg_terminate_backend(%s)", (backend,))

    in_order(tmp_path, files)
    killer = threading.Thread(target=terminate)
    killer.start()
    started = time.monotonic()
    result = run(tmp_path, database_url, "apply")
    killer.join()
    assert time.monotonic() - started < 20
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert "on reconnecting, its tracking row shows that it did not commit" in result.stderr
    assert "rolled back, earlier" not in result.stderr and tracking_rows(db) == []


def test_cli_prints_detail_and_hint_on_their_own_lines(tmp_path: Path, database_url: str) -> None:
    in_order(tmp_path, RAISES)
    result = run(tmp_path, database_url, "apply")
    assert result.returncode == ExitCode.MIGRATION_FAILED
    lines = result.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("archon-plan: error: "))
    assert lines[first].endswith("001_raises.sql:2:1: apply of 0.1.0/001_raises failed in its SQL: "
                                 "P0001 no way; rolled back, earlier migrations are kept")
    assert lines[first + 1:] == ["DETAIL: the detail", "HINT: the hint"]


def test_archon_plans_own_advice_is_the_last_hint(tmp_path: Path, database_url: str) -> None:
    concurrent_index_project(tmp_path)
    lines = run(tmp_path, database_url, "apply").stderr.splitlines()
    assert lines[-2:] == [
        "DETAIL: Key (code)=(a) is duplicated.",
        "HINT: fix the cause, then `archon-plan repair --retry 0.1.0/002_indexes` resumes at statement 2",
    ]


@pytest.mark.parametrize(("outcome", "committed", "ending"), [
    (Outcome.ROLLED_BACK, None, "; it was rolled back, so it stays applied; migrations reverted before "
                                "it stay reverted"),
    (Outcome.PARTLY_COMMITTED, 2, "; statements 1..2 of 5 stay committed"),
    (Outcome.PARTLY_COMMITTED, 0, "; none of its 5 statements committed"),
])
def test_interruption_message_is_built_from_its_fields(
    outcome: Outcome, committed: int | None, ending: str
) -> None:
    error = RunInterruptedError(migration="0.1.0/002_x", direction="revert",
                                location=Location("m/002_x.sql", 4, 1), outcome=outcome,
                                committed=committed, statements=None if committed is None else 5)
    assert str(error) == f"m/002_x.sql:4:1: interrupted during revert of 0.1.0/002_x{ending}"
    assert error.exit_code == ExitCode.INTERRUPTED and error.location.line == 4


def test_non_transactional_migration_whose_row_fails_is_committed_not_rolled_back(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {
        "migrations/0.1.0/001_guard.sql": (
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS\n"
            "$$ BEGIN IF NEW.migration_name LIKE '002%' THEN RAISE EXCEPTION 'not 002'; END IF;\n"
            "RETURN NEW; END $$;\n"
            "CREATE TRIGGER refuse BEFORE INSERT ON archon_migrations\n"
            "FOR EACH ROW EXECUTE FUNCTION refuse();\n"
        ),
        "migrations/0.1.0/002_index.sql": "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t(id)",
    }
    manifest = in_order(tmp_path, files)
    manifest.write_text(manifest.read_text() + "transactional = false\n")
    error = failure_of(database_url, manifest)
    assert (error.outcome, error.committed, error.statements) == (Outcome.UNRECORDED, 2, 2)
    assert not error.in_sql and error.location.line is None
    assert error.message.endswith("failed in its setup or tracking row: P0001 not 002; "
                                  "its SQL committed, its tracking row did not")
    assert error.advice == (
        "fix the cause, then `archon-plan repair 0.1.0/002_index --mark-applied` records it")
    assert [n for _, n in tracking_rows(db)] == ["001_guard.sql"]
    assert db.execute("SELECT to_regclass('t_id') IS NOT NULL").fetchone() == (True,)


def test_a_failed_revert_says_in_its_own_words_that_the_migration_stays_applied(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n",
             "migrations/0.1.0/rollbacks/001_t.sql": "DROP TABLE t;\nDROP TABLE not_there;\n"}
    write_project(tmp_path, files, entry("0.1.0", "001_t"))
    assert run(tmp_path, database_url, "apply").returncode == 0
    result = run(tmp_path, database_url, "revert", "--last", "1")
    assert result.returncode == ExitCode.MIGRATION_FAILED
    assert "revert of 0.1.0/001_t failed in its SQL: 42P01" in result.stderr
    assert "rolled back, so it stays applied" in result.stderr and "earlier migrations" not in result.stderr
    assert [n for _, n in tracking_rows(db)] == ["001_t.sql"]
