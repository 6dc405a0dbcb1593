"""The tracking table contract: creating or adopting it, its rows, the statements that record them.

Invariant (as Django's recorder states it): a row exists in the tracking table
if and only if that migration's SQL committed. Rows are written and deleted
inside the migration's own transaction, and otherwise changed only by an explicit
`repair` (which leaves an event behind).
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from ..core.durations import duration_is_off
from ..core.model import AppliedRow, Migration, Settings
from ..errors import LockTimeoutError, RefusedError
from .events import events_identifier, events_table_name, exists


def table_identifier(settings: Settings) -> sql.Identifier:
    return sql.Identifier(settings.tracking_schema, settings.tracking_table)


def own_tables(settings: Settings) -> list[tuple[str, str]]:
    """(schema, table) of the tracking and events tables: archon-plan's, not the migrations' schema."""
    return [(settings.tracking_schema, t) for t in (settings.tracking_table, events_table_name(settings))]


def ensure_table(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> None:
    """Create the seed's table, or adopt an existing one by adding our columns."""
    name = settings.tracking_table
    parts = {
        "schema": sql.Identifier(settings.tracking_schema),
        "table": table_identifier(settings),
        "events": events_identifier(settings),
        "idx_version": sql.Identifier(f"idx_{name}_version"),  # fits: the manifest caps the name
        "idx_applied_at": sql.Identifier(f"idx_{name}_applied_at"),
    }
    statements = [
        "CREATE SCHEMA IF NOT EXISTS {schema}",
        """CREATE TABLE IF NOT EXISTS {table} (
            id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
            version VARCHAR(20) NOT NULL,
            migration_name VARCHAR(255) NOT NULL,
            applied_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
            checksum VARCHAR(32),
            UNIQUE(version, migration_name))""",
        "CREATE INDEX IF NOT EXISTS {idx_version} ON {table}(version)",
        "CREATE INDEX IF NOT EXISTS {idx_applied_at} ON {table}(applied_at DESC)",
        # Our additions; Archon's application selects only the seed's columns.
        """ALTER TABLE {table}
            ADD COLUMN IF NOT EXISTS execution_ms INTEGER,
            ADD COLUMN IF NOT EXISTS applied_by TEXT,
            ADD COLUMN IF NOT EXISTS rollback_checksum VARCHAR(32)""",
        # Append-only: archon-plan only ever INSERTs here; revert deletes the
        # tracking row (as the seed does) but the events keep the whole story.
        """CREATE TABLE IF NOT EXISTS {events} (
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
            detail JSONB)""",
    ]
    if _complete(conn, settings):  # one catalog query on every run after the first
        return
    _run_own_ddl(conn, settings, [sql.SQL(statement).format(**parts) for statement in statements])
    harden(conn, settings)  # whoever created them (apply, adopt, repair): closed from the start


# Supabase grants new public tables to its HTTP API's roles: the anon key would read our events.
API_ROLES = ("anon", "authenticated")


def harden(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> None:
    """Row level security on, with no policy, and no privileges for PUBLIC or the API roles,
    for each of our two tables that has it off: archon-plan created it (now or in an older
    version). A table with it on is left alone: Archon's own 008 sets its policies."""
    ours = (table_identifier(settings), events_identifier(settings))
    tables = {table.as_string(conn): table for table in ours}
    # Only the owner may enable row level security: a deploy role with DML grants on a table an
    # admin created leaves it as it is, rather than failing every run.
    rows = conn.execute("SELECT t.name FROM unnest(%s::text[]) AS t(name) JOIN pg_catalog.pg_class AS c "
                        "ON c.oid = to_regclass(t.name) WHERE NOT c.relrowsecurity "
                        "AND pg_catalog.pg_has_role(c.relowner, 'USAGE')", (list(tables),))
    open_tables = [tables[str(name)] for name, in rows]
    if not open_tables:
        return
    roles = [sql.Identifier(str(name)) for name, in conn.execute(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s) ORDER BY 1", (list(API_ROLES),))]
    grantees = sql.SQL(", ").join([sql.SQL("PUBLIC"), *roles])
    _run_own_ddl(conn, settings, [
        statement.format(t=table, who=grantees) for table in open_tables for statement in (
            sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"), sql.SQL("REVOKE ALL ON {t} FROM {who}"))])


# Our own DDL must never queue in front of production queries: an ALTER TABLE waiting for a
# reader of an adopted tracking table would make every later reader wait behind it.
OWN_DDL_LOCK_TIMEOUT = "10s"
# Another runner (of another project, in the same new schema) created the object first:
# the next try sees it there.
_RACES = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema,
          psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject)


def _run_own_ddl(conn: psycopg.Connection[tuple[object, ...]], settings: Settings,
                 statements: list[sql.Composed]) -> None:
    """One transaction under a short lock_timeout, retried with backoff when it met a lock or
    lost a race; LockTimeoutError (exit 7) once the retries are spent."""
    from . import lock  # here: `status` only reads, and never loads the lock

    off = settings.lock_timeout is None or duration_is_off(settings.lock_timeout)
    timeout = OWN_DDL_LOCK_TIMEOUT if off else str(settings.lock_timeout)
    for attempt in range(settings.lock_retries + 1):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, true)", (timeout,))
                for statement in statements:
                    conn.execute(statement)
            return
        except psycopg.errors.LockNotAvailable:
            if attempt == settings.lock_retries:
                raise LockTimeoutError(
                    f"could not create or adopt {settings.qualified_table}: another session kept it "
                    f"locked past lock_timeout ({timeout}) in {attempt + 1} tries; nothing was changed",
                    "the reader's transaction must end first (pg_stat_activity shows it); "
                    "then run archon-plan again",
                ) from None
        except _RACES:
            if attempt == settings.lock_retries:
                raise
        lock.sleep(lock.retry_delay(attempt + 1))


def _complete(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> bool:
    """Whether both tables exist and the tracking table has our columns."""
    row = conn.execute(
        """SELECT to_regclass(%(events)s) IS NOT NULL AND (
               SELECT count(*) FROM pg_catalog.pg_attribute
               WHERE attrelid = to_regclass(%(table)s) AND NOT attisdropped
                 AND attname IN ('execution_ms', 'applied_by', 'rollback_checksum')) = 3""",
        {"table": table_identifier(settings).as_string(conn),
         "events": events_identifier(settings).as_string(conn)},
    ).fetchone()
    return bool(row and row[0])


def read_rows(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, there: bool | None = None
) -> list[AppliedRow]:
    """Every tracking row; none when the table does not exist yet (read-only). `there`: whether
    it exists, when the caller already asked."""
    if not (exists(conn, table_identifier(settings)) if there is None else there):
        return []
    query = sql.SQL("SELECT id::text, version::text, migration_name::text, applied_at, checksum::text "
                    "FROM {} ORDER BY applied_at, id").format(table_identifier(settings))
    return [_applied_row(settings, *row) for row in conn.execute(query)]


def _applied_row(settings: Settings, row_id: object, version: object, name: object, applied_at: object,
                 checksum: object) -> AppliedRow:
    """A row as archon-plan reads it; one that names no migration is refused, naming the row:
    another tool or a person may have written anything there."""
    missing = "version" if not version else "migration_name" if not name else None
    if missing:
        raise RefusedError(
            f"{settings.qualified_table}: row id {row_id} (version {version!r}, migration_name {name!r}) "
            f"has no {missing}, so archon-plan cannot tell which migration it records",
            "it was not written by archon-plan: fix or delete that row by hand")
    when = applied_at if isinstance(applied_at, datetime) else None
    return AppliedRow(str(version), str(name), when, None if checksum is None else str(checksum))


def tables_exist(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> tuple[bool, bool]:
    """Whether the tracking table and the events table exist: one round trip for both."""
    names = (table_identifier(settings).as_string(conn), events_identifier(settings).as_string(conn))
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", names).fetchone()
    return (bool(row[0]), bool(row[1])) if row else (False, False)


def has_row(conn: psycopg.Connection[tuple[object, ...]], settings: Settings, migration: Migration) -> bool:
    """Whether the migration has its row (in either name form): whether it is applied."""
    query = sql.SQL("SELECT EXISTS (SELECT FROM {} WHERE version = %s AND migration_name IN (%s, %s))")
    row = conn.execute(query.format(table_identifier(settings)),
                       (migration.version, migration.stem, migration.migration_name)).fetchone()
    return bool(row and row[0])
