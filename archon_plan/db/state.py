"""Reading a database's state (its tracking rows and stopped migrations) and planning against it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core import planning
from ..core.graph import MigrationGraph
from ..core.model import Migration, MigrationStatus, Plan, Settings
from . import events, tracker
from .connection import Connection

Selector = Callable[[Sequence[MigrationStatus]], Sequence[Migration]]


def read_state(
    conn: Connection, settings: Settings, graph: MigrationGraph
) -> tuple[MigrationStatus, ...]:
    """Each migration's state: the graph against the tracking rows and the stopped migrations."""
    rows = tracker.read_rows(conn, settings)
    return planning.compare(graph, rows, events.read_failures(conn, settings))



def plan_forwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, target: Migration | None = None
) -> Plan:
    """What apply would run, after the refusals (drift, a failed migration); reads only."""
    statuses = read_state(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.forwards_plan(graph, statuses, target)



def plan_backwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, select: Selector, cascade: bool
) -> Plan:
    """What revert would run, after the same refusals; reads only."""
    statuses = read_state(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.backwards_plan(graph, statuses, select(statuses), cascade)
