"""The statements that record a migration: its tracking row (and, in its message, its event),
as templates built once per settings and bound with each migration's values.

Composing psycopg.sql costs more than a small migration's round trip, so the templates are
cached; they are bound server-side by execute() alone, client-side in a migration's message
(batch.py).
"""

from __future__ import annotations

import functools

import psycopg
from psycopg import sql

from ..core.model import Migration, Settings
from .events import Values, event_insert
from .tracker import table_identifier


def record_applied(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, migration: Migration
) -> None:
    """Write the migration's row inside its transaction, after its SQL ran."""
    conn.execute(applied_template(settings, names_table(settings, migration), False),
                 migration_values(settings, migration))


def record_reverted(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, migration: Migration
) -> None:
    """Delete the migration's row (either name form) inside the rollback's transaction."""
    conn.execute(reverted_template(settings, False), migration_values(settings, migration))


def names_table(settings: Settings, migration: Migration) -> bool:
    """Whether the file names the tracking table, so it may insert rows of its own."""
    return settings.tracking_table.lower() in migration.sql.text.lower()


def migration_values(settings: Settings, migration: Migration) -> Values:
    return {
        "version": migration.version, "stem": migration.stem, "file": migration.migration_name,
        "name": migration.recorded_name(settings.name_form), "checksum": migration.checksum,
        "rollback": migration.rollback.checksum if migration.rollback else None,
    }


@functools.lru_cache(maxsize=32)
def applied_template(settings: Settings, scan_rows: bool, in_message: bool) -> sql.Composed:
    """What records an applied migration: its SQL's last companion.

    Archon's files insert tracking rows themselves (their own, and 008 back-fills
    001..007) under the name without `.sql`. A row this very transaction inserted under
    exactly a name already recorded, or the migration's own under the name recorded next,
    is removed first, so no name is recorded twice; older rows are never touched. A row in
    the other name form is not a duplicate: it is what Archon's own application looks up
    (`001_x` where migrate.py wrote `001_x.sql`), and it stays. Only files that name the
    tracking table (`scan_rows`) can insert such rows, so the others skip that scan.
    `in_message`: as statements of the migration's message, with its event (_chain).
    """
    table = table_identifier(settings)
    steps: list[tuple[str, sql.Composable]] = []
    if scan_rows:
        steps.append(("repeats", sql.SQL("""DELETE FROM {t} AS d
            WHERE d.xmin = pg_catalog.pg_current_xact_id()::xid
              AND ((d.version = %(version)s AND d.migration_name = %(name)s)
                OR EXISTS (SELECT 1 FROM {t} AS o
                    WHERE o.version = d.version AND o.id <> d.id
                      AND o.xmin <> pg_catalog.pg_current_xact_id()::xid
                      AND o.migration_name = d.migration_name))""").format(t=table)))
    steps.append(("tracked", sql.SQL("""INSERT INTO {t} (version, migration_name, applied_at, checksum,
                execution_ms, applied_by, rollback_checksum)
            SELECT %(version)s, %(name)s, clock_timestamp(), %(checksum)s,
                (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer,
                current_user, %(rollback)s""").format(t=table)))
    return _chain(settings, steps, in_message)


@functools.lru_cache(maxsize=32)
def reverted_template(settings: Settings, in_message: bool) -> sql.Composed:
    """What deletes the migration's row (either name form); `in_message`: and appends its event.

    Under the lock nobody else deletes rows, so finding none means the rollback's
    own SQL removed it, which is fine.
    """
    gone = sql.SQL("DELETE FROM {} WHERE version = %(version)s AND migration_name IN (%(stem)s, %(file)s)"
                   ).format(table_identifier(settings))
    return _chain(settings, [("gone", gone)], in_message)


def _chain(settings: Settings, steps: list[tuple[str, sql.Composable]], in_message: bool) -> sql.Composed:
    """The steps in order. In a migration's message (a simple-query message bound client-side)
    they are plain statements followed by the event's INSERT: the server ran them 0.05 ms
    faster per migration than data-modifying CTEs (docs/performance.md). Alone, bound
    server-side, they must be one statement: data-modifying CTEs, each reading the one before
    (an INSERT ... SELECT reads the count of the step before) so they run in order."""
    if in_message:
        return sql.SQL(";\n").join([body for _, body in steps] + [event_insert(settings, True)])
    ctes, before = [], None
    for name, body in steps:
        reads = sql.SQL(" FROM (SELECT count(*) FROM {}) AS done").format(before) if before else sql.SQL("")
        ctes.append(sql.SQL("{} AS ({}{} RETURNING 1)").format(sql.Identifier(name), body, reads))
        before = sql.Identifier(name)
    return sql.SQL("WITH {} SELECT count(*) FROM {}").format(sql.SQL(", ").join(ctes), before)


def update_checksum(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, migration: Migration
) -> None:
    """Record the file's current checksum: the explicit `repair --accept-checksum`."""
    conn.execute(
        sql.SQL("""UPDATE {} SET checksum = %s, rollback_checksum = %s
            WHERE version = %s AND migration_name IN (%s, %s)""").format(table_identifier(settings)),
        (migration.checksum, migration.rollback.checksum if migration.rollback else None,
         migration.version, migration.stem, migration.migration_name),
    )


