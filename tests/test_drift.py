"""`archon-plan snapshot`, `drift` and `check --snapshot`, against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from archon_plan.errors import UsageError
from archon_plan.review.catalog import TENANT, Snapshot
from archon_plan.review.snapshot_file import SchemaFile, parse, render
from archon_plan.sql.undo import written_schemas
from tests.helpers import entry, run_in_process, tracking_rows, write_project
from tests.test_release_contract import documented_fields, keys

Conn = psycopg.Connection[tuple[object, ...]]
ENV = {k: v for k, v in os.environ.items()
       if k not in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL", "CI")}
FILES = {
    "migrations/0.1.0/001_app.sql": """
        CREATE SCHEMA app;
        CREATE TABLE app.items (id int PRIMARY KEY, name text NOT NULL DEFAULT 'unnamed');
        CREATE FUNCTION app.item_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.items';
        """,
    "migrations/0.1.0/rollbacks/001_app.sql": "DROP SCHEMA app CASCADE;\n",
    "migrations/0.1.0/002_notes.sql": "CREATE TABLE public.notes (id int PRIMARY KEY, body text);\n",
    "migrations/0.1.0/rollbacks/002_notes.sql": "DROP TABLE public.notes;\n",
}
HAND_CHANGES = """
    ALTER TABLE app.items ADD COLUMN price numeric;
    CREATE INDEX notes_body_idx ON public.notes (body);
    DROP FUNCTION app.item_count();
    ALTER TABLE app.items ALTER COLUMN name SET DEFAULT 'nameless';
"""


def project(root: Path, files: dict[str, str] | None = None) -> Path:
    files = files or FILES
    entries = "".join(entry("0.1.0", Path(f).stem) for f in files if "rollbacks" not in f)
    return write_project(root, files, entries)


def cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_in_process(["--manifest", str(root / "migrations.toml"), *argv], root, ENV)


def applied(root: Path, url: str, *extra: str) -> Path:
    project(root)
    assert cli(root, "apply", "--database-url", url, *extra).returncode == 0
    return root


def changes(stdout: str) -> list[tuple[str, str, str]]:
    return [(d["change"], d["kind"], d["name"]) for d in json.loads(stdout)["differences"]]


# --- from literals --------------------------------------------------------------------------------

def test_snapshot_file_renders_sorted_by_name_and_parses_back() -> None:
    objects = {("column", "public.t.b"): "integer", ("table", "public.t"): "",
               ("index", 'public."odd\tname"'): "CREATE INDEX ..."}
    file = SchemaFile(Snapshot(objects), ("public",), 15)
    text = render(file)
    assert text.splitlines()[4:] == ['index\tpublic."odd\\tname"\tCREATE INDEX ...', "table\tpublic.t",
                                     "column\tpublic.t.b\tinteger"]
    assert parse(text, "s.snapshot") == file
    assert parse(render(SchemaFile(Snapshot({}), (TENANT,), 16)), "s").tenant


@pytest.mark.parametrize("text, said", [
    ("CREATE TABLE t (id int);\n", "is not an archon-plan schema snapshot"),
    ("# archon-plan schema snapshot 1\n# postgresql 15\n", "no `# schemas` line"),
    ("# archon-plan schema snapshot 1\n# postgresql 15\n# schemas [\"public\"]\ntable\n", "s.snapshot:4:"),
])
def test_a_file_that_is_no_snapshot_is_refused_with_its_line(text: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        parse(text, "s.snapshot")


def test_the_schemas_migrations_write_are_found_in_their_sql() -> None:
    sql = ("CREATE SCHEMA app; CREATE TABLE app.t (id int REFERENCES auth.users); CREATE INDEX i ON "
           '"Other".t (id); CREATE FUNCTION fn.f() RETURNS int LANGUAGE sql AS $$SELECT 1$$; '
           "CREATE TABLE plain (id int); ALTER TABLE x.y ADD COLUMN z int;")
    assert written_schemas(sql) == {"app", "other", "fn", "x"}  # names are compared folded (sql/objects)
    assert written_schemas("CREATE TABLE (") == set()


# --- snapshot -------------------------------------------------------------------------------------

def test_snapshot_is_the_same_twice_and_on_two_databases_migrated_alike(
    tmp_path: Path, database_url: str, other_database_url: str
) -> None:
    root = applied(tmp_path, database_url)
    assert cli(root, "apply", "--database-url", other_database_url).returncode == 0
    first = cli(root, "snapshot", "--database-url", database_url)
    assert first.returncode == 0, first.stderr
    assert cli(root, "snapshot", "--database-url", database_url).stdout == first.stdout
    assert cli(root, "snapshot", "--database-url", other_database_url).stdout == first.stdout
    lines = first.stdout.splitlines()
    assert lines[3] == '# schemas ["app", "public"]'  # public, and the schema the migrations write
    assert "table\tapp.items" in lines
    assert "column\tapp.items.name\ttext not null default 'unnamed'::text" in lines
    assert not [line for line in lines if "archon_migrations" in line]  # its own tables are left out
    assert not [line for line in lines if "owner postgres" in line or "oid" in line.lower()]


def test_snapshot_writes_the_file_given_and_only_the_schemas_asked_for(
    tmp_path: Path, database_url: str
) -> None:
    root = applied(tmp_path, database_url)
    done = cli(root, "snapshot", "--database-url", database_url, "--schema", "app", "--output", "s.snapshot")
    assert done.returncode == 0 and done.stdout == ""
    text = (root / "s.snapshot").read_text(encoding="utf-8")
    assert '# schemas ["app"]' in text and "public.notes" not in text and "app.items" in text


# --- drift against a snapshot ---------------------------------------------------------------------

def test_no_drift_exits_0_and_hand_changes_are_added_removed_changed_with_exit_11(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    root = applied(tmp_path, database_url)
    assert cli(root, "snapshot", "--database-url", database_url, "--output", "s.snapshot").returncode == 0
    same = cli(root, "drift", "--database-url", database_url, "--snapshot", "s.snapshot")
    assert same.returncode == 0, same.stderr
    assert "No drift:" in same.stdout and "matches s.snapshot" in same.stdout
    db.execute(HAND_CHANGES)
    done = cli(root, "drift", "--database-url", database_url, "--snapshot", "s.snapshot", "--format", "json")
    assert done.returncode == 11, done.stderr
    assert changes(done.stdout) == [  # by kind, then name
        ("changed", "column", "app.items.name"),
        ("added", "column", "app.items.price"),
        ("removed", "function", "app.item_count()"),
        ("added", "index", "public.notes_body_idx"),
    ]
    document = json.loads(done.stdout)
    assert document["ok"] is False and document["schemas"] == ["app", "public"]
    assert document["counts"] == {"added": 2, "removed": 1, "changed": 1}
    assert document["against"] == "s.snapshot" and "***" not in document["database"]
    assert keys(document) <= documented_fields("`drift`")
    [default] = [d for d in document["differences"] if d["change"] == "changed"]
    assert (default["expected"], default["found"]) == ("text not null default 'unnamed'::text",
                                                        "text not null default 'nameless'::text")


def test_drift_text_and_markdown_name_each_object(tmp_path: Path, database_url: str, db: Conn) -> None:
    root = applied(tmp_path, database_url)
    assert cli(root, "snapshot", "--database-url", database_url, "--output", "s.snapshot").returncode == 0
    db.execute("CREATE INDEX notes_body_idx ON public.notes (body)")
    text = cli(root, "drift", "--database-url", database_url, "--snapshot", "s.snapshot")
    assert text.returncode == 11
    assert ("  index public.notes_body_idx: added: CREATE INDEX notes_body_idx ON public.notes USING btree "
            "(body)") in text.stdout
    assert "1 added, 0 removed, 0 changed." in text.stdout
    markdown = cli(root, "drift", "--database-url", database_url, "--snapshot", "s.snapshot", "--format",
                   "markdown")
    assert markdown.returncode == 11
    assert markdown.stdout.startswith("### Schema drift\n")
    assert "| added | index | `public.notes_body_idx` |  | CREATE INDEX notes_body_idx" in markdown.stdout


def test_a_tenant_snapshot_does_not_fit_a_database(tmp_path: Path, database_url: str) -> None:
    root = applied(tmp_path, database_url)
    cli(root, "snapshot", "--database-url", database_url, "--tenant", "app", "--output", "t.snapshot")
    done = cli(root, "drift", "--database-url", database_url, "--snapshot", "t.snapshot")
    assert done.returncode == 4
    assert "t.snapshot is a tenant's" in done.stderr


# --- drift against the applied migrations, built on a scratch database -----------------------------

def test_drift_without_snapshot_builds_the_applied_migrations_on_a_scratch_database(
    tmp_path: Path, database_url: str, server_url: str, db: Conn
) -> None:
    root = applied(tmp_path, database_url, "--target", "001_app")  # 002 stays pending
    rows = tracking_rows(db)
    same = cli(root, "drift", "--database-url", database_url, "--scratch-url", server_url)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "the 1 applied migration(s) built on a scratch database" in same.stdout
    db.execute("ALTER TABLE app.items ADD COLUMN price numeric")
    done = cli(root, "drift", "--database-url", database_url, "--scratch-url", server_url, "--format", "json")
    assert done.returncode == 11
    assert changes(done.stdout) == [("added", "column", "app.items.price")]
    assert tracking_rows(db) == rows  # the configured database is only read
    scratch = re.findall(r"scratch database (archon_rehearse_[0-9a-f]+)", done.stderr)
    assert len(scratch) == 1
    with psycopg.connect(server_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", scratch).fetchone()
    assert left == (0,)  # dropped afterwards


# --- check --snapshot -----------------------------------------------------------------------------

def test_check_snapshot_passes_on_a_fresh_snapshot_and_catches_a_stale_one(
    tmp_path: Path, server_url: str
) -> None:
    root = tmp_path
    project(root)
    made = cli(root, "snapshot", "--from-migrations", "--scratch-url", server_url, "--output", "s.snapshot")
    assert made.returncode == 0, made.stderr
    ok = cli(root, "check", "--snapshot", "s.snapshot", "--scratch-url", server_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "No drift: what the migrations build" in ok.stdout
    files = {**FILES, "migrations/0.1.0/003_tags.sql": "ALTER TABLE public.notes ADD COLUMN tags text[];\n",
             "migrations/0.1.0/rollbacks/003_tags.sql": "ALTER TABLE public.notes DROP COLUMN tags;\n"}
    project(root, files)
    stale = cli(root, "check", "--snapshot", "s.snapshot", "--scratch-url", server_url, "--format", "json")
    assert stale.returncode == 11
    assert [(d["change"], d["name"]) for d in json.loads(stale.stdout)["snapshot"]["differences"]] == [
        ("added", "public.notes.tags")]
    assert "the snapshot is stale" in stale.stderr and "snapshot --from-migrations" in stale.stderr
    assert cli(root, "check").returncode == 0  # without --snapshot: no database, no scratch server


def test_grants_and_revokes_by_hand_are_changes_of_the_object(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    root = applied(tmp_path, database_url)
    assert cli(root, "snapshot", "--database-url", database_url, "--output", "s.snapshot").returncode == 0
    db.execute("GRANT SELECT ON public.notes TO pg_read_all_data; "
               "REVOKE EXECUTE ON FUNCTION app.item_count() FROM PUBLIC")
    done = cli(root, "drift", "--database-url", database_url, "--snapshot", "s.snapshot", "--format", "json")
    assert done.returncode == 11
    found = {d["name"]: d["found"] for d in json.loads(done.stdout)["differences"]}
    assert found["public.notes"] == "grants pg_read_all_data select"
    assert "; language sql; revokes public execute; definition md5 " in found["app.item_count()"]
