"""What the fleet figures run on: tenant schemas, fleet files, and the psql floor's files.

The floor does a tenant's work as archon-plan does it: the tracking and events tables in the
tenant's schema (tracker.ensure_table's DDL), then each migration in its own transaction with
`SET LOCAL search_path TO <tenant>, public` and its tracking row (recording.record_applied's
INSERT without its bookkeeping). What it leaves out is what archon-plan adds: the lock,
reading the rows, the events, the checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from .baselines import READ_ROWS, insert_params
from .generate import Project
from .loop import INSERT_ROW, TRACKING_DDL
from .measure import BenchError
from .server import Server, fresh_database
from .statements import statement_count

MIGRATIONS = 10  # per tenant and per database: bench/generate.py's first ten
TENANTS_VARIABLE = "ARCHON_BENCH_TENANTS_URL"
SCHEMAS_QUERY = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"
TENANT_FLEET, DATABASE_FLEET = "fleet-tenants.toml", "fleet-databases.toml"

# tracker.ensure_table's events table, beside the tracking table of loop.TRACKING_DDL.
EVENTS_DDL = """CREATE TABLE IF NOT EXISTS public.archon_migrations_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event TEXT NOT NULL,
    version VARCHAR(20),
    migration_name VARCHAR(255),
    checksum VARCHAR(32),
    rollback_checksum VARCHAR(32),
    db_user TEXT NOT NULL DEFAULT current_user,
    os_user TEXT,
    host TEXT,
    tool_version TEXT,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    duration_ms INTEGER,
    error TEXT,
    detail JSONB);
"""


def tenant_names(n: int) -> list[str]:
    width = max(4, len(str(n)))
    return [f"tenant_{i:0{width}d}" for i in range(1, n + 1)]


def _in_schema(template: str, schema: str, *values: str) -> str:
    """A statement of the default table (`public.`) moved to the tenant's schema, its %s bound
    as literals: composed with psycopg.sql, never str formatting."""
    text = template.replace("public", "{schema}").replace("%s", "{}")
    return sql.SQL(text).format(*map(sql.Literal, values), schema=sql.Identifier(schema)).as_string(None)


def create_tenants(url: str, names: Sequence[str]) -> None:
    """The application's part: the fleet never creates a tenant's schema."""
    statements = sql.SQL("; ").join(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(n)) for n in names)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statements)


@contextmanager
def tenant_database(server: Server, n: int, log_statements: bool = False) -> Iterator[str]:
    """A fresh database with n empty tenant schemas, dropped afterwards."""
    with fresh_database(server, log_statements) as url:
        create_tenants(url, tenant_names(n))
        yield url


@contextmanager
def databases(server: Server, count: int) -> Iterator[list[str]]:
    """count fresh databases, all dropped afterwards."""
    with ExitStack() as stack:
        yield [stack.enter_context(fresh_database(server)) for _ in range(count)]


def database_variable(index: int) -> str:
    return f"ARCHON_BENCH_DB{index:02d}_URL"


def database_env(urls: Sequence[str]) -> dict[str, str]:
    return {database_variable(i): url for i, url in enumerate(urls, 1)}


def write_fleet_files(project: Project, databases: int) -> tuple[Path, Path]:
    """Beside the manifest: one target whose `schemas` query yields every tenant, and one
    of `databases` whole-database targets, each with its own url_env."""
    schemas = SCHEMAS_QUERY.replace("\\", "\\\\")  # a TOML basic string
    tenants = project.root / TENANT_FLEET
    tenants.write_text(f'[[target]]\nname = "app"\nurl_env = "{TENANTS_VARIABLE}"\n'
                       f'schemas = "{schemas}"\n', encoding="utf-8")
    whole = project.root / DATABASE_FLEET
    whole.write_text("".join(f'[[target]]\nname = "db{i:02d}"\nurl_env = "{database_variable(i)}"\n\n'
                             for i in range(1, databases + 1)), encoding="utf-8")
    return tenants, whole


def _floor_tenant(project: Project, schema: str) -> str:
    """One tenant's part of the floor: its two tables, then each migration in BEGIN/COMMIT
    with SET LOCAL search_path and its tracking row."""
    path = sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)).as_string(None)
    return _in_schema(TRACKING_DDL + EVENTS_DDL, schema) + "".join(
        f"BEGIN;\n{path};\n{m.forward}{_in_schema(INSERT_ROW, schema, *insert_params(m))};\nCOMMIT;\n"
        for m in project.migrations)


def floor_statements(project: Project) -> int:
    """Statements the floor sends per tenant beyond the migrations' own (psql sends each
    statement as a message of its own)."""
    return statement_count(_floor_tenant(project, "tenant_0001")) - project.own_statements


def write_floor_files(project: Project, n: int) -> tuple[Path, Path]:
    """floor_tenants_<n>.sql: every tenant's part in turn. floor_status_<n>.sql: the schemas
    query, then each tenant's rows, as status reads them."""
    names = tenant_names(n)
    floor_apply = project.root / f"floor_tenants_{n}.sql"
    floor_status = project.root / f"floor_status_{n}.sql"
    floor_apply.write_text("".join(_floor_tenant(project, schema) for schema in names), encoding="utf-8")
    floor_status.write_text(SCHEMAS_QUERY + ";\n" + "".join(_in_schema(READ_ROWS, schema) + ";\n"
                                                            for schema in names), encoding="utf-8")
    return floor_apply, floor_status


def tables_per_target(project: Project) -> int:
    """The tables one target holds once everything is applied: the project's and our two."""
    return sum(m.forward.startswith("CREATE TABLE") for m in project.migrations) + 2


def check_tenants(url: str, n: int, per_tenant: int, public: int | None = 0) -> None:
    """Every tenant has its tables (and public `public` tables): the search_path did its work,
    and every runner compared did the same work."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FILTER (WHERE schemaname LIKE 'tenant\\_%'), "
                           "count(*) FILTER (WHERE schemaname = 'public') FROM pg_tables").fetchone()
    found = (row[0], row[1] if public is not None else None) if row else None
    if found != (n * per_tenant, public):
        raise BenchError(f"after applying to {n:,} tenants: {found} tables in tenant schemas and in "
                         f"public, where {(n * per_tenant, public)} were expected")


def check_databases(env: Mapping[str, str], project: Project) -> None:
    """Every database of the fleet has the project's tables and ours."""
    for variable, url in env.items():
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        if row is None or row[0] != tables_per_target(project):
            raise BenchError(f"{variable}: {row[0] if row else '?'} tables in public after apply, "
                             f"where {tables_per_target(project)} were expected")
