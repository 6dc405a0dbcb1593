"""Deliberate changes to the history without running SQL: `archon-plan repair`."""

from __future__ import annotations

from enum import StrEnum

from . import executor, tracker
from .errors import UsageError
from .graph import MigrationGraph
from .model import NOBODY, Actor, Event, Migration, MigrationStatus, Settings, State


class Repair(StrEnum):
    """Changes to the history made on purpose, without running SQL."""

    ACCEPT_CHECKSUM = "accept-checksum"
    MARK_APPLIED = "mark-applied"
    MARK_REVERTED = "mark-reverted"


_REPAIRABLE = {
    Repair.ACCEPT_CHECKSUM: {State.MODIFIED, State.APPLIED_UNKNOWN_CHECKSUM},
    Repair.MARK_APPLIED: {State.PENDING},
    Repair.MARK_REVERTED: {State.APPLIED, State.APPLIED_UNKNOWN_CHECKSUM, State.MODIFIED},
}


def repair(
    conn: executor.Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: executor.Reporter,
    action: Repair,
    migration: Migration,
    actor: Actor = NOBODY,
) -> MigrationStatus:
    """Adopt, forget or re-checksum one migration, leaving an event naming who did it."""
    with executor.locked(conn, settings, reporter, actor):
        status = next(s for s in executor.current_status(conn, settings, graph) if s.migration == migration)
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
            tracker.record_event(conn, settings, Event(action.value, actor, migration, detail=detail))
        return status
