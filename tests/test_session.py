"""Each migration starts from a clean session, and a migration that lets go of the lock stops the run."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]


def project(tmp_path: Path, *files: str, transactional: bool = True) -> Path:
    """Migrations 001.. of release 0.1.0 with these texts, each with an empty rollback."""
    sql, manifest = {}, ""
    for n, text in enumerate(files, start=1):
        stem = f"{n:03d}_step_{n}"
        sql[f"migrations/0.1.0/{stem}.sql"] = text
        sql[f"migrations/0.1.0/rollbacks/{stem}.sql"] = "SELECT 1;\n"
        manifest += entry("0.1.0", stem) + ("" if transactional else "transactional = false\n\n")
    return write_project(tmp_path, sql, manifest)


def apply(manifest: Path, database_url: str) -> int:
    return main(["--manifest", str(manifest), "--database-url", database_url, "apply"])


def test_a_temp_table_of_one_migration_does_not_capture_the_next_ones_insert(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path, "CREATE TABLE users (id int);\n",
                       "CREATE TEMP TABLE users (id int);\n",
                       "INSERT INTO users VALUES (1), (2), (3);\n")
    assert apply(manifest, database_url) == ExitCode.OK
    assert db.execute("SELECT count(*) FROM public.users").fetchone() == (3,)


@pytest.mark.parametrize("text", [
    "PREPARE q AS SELECT 1;\n",
    "DECLARE c CURSOR WITH HOLD FOR SELECT 1;\n",
    "LISTEN archon_test;\nCREATE TEMP TABLE scratch (a int);\n",
])
def test_what_one_migration_leaves_in_the_session_does_not_reach_the_next(
    tmp_path: Path, database_url: str, db: Conn, text: str
) -> None:
    """The same statement in two migrations of one run: each starts from a clean session."""
    manifest = project(tmp_path, text, text)
    assert apply(manifest, database_url) == ExitCode.OK
    assert len(tracking_rows(db)) == 2


@pytest.mark.parametrize("release", ["SELECT pg_advisory_unlock_all();\n",
                                     "SELECT pg_advisory_unlock_all();\nCREATE TABLE t2 (a int);\n"])
def test_a_migration_that_releases_the_migration_lock_is_rolled_back_and_stops_the_run(
    tmp_path: Path, database_url: str, db: Conn, release: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, "CREATE TABLE t1 (a int);\n", release, "CREATE TABLE t3 (a int);\n")
    assert apply(manifest, database_url) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "no longer holds the migration lock" in err and "nothing of 0.1.0/002_step_2" in err
    assert [name for _, name in tracking_rows(db)] == ["001_step_1.sql"]
    assert not table_exists(db, "t2") and not table_exists(db, "t3")


def test_a_non_transactional_migration_that_releases_the_lock_stops_before_its_row(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, "SELECT pg_advisory_unlock_all();\n", transactional=False)
    assert apply(manifest, database_url) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "no longer holds the migration lock" in err and "--mark-applied" in err
    assert tracking_rows(db) == []


def test_the_lock_is_held_twice_during_a_run_and_let_go_of_entirely_after_it(
    db: Conn, database_url: str
) -> None:
    """Checking the lock lets go of one hold and takes it back (db/lock.py): the run must end
    with none, or the next runner would wait for a session that is merely idle."""
    from archon_plan.core.model import Settings
    from archon_plan.db import lock

    settings = Settings()
    key = lock.lock_key(settings)
    with psycopg.connect(database_url, autocommit=True) as runner:
        lock.acquire_lock(runner, settings, 1.0)
        held = runner.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                              "AND pid = pg_backend_pid()").fetchone()
        assert db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
        lock.release_lock(runner, settings)
        assert db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)
        db.execute("SELECT pg_advisory_unlock(%s)", (key,))
        assert runner.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)
    assert held == (1,)  # one lock in pg_locks: the two holds are counts of one


@pytest.mark.parametrize("holds_released", [1, 2])
def test_a_migration_that_unlocks_the_key_itself_is_stopped_once_no_hold_is_left(
    tmp_path: Path, database_url: str, db: Conn, holds_released: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from archon_plan.core.model import Settings
    from archon_plan.db import lock

    unlock = f"SELECT pg_advisory_unlock({lock.lock_key(Settings())});\n" * holds_released
    manifest = project(tmp_path, "CREATE TABLE t1 (a int);\n", unlock + "CREATE TABLE t2 (a int);\n",
                       "CREATE TABLE t3 (a int);\n")
    if holds_released == 1:  # the session still holds the lock: nobody else could have run
        assert apply(manifest, database_url) == ExitCode.OK
        assert len(tracking_rows(db)) == 3
        return
    assert apply(manifest, database_url) == ExitCode.REFUSED
    assert "no longer holds the migration lock" in capsys.readouterr().err
    assert [name for _, name in tracking_rows(db)] == ["001_step_1.sql"]
    assert not table_exists(db, "t2") and not table_exists(db, "t3")
