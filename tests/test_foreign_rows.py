"""Rows and events archon-plan did not write: a one-line refusal naming the row, never exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, write_project

Conn = psycopg.Connection[tuple[object, ...]]


def applied_project(tmp_path: Path, database_url: str) -> list[str]:
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n",
             "migrations/0.1.0/002_b.sql": "CREATE TABLE b (id int);\n"}
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_a", rollback=False)
                             + entry("0.1.0", "002_b", rollback=False))
    argv = ["--manifest", str(manifest), "--database-url", database_url]
    assert main([*argv, "apply"]) == ExitCode.OK
    return argv


def test_a_row_without_a_migration_name_is_refused_naming_the_row(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = applied_project(tmp_path, database_url)
    db.execute("ALTER TABLE archon_migrations ALTER COLUMN migration_name DROP NOT NULL")
    row = db.execute("INSERT INTO archon_migrations (version, migration_name) VALUES ('0.1.0', NULL) "
                     "RETURNING id::text").fetchone()
    assert row is not None
    capsys.readouterr()
    assert main([*argv, "status"]) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert f"row id {row[0]}" in err and "has no migration_name" in err and "Traceback" not in err


def test_an_event_whose_detail_is_not_the_protocols_is_refused_naming_the_event(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = applied_project(tmp_path, database_url)
    event = db.execute(
        "INSERT INTO archon_migrations_events (event, version, migration_name, started_at, detail) "
        "VALUES ('apply-failed', '0.2.0', '001_x', now(), '{\"statements_done\": \"two\"}') RETURNING id"
    ).fetchone()
    assert event is not None
    capsys.readouterr()
    assert main([*argv, "status"]) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert f"event id {event[0]}" in err and "Traceback" not in err


@pytest.mark.parametrize("order", ["file-form-first", "stem-form-first"])
def test_rows_in_both_name_forms_that_disagree_give_one_state_whatever_their_order(
    tmp_path: Path, database_url: str, db: Conn, order: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = applied_project(tmp_path, database_url)
    db.execute("DELETE FROM archon_migrations WHERE migration_name = '001_a.sql'")
    names = ["001_a.sql", "001_a"] if order == "file-form-first" else ["001_a", "001_a.sql"]
    checksums = {"001_a.sql": None, "001_a": "0" * 32}
    for n, name in enumerate(names):
        db.execute("INSERT INTO archon_migrations (version, migration_name, checksum, applied_at) "
                   "VALUES ('0.1.0', %s, %s, now() + make_interval(secs => %s))", (name, checksums[name], n))
    db.execute("UPDATE archon_migrations SET checksum = md5('x') WHERE migration_name = '001_a.sql'")
    capsys.readouterr()
    main([*argv, "status", "--format", "json"])
    states = [m["state"] for m in json.loads(capsys.readouterr().out)["migrations"]]
    assert states[0] == "modified"  # a disagreeing row is never hidden by one that agrees


# PostgreSQL's text holds no NUL, and UTF-8 no lone surrogate (psycopg cannot even send one)
CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
TEXT = st.one_of(st.none(), st.text(CHARS, max_size=12),
                 st.sampled_from(["0.1.0", "001_a", "001_a.sql", "002_b"]))
KEYS = st.sampled_from(["direction", "statements_done", "done_checksums", "statements", "in_doubt", "x"])
DETAIL = st.one_of(st.none(), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.text(CHARS, max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=8))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=4),
       events=st.lists(st.tuples(st.sampled_from(["apply", "apply-failed", "statement", "statement-started",
                                                  "interrupted", "retry", "nonsense"]), TEXT, TEXT, DETAIL),
                       max_size=4))
def test_status_never_ends_in_an_internal_error_whatever_the_tables_hold(
    tmp_path: Path, database_url: str, db: Conn, rows: list[tuple[str | None, ...]],
    events: list[tuple[str, str | None, str | None, object]],
) -> None:
    if not (tmp_path / "migrations.toml").exists():
        applied_project(tmp_path, database_url)
        db.execute("ALTER TABLE archon_migrations ALTER COLUMN version DROP NOT NULL, "
                   "ALTER COLUMN migration_name DROP NOT NULL, DROP CONSTRAINT IF EXISTS "
                   "archon_migrations_version_migration_name_key")
    db.execute("DELETE FROM archon_migrations; DELETE FROM archon_migrations_events")
    for version, name, checksum in rows:
        db.execute("INSERT INTO archon_migrations (version, migration_name, checksum) VALUES (%s, %s, %s)",
                   (version and version[:20], name, checksum and checksum[:32]))
    for kind, version, name, detail in events:
        db.execute("INSERT INTO archon_migrations_events (event, version, migration_name, started_at, "
                   "detail) VALUES (%s, %s, %s, now(), %s::jsonb)",
                   (kind, version and version[:20], name, None if detail is None else json.dumps(detail)))
    code = main(["--manifest", str(tmp_path / "migrations.toml"), "--database-url", database_url, "status"])
    assert code in (ExitCode.OK, ExitCode.REFUSED, ExitCode.NOT_UP_TO_DATE), code


@pytest.mark.parametrize("detail", ['["statements_done"]', '"statements_done"', "7"])
def test_a_stop_event_whose_detail_is_not_an_object_is_not_read_as_one(
    tmp_path: Path, database_url: str, db: Conn, detail: str
) -> None:
    argv = applied_project(tmp_path, database_url)
    db.execute("INSERT INTO archon_migrations_events (event, version, migration_name, started_at, detail) "
               "VALUES ('apply-failed', '0.1.0', '001_a', now(), %s::jsonb)", (detail,))
    assert main([*argv, "status"]) in (ExitCode.OK, ExitCode.REFUSED)
