"""The migration lock: a session-level advisory lock keyed on the tracking table's name.

Polled with pg_try_advisory_lock (a blocking wait could deadlock with the holder), so the
wait is bounded by archon-plan and can name the holder. It is taken twice (advisory locks
count their holds), so that checking it can let go of one hold and take it back:
pg_advisory_unlock() says exactly whether the session still held it, at a tenth of the
cost of reading pg_locks, while the other hold keeps it (db/batch.py, docs/performance.md).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable

import psycopg

from ..core.model import Settings
from ..errors import LockTimeoutError

POLL_INTERVAL_S = 0.2
# The rows of pg_locks (as `l`) that are the migration lock: the advisory lock of lock_key(),
# in this database (advisory locks of other databases are other locks).
LOCK_ROWS = """l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND ((l.classid::bigint << 32) | l.objid::bigint) = %(lock_key)s
    AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())"""
# The wait's clock; tests put a fake one here (each sleep moves it on) rather than wait for real.
monotonic: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def retry_delay(attempt: int) -> float:
    """Seconds before retry `attempt` (from 1) of work that met a lock: about 1, 2, 4 ... s,
    at most 30, jittered so that runners that collided do not collide again."""
    return min(30.0, 0.5 * 2.0**attempt) * random.uniform(0.5, 1.5)


def lock_key(settings: Settings) -> int:
    """A stable 64-bit advisory lock key derived from the tracking table's name."""
    digest = hashlib.md5(f"archon-plan:{settings.qualified_table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def acquire_lock(
    conn: psycopg.Connection[tuple[object, ...]],
    settings: Settings,
    timeout_s: float,
    on_wait: Callable[[str], None] = lambda _: None,
) -> int:
    """Poll pg_try_advisory_lock (a blocking wait could deadlock with the holder);
    return the backend pid that holds it now."""
    key = lock_key(settings)
    deadline = monotonic() + timeout_s
    told = False
    while True:
        row = conn.execute("SELECT CASE WHEN pg_try_advisory_lock(%(k)s) THEN pg_try_advisory_lock(%(k)s) "
                           "ELSE false END, pg_backend_pid()", {"k": key}).fetchone()
        if row and row[0]:
            return int(str(row[1]))
        holder = _holder(conn, key)
        if monotonic() >= deadline:
            raise LockTimeoutError(
                f"another runner holds the migration lock on {settings.qualified_table} "
                f"({holder}); gave up after {timeout_s:g}s",
                "wait for it to finish, or raise --lock-wait / [settings] lock_wait",
            )
        if not told:
            on_wait(f"waiting for the migration lock held by {holder}")
            told = True
        sleep(POLL_INTERVAL_S)


def _holder(conn: psycopg.Connection[tuple[object, ...]], key: int) -> str:
    row = conn.execute(
        """SELECT a.pid, a.application_name, a.client_addr, a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE """ + LOCK_ROWS + " LIMIT 1",
        {"lock_key": key},
    ).fetchone()
    if not row:
        return "a session that has just let go"
    pid, app, addr, since = row
    return f"pid {pid}, application {app or '?'}, client {addr or 'local'}, since {since}"


def release_lock(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> None:
    """Let go of both holds."""
    conn.execute("SELECT pg_advisory_unlock(%(k)s), pg_advisory_unlock(%(k)s)", {"k": lock_key(settings)})
