"""The non-transactional runner: a `transactional = false` migration one committed statement at a time."""

from __future__ import annotations

import contextlib
import time

import psycopg
from psycopg import sql

from ..core import resume
from ..core.model import Event, EventKind
from ..errors import MigrationFailedError, RunInterruptedError
from ..sql import parse
from . import batch, events
from .executor import Prepared, Run, record_failure, refuse_changed_session


def run_autocommit(run: Run, item: Prepared, start: int = 0) -> None:
    """A `transactional = false` migration: one statement at a time, each committed on its
    own and logged as a `statement` event; the tracking row once the last one succeeds.
    A failure records where it stopped so `repair --retry` can resume there."""
    step, conn = item.step, run.conn
    done = [parse.statement_checksum(s) for s in item.statements[:start]]
    try:
        conn.execute(run.composer.setup(step.migration, local=False).encode())
    except psycopg.Error as exc:
        refuse_changed_session(run, step.migration, exc)
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
    conn.execute(f"{batch.RESET};\n{record}".encode())  # one implicit transaction



def _stopped_part_way(
    run: Run, item: Prepared, index: int, done: list[str], exc: BaseException, seconds: float
) -> None:
    step = item.step
    statement = item.statements[index]
    with contextlib.suppress(psycopg.Error):
        run.conn.execute(batch.RESET.encode())
    interrupted = isinstance(exc, KeyboardInterrupt)
    outcome = f"statements 1..{index} of {len(item.statements)} stay committed"
    error = (MigrationFailedError(f"{parse.where(step.sql, statement.offset)}: interrupted")
             if interrupted else batch.failure(step, *batch.locate_alone(statement, exc), exc, outcome))  # type: ignore[arg-type]
    detail = resume.stop_detail(step.direction, done, statement.text, len(item.statements))
    kind = EventKind.INTERRUPTED if interrupted else EventKind.failed(step.direction)
    record_failure(run, Event(kind, run.actor, step.migration, seconds, error.message, detail))
    hint = (f"fix the cause, then `archon-plan repair --retry {step.migration.label}` "
            f"resumes at statement {index + 1}")
    if interrupted:
        raise RunInterruptedError(f"interrupted during {step.migration.label}", hint) from None
    raise MigrationFailedError(error.message, hint) from exc


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
