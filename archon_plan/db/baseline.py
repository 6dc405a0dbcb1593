"""Many migrations recorded as applied without running them, in one transaction under the
lock, one event each: `repair --mark-applied --through NAME` and adopting another tool's history."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core import planning
from ..core.graph import MigrationGraph
from ..core.model import NOBODY, Actor, Event, EventKind, Migration, MigrationStatus, Settings, State
from ..errors import RefusedError
from . import events, executor, recording, state, tracker
from .connection import Connection
from .run import Reporter

Detail = Callable[[Migration, MigrationStatus], dict[str, object]]


def mark_applied(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    migrations: Sequence[Migration],
    kind: EventKind = EventKind.MARK_APPLIED,
    actor: Actor = NOBODY,
    detail: Detail | None = None,
) -> list[Migration]:
    """Record those of `migrations` not applied yet, in plan order, and return them: all in one
    transaction, or none. The history stays consistent: nothing is recorded before a
    migration it depends on, and a failed migration is left to `repair` one at a time."""
    with executor.locked(conn, settings, reporter, actor):
        statuses = {s.migration: s for s in state.read_state(conn, settings, graph) if s.migration}
        todo = sorted((m for m in set(migrations) if not planning.is_applied(statuses[m])),
                      key=graph.position)
        _refuse_inconsistent(graph, statuses, todo)
        if not todo:
            return []
        tracker.ensure_table(conn, settings)
        with conn.transaction():
            for migration in todo:
                status = statuses[migration]
                recording.record_applied(conn, settings, migration)
                more = detail(migration, status) if detail else {}
                events.record_event(conn, settings, Event(kind, actor, migration, detail={
                    "file_checksum": migration.checksum, "previous_state": status.state.value, **more}))
        return todo


def _refuse_inconsistent(graph: MigrationGraph, statuses: dict[Migration, MigrationStatus],
                         todo: Sequence[Migration]) -> None:
    failed = [m.label for m in todo if statuses[m].state is State.FAILED]
    if failed:
        raise RefusedError(f"{', '.join(failed)} stopped part-way (failed); nothing was recorded",
                           "settle it first: `archon-plan repair --retry NAME`, or --mark-applied NAME alone")
    chosen = set(todo)
    for migration in todo:
        missing = [m.label for m in graph.ancestors(migration)
                   if m not in chosen and not planning.is_applied(statuses[m])]
        if missing:
            raise RefusedError(f"{migration.label} depends on {', '.join(missing)}, not applied: recording "
                               "it would leave a history no run can produce; nothing was recorded",
                               "apply or record those first")
