"""The append-only event history beside the tracking table: its name, appending, reading, failures."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..core.model import STOPPING_EVENTS, Event, EventKind, Settings
from ..core.resume import STOP_KEY, Failure
from ..errors import RefusedError

Values = dict[str, object]


def exists(conn: psycopg.Connection[tuple[object, ...]], table: sql.Identifier) -> bool:
    """Whether the table exists (read-only: status never creates anything)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table.as_string(conn),)).fetchone()
    return bool(row and row[0])


def events_identifier(settings: Settings) -> sql.Identifier:
    return sql.Identifier(settings.tracking_schema, events_table_name(settings))


def events_table_name(settings: Settings) -> str:
    """The append-only history beside the tracking table."""
    return f"{settings.tracking_table}_events"  # fits 63: the manifest caps the name at 48


def record_event(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, event: Event
) -> None:
    """Append one event. Inside a migration's transaction it commits with it."""
    conn.execute(event_template(settings, event.seconds is None), event_values(settings, event))


def record_owed(conn: psycopg.Connection[tuple[object, ...]], settings: Settings, owed: list[Event]) -> None:
    """Append events that happened outside any migration (a hook's run) once the events table
    exists, taking each written one off `owed`; best effort: they never fail the run."""
    with contextlib.suppress(psycopg.Error):
        if not exists(conn, events_identifier(settings)):
            return
        while owed:
            record_event(conn, settings, owed[0])
            owed.pop(0)


def event_values(settings: Settings, event: Event) -> Values:
    migration = event.migration
    return {
        "e_kind": str(event.kind),  # the value: psycopg would dump an Enum by its name
        "e_version": migration.version if migration else None,
        "e_name": migration.recorded_name(settings.name_form) if migration else None,
        "e_checksum": migration.checksum if migration else None,
        "e_rollback": migration.rollback.checksum if migration and migration.rollback else None,
        "e_os_user": event.actor.os_user, "e_host": event.actor.host,
        "e_tool_version": event.actor.tool_version,
        "e_seconds": float(event.seconds) if event.seconds is not None else None,
        "e_ms": int(event.seconds * 1000) if event.seconds is not None else None,
        "e_error": event.error, "e_detail": Jsonb(event.detail) if event.detail else None,
    }


@functools.lru_cache(maxsize=32)
def event_template(settings: Settings, in_transaction: bool) -> sql.Composed:
    return event_insert(settings, in_transaction)


def event_insert(settings: Settings, in_transaction: bool) -> sql.Composed:
    """The INSERT of one event (event_values() binds it).

    In a migration's own transaction it started with the transaction (now());
    otherwise it started `e_seconds` before the clock."""
    if in_transaction:
        started = sql.SQL("now()")
        duration = sql.SQL("(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer")
    else:
        started = sql.SQL("clock_timestamp() - make_interval(secs => %(e_seconds)s::float8)")
        duration = sql.SQL("%(e_ms)s::integer")
    return sql.SQL("""INSERT INTO {} (event, version, migration_name, checksum, rollback_checksum,
            os_user, host, tool_version, started_at, duration_ms, error, detail)
        SELECT %(e_kind)s, %(e_version)s, %(e_name)s, %(e_checksum)s, %(e_rollback)s, %(e_os_user)s,
            %(e_host)s, %(e_tool_version)s, {}, {}, %(e_error)s, %(e_detail)s::jsonb""").format(
        events_identifier(settings), started, duration)


def read_events(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, limit: int | None = None,
    kinds: tuple[EventKind, ...] | None = None,
) -> list[dict[str, object]]:
    """The history, oldest first (the last `limit` events; only those of `kinds`, if given)."""
    if not exists(conn, events_identifier(settings)):
        return []
    query = sql.SQL("""SELECT * FROM (SELECT id, event, version, migration_name, checksum,
            rollback_checksum, db_user, os_user, host, tool_version, started_at, finished_at,
            duration_ms, error, detail FROM {} WHERE %(kinds)s::text[] IS NULL OR event = ANY(%(kinds)s)
            ORDER BY id DESC LIMIT %(limit)s) AS last ORDER BY id""")
    params = {"limit": limit, "kinds": None if kinds is None else [str(kind) for kind in kinds]}
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query.format(events_identifier(settings)), params).fetchall()


def read_failures(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, there: bool | None = None
) -> list[Failure]:
    """Non-transactional migrations whose last event says they stopped part-way. `there`:
    whether the events table exists, when the caller already asked."""
    if not (exists(conn, events_identifier(settings)) if there is None else there):
        return []
    # Only migrations that ever stopped part-way (rare) get their last event looked up: the
    # history grows with every run, and sorting all of it cost every status and apply.
    query = sql.SQL(r"""WITH stopped AS (
            SELECT DISTINCT version, regexp_replace(migration_name, '\.sql$', '') AS stem FROM {e}
            WHERE event = ANY(%(stopping)s) AND version IS NOT NULL AND jsonb_typeof(detail) = 'object'
              AND detail ? %(stop)s)
        SELECT s.version, s.stem, last.id, last.detail, last.error FROM stopped AS s
        CROSS JOIN LATERAL (
            SELECT id, event, detail, error FROM {e}
            WHERE version = s.version AND regexp_replace(migration_name, '\.sql$', '') = s.stem
              AND event <> %(retry)s
            ORDER BY id DESC LIMIT 1) AS last
        WHERE last.event = ANY(%(stopping)s)
          AND jsonb_typeof(last.detail) = 'object' AND last.detail ? %(stop)s
        ORDER BY s.version, s.stem""").format(e=events_identifier(settings))
    with conn.cursor(row_factory=dict_row) as cursor:
        params = {"stop": STOP_KEY, "stopping": list(map(str, STOPPING_EVENTS)),
                  "retry": str(EventKind.RETRY)}
        rows = cursor.execute(query, params).fetchall()
    return [_failure(settings, r) for r in rows]


def _failure(settings: Settings, row: dict[str, Any]) -> Failure:
    """The stop an event records; one whose detail is not the protocol's is refused, naming it:
    another tool or an older version may have written anything there."""
    try:
        return Failure.from_detail(str(row["version"]), str(row["stem"]), row["detail"],
                                   None if row["error"] is None else str(row["error"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RefusedError(
            f"{events_table_name(settings)}: event id {row['id']} ({row['version']}/{row['stem']}) "
            f"has a detail archon-plan cannot read ({type(exc).__name__}: {exc})",
            "it was not written by archon-plan: fix or delete that event by hand") from None
