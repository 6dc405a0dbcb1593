"""Reading a database's state (its tracking rows and stopped migrations) and planning against it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import psycopg

from ..core import planning
from ..core.graph import MigrationGraph
from ..core.model import Direction, Migration, MigrationStatus, Plan, Settings, Step
from ..errors import ArchonPlanError, Outcome
from . import events, tracker
from .connection import Connection

Selector = Callable[[Sequence[MigrationStatus]], Sequence[Migration]]


# Reconnecting after a lost connection: attempts, and the wait before each after the first.
RECONNECT_WAITS_S = (0.0, 1.0, 3.0)


def settle_on_a_new_connection(
    reconnect: Callable[[], Connection], settings: Settings, step: Step,
    sleep: Callable[[float], None],
) -> tuple[Outcome, Connection | None]:
    """settle() after the connection broke: on a new connection (bounded attempts), which the
    caller closes; UNKNOWN and None when the database cannot be reached again."""
    for wait in RECONNECT_WAITS_S:
        sleep(wait)
        try:
            conn = reconnect()
        except ArchonPlanError:
            continue
        outcome = settle(conn, settings, step)
        if outcome is not Outcome.UNKNOWN:
            return outcome, conn
        conn.close()
    return Outcome.UNKNOWN, None


def settle(conn: Connection, settings: Settings, step: Step) -> Outcome:
    """Whether a step whose answer never arrived committed: its tracking row commits with it,
    so the row says (present after an apply, gone after a revert). UNKNOWN when the
    connection is gone."""
    if conn.broken or conn.closed:
        return Outcome.UNKNOWN
    try:
        recorded = tracker.has_row(conn, settings, step.migration)
    except psycopg.Error:
        return Outcome.UNKNOWN
    return Outcome.COMMITTED if recorded == (step.direction is Direction.APPLY) else Outcome.ROLLED_BACK


def read_state(
    conn: Connection, settings: Settings, graph: MigrationGraph
) -> tuple[MigrationStatus, ...]:
    """Each migration's state: the graph against the tracking rows and the stopped migrations."""
    table, history = tracker.tables_exist(conn, settings)  # a fleet reads thousands of tenants
    rows = tracker.read_rows(conn, settings, table)
    return planning.compare(graph, rows, events.read_failures(conn, settings, history))


def plan_forwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, target: Migration | None = None
) -> Plan:
    """What apply would run, after the refusals (drift, a failed migration); reads only."""
    statuses = read_state(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.forwards_plan(graph, statuses, target, settings, datetime.now(UTC))


def plan_backwards(
    conn: Connection, settings: Settings, graph: MigrationGraph, select: Selector, cascade: bool
) -> Plan:
    """What revert would run, after the same refusals; reads only."""
    statuses = read_state(conn, settings, graph)
    planning.check_drift(statuses)
    planning.check_failed(statuses)
    return planning.backwards_plan(graph, statuses, select(statuses), cascade)
