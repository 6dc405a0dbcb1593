"""The non-transactional runner: a `transactional = false` migration one committed statement at a time."""

from __future__ import annotations

import contextlib
import time
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
        started = time.perf_counter()
        try:
            conn.execute(statement.text.encode())
        except (psycopg.Error, KeyboardInterrupt) as exc:
            _stopped_part_way(run, item, index, done, exc, time.perf_counter() - started)
        done.append(parse.statement_checksum(statement))
        progress = {"index": index + 1, "of": len(item.statements), "checksum": done[-1]}
        events.record_event(conn, run.settings, Event(
            EventKind.STATEMENT, run.actor, step.migration, time.perf_counter() - started, detail=progress))
    detail: dict[str, object] = {"non_transactional": True, "resumed_at": start + 1 if start else None}
    record = run.composer.record(step, Event(EventKind.done(step.direction), run.actor, step.migration,
                                             detail=detail))
    try:
        conn.execute(f"{batch.RESET};\n{record}".encode())  # one implicit transaction
    except psycopg.Error as exc:
        _not_recorded(run, item, exc)


def _not_recorded(run: Run, item: Prepared, exc: psycopg.Error) -> NoReturn:
    """Every statement committed but the tracking row did not: the SQL need not run again."""
    step, count = item.step, len(item.statements)
    mark = "--mark-applied" if step.direction is Direction.APPLY else "--mark-reverted"
    advice = f"fix the cause, then `archon-plan repair {step.migration.label} {mark}` records it"
    outcome = Outcome.UNKNOWN if run.conn.broken else Outcome.UNRECORDED
    error = batch.failure(step, None, False, exc, outcome, count, count, advice)
    record_failure(run, Event(EventKind.failed(step.direction), run.actor, step.migration, 0.0,
                              error.message))
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
    detail = resume.stop_detail(step.direction, done, statement.text, len(item.statements))
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


def drop_invalid_index(conn: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    """Drop an index a failed CREATE INDEX CONCURRENTLY left INVALID; True if there was one."""
    row = conn.execute(
        """SELECT n.nspname, c.relname FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE i.indexrelid = to_regclass(%s) AND NOT i.indisvalid""",
        (name,),
    ).fetchone()
    if row is None:
        return False
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
        sql.Identifier(str(row[0]), str(row[1]))))
    return True
