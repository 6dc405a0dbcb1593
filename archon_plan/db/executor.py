"""Runs plans: one transaction per migration, its tracking row inside it, progress by callback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import psycopg
from psycopg import pq

from ..core.graph import MigrationGraph
from ..core.model import NOBODY, Actor, Direction, Event, EventKind, Migration, Plan, Settings
from ..errors import (
    ConnectionLostError,
    ManifestError,
    MigrationFailedError,
    Outcome,
    Problem,
    RunInterruptedError,
    Terminated,
)
from . import events, lock, state, tracker
from .connection import Connection
from .run import Prepared, Reporter, Run, record_failure, refuse_lost_session

if TYPE_CHECKING:
    from .batch import Batch

# The backoff's wait; tests put a recorder here rather than sleep for real.
sleep: Callable[[float], None] = time.sleep


class Kept(Protocol):
    """Where a file's checked split is kept between runs (project/cache.py Memo; a dict will do)."""

    def get(self, key: str) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...


def prepare(plan: Plan, kept: Kept | None = None) -> list[Prepared]:
    """Parse every file of the plan; refuse the whole run on any problem. A file found clean
    by an earlier run, in the same mode, is not parsed again (sql/remembered.py)."""
    from ..sql import parse, remembered  # here, as batch and windows below: a no-op apply needs none

    problems: list[Problem] = []
    prepared = []
    for step in plan.steps:
        transactional, rollback = step.migration.transactional, step.direction is Direction.REVERT
        memo = kept if transactional else None  # a non-transactional run reads parse trees
        key = remembered.key(step.sql, transactional, rollback) if memo is not None else ""
        known = remembered.statements(step.sql.text, memo.get(key)) if memo is not None else None
        if known is not None:
            prepared.append(Prepared(step, known))
            continue
        found = parse.problems(step.sql, f"migration {step.migration.label}", transactional, rollback)
        problems.extend(found)
        if not found:
            prepared.append(Prepared(step, parse.runnable_statements(step.sql)))
            if memo is not None:
                memo[key] = remembered.spans(prepared[-1].statements)
    if problems:
        raise ManifestError(problems)
    return prepared


def run_prepared(run: Run, prepared: Sequence[Prepared]) -> int:
    """Run each step in its own transaction; stop at the first failure, or before a step whose
    maintenance window closed (or whose not_before lies ahead) while earlier ones ran. Return
    how many ran."""
    for done, item in enumerate(prepared):
        if _no_longer_due(run, item):
            return done
        if item.step.out_of_order:
            run.reporter.notice(
                f"{item.step.migration.label} sorts before migrations already applied "
                "(merged late); applying it now"
            )
        run.reporter.step_started(item.step)
        started = time.perf_counter()
        _run_with_retries(run, item)
        run.reporter.step_finished(item.step, time.perf_counter() - started)
    return len(prepared)


def _no_longer_due(run: Run, item: Prepared) -> str | None:
    """Why a step planned in a window may not start now (the window closed during a long run)."""
    settings, migration = run.settings, item.step.migration
    if item.step.direction is not Direction.APPLY or settings.ignore_windows or not (
            settings.windows or migration.not_before):
        return None
    from ..core import windows

    return windows.deferral(settings.windows, migration.not_before, datetime.now(UTC))


def _run_with_retries(run: Run, item: Prepared) -> None:
    """Retry a migration that could not get a lock in time (55P03), with backoff and jitter."""
    step, attempt = item.step, 0
    if not step.migration.transactional:
        from .autocommit import run_autocommit  # the runner of the rare non-transactional migration

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
            kind = EventKind.RETRY if retry else EventKind.failed(step.direction)
            record_failure(run, Event(kind, run.actor, step.migration, elapsed, failed.error.message))
            if not retry:
                raise failed.error from None
        attempt += 1
        delay = lock.retry_delay(attempt)
        run.reporter.notice(
            f"{step.migration.label}: lock not available; retry {attempt} of "
            f"{run.settings.lock_retries} in {delay:.1f}s"
        )
        sleep(delay)


class _Failed(Exception):
    def __init__(self, error: MigrationFailedError, lock_not_available: bool) -> None:
        self.error = error
        self.lock_not_available = lock_not_available


def _run_step(run: Run, item: Prepared) -> None:
    """The migration, its tracking row and its event in one message: one round trip."""
    from . import batch

    step, conn = item.step, run.conn
    record = run.composer.record(step, Event(EventKind.done(step.direction), run.actor, step.migration))
    message = batch.build(run.composer.setup(step.migration), item.statements, record)
    cursor = batch.CountingCursor(conn)
    try:
        cursor.execute(message.text.encode())
    except psycopg.Error as exc:
        if conn.broken:
            raise _lost(run, item, exc) from None
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:  # an explicit BEGIN failed
            conn.execute("ROLLBACK")
        refuse_lost_session(run, step.migration, exc)
        lock_not_available = isinstance(exc, psycopg.errors.LockNotAvailable)
        raise _Failed(_failure(run, item, message, cursor.completed, exc), lock_not_available) from exc
    except KeyboardInterrupt as interrupt:
        raise _interrupted(run, item, interrupt) from None
    finally:
        cursor.close()


def _lost(run: Run, item: Prepared, exc: psycopg.Error) -> ConnectionLostError:
    """The connection broke with the message sent: the server may have committed it before
    the answer was lost. A new connection reads the tracking row to tell."""
    step, outcome, conn = item.step, Outcome.UNKNOWN, None
    if run.reconnect is not None:
        outcome, conn = state.settle_on_a_new_connection(run.reconnect, run.settings, step, sleep)
    cause = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
    error = ConnectionLostError(migration=step.migration.label, direction=step.direction.value,
                                outcome=outcome, cause=cause)
    if conn is not None:
        with contextlib.suppress(psycopg.Error), conn:
            if outcome is Outcome.ROLLED_BACK:
                events.record_event(conn, run.settings, Event(
                    EventKind.failed(step.direction), run.actor, step.migration, 0.0, error.message))
    return error


def _interrupted(run: Run, item: Prepared, interrupt: KeyboardInterrupt) -> RunInterruptedError:
    """Ctrl-C or SIGTERM during a message (psycopg has cancelled it on the server): rolled back,
    unless it landed after the commit, which the tracking row tells."""
    from ..sql import parse  # loaded by prepare() already

    step, conn = item.step, run.conn
    with contextlib.suppress(psycopg.Error):
        if conn.info.transaction_status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            conn.execute("ROLLBACK")  # a file with savepoints runs in an explicit BEGIN
    if conn.info.transaction_status == pq.TransactionStatus.ACTIVE and run.reconnect is not None:
        # The signal landed before psycopg saw the message go out (its cancel never ran): the
        # session is busy; the tracking row, read on a new connection, says what happened.
        conn.cancel_safe(timeout=5.0)
        outcome, other = state.settle_on_a_new_connection(run.reconnect, run.settings, step, sleep)
        if other is not None:
            other.close()
    else:
        outcome = state.settle(conn, run.settings, step)
    signal = "SIGTERM" if isinstance(interrupt, Terminated) else "SIGINT (Ctrl-C)"
    if outcome is not Outcome.COMMITTED:  # a committed step has its own event already
        record_failure(run, Event(EventKind.INTERRUPTED, run.actor, step.migration, 0.0, signal,
                                  {"signal": signal.split()[0]}))
    return RunInterruptedError.of(interrupt, migration=step.migration.label, direction=step.direction.value,
                                  location=parse.location(step.sql, None), outcome=outcome)


def _failure(
    run: Run, item: Prepared, message: Batch, completed: int | None, exc: psycopg.Error
) -> MigrationFailedError:
    """A failed message rolled back, unless the connection broke: then its COMMIT may have
    happened before the answer was lost, and only the tracking row can tell."""
    from . import batch  # loaded by _run_step() already

    located = batch.locate(message, completed, exc)
    if not run.conn.broken:
        return batch.failure(item.step, *located, exc)
    advice = "`archon-plan status` shows whether it committed: its tracking row commits with it"
    return batch.failure(item.step, *located, exc, Outcome.UNKNOWN, advice=advice)


@contextmanager
def locked(
    conn: Connection, settings: Settings, reporter: Reporter, actor: Actor,
    reconnect: Callable[[], Connection] | None = None,
) -> Iterator[Run]:
    """Hold the migration lock for the whole run."""
    pid = lock.acquire_lock(conn, settings, settings.lock_wait_s, reporter.notice)
    try:
        run = Run(conn, settings, reporter, actor, pid, reconnect)
        try:
            yield run
        finally:
            run.close()
    finally:
        if conn.info.transaction_status == pq.TransactionStatus.ACTIVE:
            conn.close()  # an interrupt left a message in flight: closing ends it, and the lock
        elif not conn.closed and not conn.broken:
            lock.release_lock(conn, settings)


def apply(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    target: Migration | None = None,
    actor: Actor = NOBODY,
    reconnect: Callable[[], Connection] | None = None,
    before: Callable[[Plan], None] = lambda plan: None,
    kept: Kept | None = None,
) -> Plan:
    """Apply what is pending (up to target) under the lock; return what ran. `before` gets the
    plan once it is known and its files are checked, before anything changes: a hook may stop it.
    `kept`: files' checked splits from earlier runs (prepare)."""
    with locked(conn, settings, reporter, actor, reconnect) as run:
        plan = state.plan_forwards(conn, settings, graph, target)
        if plan:
            prepared = prepare(plan, kept)  # refuse before creating even the tracking table
            before(plan)
            tracker.ensure_table(conn, settings)
        tracker.harden(conn, settings)  # before running: a run that fails leaves them closed too
        if plan:
            done = run_prepared(run, prepared)
            if done < len(plan):  # a window closed meanwhile: the rest waits, in order
                late = plan.steps[done:]
                why = _no_longer_due(run, prepared[done]) or "the window closed"
                waits = [(late[0].migration, why)] + [(s.migration, f"after {late[0].migration.label}, which "
                                                       "waits") for s in late[1:]]
                plan = Plan(plan.steps[:done], (*waits, *plan.deferred))
        return plan


def revert(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    select: state.Selector,
    cascade: bool = False,
    actor: Actor = NOBODY,
    reconnect: Callable[[], Connection] | None = None,
    kept: Kept | None = None,
) -> Plan:
    """Run rollbacks for the selected migrations (and dependents with cascade)."""
    with locked(conn, settings, reporter, actor, reconnect) as run:
        plan = state.plan_backwards(conn, settings, graph, select, cascade)
        if plan:
            prepared = prepare(plan, kept)
            tracker.ensure_table(conn, settings)  # an Archon table may lack the events table
        tracker.harden(conn, settings)
        if plan:
            run_prepared(run, prepared)
        return plan


