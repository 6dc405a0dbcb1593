"""archon-plan's own tables are closed to Supabase's API roles: row level security on, with no
policy, and no privileges for PUBLIC, anon or authenticated."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.helpers import ARCHON_SEED, entry, run_in_process, write_project
from tests.test_reliability import ENV

Conn = psycopg.Connection[tuple[object, ...]]
TABLES = ("public.archon_migrations", "public.archon_migrations_events")


def supabase_like(db: Conn) -> None:
    """The API roles (cluster-wide, as Supabase has them) and its default grants on new tables."""
    db.execute("""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
            CREATE ROLE authenticated NOLOGIN; END IF;
        END $$""")
    db.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated")


def project(root: Path) -> Path:
    write_project(
        root,
        {"migrations/0.1.0/001_t1.sql": "CREATE TABLE t1 (id int);\n"},
        entry("0.1.0", "001_t1", rollback=False),
    )
    return root


def apply(root: Path, url: str) -> None:
    done = run_in_process(
        ["--manifest", str(root / "migrations.toml"), "--database-url", url, "apply"], root, ENV
    )
    assert done.returncode == 0, done.stderr


def exposed(db: Conn, table: str) -> tuple[bool, bool, bool]:
    """(row level security off, anon may read, authenticated may write)."""
    row = db.execute(
        "SELECT NOT relrowsecurity, has_table_privilege('anon', c.oid, 'SELECT'), "
        "has_table_privilege('authenticated', c.oid, 'INSERT') FROM pg_class c "
        "WHERE c.oid = to_regclass(%s)",
        (table,),
    ).fetchone()
    assert row is not None
    return (bool(row[0]), bool(row[1]), bool(row[2]))


def test_tables_archon_plan_creates_are_closed_to_the_api_roles(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    supabase_like(db)
    apply(project(tmp_path), database_url)
    assert db.execute("SELECT has_table_privilege('anon', 't1', 'SELECT')").fetchone() == (True,)  # theirs
    for table in TABLES:
        assert exposed(db, table) == (False, False, False)
    assert db.execute(
        "SELECT count(*) FROM pg_policy WHERE polrelid = ANY(%s::regclass[])", (list(TABLES),)
    ).fetchone() == (0,)


def test_an_open_table_from_an_older_version_is_closed_by_the_next_run_even_with_nothing_to_do(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    supabase_like(db)
    apply(project(tmp_path), database_url)
    for table in TABLES:  # as archon-plan before this change left them
        db.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        db.execute(f"GRANT ALL ON {table} TO anon, authenticated")
    apply(tmp_path, database_url)  # nothing pending
    for table in TABLES:
        assert exposed(db, table) == (False, False, False)


def test_archons_own_table_with_its_policies_is_left_alone(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    supabase_like(db)
    db.execute(ARCHON_SEED)
    db.execute("ALTER TABLE archon_migrations ENABLE ROW LEVEL SECURITY")
    db.execute("CREATE POLICY read ON archon_migrations FOR SELECT TO authenticated USING (true)")
    apply(project(tmp_path), database_url)
    assert db.execute(
        "SELECT has_table_privilege('authenticated', 'archon_migrations', 'SELECT')"
    ).fetchone() == (True,)
    assert exposed(db, "public.archon_migrations_events") == (False, False, False)


def test_a_first_apply_that_fails_leaves_the_tables_closed(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    supabase_like(db)
    write_project(
        tmp_path, {"migrations/0.1.0/001_t1.sql": "SELECT 1/0;\n"}, entry("0.1.0", "001_t1", rollback=False)
    )
    done = run_in_process(
        ["--manifest", str(tmp_path / "migrations.toml"), "--database-url", database_url, "apply"],
        tmp_path,
        ENV,
    )
    assert done.returncode == 3
    for table in TABLES:
        assert exposed(db, table) == (False, False, False)
