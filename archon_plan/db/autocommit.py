"""The non-transactional runner: a `transactional = false` migration one committed statement at a time."""

from __future__ import annotations

import contextlib
import time
from enum import StrEnum
from typing import NoReturn

import psycopg
from psycopg import sql

from ..core import resume
from ..core.model import Direction, Event, EventKind
from ..errors import MigrationFailedError, Outcome, RunInterruptedError
from ..sql import parse
from . import batch, events
from .run import Prepared, Run, record_failure, refuse_lost_session


def run_autocommit(run: Run, item: Prepared, start: int = 0) -> None:
    """A `transactional = false` migration: one statement at a time, each committed on its
    own and logged as a `statement` event; the tracking row once the last one succeeds.
    A failure records where it stopped so `repair --retry` can resume there."""
    step, conn = item.step, run.conn
    done = [parse.statement_checksum(s) for s in item.statements[:start]]
    try:
        conn.execute(run.composer.setup(step.migration, local=False).encode())
    except psycopg.Error as exc:
        refuse_lost_session(run, step.migration, exc)
        raise
    for index in range(start, len(item.statements)):
        statement = item.statements[index]
        _check_lock(run, item, index)
        # Before the statement is sent: however the run ends from here, the history says
        # that this statement may have run (resume.py).
        _progress(run, item, EventKind.STATEMENT_STARTED, done, 0.0, statement.text)
        told = getattr(run.reporter, "statement_started", None)  # optional: see run.Reporter
        if told is not None:
            told(step, index + 1, len(item.statements))
        started = time.perf_counter()
        try:
            conn.execute(statement.text.encode())
        except (psycopg.Error, KeyboardInterrupt) as exc:
            _stopped_part_way(run, item, index, done, exc, time.perf_counter() - started)
        done.append(parse.statement_checksum(statement))
        _progress(run, item, EventKind.STATEMENT, done, time.perf_counter() - started)
    detail: dict[str, object] = {"non_transactional": True, "resumed_at": start + 1 if start else None}
    record = run.composer.record(step, Event(EventKind.done(step.direction), run.actor, step.migration,
                                             detail=detail))
    try:
        conn.execute(f"{batch.RESET};\n{record}".encode())  # one implicit transaction
    except psycopg.Error as exc:
        _not_recorded(run, item, done, exc)


def _check_lock(run: Run, item: Prepared, index: int) -> None:
    """Before each statement: a previous one (DISCARD ALL, pg_advisory_unlock_all()) may have
    let go of the migration lock, and then another runner could run this one too."""
    try:
        run.conn.execute(run.composer.lock_check().encode())
    except psycopg.Error as exc:
        label = item.step.migration.label
        left = (f"statements 1..{index} committed; leave the file as it is: `archon-plan repair --retry "
                f"{label}` goes on after statement {index}" if index else "none of its statements ran")
        refuse_lost_session(run, item.step.migration, exc, left)
        raise


def _progress(run: Run, item: Prepared, kind: EventKind, done: list[str], seconds: float,
              about_to_run: str | None = None) -> None:
    """A committed event of the resume protocol, with the runner's own rights."""
    detail = resume.progress_detail(item.step.direction, done, len(item.statements), about_to_run,
                                    in_doubt=about_to_run is not None)
    events.record_event(run.bookkeeping, run.settings,
                        Event(kind, run.actor, item.step.migration, seconds, detail=detail))


def _not_recorded(run: Run, item: Prepared, done: list[str], exc: psycopg.Error) -> NoReturn:
    """Every statement committed but the tracking row did not: the SQL need not run again."""
    step, count = item.step, len(item.statements)
    mark = "--mark-applied" if step.direction is Direction.APPLY else "--mark-reverted"
    advice = f"fix the cause, then `archon-plan repair {step.migration.label} {mark}` records it"
    outcome = Outcome.UNKNOWN if run.conn.broken else Outcome.UNRECORDED
    error = batch.failure(step, None, False, exc, outcome, count, count, advice)
    detail = resume.progress_detail(step.direction, done, count)  # all ran: retry only records it
    record_failure(run, Event(EventKind.failed(step.direction), run.actor, step.migration, 0.0,
                              error.message, detail))
    refuse_lost_session(run, step.migration, exc, f"its {count} statement(s) committed, its "
                        f"tracking row did not: `archon-plan repair {step.migration.label} "
                        f"{mark}` records it")
    raise error from exc


def _stopped_part_way(
    run: Run, item: Prepared, index: int, done: list[str], exc: psycopg.Error | KeyboardInterrupt,
    seconds: float,
) -> NoReturn:
    step = item.step
    statement = item.statements[index]
    with contextlib.suppress(psycopg.Error):
        run.conn.execute(batch.RESET.encode())
    error = _stop_error(run, item, index, exc)
    # An interrupt may land just after the server committed the statement: its outcome is in doubt.
    detail = resume.progress_detail(step.direction, done, len(item.statements), statement.text,
                                    in_doubt=isinstance(exc, KeyboardInterrupt))
    interrupted = isinstance(error, RunInterruptedError)
    kind = EventKind.INTERRUPTED if interrupted else EventKind.failed(step.direction)
    text = f"{error.location}: interrupted" if interrupted else error.message
    record_failure(run, Event(kind, run.actor, step.migration, seconds, text, detail))
    raise error from (None if interrupted else exc)


def _stop_error(
    run: Run, item: Prepared, index: int, exc: psycopg.Error | KeyboardInterrupt
) -> MigrationFailedError | RunInterruptedError:
    """Statements 1..index stay committed; the one after them failed, was interrupted, or,
    when the connection broke, may have committed too."""
    step, statement, count = item.step, item.statements[index], len(item.statements)
    retry = f"`archon-plan repair --retry {step.migration.label}` resumes at statement {index + 1}"
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C or SIGTERM
        return RunInterruptedError.of(
            exc, migration=step.migration.label, direction=step.direction.value,
            location=parse.location(step.sql, statement.offset), outcome=Outcome.PARTLY_COMMITTED,
            committed=index, statements=count, advice=retry)
    located = batch.locate_alone(statement, exc)
    if run.conn.broken:
        advice = f"`archon-plan status` shows whether the failure was recorded; if it was, {retry}"
        return batch.failure(step, *located, exc, Outcome.UNKNOWN, index, count, advice)
    return batch.failure(step, *located, exc, Outcome.PARTLY_COMMITTED, index, count,
                         f"fix the cause, then {retry}")


class IndexState(StrEnum):
    """What the catalog says of the index a CREATE INDEX names."""

    VALID = "valid"  # it was built: the statement took effect
    INVALID = "invalid"  # a CREATE INDEX CONCURRENTLY stopped part-way left it behind
    ABSENT = "absent"  # the statement did not take effect


def index_state(conn: psycopg.Connection[tuple[object, ...]], index: parse.CreatedIndex) -> IndexState:
    """The index's state, found beside its table (the name's case as written)."""
    found = _find_index(conn, index)
    if found is None:
        return IndexState.ABSENT
    return IndexState.VALID if found[0] else IndexState.INVALID


def _find_index(conn: psycopg.Connection[tuple[object, ...]], index: parse.CreatedIndex) -> tuple[
        bool, str] | None:
    """(valid, its schema) of the index beside its table, or None."""
    row = conn.execute(
        """SELECT i.indisvalid, n.nspname FROM pg_catalog.pg_class AS t
           JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
           JOIN pg_catalog.pg_class AS c ON c.relnamespace = t.relnamespace AND c.relname = %(name)s
           JOIN pg_catalog.pg_index AS i ON i.indexrelid = c.oid
           WHERE t.oid = pg_catalog.to_regclass(CASE WHEN %(schema)s::text IS NULL
               THEN pg_catalog.quote_ident(%(table)s)
               ELSE pg_catalog.quote_ident(%(schema)s) || '.' || pg_catalog.quote_ident(%(table)s) END)""",
        {"name": index.name, "schema": index.schema, "table": index.table},
    ).fetchone()
    return None if row is None else (bool(row[0]), str(row[1]))


def drop_invalid_index(conn: psycopg.Connection[tuple[object, ...]], index: parse.CreatedIndex) -> bool:
    """Drop the index if a CREATE INDEX CONCURRENTLY left it INVALID; True if there was one."""
    found = _find_index(conn, index)
    if found is None or found[0]:
        return False
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(found[1], index.name)))
    return True
