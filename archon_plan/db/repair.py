"""Deliberate changes to the history without running SQL: `archon-plan repair`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..core import planning
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
from . import autocommit, events, executor, recording, state, tracker
from .connection import Connection
from .run import Prepared, Reporter


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
    cascade: bool = False,
) -> MigrationStatus:
    """Adopt, forget or re-checksum one migration, leaving an event naming who did it. The
    history stays consistent (as Django's check_consistent_history asks): nothing is marked
    applied before what it depends on, nor reverted under applied dependents (--cascade
    marks those reverted too)."""
    with executor.locked(conn, settings, reporter, actor):
        statuses = {s.migration: s for s in state.read_state(conn, settings, graph) if s.migration}
        status = statuses[migration]
        if status.state not in _REPAIRABLE[action]:
            allowed = ", ".join(sorted(_REPAIRABLE[action]))
            raise UsageError(f"{migration.label} is {status.state}; {action} needs it to be {allowed}",
                             "`archon-plan status` shows each migration's state")
        also = _consistent_history(graph, statuses, action, migration, cascade)
        tracker.ensure_table(conn, settings)
        with conn.transaction():
            for changed in (*reversed(also), migration):  # dependents first, latest first
                _change(conn, settings, action, changed, statuses[changed], actor)
        return status


def _consistent_history(graph: MigrationGraph, statuses: Mapping[Migration, MigrationStatus],
                        action: Repair, migration: Migration, cascade: bool) -> tuple[Migration, ...]:
    """The applied dependents that --cascade marks reverted too; refuse what would leave a
    migration applied before one it depends on."""
    if action is Repair.MARK_APPLIED:
        missing = [m.label for m in graph.ancestors(migration) if not planning.is_applied(statuses[m])]
        if missing:
            raise RefusedError(f"{migration.label} depends on {', '.join(missing)}, not applied: marking it "
                               "applied would record a history no run can produce",
                               "apply or mark those applied first")
        return ()
    if action is not Repair.MARK_REVERTED:
        return ()
    applied = tuple(m for m in graph.descendants(migration) if planning.is_applied(statuses[m]))
    if applied and not cascade:
        raise RefusedError(f"{', '.join(m.label for m in applied)} depend(s) on {migration.label} and "
                           "are applied", "revert them first, or pass --cascade to mark them reverted too")
    return applied


def _change(conn: Connection, settings: Settings, action: Repair, migration: Migration,
            status: MigrationStatus, actor: Actor) -> None:
    """One migration's row changed on purpose, with its event, in the caller's transaction."""
    if action is Repair.ACCEPT_CHECKSUM:
        recording.update_checksum(conn, settings, migration)
    elif action is Repair.MARK_APPLIED:
        recording.record_applied(conn, settings, migration)
    else:
        recording.record_reverted(conn, settings, migration)
    detail: dict[str, object] = {"recorded_checksum": status.row.checksum if status.row else None,
                                 "file_checksum": migration.checksum, "previous_state": status.state.value}
    events.record_event(conn, settings, Event(EventKind(action.value), actor, migration, detail=detail))


def retry(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    migration: Migration,
    actor: Actor = NOBODY,
    choice: Choice | None = None,
    reconnect: Callable[[], Connection] | None = None,
) -> int:
    """Finish a stopped non-transactional migration; return the statement (from 1) it resumed at.
    `reconnect` opens the run's bookkeeping connection, as for apply."""
    with executor.locked(conn, settings, reporter, actor, reconnect) as run:
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
        start, dropped = (_chosen(failure, item, choice) if choice
                          else _resume_point(conn, reporter, failure, item))
        detail: dict[str, object] = {"resumed_at": start + 1, "dropped_invalid_index": dropped,
                                     "in_doubt": failure.in_doubt,
                                     "chosen": f"{choice.how} {choice.statement}" if choice else None}
        events.record_event(conn, settings, Event(EventKind.RETRY, actor, migration, 0.0, detail=detail))
        autocommit.run_autocommit(run, item, start)
        return start + 1


def _resume_point(conn: Connection, reporter: Reporter, failure: Failure,
                  item: Prepared) -> tuple[int, str | None]:
    """Where to resume (0-based) and the INVALID index dropped first, if any: after the
    statements that committed; an in-doubt statement is settled from the catalog when it
    creates an index, and never guessed otherwise."""
    done, label = failure.statements_done, item.step.migration.label
    if done >= len(item.statements) and (failure.statements or done) > done:
        raise RefusedError(
            f"statement {done + 1} of {label}, where it stopped, is no longer in its file "
            f"({len(item.statements)} statements now, {failure.statements} then)",
            "restore it, or finish by hand and use --mark-applied / --mark-reverted")
    if done >= len(item.statements):
        return done, None  # every statement committed: only the tracking row is missing
    index = parse.created_index(item.statements[done])
    if failure.in_doubt and index is None:
        raise RefusedError(
            f"statement {done + 1} of {label} was sent when the run stopped, and whether it "
            "committed is unknown: archon-plan does not guess for this statement",
            f"check the database, then `archon-plan repair --retry {label} --resume-at {done + 1}` "
            f"runs it again, or `--resume-after {done + 1}` treats it as done",
        )
    if index is None:
        return done, None
    if failure.in_doubt and autocommit.index_state(conn, index) is autocommit.IndexState.VALID:
        reporter.notice(f"statement {done + 1} had taken effect: the index {index.name} is valid")
        return done + 1, None
    if autocommit.drop_invalid_index(conn, index):
        reporter.notice(f"dropped the INVALID index {index.name} left by statement {done + 1}")
        return done, index.name
    return done, None


def _chosen(failure: Failure, item: Prepared, choice: Choice) -> tuple[int, str | None]:
    """--resume-at K (run statement K again) or --resume-after K (treat 1..K as done), within
    what may have run: statements beyond the stop never ran and cannot be skipped."""
    done = failure.statements_done
    if choice.how == "resume-at":  # run K again: any statement up to the first that did not commit
        lowest, highest, start = 1, min(done + 1, len(item.statements)), choice.statement - 1
    else:  # K took effect: up to the one in doubt, if any
        lowest, highest, start = 0, done + (1 if failure.in_doubt else 0), choice.statement
    if not lowest <= choice.statement <= highest:
        raise UsageError(f"--{choice.how} {choice.statement}: {item.step.migration.label} stopped "
                         f"after statement {done} of {len(item.statements)}",
                         f"choose a statement from {lowest} to {highest}")
    return start, None


@dataclass(frozen=True)
class Choice:
    """The operator's word on where to resume: `--resume-at K` or `--resume-after K`."""

    how: str  # "resume-at" or "resume-after"
    statement: int  # K, from 1
