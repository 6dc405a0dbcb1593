"""What a read-only viewer (`report`, `serve`) reads beyond status and history: one snapshot,
each migration's last apply, and whether row level security hides rows from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from ..core.model import EventKind, Settings
from .connection import Connection
from .events import events_identifier, events_table_name, exists

Key = tuple[str, str]  # (version, NNN_name), as Migration.key


@dataclass(frozen=True)
class LastApply:
    """The newest `apply` event of a migration."""

    event_id: int
    duration_ms: int | None
    finished_at: datetime


@contextmanager
def snapshot(conn: Connection) -> Iterator[datetime]:
    """One read-only transaction that sees a single state of the database (the tracking rows
    and the events agree); yields the server's clock at its start."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None and isinstance(row[0], datetime)
        yield row[0]


def last_applies(conn: Connection, settings: Settings) -> dict[Key, LastApply]:
    """Each migration's newest `apply` event (either name form), for its duration."""
    if not exists(conn, events_identifier(settings)):
        return {}
    query = sql.SQL(r"""SELECT DISTINCT ON (version, stem) version, stem, id, duration_ms, finished_at
        FROM (SELECT version, regexp_replace(migration_name, '\.sql$', '') AS stem, id, duration_ms,
                     finished_at FROM {} WHERE event = %s AND version IS NOT NULL) AS applies
        ORDER BY version, stem, id DESC""").format(events_identifier(settings))
    rows = conn.execute(query, (str(EventKind.APPLY),)).fetchall()
    return {(str(version), str(stem)): LastApply(int(str(event_id)), _int(duration), when)
            for version, stem, event_id, duration, when in rows if isinstance(when, datetime)}


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


def hidden_tables(conn: Connection, settings: Settings) -> list[str]:
    """Our tables whose rows row level security hides from this role: on (archon-plan turns it
    on, with no policy), and no policy lets the role read. Such a viewer would see every
    migration as pending."""
    tables = {settings.qualified_table: sql.Identifier(settings.tracking_schema, settings.tracking_table),
              f"{settings.tracking_schema}.{events_table_name(settings)}": events_identifier(settings)}
    names = [table.as_string(conn) for table in tables.values()]
    rows = conn.execute("""SELECT t.name FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n)
        WHERE to_regclass(t.name) IS NOT NULL AND row_security_active(to_regclass(t.name))
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS p
                          WHERE p.polrelid = to_regclass(t.name) AND p.polcmd IN ('r', '*')
                            AND (0::oid = ANY(p.polroles) OR EXISTS (
                                SELECT FROM unnest(p.polroles) AS r(oid)
                                WHERE pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))))
        ORDER BY t.n""", (names,)).fetchall()
    shown = dict(zip(names, tables, strict=True))
    return [shown[str(name)] for name, in rows]
