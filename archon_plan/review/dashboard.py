"""The dashboard's model: what `report` and `serve` show of one database, read in one snapshot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.graph import MigrationGraph
from ..core.model import EventKind, MigrationStatus, Settings, State
from ..core.text import status_note
from ..db import events, readonly, state
from ..db.connection import Connection
from ..db.target import Target, redact

FAILURE_EVENTS = (EventKind.APPLY_FAILED, EventKind.REVERT_FAILED, EventKind.INTERRUPTED)
EVENTS_SHOWN = 200  # the history's newest events on the page; the API serves all of them
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class MigrationLine:
    """One line of the migrations table."""

    status: MigrationStatus
    position: int | None  # 1-based place in the plan; None for a row the manifest does not have
    description: str | None
    note: str
    duration_ms: int | None  # of its newest apply


@dataclass(frozen=True)
class FailureLine:
    """A failed or interrupted run of a migration, from the history."""

    event_id: int
    kind: str
    label: str
    at: datetime
    error: str  # as recorded, passwords removed: it begins with the file:line:column
    applied_since: bool  # a later apply of the same migration succeeded


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows; passwords are out of every string here."""

    database: str  # the URL, password redacted
    manifest: str
    read_at: datetime  # the server's clock when the snapshot was taken
    graph: MigrationGraph
    lines: tuple[MigrationLine, ...]
    events: tuple[dict[str, Any], ...]  # the newest EVENTS_SHOWN, oldest first
    failures: tuple[FailureLine, ...]  # newest first
    warnings: tuple[str, ...] = ()
    # DRIFT: `archon-plan drift` is being built on another branch. When it lands, its findings
    # (the schema against what the migrations create) go here, and web/templates/dashboard.html
    # has the section that shows them (see "DRIFT" there). Until then nothing sets it.
    drift: object | None = None

    @property
    def behind(self) -> set[str]:
        """The labels of the migrations that are not applied as their files say: pending, failed, modified."""
        return {line.status.label for line in self.lines
                if line.status.state in (State.PENDING, State.FAILED, State.MODIFIED)}

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(line.status.state.value for line in self.lines)
        return {state.value: found[state.value] for state in State}


def collect(conn: Connection, settings: Settings, graph: MigrationGraph, target: Target,
            manifest: str, shown: int = EVENTS_SHOWN) -> Dashboard:
    """Read the dashboard in one read-only snapshot of the database."""
    with readonly.snapshot(conn) as read_at:
        statuses = state.read_state(conn, settings, graph)
        applies = readonly.last_applies(conn, settings)
        history = events.read_events(conn, settings, shown)
        failed = events.read_events(conn, settings, FAILURES_SHOWN, FAILURE_EVENTS)
        hidden = readonly.hidden_tables(conn, settings)
    secrets = target.secrets
    failures = tuple(_failure(e, applies, secrets) for e in reversed(failed))
    unresolved = {f.label: f.kind for f in reversed(failures) if not f.applied_since}
    return Dashboard(
        database=target.redacted, manifest=manifest, read_at=read_at, graph=graph,
        lines=tuple(_line(graph, s, applies, unresolved.get(s.label)) for s in statuses),
        events=tuple({**e, "error": _clean(e["error"], secrets)} for e in history),
        failures=failures,
        warnings=tuple(_hidden_warning(name) for name in hidden),
    )


def _line(graph: MigrationGraph, status: MigrationStatus,
          applies: Mapping[readonly.Key, readonly.LastApply], failed: str | None) -> MigrationLine:
    migration = status.migration
    last = applies.get((status.version, status.stem))
    note = status_note(status)
    if not note and failed and status.state is State.PENDING:
        what = "run was interrupted" if failed == EventKind.INTERRUPTED else f"{failed.split('-')[0]} failed"
        note = f"its last {what}: see Failures"
    return MigrationLine(
        status=status,
        position=graph.position(migration) + 1 if migration else None,
        description=migration.description if migration else None,
        note=note,
        duration_ms=last.duration_ms if last and status.state is not State.PENDING else None,
    )


def _failure(event: Mapping[str, Any], applies: Mapping[readonly.Key, readonly.LastApply],
             secrets: Sequence[str]) -> FailureLine:
    stem = str(event["migration_name"] or "").removesuffix(".sql")
    version = str(event["version"] or "")
    last = applies.get((version, stem))
    return FailureLine(
        event_id=int(event["id"]), kind=str(event["event"]),
        label=f"{version}/{stem}" if version else "-", at=event["finished_at"],
        error=_clean(event["error"], secrets) or "(no error recorded)",
        applied_since=last is not None and last.event_id > int(event["id"]),
    )


def _clean(text: object, secrets: Sequence[str]) -> str | None:
    """An error as recorded, with any password taken out (archon-plan records none; another
    writer of the table might have)."""
    return None if text is None else redact(str(text), tuple(secrets))


def _hidden_warning(table: str) -> str:
    return (f"row level security hides the rows of {table} from this database user, so what is applied "
            "cannot be seen: give it a SELECT policy (docs/cli.md#serve lists the grants)")
