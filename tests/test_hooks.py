"""`[[hook]]`: programs at the points of an apply, against a real PostgreSQL."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]
# A hook program that appends what it was given to record.jsonl, then exits with argv[1].
RECORDER = ("import json, os, sys\n"
            "keys = ('ARCHON_HOOK', 'ARCHON_MIGRATION', 'ARCHON_MIGRATIONS', 'ARCHON_ERROR', 'PGDATABASE')\n"
            "with open('record.jsonl', 'a') as out:\n"
            "    out.write(json.dumps({k: os.environ.get(k) for k in keys}) + '\\n')\n"
            "print('hook says hello')\n"
            "sys.exit(int(sys.argv[1]))\n")


def project(root: Path, hooks: str, second: str = "CREATE TABLE b (id int);\n") -> Path:
    (root / "hook.py").parent.mkdir(parents=True, exist_ok=True)
    (root / "hook.py").write_text(RECORDER, encoding="utf-8")
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n", "migrations/0.1.0/002_b.sql": second}
    manifest = entry("0.1.0", "001_a", rollback=False) + entry("0.1.0", "002_b", rollback=False) + hooks
    return write_project(root, files, manifest)


def hook(when: str, code: int = 0, timeout: str = "") -> str:
    extra = f'timeout = "{timeout}"\n' if timeout else ""
    return f'[[hook]]\nwhen = "{when}"\nrun = ["{sys.executable}", "hook.py", "{code}"]\n{extra}\n'


def records(root: Path) -> list[dict[str, str | None]]:
    path = root / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def apply(root: Path, url: str, *extra: str) -> int:
    return main(["--manifest", str(root / "migrations.toml"), "--database-url", url, "apply", *extra])


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # hook.py and record.jsonl are relative to the working directory


def test_every_point_runs_its_hook_with_the_run_in_its_environment(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    hooks = "".join(hook(w) for w in ("before_apply", "before_migration", "after_migration", "after_apply"))
    project(tmp_path, hooks)
    assert apply(tmp_path, database_url) == 0
    seen = [(r["ARCHON_HOOK"], r["ARCHON_MIGRATION"]) for r in records(tmp_path)]
    points = ("before_migration", "after_migration")
    per_migration = [(w, f"0.1.0/{m}") for m in ("001_a", "002_b") for w in points]
    assert seen == [("before_apply", ""), *per_migration, ("after_apply", "")]
    first = records(tmp_path)[0]
    assert first["ARCHON_MIGRATIONS"] == "0.1.0/001_a\n0.1.0/002_b"
    assert first["PGDATABASE"] == db.info.dbname
    kinds = db.execute("SELECT count(*) FROM archon_migrations_events WHERE event = 'hook'").fetchone()
    assert kinds == (6,)  # before_apply's too, written once the events table was made


def test_a_failing_before_apply_hook_stops_the_run_before_anything_changes(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, hook("before_apply", code=3))
    assert apply(tmp_path, database_url) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "hook before_apply" in err and "exited with 3" in err and "hook says hello" in err
    assert not table_exists(db, "public.a") and not table_exists(db, "public.archon_migrations")


def test_a_hook_that_runs_too_long_is_killed_and_stops_the_run(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, '[[hook]]\nwhen = "before_migration"\nrun = ["sleep", "30"]\ntimeout = "300ms"\n')
    started = time.monotonic()
    assert apply(tmp_path, database_url) == ExitCode.REFUSED
    assert time.monotonic() - started < 10
    assert "timed out after 300ms; the run stops before 0.1.0/001_a" in capsys.readouterr().err
    assert tracking_rows(db) == []


def test_after_hooks_only_warn_and_on_failure_gets_the_error(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, hook("after_migration", code=1) + hook("on_failure"), second="SELECT 1/0;\n")
    assert apply(tmp_path, database_url) == ExitCode.MIGRATION_FAILED
    assert "warning: hook after_migration" in capsys.readouterr().err
    failure = records(tmp_path)[-1]
    assert failure["ARCHON_HOOK"] == "on_failure" and failure["ARCHON_MIGRATION"] == "0.1.0/002_b"
    assert "division by zero" in str(failure["ARCHON_ERROR"])
    assert [n for _, n in tracking_rows(db)] == ["001_a.sql"]


def test_dry_run_lists_the_hooks_and_runs_none(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, hook("before_apply") + hook("after_migration"))
    assert apply(tmp_path, database_url, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would run hook before_apply:" in out and "hook after_migration:" in out and "(2x)" in out
    assert records(tmp_path) == []


def test_a_hook_that_leaves_a_child_behind_does_not_hold_the_run(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    project(tmp_path, '[[hook]]\nwhen = "before_apply"\nrun = ["sh", "-c", "sleep 30 & echo started"]\n')
    started = time.monotonic()
    assert apply(tmp_path, database_url) == 0
    assert time.monotonic() - started < 10
    assert [n for _, n in tracking_rows(db)] == ["001_a.sql", "002_b.sql"]
