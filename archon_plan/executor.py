"""Runs plans: one transaction per migration, its tracking row inside it, progress by callback."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import psycopg

from . import planning, sqltext, tracker
from .errors import (
    ManifestError,
    MigrationFailedError,
    Problem,
    RefusedError,
    RunInterruptedError,
)
from .graph import MigrationGraph
from .model import NOBODY, Actor, Direction, Event, Migration, MigrationStatus, Plan, Settings, Step

Connection = psycopg.Connection[tuple[object, ...]]
Selector = Callable[[Sequence[MigrationStatus]], Sequence[Migration]]


class Reporter(Protocol):
    """Where progress goes; the executor itself never prints."""

    def notice(self, text: str) -> None: ...
    def step_started(self, step: Step) -> None: ...
    def step_finished(self, step: Step, seconds: float) -> None: ...


@dataclass(frozen=True)
class Prepared:
    """A step with its statements, parsed and checked before anything runs."""

    step: Step
    statements: tuple[sqltext.Statement, ...]


def prepare(plan: Plan) -> list[Prepared]:
    """Parse every file of the plan; refuse the whole run on any problem."""
    problems: list[Problem] = []
    prepared = []
    for step in plan.steps:
        found = sqltext.problems(step.sql, f"migration {step.migration.label}",
                                 step.migration.transactional)
        problems.extend(found)
        if not found:
            prepared.append(Prepared(step, sqltext.runnable_statements(step.sql)))
    if problems:
        raise ManifestError(problems)
    return prepared


@dataclass(frozen=True)
class Run:
    """What every step of one run shares."""

    conn: Connection
    settings: Settings
    reporter: Reporter
    actor: Actor
    backend_pid: int  # the session that holds the lock; another one means a pooler


def run_prepared(run: Run, prepared: Sequence[Prepared]) -> None:
    """Run each step in its own transaction; stop at the first failure."""
    for item in prepared:
        if item.step.out_of_order:
            run.reporter.notice(
                f"{item.step.migration.label} sorts before migrations already applied "
                "(merged late); applying it now"
            )
        run.reporter.step_started(item.step)
        started = time.perf_counter()
        _run_with_retries(run, item)
        run.reporter.step_finished(item.step, time.perf_counter() - started)


def _run_with_retries(run: Run, item: Prepared) -> None:
    """Retry a migration that could not get a lock in time (55P03), with backoff and jitter."""
    step, attempt = item.step, 0
    if not step.migration.transactional:
        run_autocommit(run, item)
        return
    while True:
        started = time.perf_counter()
        try:
            _run_step(run, item)
            return
        except _Failed as failed:
            elapsed = time.perf_counter() - started
            retry = failed.lock_not_available and attempt < run.settings.lock_retries
            kind = "retry" if retry else f"{step.direction.value}-failed"
            _record_failure(run, Event(kind, run.actor, step.migration, elapsed, failed.error.message))
            if not retry:
                raise failed.error from None
        attempt += 1
        delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.5)
        run.reporter.notice(
            f"{step.migration.label}: lock not available; retry {attempt} of "
            f"{run.settings.lock_retries} in {delay:.1f}s"
        )
        time.sleep(delay)


class _Failed(Exception):
    def __init__(self, error: MigrationFailedError, lock_not_available: bool) -> None:
        self.error = error
        self.lock_not_available = lock_not_available


def _record_failure(run: Run, event: Event) -> None:
    """Failures are recorded after the rollback, on their own; best effort, never masking."""
    with contextlib.suppress(psycopg.Error):
        tracker.record_event(run.conn, run.settings, event)


def _run_step(run: Run, item: Prepared) -> None:
    step, conn, settings = item.step, run.conn, run.settings
    current: sqltext.Statement | None = None
    try:
        with conn.transaction():
            _begin(run, step.migration)
            for current in item.statements:
                conn.execute(current.text.encode())
            current = None
            # A file's SET (statement_timeout, search_path, role) must neither hit
            # its tracking row nor leak into the next migration; RESET is transactional,
            # and RESET ALL leaves the role and session authorization alone.
            conn.execute(b"RESET ALL; RESET ROLE; RESET SESSION AUTHORIZATION")
            if step.direction is Direction.FORWARDS:
                tracker.record_applied(conn, settings, step.migration)
            else:
                tracker.record_reverted(conn, settings, step.migration)
            tracker.record_event(conn, settings, Event(step.direction.value, run.actor, step.migration))
    except psycopg.Error as exc:
        lock_not_available = isinstance(exc, psycopg.errors.LockNotAvailable)
        raise _Failed(_failure(step, current, exc), lock_not_available) from exc
    except KeyboardInterrupt:
        _record_failure(run, Event("interrupted", run.actor, step.migration, 0.0, "Ctrl-C"))
        raise RunInterruptedError(
            f"interrupted during {step.direction.value} of {step.migration.label}; "
            "it was rolled back, earlier migrations are kept"
        ) from None


def _begin(run: Run, migration: Migration, local: bool = True) -> None:
    """Each transaction's first statement: its timeouts (SET LOCAL, so any pooler keeps
    them in the transaction) and a check that it still runs on the locking session.
    A non-transactional migration sets them for the session (`local` False) instead."""
    lock = migration.lock_timeout or run.settings.lock_timeout
    statement = migration.statement_timeout or run.settings.statement_timeout
    # PostgreSQL 14+ can notice a vanished client (SIGKILLed runner) mid-statement and
    # roll back at once, instead of when the statement would have ended.
    check = "1s" if run.conn.info.server_version >= 140000 else None
    row = run.conn.execute(
        """SELECT pg_backend_pid(),
            set_config('lock_timeout', coalesce(%s, current_setting('lock_timeout')), %s),
            set_config('statement_timeout',
                       coalesce(%s, current_setting('statement_timeout')), %s),
            CASE WHEN %s::text IS NOT NULL
                 THEN set_config('client_connection_check_interval', %s, %s) END""",
        (lock, local, statement, local, check, check, local),
    ).fetchone()
    if row and row[0] != run.backend_pid:
        raise RefusedError(
            f"the database session changed between transactions (backend {run.backend_pid}, "
            f"now {row[0]}): a transaction-mode pooler is in the way; nothing of "
            f"{migration.label} was applied",
            "connect directly (Supabase: db.<ref>.supabase.co:5432) or through a session pooler",
        )


def _failure(
    step: Step,
    statement: sqltext.Statement | None,
    exc: psycopg.Error,
    outcome: str = "rolled back, earlier migrations are kept",
) -> MigrationFailedError:
    diag = exc.diag
    offset = None
    if statement is not None:
        position = diag.statement_position
        offset = statement.offset + (int(position) - 1 if position else 0)
    where = sqltext.where(step.sql, offset)
    what = "setup or tracking row" if statement is None else "SQL"
    primary = (diag.message_primary or str(exc)).strip()
    message = (
        f"{where}: {step.direction.value} of {step.migration.label} failed in its {what}: "
        f"{diag.sqlstate or '?'} {primary}; {outcome}"
    )
    extra = [text for text in (diag.message_detail, diag.message_hint) if text]
    return MigrationFailedError(message, " ".join(extra) or None)


@contextmanager
def locked(
    conn: Connection, settings: Settings, reporter: Reporter, actor: Actor
) -> Iterator[Run]:
    """Hold the migration lock for the whole run."""
    pid = tracker.acquire_lock(conn, settings, settings.lock_wait_s, reporter.notice)
    try:
        yield Run(conn, settings, reporter, actor, pid)
    finally:
        if not conn.closed and not conn.broken:
            tracker.release_lock(conn, settings)


def current_status(
    conn: Connection, settings: Settings, graph: MigrationGraph
) -> tuple[MigrationStatus, ...]:
    rows = tracker.read_rows(conn, settings)
    return planning.compare(graph, rows, tracker.read_failures(conn, settings))


def plan_forwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, target: Migration | None = None
) -> Plan:
    """What apply would run, after the refusals (drift, a failed migration); reads only."""
    statuses = current_status(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.forwards_plan(graph, statuses, target)


def plan_backwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, select: Selector, cascade: bool
) -> Plan:
    """What revert would run, after the same refusals; reads only."""
    statuses = current_status(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.backwards_plan(graph, statuses, select(statuses), cascade)


def apply(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    target: Migration | None = None,
    actor: Actor = NOBODY,
) -> Plan:
    """Apply what is pending (up to target) under the lock; return what ran."""
    with locked(conn, settings, reporter, actor) as run:
        plan = plan_forwards(conn, settings, graph, target)
        if plan:
            prepared = prepare(plan)  # refuse before creating even the tracking table
            tracker.ensure_table(conn, settings)
            run_prepared(run, prepared)
        return plan


def revert(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    select: Selector,
    cascade: bool = False,
    actor: Actor = NOBODY,
) -> Plan:
    """Run rollbacks for the selected migrations (and dependents with cascade)."""
    with locked(conn, settings, reporter, actor) as run:
        plan = plan_backwards(conn, settings, graph, select, cascade)
        if plan:
            prepared = prepare(plan)
            tracker.ensure_table(conn, settings)  # an Archon table may lack the events table
            run_prepared(run, prepared)
        return plan



_RESET = b"RESET ALL; RESET ROLE; RESET SESSION AUTHORIZATION"


def run_autocommit(run: Run, item: Prepared, start: int = 0) -> None:
    """A `transactional = false` migration: one statement at a time, each committed on its
    own and logged as a `statement` event; the tracking row once the last one succeeds.
    A failure records where it stopped so `repair --retry` can resume there."""
    step, conn = item.step, run.conn
    done = [sqltext.statement_checksum(s) for s in item.statements[:start]]
    _begin(run, step.migration, local=False)
    for index in range(start, len(item.statements)):
        statement = item.statements[index]
        started = time.perf_counter()
        try:
            conn.execute(statement.text.encode())
        except (psycopg.Error, KeyboardInterrupt) as exc:
            _stopped_part_way(run, item, index, done, exc, time.perf_counter() - started)
        done.append(sqltext.statement_checksum(statement))
        progress = {"index": index + 1, "of": len(item.statements), "checksum": done[-1]}
        tracker.record_event(conn, run.settings, Event(
            "statement", run.actor, step.migration, time.perf_counter() - started, detail=progress))
    with conn.transaction():
        conn.execute(_RESET)
        if step.direction is Direction.FORWARDS:
            tracker.record_applied(conn, run.settings, step.migration)
        else:
            tracker.record_reverted(conn, run.settings, step.migration)
        detail: dict[str, object] = {"non_transactional": True, "resumed_at": start + 1 if start else None}
        tracker.record_event(conn, run.settings, Event(step.direction.value, run.actor,
                                                       step.migration, detail=detail))


def _stopped_part_way(
    run: Run, item: Prepared, index: int, done: list[str], exc: BaseException, seconds: float
) -> None:
    step = item.step
    statement = item.statements[index]
    with contextlib.suppress(psycopg.Error):
        run.conn.execute(_RESET)
    interrupted = isinstance(exc, KeyboardInterrupt)
    outcome = f"statements 1..{index} of {len(item.statements)} stay committed"
    error = (MigrationFailedError(f"{sqltext.where(step.sql, statement.offset)}: interrupted")
             if interrupted else _failure(step, statement, exc, outcome))  # type: ignore[arg-type]
    detail: dict[str, object] = {
        "direction": step.direction.value, "statements_done": index, "done_checksums": done,
        "failed_statement": statement.text[:2000], "statements": len(item.statements),
    }
    kind = "interrupted" if interrupted else f"{step.direction.value}-failed"
    _record_failure(run, Event(kind, run.actor, step.migration, seconds, error.message, detail))
    hint = (f"fix the cause, then `archon-plan repair --retry {step.migration.label}` "
            f"resumes at statement {index + 1}")
    if interrupted:
        raise RunInterruptedError(f"interrupted during {step.migration.label}", hint) from None
    raise MigrationFailedError(error.message, hint) from exc
