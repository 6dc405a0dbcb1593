"""`archon-plan rehearse`: rollbacks proven on a scratch database, compared through pg_catalog."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from archon_plan.cli import main
from archon_plan.review.catalog import Difference, Snapshot, compare
from tests.helpers import entry, write_project

ROOT = Path(__file__).resolve().parents[1]
BASE_SQL = "CREATE TABLE public.t (id int PRIMARY KEY, c integer, d text);\n"
BASE_ROLLBACK = "DROP TABLE public.t;\n"
# Nothing listens on port 1: a command that tried this URL would fail at once.
BOGUS_URL = "postgresql://nobody@127.0.0.1:1/nowhere"


def project(root: Path, changes: dict[str, tuple[str, str | None]]) -> Path:
    """0.1.0/001_base creates public.t; then one migration per entry: stem -> (sql, rollback)."""
    files = {"migrations/0.1.0/001_base.sql": BASE_SQL,
             "migrations/0.1.0/rollbacks/001_base.sql": BASE_ROLLBACK}
    manifest = entry("0.1.0", "001_base")
    for stem, (forward, rollback) in changes.items():
        files[f"migrations/0.1.0/{stem}.sql"] = forward
        if rollback is not None:
            files[f"migrations/0.1.0/rollbacks/{stem}.sql"] = rollback
        manifest += entry("0.1.0", stem, rollback=rollback is not None)
    return write_project(root, files, manifest)


def rehearse(manifest: Path, url: str, *extra: str) -> int:
    return main(["--manifest", str(manifest), "rehearse", "--database-url", url, *extra])


def scratch_names(stderr: str) -> list[str]:
    return re.findall(r"scratch database (archon_rehearse_[0-9a-f]+)", stderr)


def database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return bool(row and row[0])


# --- compare, from literals ----------------------------------------------------------------------

def test_compare_of_equal_snapshots_finds_nothing() -> None:
    objects = {("table", "public.t"): "owner postgres", ("column", "public.t.c"): "integer"}
    assert compare(Snapshot(objects), Snapshot(dict(objects))) == []


def test_compare_names_objects_left_behind_missing_and_changed_in_order() -> None:
    before = Snapshot({("column", "public.t.c"): "integer", ("index", "public.i"): "CREATE INDEX i ON t (c)"})
    after = Snapshot({("column", "public.t.c"): "bigint", ("table", "public.x"): "owner postgres"})
    assert [str(d) for d in compare(before, after)] == [
        "column public.t.c: definition differs: before integer, after bigint",
        "index public.i: missing after rollback",
        "table public.x: still exists after rollback",
    ]
    assert [d.change for d in compare(before, after)] == ["differs", "missing", "still-exists"]


def test_parts_of_a_table_missing_or_left_as_a_whole_are_not_listed_apart() -> None:
    table = {("table", "public.t"): "owner postgres", ("column", "public.t.c"): "integer",
             ("constraint", "public.t.t_pkey"): "PRIMARY KEY (c)", ("column", "public.t2.c"): "integer"}
    gone = Snapshot({("column", "public.t2.c"): "bigint"})
    assert [str(d) for d in compare(Snapshot(table), gone)] == [
        "column public.t2.c: definition differs: before integer, after bigint",
        "table public.t: missing after rollback",
    ]
    assert [str(d) for d in compare(Snapshot({}), Snapshot(table))] == [
        "column public.t2.c: still exists after rollback",
        "table public.t: still exists after rollback",
    ]


def test_long_definitions_are_cut_in_text_only() -> None:
    difference = Difference("view", "public.v", "as " + "x" * 50, "as " + "y" * 50)
    assert difference.text(10) == (
        f"view public.v: definition differs: before as {'x' * 7}..., after as {'y' * 7}...")
    assert "x" * 50 in str(difference)


def test_an_empty_description_reads_as_nothing() -> None:
    assert str(Difference("table", "public.t", "", "comment 'x'")) == (
        "table public.t: definition differs: before (nothing), after comment 'x'")


# --- rehearsals on the test server ---------------------------------------------------------------

def test_example_project_rehearses_cleanly(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert rehearse(ROOT / "migrations.toml", server_url) == 0
    out = capsys.readouterr().out
    assert out.count("the rollback restores the schema") == 6
    assert "6 migration(s): 6 restored, 0 differ, 0 without rollback, 0 in BASE." in out


def test_good_rollback_passes(server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = project(tmp_path, {"002_add_e": ("ALTER TABLE public.t ADD COLUMN e date;\n",
                                                "ALTER TABLE public.t DROP COLUMN e;\n")})
    assert rehearse(manifest, server_url) == 0
    assert "restored     0.1.0/002_add_e: the rollback restores the schema (1 schema object(s)" in (
        capsys.readouterr().out)


@pytest.mark.parametrize(
    "forward, rollback, reported",
    [
        ("CREATE TABLE public.u (id int);\nCREATE TABLE public.x (id int);\n", "DROP TABLE public.u;\n",
         "table public.x: still exists after rollback"),
        ("ALTER TABLE public.t ADD COLUMN e date;\n", "SELECT 1;\n",
         "column public.t.e: still exists after rollback"),
        ("CREATE INDEX t_c_idx ON public.t (c);\n", "SELECT 1;\n",
         "index public.t_c_idx: still exists after rollback"),
        ("CREATE FUNCTION public.twice(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2';\n", "SELECT 1;\n",
         "function public.twice(n integer): still exists after rollback"),
        ("ALTER TABLE public.t ALTER COLUMN c TYPE bigint;\n", "SELECT 1;\n",
         "column public.t.c: definition differs: before integer, after bigint"),
        ("CREATE INDEX t_c_idx ON public.t (c);\n",
         "DROP INDEX public.t_c_idx;\nALTER TABLE public.t DROP COLUMN d;\n",
         "column public.t.d: missing after rollback"),
    ],
    ids=["leaves-a-table", "forgets-a-column", "forgets-an-index", "forgets-a-function",
         "type-change-not-undone", "drops-too-much"],
)
def test_rollback_that_does_not_restore_the_schema_is_reported_with_the_object(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    forward: str, rollback: str, reported: str,
) -> None:
    manifest = project(tmp_path, {"002_change": (forward, rollback)})
    assert rehearse(manifest, server_url) == 10
    out = capsys.readouterr().out
    assert "DIFFERS      0.1.0/002_change: the rollback does not restore the schema" in out
    assert f"      {reported}\n" in out
    assert "Rollbacks that do not restore the schema: 0.1.0/002_change" in out


def test_every_broken_rollback_is_reported_not_only_the_first(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {
        "002_index": ("CREATE INDEX t_c_idx ON public.t (c);\n", "SELECT 1;\n"),
        "003_table": ("CREATE TABLE public.u (id int);\n", "SELECT 1;\n"),
        "004_column": ("ALTER TABLE public.u ADD COLUMN v int;\n", "ALTER TABLE public.u DROP COLUMN v;\n"),
    })
    assert rehearse(manifest, server_url) == 10
    captured = capsys.readouterr()
    assert "index public.t_c_idx: still exists after rollback" in captured.out
    assert "table public.u: still exists after rollback" in captured.out
    assert "restored     0.1.0/004_column" in captured.out
    # After each broken rollback the rest run on a new scratch database; all are dropped.
    names = scratch_names(captured.err)
    assert len(names) == 3
    assert not any(database_exists(server_url, name) for name in names)


def test_migration_without_rollback_is_applied_but_not_rehearsed(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {
        "002_table": ("CREATE TABLE public.u (id int);\n", None),
        "003_column": ("ALTER TABLE public.u ADD COLUMN v int;\n", "ALTER TABLE public.u DROP COLUMN v;\n"),
    })
    assert rehearse(manifest, server_url) == 0
    out = capsys.readouterr().out
    assert "no rollback  0.1.0/002_table: not rehearsed: no rollback; applied" in out
    assert "restored     0.1.0/003_column" in out
    assert "3 migration(s): 2 restored, 0 differ, 1 without rollback, 0 in BASE." in out


def test_non_transactional_migration_and_tracking_table_in_own_schema_rehearse_alike(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"migrations/001_t.sql": BASE_SQL, "migrations/rollbacks/001_t.sql": BASE_ROLLBACK,
             "migrations/002_i.sql": "CREATE INDEX CONCURRENTLY t_c_idx ON public.t (c);\n",
             "migrations/rollbacks/002_i.sql": "DROP INDEX CONCURRENTLY public.t_c_idx;\n"}
    manifest = write_project(tmp_path, files, """\
        [settings]
        tracking_table = "archon.migrations"

        [[migration]]
        version = "0.1.0"
        file = "migrations/001_t.sql"
        rollback = "migrations/rollbacks/001_t.sql"

        [[migration]]
        version = "0.1.0"
        file = "migrations/002_i.sql"
        rollback = "migrations/rollbacks/002_i.sql"
        transactional = false
        """)
    assert rehearse(manifest, server_url) == 0
    assert "2 migration(s): 2 restored, 0 differ" in capsys.readouterr().out


def test_given_database_is_untouched_and_scratch_database_is_dropped(
    database_url: str, db: psycopg.Connection[tuple[object, ...]], server_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = project(tmp_path, {"002_add_e": ("ALTER TABLE public.t ADD COLUMN e date;\n",
                                                "ALTER TABLE public.t DROP COLUMN e;\n")})
    assert rehearse(manifest, database_url) == 0
    [name] = scratch_names(capsys.readouterr().err)
    assert not database_exists(server_url, name)
    row = db.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = 'public'").fetchone()
    assert row == (0,)


def test_configured_database_variables_are_never_used(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL"):
        monkeypatch.setenv(variable, BOGUS_URL)
    manifest = project(tmp_path, {})
    assert rehearse(manifest, server_url) == 0
    assert "127.0.0.1:1" not in capsys.readouterr().err


def test_json_report_lists_outcomes_and_differences(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {"002_change": ("ALTER TABLE public.t ALTER COLUMN c TYPE bigint;\n",
                                                 "SELECT 1;\n")})
    assert rehearse(manifest, server_url, "--format", "json") == 10
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    assert document["ok"] is False
    assert document["counts"] == {"restored": 1, "differs": 1, "no-rollback": 0, "irreversible": 0,
                                  "rollback-failed": 0, "base": 0}
    first, second = document["migrations"]
    assert first == {"version": "0.1.0", "name": "001_base", "outcome": "restored",
                     "objects_changed": 1, "differences": [], "rollback_error": None}
    assert second["outcome"] == "differs"
    assert second["differences"] == [{
        "kind": "column", "name": "public.t.c", "change": "differs", "before": "integer", "after": "bigint",
        "message": "column public.t.c: definition differs: before integer, after bigint",
    }]


def test_failing_migration_stops_the_rehearsal_with_exit_3(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, {"002_bad": ("SELECT 1 / 0;\n", "SELECT 1;\n")})
    assert rehearse(manifest, server_url) == 3
    captured = capsys.readouterr()
    assert "restored     0.1.0/001_base" in captured.out
    assert "002_bad.sql:1:1: apply of 0.1.0/002_bad failed in its SQL: 22012 division by zero" in captured.err
    assert not database_exists(server_url, scratch_names(captured.err)[0])


def test_changed_since_rehearses_only_migrations_new_since_base(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The base's own rollback is broken, but it is not the pull request's business.
    base = project(tmp_path / "base", {"002_old": ("CREATE TABLE public.u (id int);\n", "SELECT 1;\n")})
    manifest = project(tmp_path / "head", {
        "002_old": ("CREATE TABLE public.u (id int);\n", "SELECT 1;\n"),
        "003_new": ("ALTER TABLE public.u ADD COLUMN v int;\n", "ALTER TABLE public.u DROP COLUMN v;\n"),
    })
    assert rehearse(manifest, server_url, "--changed-since", str(base)) == 0
    out = capsys.readouterr().out
    assert "base         0.1.0/001_base: in BASE; applied without rehearsal" in out
    assert "base         0.1.0/002_old: in BASE; applied without rehearsal" in out
    assert "restored     0.1.0/003_new" in out


def test_transaction_pooler_port_is_refused_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rehearse(project(tmp_path, {}), "postgresql://u@127.0.0.1:6543/postgres") == 5
    assert "transaction pooler" in capsys.readouterr().err


def test_server_where_no_database_may_be_created_is_a_clear_error(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"archon_nocreatedb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        assert rehearse(project(tmp_path, {}), make_conninfo(server_url, user=role)) == 6
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    err = capsys.readouterr().err
    assert "archon-plan: error: cannot create the scratch database archon_rehearse_" in err
    assert "permission denied to create database" in err
    assert "CREATEDB" in err


@pytest.mark.slow
@pytest.mark.starts_server
def test_without_database_url_a_throwaway_embedded_server_is_used_and_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARCHON_DATABASE_URL", BOGUS_URL)  # the configured target is not the scratch one
    manifest = project(tmp_path, {"002_add_e": ("ALTER TABLE public.t ADD COLUMN e date;\n",
                                                "ALTER TABLE public.t DROP COLUMN e;\n")})
    folders = set(Path(tempfile.gettempdir()).glob("archon-plan-rehearse-*"))
    assert main(["--manifest", str(manifest), "rehearse", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["server"] == "a throwaway embedded PostgreSQL"
    assert set(Path(tempfile.gettempdir()).glob("archon-plan-rehearse-*")) <= folders  # deleted
    assert not (tmp_path / ".archon").exists()  # nor the project's own embedded database
