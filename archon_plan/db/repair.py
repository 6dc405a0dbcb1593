"""Deliberate changes to the history without running SQL: `archon-plan repair`."""

from __future__ import annotations

from enum import StrEnum

from ..core.graph import MigrationGraph
from ..core.model import (
    NOBODY,
    Actor,
    Event,
    EventKind,
    Migration,
    MigrationStatus,
    Plan,
    Settings,
    State,
    Step,
)
from ..core.resume import Failure
from ..errors import RefusedError, UsageError
from ..sql import parse
from . import autocommit, events, executor, state, tracker
from .connection import Connection
from .run import Reporter


class Repair(StrEnum):
    """Changes to the history made on purpose, without running SQL."""

    ACCEPT_CHECKSUM = "accept-checksum"
    MARK_APPLIED = "mark-applied"
    MARK_REVERTED = "mark-reverted"


_REPAIRABLE = {
    Repair.ACCEPT_CHECKSUM: {State.MODIFIED, State.APPLIED_UNKNOWN_CHECKSUM},
    Repair.MARK_APPLIED: {State.PENDING, State.FAILED},
    Repair.MARK_REVERTED: {State.APPLIED, State.APPLIED_UNKNOWN_CHECKSUM, State.MODIFIED, State.FAILED},
}


def repair(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    action: Repair,
    migration: Migration,
    actor: Actor = NOBODY,
) -> MigrationStatus:
    """Adopt, forget or re-checksum one migration, leaving an event naming who did it."""
    with executor.locked(conn, settings, reporter, actor):
        status = next(s for s in state.read_state(conn, settings, graph) if s.migration == migration)
        if status.state not in _REPAIRABLE[action]:
            allowed = ", ".join(sorted(_REPAIRABLE[action]))
            raise UsageError(f"{migration.label} is {status.state}; {action} needs it to be {allowed}",
                             "`archon-plan status` shows each migration's state")
        tracker.ensure_table(conn, settings)
        with conn.transaction():
            if action is Repair.ACCEPT_CHECKSUM:
                tracker.update_checksum(conn, settings, migration)
            elif action is Repair.MARK_APPLIED:
                tracker.record_applied(conn, settings, migration)
            else:
                tracker.record_reverted(conn, settings, migration)
            detail: dict[str, object] = {"recorded_checksum": status.row.checksum if status.row else None,
                      "file_checksum": migration.checksum, "previous_state": status.state.value}
            kind = EventKind(action.value)
            events.record_event(conn, settings, Event(kind, actor, migration, detail=detail))
        return status


def retry(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    migration: Migration,
    actor: Actor = NOBODY,
) -> Failure:
    """Resume a non-transactional migration at the statement that failed."""
    with executor.locked(conn, settings, reporter, actor) as run:
        status = next(s for s in state.read_state(conn, settings, graph) if s.migration == migration)
        failure = status.failure
        if status.state is not State.FAILED or failure is None:
            raise UsageError(f"{migration.label} is {status.state}; --retry resumes a failed "
                             "non-transactional migration", "`archon-plan status` shows states")
        step = Step(migration, failure.direction)
        item = executor.prepare(Plan((step,)))[0]
        if failure.edited([parse.statement_checksum(s) for s in item.statements]):
            raise RefusedError(
                f"{step.sql.display}: statements that already ran for {migration.label} were "
                "edited since; resuming could skip or repeat work",
                "restore them, or finish by hand and use --mark-applied / --mark-reverted",
            )
        failed = item.statements[failure.statements_done]
        index = parse.invalid_index_candidate(failed)
        dropped = bool(index) and autocommit.drop_invalid_index(conn, str(index))
        if dropped:
            reporter.notice(f"dropped the INVALID index {index} left by the failed statement")
        detail: dict[str, object] = {"resumed_at": failure.resumes_at,
                                     "dropped_invalid_index": index if dropped else None}
        events.record_event(conn, settings, Event(EventKind.RETRY, actor, migration, 0.0, detail=detail))
        autocommit.run_autocommit(run, item, failure.statements_done)
        return failure
