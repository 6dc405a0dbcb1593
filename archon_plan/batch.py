"""One migration as one simple-query message: setup, the file's statements, the tracking row;
and the failed message's error mapped back to the file.

PostgreSQL runs the statements of one simple-query message as one implicit transaction:
all of them commit together or none does, in a single round trip. The message holds
`SET LOCAL`-style timeouts (plus a check that the session still holds the migration
lock), then the file's statements exactly as written, the RESETs when the file may have
changed session settings, then one statement that records the result: two statements of
ours for most migrations. Values are bound client-side (psycopg's ClientCursor), since
the simple protocol has no parameters; server error positions are mapped back to the file.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.pq.abc import PGresult

from . import sqltext, tracker
from .errors import MigrationFailedError
from .model import Direction, Event, Migration, Settings, Step

# An unknown setting makes current_setting() fail with this name in the message: the
# one way plain SQL can stop a message early without creating a function.
SESSION_GUARD = "archon_plan.session_changed"
_SEPARATOR = "\n;\n"
_BEGIN = "BEGIN;\n"
# A file's SET, even one run by a function through EXECUTE, must neither reach the recording
# statement (a role without rights, a 1 ms statement_timeout) nor leak into the next
# migration; RESET is transactional, and RESET ALL leaves role and authorization alone.
# Sent after the files that may_change_session() picks, and always after a statement-by-
# statement (`transactional = false`) migration.
RESET = "RESET ALL;\nRESET ROLE;\nRESET SESSION AUTHORIZATION"


@dataclass(frozen=True)
class Batch:
    """The message and where each of the file's statements starts in it."""

    text: str
    starts: tuple[int, ...]  # message offset of statement i of `statements`
    statements: tuple[sqltext.Statement, ...]
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
    values bound client-side (psycopg's ClientCursor.mogrify), which costs a tenth of
    composing psycopg.sql objects per migration."""

    def __init__(
        self, conn: psycopg.Connection[tuple[object, ...]], settings: Settings, backend_pid: int
    ) -> None:
        self._cursor = psycopg.ClientCursor(conn)
        self._settings = settings
        self._backend_pid = backend_pid
        self._texts: dict[int, tuple[sql.Composable, str]] = {}  # by id: templates are cached

    def bind(self, template: sql.Composable, values: Mapping[str, object]) -> str:
        known = self._texts.get(id(template))
        if known is None or known[0] is not template:
            known = self._texts[id(template)] = (template, template.as_string(self._cursor.connection))
        return self._cursor.mogrify(known[1], values)

    def setup(self, migration: Migration, local: bool = True) -> str:
        """Timeouts for the migration and the check that it still runs on the locking session.

        SET LOCAL (`local`) keeps the timeouts inside the transaction, where any pooler
        keeps them too. PostgreSQL 14+ also notices a vanished client (a SIGKILLed runner)
        mid-statement and rolls back at once, instead of when the statement would end.
        """
        values: dict[str, object] = {
            "lock_timeout": migration.lock_timeout or self._settings.lock_timeout,
            "statement_timeout": migration.statement_timeout or self._settings.statement_timeout,
            "client_connection_check_interval":
                "1s" if self._cursor.connection.info.server_version >= 140000 else None,
        }
        names = tuple(name for name, value in values.items() if value is not None)
        return self.bind(_setup_template(names, local), {**values, "backend_pid": self._backend_pid})

    def record(self, step: Step, event: Event) -> str:
        """The statement that ends a migration's message: its tracking row and event."""
        values = {**tracker.migration_values(self._settings, step.migration),
                  **tracker.event_values(self._settings, event)}
        if step.direction is Direction.FORWARDS:
            scan = tracker.names_table(self._settings, step.migration)
            return self.bind(tracker.applied_template(self._settings, scan, True), values)
        return self.bind(tracker.reverted_template(self._settings, True), values)


@functools.lru_cache(maxsize=16)
def _setup_template(names: tuple[str, ...], local: bool) -> sql.Composed:
    items = [sql.SQL("CASE WHEN pg_catalog.pg_backend_pid() <> %(backend_pid)s "
                     "THEN pg_catalog.current_setting({}) END").format(sql.Literal(SESSION_GUARD))]
    items += [sql.SQL("pg_catalog.set_config({}, {}, {})").format(
        sql.Literal(name), sql.Placeholder(name), sql.Literal(local)) for name in names]
    return sql.SQL("SELECT ") + sql.SQL(", ").join(items)


def build(setup: str, statements: Sequence[sqltext.Statement], record: str) -> Batch:
    """Join the rendered setup, the file's statements, the RESETs when the file may have
    changed session state, and the recording statement.

    Each separator starts with a newline, which ends any trailing line comment. A file with
    savepoints gets an explicit BEGIN/COMMIT around the message: PostgreSQL refuses SAVEPOINT
    in the implicit transaction of a multi-statement message."""
    explicit = any(sqltext.uses_savepoints(s) for s in statements)
    parts = [_BEGIN + setup if explicit else setup]
    starts = []
    length = len(parts[0])
    for statement in statements:
        parts.append(_SEPARATOR)
        starts.append(length + len(_SEPARATOR))
        parts.append(statement.text)
        length = starts[-1] + len(statement.text)
    if any(may_change_session(s) for s in statements):
        parts.append(_SEPARATOR + RESET)
    parts.append(_SEPARATOR + record + (_SEPARATOR + "COMMIT" if explicit else ""))
    return Batch("".join(parts), tuple(starts), tuple(statements), 2 if explicit else 1)


# Built-in functions that cannot change session settings. A call to any other function
# (set_config, or a function the project defined) may SET what later statements inherit.
_QUIET_FUNCTIONS = frozenset({
    "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "date_trunc",
    "date_part", "extract", "make_interval", "make_date", "make_timestamp", "make_timestamptz", "age",
    "to_char", "to_date", "to_timestamp", "to_number", "timezone", "gen_random_uuid", "uuid_generate_v4",
    "generate_series", "generate_subscripts", "random", "md5", "sha256", "encode", "decode", "lower",
    "upper", "initcap", "length", "char_length", "octet_length", "concat", "concat_ws", "format", "substr",
    "substring", "position", "strpos", "replace", "translate", "trim", "btrim", "ltrim", "rtrim", "left",
    "right", "lpad", "rpad", "repeat", "reverse", "split_part", "regexp_replace", "regexp_matches",
    "regexp_match", "string_to_array", "array_to_string", "array_length", "array_position", "array_append",
    "array_prepend", "array_cat", "array_remove", "cardinality", "unnest", "abs", "round", "floor", "ceil",
    "ceiling", "trunc", "mod", "power", "sqrt", "greatest", "least", "nextval", "currval", "setval",
    "count", "sum", "min", "max", "avg", "array_agg", "string_agg", "bool_and", "bool_or", "every",
    "jsonb_agg", "json_agg", "jsonb_object_agg", "json_object_agg", "row_number", "rank", "dense_rank",
    "jsonb_build_object", "json_build_object", "jsonb_build_array", "json_build_array", "to_jsonb",
    "to_json", "jsonb_set", "jsonb_strip_nulls", "jsonb_array_elements", "jsonb_array_elements_text",
    "jsonb_each", "jsonb_typeof", "pg_sleep"
})
# Statements that run code of the file's choosing: a DO block, a procedure, a prepared
# statement, an extension's script, a materialized view's query.
_RUNS_CODE = frozenset({"DoStmt", "CallStmt", "ExecuteStmt", "LoadStmt", "CreateExtensionStmt",
                        "AlterExtensionStmt", "RefreshMatViewStmt"})


def may_change_session(statement: sqltext.Statement) -> bool:
    """Whether the statement may leave a session setting behind (SET, SET ROLE, set_config,
    a DO block, a call to a function of the project's own), so the RESETs must follow it.

    Code PostgreSQL runs implicitly (triggers, event triggers, column defaults) is not
    looked for: such code changing session settings would leak into every application
    session as well. Without it, a file's own SET, even a LOCAL one, reaches neither the
    recording statement nor the next migration (docs/reliability.md)."""
    if statement.kind == "VariableSetStmt" or statement.kind in _RUNS_CODE:
        return True
    return any(not _quiet(call) for call in _calls(statement.fields))


def _quiet(call: dict[str, Any]) -> bool:
    names = [item.get("String", {}).get("sval", "") for item in call.get("funcname", ())]
    return len(names) in (1, 2) and names[0 if len(names) == 1 else 1] in _QUIET_FUNCTIONS and (
        len(names) == 1 or names[0] == "pg_catalog")


def _calls(node: object) -> Iterator[dict[str, Any]]:
    """Every FuncCall in a JSON parse tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "FuncCall":
                yield value
            yield from _calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _calls(item)


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


def locate_alone(statement: sqltext.Statement, exc: psycopg.Error) -> tuple[int, bool]:
    """locate() for a statement sent on its own: the server's position is relative to it."""
    position = exc.diag.statement_position
    return statement.offset + (int(position) - 1 if position else 0), True


def failure(
    step: Step,
    offset: int | None,
    in_sql: bool,
    exc: psycopg.Error,
    outcome: str = "rolled back, earlier migrations are kept",
) -> MigrationFailedError:
    diag = exc.diag
    where = sqltext.where(step.sql, offset)
    what = "SQL" if in_sql else "setup or tracking row"
    primary = (diag.message_primary or str(exc)).strip()
    message = (
        f"{where}: {step.direction.value} of {step.migration.label} failed in its {what}: "
        f"{diag.sqlstate or '?'} {primary}; {outcome}"
    )
    extra = [text for text in (diag.message_detail, diag.message_hint) if text]
    return MigrationFailedError(message, " ".join(extra) or None)
