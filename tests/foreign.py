"""Small projects of other migration tools, written by the tests, and their history tables.

Each has the same three migrations: a table (reversible), a column whose down script is only
a comment (irreversible), and an index built CONCURRENTLY (no transaction; reversible).
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

Conn = psycopg.Connection[tuple[object, ...]]
UP = ("CREATE TABLE items (id int PRIMARY KEY, name text);\n",
      "ALTER TABLE items ADD COLUMN price int;\n",
      "CREATE INDEX CONCURRENTLY items_name ON items (name);\n")
DOWN = ("DROP TABLE items;\n", "-- Not reversible\n", "DROP INDEX CONCURRENTLY items_name;\n")


@dataclass(frozen=True)
class Source:
    """A tool's project: the folder to import, and the DDL and rows of its history table."""

    tool: str
    folder: Path
    history: tuple[str, ...]  # statements that create and fill the tool's history table


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def dbmate(root: Path) -> Source:
    write(root / "db/migrations", {
        "20221231235959_create_items.sql": f"-- migrate:up\n{UP[0]}\n-- migrate:down\n{DOWN[0]}",
        "20230101000000_add_price.sql": f"-- migrate:up\n{UP[1]}\n-- migrate:down\n{DOWN[1]}",
        "20230102000000_index_items.sql": f"-- migrate:up transaction:false\n{UP[2]}\n"
                                          f"-- migrate:down transaction:false\n{DOWN[2]}",
    })
    return Source("dbmate", root / "db/migrations", (
        "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)",
        "INSERT INTO schema_migrations VALUES ('20221231235959'), ('20230101000000'), ('20230102000000')"))


def golang_migrate(root: Path) -> Source:
    """Versions 9, 10 and 11: as text, 10 and 11 would sort before 9."""
    write(root / "migrations", {
        "9_create_items.up.sql": UP[0], "9_create_items.down.sql": DOWN[0],
        "10_add_price.up.sql": UP[1], "10_add_price.down.sql": DOWN[1],
        "11_index_items.up.sql": UP[2], "11_index_items.down.sql": DOWN[2],
    })
    return Source("golang-migrate", root / "migrations", (
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
        "INSERT INTO schema_migrations VALUES (11, false)"))


FLYWAY_TABLE = """CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50),
    description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL,
    checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
    execution_time int NOT NULL, success boolean NOT NULL)"""


def flyway_row(rank: int, version: str, script: str, success: bool = True, kind: str = "SQL") -> str:
    return (f"INSERT INTO flyway_schema_history VALUES ({rank}, '{version}', 'x', '{kind}', '{script}', "
            f"0, 'me', now(), 1, {str(success).lower()})")


def flyway(root: Path) -> Source:
    """Versions 1.9, 1.10 and 1.11: as text, 1.10 and 1.11 would sort before 1.9."""
    write(root / "sql", {
        "V1.9__Create_items.sql": UP[0], "U1.9__Create_items.sql": DOWN[0],
        "V1.10__Add price.sql": UP[1], "U1.10__Add price.sql": DOWN[1],
        "V1.11__index_items.sql": "-- flyway:executeInTransaction=false\n" + UP[2],
        "U1.11__index_items.sql": DOWN[2],
    })
    return Source("flyway", root / "sql", (FLYWAY_TABLE, flyway_row(1, "1.9", "V1.9__Create_items.sql"),
                                          flyway_row(2, "1.10", "V1.10__Add price.sql"),
                                          flyway_row(3, "1.11", "V1.11__index_items.sql")))


def diesel(root: Path) -> Source:
    write(root / "migrations", {
        "2023-01-01-000000_create_items/up.sql": UP[0], "2023-01-01-000000_create_items/down.sql": DOWN[0],
        "2023-01-02-000000_add_price/up.sql": UP[1], "2023-01-02-000000_add_price/down.sql": DOWN[1],
        "2023-01-03-000000_index_items/up.sql": UP[2], "2023-01-03-000000_index_items/down.sql": DOWN[2],
        "2023-01-03-000000_index_items/metadata.toml": "run_in_transaction = false\n",
    })
    return Source("diesel", root / "migrations", (
        "CREATE TABLE __diesel_schema_migrations (version varchar(50) PRIMARY KEY, "
        "run_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20230101000000'), ('20230102000000'), "
        "('20230103000000')"))


def supabase(root: Path) -> Source:
    write(root / "app/supabase/migrations", {
        "20230101000000_create_items.sql": UP[0], "20230102000000_add_price.sql": UP[1],
        "20230103000000_index_items.sql": UP[2],
    })
    return Source("supabase", root / "app", (
        "CREATE SCHEMA supabase_migrations",
        "CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, statements text[], "
        "name text)",
        "INSERT INTO supabase_migrations.schema_migrations (version) VALUES ('20230101000000'), "
        "('20230102000000'), ('20230103000000')"))


SQITCH_PLAN = """\
%syntax-version=1.0.0
%project=shop

items 2023-01-01T10:00:00Z Ann <ann@example.com> # The items table
price [items] 2023-01-02T10:00:00Z Ann <ann@example.com> # Prices
@v1.0 2023-01-02T11:00:00Z Ann <ann@example.com> # Tag v1.0.
index [items] 2023-01-03T10:00:00Z Ann <ann@example.com>
"""


def sqitch(root: Path) -> Source:
    write(root / "db", {
        "sqitch.plan": SQITCH_PLAN,
        "deploy/items.sql": f"BEGIN;\n{UP[0]}COMMIT;\n", "revert/items.sql": f"BEGIN;\n{DOWN[0]}COMMIT;\n",
        "deploy/price.sql": UP[1], "revert/price.sql": DOWN[1],
        "deploy/index.sql": UP[2], "revert/index.sql": DOWN[2], "verify/items.sql": "SELECT 1;\n",
    })
    return Source("sqitch", root / "db", (
        "CREATE SCHEMA sqitch",
        """CREATE TABLE sqitch.changes (change_id text PRIMARY KEY, script_hash text, change text NOT NULL,
            project text NOT NULL, note text NOT NULL DEFAULT '', committed_at timestamptz NOT NULL
            DEFAULT clock_timestamp(), committer_name text NOT NULL DEFAULT 'ann',
            committer_email text NOT NULL DEFAULT 'ann@example.com', planned_at timestamptz NOT NULL
            DEFAULT now(), planner_name text NOT NULL DEFAULT 'ann',
            planner_email text NOT NULL DEFAULT 'ann@example.com')""",
        "INSERT INTO sqitch.changes (change_id, change, project) VALUES ('a', 'items', 'shop'), "
        "('b', 'price', 'shop'), ('c', 'index', 'shop'), ('z', 'other', 'another_project')"))


TOOLS: dict[str, Callable[[Path], Source]] = {
    "dbmate": dbmate, "golang-migrate": golang_migrate, "flyway": flyway, "diesel": diesel,
    "supabase": supabase, "sqitch": sqitch,
}


def migrated_by_the_tool(conn: Conn, source: Source) -> None:
    """The database as the tool left it: the schema objects, and its history table."""
    for statement in (*UP, *source.history):
        conn.execute(statement)  # type: ignore[arg-type]  # test literals


def tree_hash(folder: Path) -> str:
    """Every file's path and bytes below a folder."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
