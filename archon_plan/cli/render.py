"""Output formats for plans and statuses: text, JSON, mermaid, dot; pure strings."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.graph import MigrationGraph
from ..core.model import Migration, MigrationStatus, Plan, State
from ..core.text import SCHEMA_VERSION, status_note, table


def migration_dict(graph: MigrationGraph, migration: Migration) -> dict[str, Any]:
    return {
        "position": graph.position(migration) + 1,
        "version": migration.version,
        "name": migration.stem,
        "migration_name": migration.migration_name,
        "file": migration.sql.display,
        "checksum": migration.checksum,
        "rollback": migration.rollback.display if migration.rollback else None,
        "depends_on": [d.label for d in graph.dependencies(migration)],
        "description": migration.description,
    }


def show_json(graph: MigrationGraph, only: Sequence[Migration] | None = None) -> str:
    migrations = [migration_dict(graph, m) for m in _listed(graph, only)]
    return json.dumps({"schema_version": SCHEMA_VERSION, "migrations": migrations}, indent=2)


def _listed(graph: MigrationGraph, only: Sequence[Migration] | None) -> Sequence[Migration]:
    """All migrations, or those `show --release` picked (positions stay those of the whole plan)."""
    return graph.order if only is None else only


def show_text(graph: MigrationGraph, only: Sequence[Migration] | None = None) -> str:
    rows = [
        (
            str(graph.position(m) + 1), m.version, m.stem,
            "yes" if m.rollback else "NO",
            ", ".join(d.label for d in graph.dependencies(m)) or "-",
        )
        for m in _listed(graph, only)
    ]
    summary = f"{len(rows)} migration(s)"
    return table(("#", "VERSION", "MIGRATION", "ROLLBACK", "DEPENDS ON"), rows) + "\n" + summary


def _node_id(migration: Migration) -> str:
    return "m_" + migration.label.replace(".", "_").replace("/", "__")


def show_mermaid(graph: MigrationGraph, only: Sequence[Migration] | None = None) -> str:
    lines = ["graph TD"]
    listed = _listed(graph, only)
    for m in listed:
        lines.append(f'    {_node_id(m)}["{m.label}"]')
    # Under `show --release`, dependencies in other releases need a node with their label too.
    shown = {m.key for m in listed}
    outside = {d.key: d for m in listed for d in graph.dependencies(m) if d.key not in shown}
    lines.extend(f'    {_node_id(d)}["{d.label}"]' for d in sorted(outside.values(), key=graph.position))
    for m in listed:
        lines.extend(f"    {_node_id(d)} --> {_node_id(m)}" for d in graph.dependencies(m))
    return "\n".join(lines)


def show_dot(graph: MigrationGraph, only: Sequence[Migration] | None = None) -> str:
    lines = ["digraph migrations {", "    rankdir=LR;"]
    for m in _listed(graph, only):
        lines.append(f'    "{m.label}";')
    for m in _listed(graph, only):
        lines.extend(f'    "{d.label}" -> "{m.label}";' for d in graph.dependencies(m))
    lines.append("}")
    return "\n".join(lines)


def counts(statuses: Sequence[MigrationStatus]) -> dict[str, int]:
    found = {state.value: 0 for state in State}
    for status in statuses:
        found[status.state.value] += 1
    return found


def _note(s: MigrationStatus, deferred: Mapping[tuple[str, str], str]) -> str:
    if s.migration is not None and s.migration.key in deferred:
        return f"deferred: {deferred[s.migration.key]}"
    return status_note(s)


def status_text(statuses: Sequence[MigrationStatus], database: str,
                deferred: Mapping[tuple[str, str], str] | None = None) -> str:
    rows = []
    for s in statuses:
        applied_at = s.row.applied_at.isoformat(" ", "seconds") if s.row and s.row.applied_at else ""
        rows.append((s.state.value, s.version, s.stem, applied_at, _note(s, deferred or {})))
    n = counts(statuses)
    applied = n["applied"] + n["applied-unknown-checksum"]
    summary = (f"{applied} applied, {n['pending']} pending, {n['modified']} modified, "
               f"{n['unknown']} unknown" + (f", {n['failed']} FAILED" if n["failed"] else ""))
    body = table(("STATE", "VERSION", "MIGRATION", "APPLIED AT", "NOTE"), rows) if rows else ""
    return "\n".join(part for part in (f"Database: {database}", body, summary) if part)


def status_json(statuses: Sequence[MigrationStatus], database: str,
                deferred: Mapping[tuple[str, str], str] | None = None) -> str:
    return json.dumps(status_document(statuses, database, deferred), indent=2)


def status_document(statuses: Sequence[MigrationStatus], database: str,
                    deferred: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """`status --format json`, also served as /api/status."""
    deferred = deferred or {}
    items = [
        {
            "version": s.version,
            "name": s.stem,
            "state": s.state.value,
            "applied_at": s.row.applied_at.isoformat() if s.row and s.row.applied_at else None,
            "recorded_name": s.row.migration_name if s.row else None,
            "recorded_checksum": s.row.checksum if s.row else None,
            "file_checksum": s.migration.checksum if s.migration else None,
            "out_of_order": s.out_of_order,
            "deferred": deferred.get(s.migration.key) if s.migration else None,
            "failed": None if s.failure is None else {
                "direction": s.failure.direction.value,
                "statements_done": s.failure.statements_done,
                "error": s.failure.error,
            },
        }
        for s in statuses
    ]
    return {"schema_version": SCHEMA_VERSION, "database": database, "counts": counts(statuses),
            "migrations": items}


def plan_preview(plan: Plan, max_lines: int = 6) -> str:
    """What a dry run would do, with the first lines of each file."""
    out = []
    for step in plan.steps:
        out.append(f"would {step.direction.value} {step.migration.label} ({step.sql.display})")
        lines = [ln for ln in step.sql.text.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        out.extend(f"    | {ln}" for ln in lines[:max_lines] or ["(no SQL, only comments)"])
        if len(lines) > max_lines:
            out.append(f"    | ... {len(lines) - max_lines} more line(s)")
    return "\n".join(out)


def _event_row(event: dict[str, Any]) -> tuple[str, ...]:
    name = f"{event['version']}/{event['migration_name']}" if event["version"] else "-"
    who = f"{event['db_user']} ({event['os_user'] or '?'}@{event['host'] or '?'})"
    duration = f"{event['duration_ms']} ms" if event["duration_ms"] is not None else ""
    return (str(event["id"]), event["finished_at"].isoformat(" ", "seconds"), event["event"], name,
            duration, who, (event["error"] or "").splitlines()[0] if event["error"] else "")


def history_text(events: Sequence[dict[str, Any]], database: str) -> str:
    if not events:
        return f"Database: {database}\nNo events recorded yet."
    rows = [_event_row(e) for e in events]
    header = ("#", "AT", "EVENT", "MIGRATION", "TOOK", "BY", "ERROR")
    return f"Database: {database}\n" + table(header, rows)


def history_json(events: Sequence[dict[str, Any]], database: str) -> str:
    return json.dumps(history_document(events, database), indent=2)


def history_document(events: Sequence[dict[str, Any]], database: str) -> dict[str, Any]:
    """`history --format json`, also served as /api/history."""
    items = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in e.items()}
             for e in events]
    return {"schema_version": SCHEMA_VERSION, "database": database, "events": items}
