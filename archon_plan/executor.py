"""Runs plans: one transaction per migration, its tracking row inside it, progress by callback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import psycopg

from . import planning, sqltext, tracker
from .errors import ManifestError, MigrationFailedError, Problem, RunInterruptedError
from .graph import MigrationGraph
from .model import Direction, Migration, MigrationStatus, Plan, Settings, Step

Connection = psycopg.Connection[tuple[object, ...]]


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
        found = sqltext.problems(step.sql, f"migration {step.migration.label}")
        problems.extend(found)
        if not found:
            prepared.append(Prepared(step, sqltext.runnable_statements(step.sql)))
    if problems:
        raise ManifestError(problems)
    return prepared


def run_prepared(
    conn: Connection, settings: Settings, prepared: Sequence[Prepared], reporter: Reporter
) -> None:
    """Run each step in its own transaction; stop at the first failure."""
    for item in prepared:
        if item.step.out_of_order:
            reporter.notice(
                f"{item.step.migration.label} sorts before migrations already applied "
                "(merged late); applying it now"
            )
        reporter.step_started(item.step)
        started = time.perf_counter()
        _run_step(conn, settings, item)
        reporter.step_finished(item.step, time.perf_counter() - started)


def _run_step(conn: Connection, settings: Settings, item: Prepared) -> None:
    step = item.step
    current: sqltext.Statement | None = None
    try:
        with conn.transaction():
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
    except psycopg.Error as exc:
        raise _failure(step, current, exc) from exc
    except KeyboardInterrupt:
        raise RunInterruptedError(
            f"interrupted during {step.direction.value} of {step.migration.label}; "
            "it was rolled back, earlier migrations are kept"
        ) from None


def _failure(
    step: Step, statement: sqltext.Statement | None, exc: psycopg.Error
) -> MigrationFailedError:
    diag = exc.diag
    offset = None
    if statement is not None:
        position = diag.statement_position
        offset = statement.offset + (int(position) - 1 if position else 0)
    where = sqltext.where(step.sql, offset)
    what = "tracking row" if statement is None else "SQL"
    primary = (diag.message_primary or str(exc)).strip()
    message = (
        f"{where}: {step.direction.value} of {step.migration.label} failed in its {what}: "
        f"{diag.sqlstate or '?'} {primary}; rolled back, earlier migrations are kept"
    )
    extra = [text for text in (diag.message_detail, diag.message_hint) if text]
    return MigrationFailedError(message, " ".join(extra) or None)


@contextmanager
def locked(
    conn: Connection, settings: Settings, timeout_s: float, reporter: Reporter
) -> Iterator[None]:
    """Hold the migration lock for the whole run."""
    tracker.acquire_lock(conn, settings, timeout_s, reporter.notice)
    try:
        yield
    finally:
        if not conn.closed:
            tracker.release_lock(conn, settings)


def current_status(
    conn: Connection, settings: Settings, graph: MigrationGraph
) -> tuple[MigrationStatus, ...]:
    return planning.compare(graph, tracker.read_rows(conn, settings))


def apply(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    target: Migration | None = None,
) -> Plan:
    """Apply what is pending (up to target) under the lock; return what ran."""
    with locked(conn, settings, settings.lock_timeout_s, reporter):
        statuses = current_status(conn, settings, graph)
        planning.check_drift(statuses)
        plan = planning.forwards_plan(graph, statuses, target)
        if plan:
            prepared = prepare(plan)  # refuse before creating even the tracking table
            tracker.ensure_table(conn, settings)
            run_prepared(conn, settings, prepared, reporter)
        return plan


Selector = Callable[[Sequence[MigrationStatus]], Sequence[Migration]]


def revert(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    select: Selector,
    cascade: bool = False,
) -> Plan:
    """Run rollbacks for the selected migrations (and dependents with cascade)."""
    with locked(conn, settings, settings.lock_timeout_s, reporter):
        statuses = current_status(conn, settings, graph)
        planning.check_drift(statuses)
        plan = planning.backwards_plan(graph, statuses, select(statuses), cascade)
        if plan:
            run_prepared(conn, settings, prepare(plan), reporter)
        return plan
