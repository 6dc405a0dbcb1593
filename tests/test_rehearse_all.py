"""`rehearse` reports everything in one run: every rollback checked before anything runs, a
rollback that fails on the server reported and passed, `--setup`, irreversible steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_plan.errors import ExitCode
from tests.test_rehearse import project, rehearse


def test_rollbacks_that_fail_or_differ_are_all_reported_in_one_run(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {
        "002_a": ("CREATE TABLE a (id int);\n", "DROP TABLE not_there;\n"),  # fails on the server
        "003_b": ("CREATE TABLE b (id int);\n", "SELECT 1;\n"),  # leaves b behind
        "004_c": ("CREATE TABLE c (id int);\n", "DROP TABLE missing_too;\n"),
        "005_d": ("CREATE TABLE d (id int);\n", "DROP TABLE d;\n"),
    })
    assert rehearse(manifest, server_url, "--format", "json") == ExitCode.REHEARSAL_FAILED
    document = json.loads(capsys.readouterr().out)
    outcomes = {m["name"]: m["outcome"] for m in document["migrations"]}
    assert outcomes == {"001_base": "restored", "002_a": "rollback-failed", "003_b": "differs",
                        "004_c": "rollback-failed", "005_d": "restored"}
    error = next(m for m in document["migrations"] if m["name"] == "002_a")["rollback_error"]
    assert "rollbacks/002_a.sql:1:1" in error and 'table "not_there" does not exist' in error
    assert document["server_version"].split()[0].replace(".", "").isdigit()


def test_every_rollback_problem_is_reported_before_anything_runs(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {
        "002_a": ("CREATE TABLE a (id int);\n", "DROP TABLE a\nSELEC;\n"),
        "003_b": ("CREATE TABLE b (id int);\n", "DROP INDEX CONCURRENTLY i;\n"),
    })
    assert rehearse(manifest, server_url) == ExitCode.INVALID
    captured = capsys.readouterr()
    assert "rollbacks/002_a.sql:2:1" in captured.err and "syntax error" in captured.err
    assert "rollbacks/003_b.sql:1:1" in captured.err and "cannot run inside a transaction" in captured.err
    assert "rehearsing in" not in captured.err  # no scratch database was made


def test_setup_prepares_each_scratch_database(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uses_auth = ("CREATE TABLE notes (owner uuid DEFAULT auth.uid());\n", "DROP TABLE notes;\n")
    manifest = project(tmp_path, {"002_notes": uses_auth, "003_bad": ("SELECT 1 / 0;\n", None)})
    setup = tmp_path / "supabase_setup.sql"
    setup.write_text("CREATE SCHEMA auth;\nCREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql "
                     "AS 'SELECT NULL::uuid';\n", encoding="utf-8")
    assert rehearse(manifest, server_url) == ExitCode.MIGRATION_FAILED  # without it: no auth schema
    assert 'schema "auth" does not exist' in capsys.readouterr().err
    # 003 fails on apply, so the rehearsal stops there; up to it, the setup made 002 work.
    assert rehearse(manifest, server_url, "--setup", str(setup)) == ExitCode.MIGRATION_FAILED
    captured = capsys.readouterr()
    assert "restored     0.1.0/002_notes" in captured.out
    assert "division by zero" in captured.err
    setup.write_text("CREATE SCHEMA auth;\nSELECT nope();\n", encoding="utf-8")
    assert rehearse(manifest, server_url, "--setup", str(setup)) == ExitCode.INVALID
    err = capsys.readouterr().err
    assert "supabase_setup.sql:2:8: the --setup file: function nope() does not exist" in err


def test_an_irreversible_migration_is_applied_never_reverted(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_e = ("ALTER TABLE t ADD COLUMN e int;\n", "ALTER TABLE t DROP COLUMN e;\n")
    manifest = project(tmp_path, {"002_gone": ("ALTER TABLE t DROP COLUMN d;\n", None), "003_e": add_e})
    entry = 'file = "migrations/0.1.0/002_gone.sql"\n'
    text = manifest.read_text(encoding="utf-8").replace(entry, entry + "irreversible = true\n")
    manifest.write_text(text, encoding="utf-8")
    assert rehearse(manifest, server_url) == 0
    out = capsys.readouterr().out
    assert "irreversible  0.1.0/002_gone: not rehearsed: irreversible = true; applied" in out
    assert "restored     0.1.0/003_e" in out


def test_server_version_says_which_postgresql_and_rehearses_nothing(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {})
    assert rehearse(manifest, server_url, "--server-version") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("PostgreSQL ") and captured.out.split()[1][0].isdigit()
    assert "rehearsing in" not in captured.err
