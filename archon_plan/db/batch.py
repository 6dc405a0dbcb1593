"""One migration as one simple-query message: setup, the file's statements, the tracking row;
and the failed message's error mapped back to the file.

PostgreSQL runs the statements of one simple-query message as one implicit transaction:
all of them commit together or none does, in a single round trip. The message holds
`SET LOCAL`-style timeouts (plus a check that the session is the one that took the migration
lock), then the file's statements exactly as written, the statements that clean the
session, the check that the session still holds the lock, then the statements that record
the result.
Values are bound client-side (psycopg's ClientCursor), since the simple protocol has no
parameters; server error positions are mapped back to the file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import psycopg
from psycopg import pq, sql
from psycopg.pq.abc import PGresult

from ..core.model import Direction, Event, Migration, Settings, Step
from ..errors import MigrationFailedError, Outcome
from ..sql import parse
from . import events, lock, recording

# An unknown setting makes current_setting() fail with this name in the message: the
# one way plain SQL can stop a message early without creating a function.
SESSION_GUARD = "archon_plan.session_changed"
# Likewise when the session no longer holds the migration lock: a migration that called
# pg_advisory_unlock_all() (or DISCARD ALL) would let a second runner in.
LOCK_GUARD = "archon_plan.migration_lock_lost"
_SEPARATOR = "\n;\n"
_BEGIN = "BEGIN;\n"
# A file's SET, even one run by a function through EXECUTE, must neither reach the recording
# statement (a role without rights, a 1 ms statement_timeout) nor leak into the next
# migration; RESET is transactional, and RESET ALL leaves role and authorization alone.
# Always: a view, a trigger, an operator, a cast or `CREATE TABLE ... AS EXECUTE` can run
# code that SETs, which no reading of the file can rule out; they cost no round trip.
# The rest of the session goes too, so each migration starts from a clean one: a temp table
# left by one would capture the next one's unqualified INSERT, a PREPAREd name would clash.
RESET = ("RESET ALL;\nRESET ROLE;\nRESET SESSION AUTHORIZATION;\n"
         "DISCARD TEMP;\nDEALLOCATE ALL;\nCLOSE ALL;\nUNLISTEN *")


@dataclass(frozen=True)
class Batch:
    """The message and where each of the file's statements starts in it."""

    text: str
    starts: tuple[int, ...]  # message offset of statement i of `statements`
    statements: tuple[parse.Statement, ...]
    setup_results: int = 1  # results before the file's first statement: [BEGIN,] setup

    def statement_at(self, position: int) -> int | None:
        """Index of the file statement holding 0-based message offset `position`, if any."""
        index = max((i for i, start in enumerate(self.starts) if start <= position), default=None)
        if index is None:
            return None
        if position >= self.starts[index] + len(self.statements[index].text):
            return None  # in our tracking statement after the file
        return index

    def file_offset(self, index: int, position: int) -> int:
        return self.statements[index].offset + position - self.starts[index]


class Composer:
    """A run's statements as text: each template rendered once per run, each migration's
    values bound client-side (psycopg's ClientCursor.mogrify): far cheaper than composing
    psycopg.sql objects per migration (docs/design.md)."""

    def __init__(
        self, conn: psycopg.Connection[tuple[object, ...]], settings: Settings, backend_pid: int
    ) -> None:
        self._cursor = psycopg.ClientCursor(conn)
        self._settings = settings
        self._backend_pid = backend_pid
        self._texts: dict[int, tuple[sql.Composable, str]] = {}  # by id: templates are cached
        # The same values give the same text: the lock check always, the setup per distinct
        # timeouts; binding them again per migration was measurable (docs/performance.md).
        self._constant: dict[tuple[object, ...], str] = {}

    def bind(self, template: sql.Composable, values: Mapping[str, object]) -> str:
        known = self._texts.get(id(template))
        if known is None or known[0] is not template:
            known = self._texts[id(template)] = (template, template.as_string(self._cursor.connection))
        return self._cursor.mogrify(known[1], values)

    def setup(self, migration: Migration, local: bool = True) -> str:
        """Timeouts for the migration and the check that it still runs on the locking session.
        Whether that session still holds the lock is checked after the file instead (record,
        and before each statement of a non-transactional one): only a migration can release
        it, so that one check also covers every earlier migration, and reading pg_locks is
        the costliest statement of the message (docs/performance.md).

        SET LOCAL (`local`) keeps the timeouts inside the transaction, where any pooler
        keeps them too. PostgreSQL 14+ also notices a vanished client (a SIGKILLed runner)
        mid-statement and rolls back at once, instead of when the statement would end.
        """
        values: dict[str, object] = {
            "lock_timeout": migration.lock_timeout or self._settings.lock_timeout,
            "statement_timeout": migration.statement_timeout or self._settings.statement_timeout,
            "client_connection_check_interval":
                "1s" if self._cursor.connection.info.server_version >= 140000 else None,
            "search_path": self._settings.search_path,
        }
        names = tuple(name for name, value in values.items() if value is not None)
        key = ("setup", local, *(values[name] for name in names), *names)
        if key not in self._constant:
            self._constant[key] = self.bind(_setup_template(names, local), {**values, **self._guarded()})
        return self._constant[key]

    def record(self, step: Step, event: Event) -> str:
        """The statements that end a migration's message: the lock check, then its tracking
        row and event."""
        if step.ignored_window:  # --ignore-windows: the history says so
            event = replace(event, detail={**(event.detail or {}), "ignored_window": True})
        values = {**recording.migration_values(self._settings, step.migration),
                  **events.event_values(self._settings, event)}
        if step.direction is Direction.APPLY:
            scan = recording.names_table(self._settings, step.migration)
            recorded = recording.applied_template(self._settings, scan, True)
        else:
            recorded = recording.reverted_template(self._settings, True)
        return self.lock_check() + _SEPARATOR + self.bind(recorded, values)

    def lock_check(self) -> str:
        """A statement that fails (LOCK_GUARD) unless this session still holds the lock."""
        if ("lock",) not in self._constant:
            self._constant[("lock",)] = self.bind(_LOCK_CHECK, self._guarded())
        return self._constant[("lock",)]

    def _guarded(self) -> dict[str, object]:
        return {"backend_pid": self._backend_pid, "lock_key": lock.lock_key(self._settings)}


# Fails (with LOCK_GUARD in the message) unless this session holds the migration lock: it
# lets go of one of the lock's two holds, which says whether the session held it, then takes
# it back (lock.py); CASE fixes that order. Not pg_locks: reading it cost about 0.11 ms of
# server time per check.
_LOCK_CHECK = sql.SQL("SELECT CASE WHEN pg_catalog.pg_advisory_unlock(%(lock_key)s) "
                      "THEN pg_catalog.pg_advisory_lock(%(lock_key)s)::text "
                      "ELSE pg_catalog.current_setting({}) END").format(sql.Literal(LOCK_GUARD))


@functools.lru_cache(maxsize=16)
def _setup_template(names: tuple[str, ...], local: bool) -> sql.Composed:
    items = [sql.SQL("CASE WHEN pg_catalog.pg_backend_pid() <> %(backend_pid)s "
                     "THEN pg_catalog.current_setting({}) END").format(sql.Literal(SESSION_GUARD))]
    items += [sql.SQL("pg_catalog.set_config({}, {}, {})").format(
        sql.Literal(name), sql.Placeholder(name), sql.Literal(local)) for name in names]
    return sql.SQL("SELECT ") + sql.SQL(", ").join(items)


def build(setup: str, statements: Sequence[parse.Statement], record: str) -> Batch:
    """Join the rendered setup, the file's statements, the RESETs and the recording statement.

    Each separator starts with a newline, which ends any trailing line comment. A file with
    savepoints gets an explicit BEGIN/COMMIT around the message: PostgreSQL refuses SAVEPOINT
    in the implicit transaction of a multi-statement message."""
    explicit = any(parse.uses_savepoints(s) for s in statements)
    parts = [_BEGIN + setup if explicit else setup]
    starts = []
    length = len(parts[0])
    for statement in statements:
        parts.append(_SEPARATOR)
        starts.append(length + len(_SEPARATOR))
        parts.append(statement.text)
        length = starts[-1] + len(statement.text)
    parts.append(_SEPARATOR + RESET + _SEPARATOR + record + (_SEPARATOR + "COMMIT" if explicit else ""))
    return Batch("".join(parts), tuple(starts), tuple(statements), 2 if explicit else 1)


class CountingCursor(psycopg.Cursor[tuple[object, ...]]):
    """Remembers how many statements of a message completed before an error.

    PostgreSQL gives no position for many execution errors (ALTER TABLE on a missing
    table), and psycopg raises from the error result alone; the count of results that
    came before it names the failing statement. This overrides psycopg's private
    result check (pinned <4); tests/test_executor.py proves the mapping on every run.
    """

    completed: int | None = None

    def _check_results(self, results: list[PGresult]) -> None:
        ok = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
        self.completed = next((i for i, r in enumerate(results) if r.status not in ok), len(results))
        super()._check_results(results)


def locate(message: Batch, completed: int | None, exc: psycopg.Error) -> tuple[int | None, bool]:
    """Where in the file the message failed, and whether in the file's SQL at all."""
    position = exc.diag.statement_position
    if position:
        index = message.statement_at(int(position) - 1)
        return (None, False) if index is None else (message.file_offset(index, int(position) - 1), True)
    index = None if completed is None else completed - message.setup_results
    if index is not None and 0 <= index < len(message.statements):
        return message.statements[index].offset, True
    return None, False


def locate_alone(statement: parse.Statement, exc: psycopg.Error) -> tuple[int, bool]:
    """locate() for a statement sent on its own: the server's position is relative to it."""
    position = exc.diag.statement_position
    return statement.offset + (int(position) - 1 if position else 0), True


def failure(
    step: Step,
    offset: int | None,
    in_sql: bool,
    exc: psycopg.Error,
    outcome: Outcome = Outcome.ROLLED_BACK,
    committed: int | None = None,
    statements: int | None = None,
    advice: str | None = None,
) -> MigrationFailedError:
    """The error of a failed step: where it failed, PostgreSQL's diagnostics, what is left."""
    diag = exc.diag
    return MigrationFailedError(
        migration=step.migration.label, direction=step.direction.value,
        location=parse.location(step.sql, offset), sqlstate=diag.sqlstate,
        primary=(diag.message_primary or " ".join(str(exc).split())).strip(),  # no diag: connection lost
        detail=diag.message_detail, hint=diag.message_hint, in_sql=in_sql, outcome=outcome,
        committed=committed, statements=statements, advice=advice,
    )
