"""`archon-plan fleet`: many databases and tenant schemas, against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.helpers import entry, run_in_process, write_project

Conn = psycopg.Connection[tuple[object, ...]]
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL")
}
SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\\\_%' ORDER BY 1"


@pytest.fixture
def more_databases(server_url: str) -> Iterator[Callable[[], str]]:
    """Makes further empty databases for the test; drops them afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"archon_test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return make_conninfo(server_url, dbname=name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def project(root: Path, extra: str = "") -> Path:
    """Two migrations of unqualified SQL: where they land is the search_path's doing. The second
    sets the session's search_path, which must not reach the next tenant on the connection."""
    files = {
        "migrations/0.1.0/001_items.sql": "CREATE TABLE items (id int PRIMARY KEY);\n" + extra,
        "migrations/0.1.0/rollbacks/001_items.sql": "DROP TABLE items;\n",
        "migrations/0.1.0/002_name.sql": "ALTER TABLE items ADD COLUMN name text;\n"
        "SELECT set_config('search_path', 'public', false);\n",
        "migrations/0.1.0/rollbacks/002_name.sql": "ALTER TABLE items DROP COLUMN name;\n",
    }
    return write_project(root, files, entry("0.1.0", "001_items") + entry("0.1.0", "002_name"))


def fleet_file(root: Path, targets: dict[str, str | None], fleet: str = "") -> None:
    """targets: name -> None (the database) or the schemas query (its tenants)."""
    parts = [f"[fleet]\n{textwrap.dedent(fleet)}\n"]
    for name, schemas in targets.items():
        parts.append(f'[[target]]\nname = "{name}"\nurl_env = "{name.upper()}_URL"\n')
        if schemas:
            parts.append(f'schemas = "{schemas}"\n')
    (root / "fleet.toml").write_text("\n".join(parts), encoding="utf-8")


def tenants(db: Conn, count: int) -> list[str]:
    names = [f"tenant_{i:03d}" for i in range(1, count + 1)]
    for name in names:
        db.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return names


def fleet(root: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, object], str]:
    done = run_in_process(
        ["--manifest", str(root / "migrations.toml"), "fleet", *args, "--format", "json"],
        root,
        {**ENV, **env},
    )
    try:
        document = json.loads(done.stdout)
    except ValueError:
        document = {}
    return done.returncode, document, done.stderr


def results(document: dict[str, object]) -> dict[str, dict[str, object]]:
    targets = document["targets"]
    assert isinstance(targets, list)
    return {str(t["name"]): t for t in targets}


def relations(db: Conn, name: str) -> list[str]:
    rows = db.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s ORDER BY 1",
        (name,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def rows_per_schema(db: Conn, schemas: list[str]) -> dict[str, int]:
    found = {}
    for schema in schemas:
        query = sql.SQL("SELECT count(*) FROM {}.archon_migrations").format(sql.Identifier(schema))
        row = db.execute(query).fetchone()
        found[schema] = int(str(row[0])) if row else 0
    return found


def test_fleet_apply_migrates_each_database_and_tenant_in_its_own_place_once(
    tmp_path: Path, database_url: str, db: Conn, more_databases: Callable[[], str]
) -> None:
    project(tmp_path)
    schemas = tenants(db, 50)
    env = {
        "SAAS_URL": database_url,
        "EU_URL": more_databases(),
        "US_URL": more_databases(),
        "ASIA_URL": more_databases(),
    }
    fleet_file(tmp_path, {"eu": None, "us": None, "asia": None, "saas": SCHEMAS})
    code, document, _ = fleet(tmp_path, env, "apply", "--parallel", "4")
    assert code == 0, [(name, t["error"]) for name, t in results(document).items() if t["error"]]
    found = results(document)
    assert len(found) == 53
    assert all(
        t["result"] == "ok" and t["ran"] == ["0.1.0/001_items", "0.1.0/002_name"] for t in found.values()
    )
    assert relations(db, "items") == schemas  # each tenant's table in its schema, none in public
    assert relations(db, "archon_migrations") == schemas
    assert rows_per_schema(db, schemas) == dict.fromkeys(schemas, 2)
    for name in ("EU_URL", "US_URL", "ASIA_URL"):
        with psycopg.connect(env[name]) as other:
            assert relations(other, "items") == ["public"]
    again, document, _ = fleet(tmp_path, env, "apply", "--parallel", "4")
    assert again == 0
    assert all(t["ran"] == [] for t in results(document).values())

    code, status, _ = fleet(tmp_path, env, "status", "--check")
    assert code == 0
    alone = run_in_process(
        [
            "--manifest",
            str(tmp_path / "migrations.toml"),
            "--database-url",
            env["EU_URL"],
            "status",
            "--format",
            "json",
        ],
        tmp_path,
        ENV,
    )
    counts = json.loads(alone.stdout)["counts"]
    eu = results(status)["eu"]["counts"]
    assert isinstance(eu, dict)
    assert eu["applied"] == counts["applied"] + counts["applied-unknown-checksum"] == 2
    assert eu["pending"] == counts["pending"] == 0
    assert results(status)["saas/tenant_007"]["counts"] == eu


def test_a_failed_tenant_under_continue_leaves_the_others_applied_and_a_rerun_finishes_it(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    project(tmp_path)
    schemas = tenants(db, 6)
    db.execute("CREATE TABLE tenant_003.items (conflict int)")
    fleet_file(tmp_path, {"saas": SCHEMAS}, 'on_error = "continue"\nparallel = 2')
    env = {"SAAS_URL": database_url}
    code, document, _ = fleet(tmp_path, env, "apply")
    assert code == 3
    found = results(document)
    failed = found["saas/tenant_003"]
    assert failed["result"] == "failed" and failed["exit_code"] == 3
    assert 'relation "items" already exists' in str(failed["error"])
    assert rows_per_schema(db, [s for s in schemas if s != "tenant_003"]) == dict.fromkeys(
        [s for s in schemas if s != "tenant_003"], 2
    )
    db.execute("DROP TABLE tenant_003.items")
    code, document, _ = fleet(tmp_path, env, "apply")
    assert code == 0
    ran = {name: t["ran"] for name, t in results(document).items() if t["ran"]}
    assert ran == {"saas/tenant_003": ["0.1.0/001_items", "0.1.0/002_name"]}


def test_on_error_stop_starts_no_new_target_after_a_failure(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    project(tmp_path)
    tenants(db, 5)
    db.execute("CREATE TABLE tenant_002.items (conflict int)")
    fleet_file(tmp_path, {"saas": SCHEMAS}, "parallel = 1")
    code, document, _ = fleet(tmp_path, {"SAAS_URL": database_url}, "apply")
    assert code == 3
    words = [t["result"] for t in results(document).values()]
    assert words == ["ok", "failed", "not-started", "not-started", "not-started"]
    assert relations(db, "archon_migrations") == ["tenant_001", "tenant_002"]  # 002's rolled back, kept empty


def test_a_failed_canary_stops_everything_else(tmp_path: Path, database_url: str, db: Conn) -> None:
    project(tmp_path)
    tenants(db, 8)
    db.execute("CREATE TABLE tenant_002.items (conflict int)")
    fleet_file(tmp_path, {"saas": SCHEMAS}, 'canary = 2\nparallel = 4\non_error = "continue"')
    code, document, _ = fleet(tmp_path, {"SAAS_URL": database_url}, "apply")
    assert code == 3
    words = [t["result"] for t in results(document).values()]
    assert words == ["ok", "failed"] + ["not-started"] * 6
    assert relations(db, "items") == ["tenant_001", "tenant_002"]  # 002's is the conflicting one


def test_an_unreachable_target_is_reported_and_the_others_go_on(tmp_path: Path, database_url: str) -> None:
    project(tmp_path)
    fleet_file(tmp_path, {"eu": None, "us": None}, 'on_error = "continue"')
    code, document, _ = fleet(
        tmp_path, {"EU_URL": "postgresql://nobody@127.0.0.1:1/x", "US_URL": database_url}, "apply"
    )
    assert code == 3
    found = results(document)
    assert found["eu"]["exit_code"] == 6 and found["us"]["result"] == "ok"


def test_shards_partition_the_targets(tmp_path: Path, database_url: str, db: Conn) -> None:
    project(tmp_path)
    schemas = tenants(db, 30)
    fleet_file(tmp_path, {"saas": SCHEMAS})
    seen: list[str] = []
    for shard in range(1, 4):
        code, document, _ = fleet(tmp_path, {"SAAS_URL": database_url}, "status", "--shard", f"{shard}/3")
        assert code == 0
        seen += list(results(document))
    assert sorted(seen) == [f"saas/{s}" for s in schemas]


def test_a_non_transactional_migration_runs_in_the_tenant_and_leaks_nothing(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    index = tmp_path / "migrations/0.1.0/003_index.sql"
    index.write_text("CREATE INDEX CONCURRENTLY items_name ON items (name);\n", encoding="utf-8")
    with manifest.open("a", encoding="utf-8") as out:
        out.write(
            '[[migration]]\nversion = "0.1.0"\nfile = "migrations/0.1.0/003_index.sql"\n'
            "transactional = false\n"
        )
    schemas = tenants(db, 4)
    fleet_file(tmp_path, {"saas": SCHEMAS}, "parallel = 1")  # one connection for all four tenants
    code, _, err = fleet(tmp_path, {"SAAS_URL": database_url}, "apply")
    assert code == 0, err
    assert relations(db, "items_name") == schemas


def test_the_schemas_query_must_name_existing_schemas(tmp_path: Path, database_url: str) -> None:
    project(tmp_path)
    fleet_file(tmp_path, {"saas": "SELECT 'tenant_nope'::text"})
    code, document, _ = fleet(tmp_path, {"SAAS_URL": database_url}, "apply")
    assert code == 3
    assert "'tenant_nope', which is not a schema" in str(results(document)["saas"]["error"])


def test_fleet_refuses_bad_sql_before_touching_any_target(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    project(tmp_path, extra="SELECT 'a\x00b';\n")
    tenants(db, 2)
    fleet_file(tmp_path, {"saas": SCHEMAS})
    code, _, err = fleet(tmp_path, {"SAAS_URL": database_url}, "apply")
    assert code == 4
    assert "NUL" in err
    assert relations(db, "archon_migrations") == []


def test_the_executable_prints_a_line_per_target_then_the_summary(tmp_path: Path, database_url: str) -> None:
    project(tmp_path)
    fleet_file(tmp_path, {"eu": None})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "archon_plan",
            "--manifest",
            str(tmp_path / "migrations.toml"),
            "fleet",
            "apply",
        ],
        env={**ENV, "EU_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("ok      eu  ran 2")
    assert "1 target(s): 1 ok (2 migration(s) applied)" in done.stdout


def test_fleet_revert_last_and_to_on_every_tenant(tmp_path: Path, database_url: str, db: Conn) -> None:
    project(tmp_path)
    schemas = tenants(db, 3)
    fleet_file(tmp_path, {"saas": SCHEMAS})
    env = {"SAAS_URL": database_url}
    assert fleet(tmp_path, env, "apply")[0] == 0
    code, document, _ = fleet(tmp_path, env, "revert", "--last", "1", "--only", "saas/tenant_00[12]")
    assert code == 0
    assert {name: t["ran"] for name, t in results(document).items()} == {
        "saas/tenant_001": ["0.1.0/002_name"],
        "saas/tenant_002": ["0.1.0/002_name"],
    }
    code, document, _ = fleet(tmp_path, env, "revert", "--to", "001_items", "--dry-run")
    assert code == 0
    assert results(document)["saas/tenant_003"]["ran"] == ["0.1.0/002_name"]
    assert results(document)["saas/tenant_001"]["ran"] == []
    code, _, err = fleet(tmp_path, env, "revert", "--to", "001_itemz")
    assert code == 4 and "001_items" in err
    assert rows_per_schema(db, schemas) == {"tenant_001": 1, "tenant_002": 1, "tenant_003": 2}


def test_a_target_waiting_for_its_window_is_ok_with_its_migrations_deferred(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        '[settings]\nwindows = ["daily 00:00-00:01 Pacific/Kiritimati"]\n\n' + text, encoding="utf-8"
    )
    tenants(db, 2)
    fleet_file(tmp_path, {"saas": SCHEMAS})
    env = {"SAAS_URL": database_url}
    code, document, _ = fleet(tmp_path, env, "apply")
    found = results(document)
    if all(t["ran"] for t in found.values()):
        pytest.skip("the one-minute window happens to be open now")
    assert code == 0
    assert all(t["deferred"] == ["0.1.0/001_items", "0.1.0/002_name"] for t in found.values())
    code, document, _ = fleet(tmp_path, env, "apply", "--ignore-windows")
    assert code == 0 and all(len(t["ran"]) == 2 for t in results(document).values())
