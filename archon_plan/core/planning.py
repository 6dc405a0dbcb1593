"""Plans from the graph and the tracking rows: status, apply and revert; pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import DriftError, RefusedError, UsageError
from .graph import MigrationGraph
from .model import (
    AppliedRow,
    Direction,
    Migration,
    MigrationStatus,
    Plan,
    Settings,
    State,
    Step,
    strip_sql_suffix,
)

if TYPE_CHECKING:
    from .resume import Failure


def compare(
    graph: MigrationGraph, rows: Sequence[AppliedRow], failures: Sequence[Failure] = ()
) -> tuple[MigrationStatus, ...]:
    """Every migration in plan order with its state, then rows the manifest lacks."""
    failed = {f.key: f for f in failures}
    by_key: dict[tuple[str, str], list[AppliedRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    statuses = []
    keys = [m.key for m in graph.order]  # a position in graph.order is a position in the plan
    last_applied = max((i for i, key in enumerate(keys) if key in by_key), default=-1)
    for position, (migration, key) in enumerate(zip(graph.order, keys, strict=True)):
        status = _status(migration, _best(by_key.pop(key, ()), migration), position < last_applied)
        if key in failed:
            status = replace(status, state=State.FAILED, failure=failed[key])
        statuses.append(status)
    for leftover in by_key.values():
        for row in leftover:
            statuses.append(MigrationStatus(State.UNKNOWN, row.version,
                                            strip_sql_suffix(row.migration_name), row=row))
    return tuple(statuses)


def _best(rows: Sequence[AppliedRow], migration: Migration) -> AppliedRow | None:
    """The row that decides the migration's state, whatever the rows' order: a row with a
    checksum says more than Archon's own NULL-checksum row, and of rows (in both name forms)
    whose checksums disagree, one that differs from the file wins, so drift is never hidden."""
    checked = [row for row in rows if row.checksum is not None]
    differing = [row for row in checked if row.checksum != migration.checksum]
    found = differing or checked or list(rows)
    return found[0] if found else None


def _status(migration: Migration, row: AppliedRow | None, before_applied: bool) -> MigrationStatus:
    if row is None:
        state = State.PENDING
    elif row.checksum is None:
        state = State.APPLIED_UNKNOWN_CHECKSUM
    elif row.checksum != migration.checksum:
        state = State.MODIFIED
    else:
        state = State.APPLIED
    out_of_order = state is State.PENDING and before_applied
    return MigrationStatus(state, migration.version, migration.stem, migration, row, out_of_order)


def check_failed(statuses: Sequence[MigrationStatus]) -> None:
    """A non-transactional migration that stopped part-way blocks every run until repaired."""
    failed = [s for s in statuses if s.state is State.FAILED and s.failure]
    if failed:
        lines = [f"  {s.label}: {s.failure.describe()} of the file: {s.failure.error}"
                 for s in failed if s.failure]
        raise RefusedError(
            f"{len(failed)} non-transactional migration(s) stopped part-way:\n" + "\n".join(lines),
            "fix the cause, then `archon-plan repair --retry NAME` resumes at the failed "
            "statement; or fix by hand and use --mark-applied / --mark-reverted",
        )


def is_applied(status: MigrationStatus) -> bool:
    return status.state in (State.APPLIED, State.APPLIED_UNKNOWN_CHECKSUM, State.MODIFIED)


def check_drift(statuses: Sequence[MigrationStatus]) -> None:
    """Refuse to run when an applied migration's file changed since it was recorded."""
    modified = [s for s in statuses if s.state is State.MODIFIED]
    if not modified:
        return
    lines = [
        f"  {s.migration.sql.display if s.migration else s.label}: recorded "
        f"{s.row.checksum if s.row else '?'}, file now {s.migration.checksum if s.migration else '?'}"
        for s in modified
    ]
    raise DriftError(
        f"{len(modified)} applied migration(s) changed since they were applied:\n"
        + "\n".join(lines),
        "restore the applied file(s) from version control (git checkout) and put new changes "
        "in a new migration; after a deliberate, equivalent edit: archon-plan repair --accept-checksum NAME",
    )


def forwards_plan(
    graph: MigrationGraph, statuses: Sequence[MigrationStatus], target: Migration | None = None,
    settings: Settings | None = None, now: datetime | None = None,
) -> Plan:
    """Pending migrations in plan order; with a target, only it and what it depends on. With
    maintenance windows or `not_before` (and `now`), a migration that may not start now is
    deferred, and so is everything after it, so that the order holds; --ignore-windows
    (settings.ignore_windows) runs them, each marked."""
    wanted = None if target is None else {m.key for m in (*graph.ancestors(target), target)}
    steps: list[Step] = []
    deferred: list[tuple[Migration, str]] = []
    for s in statuses:
        if s.migration is None or s.state is not State.PENDING or (wanted is not None and
                                                                   s.migration.key not in wanted):
            continue
        why = _deferral(settings, s.migration, now)
        if deferred or (why and settings is not None and not settings.ignore_windows):
            deferred.append((s.migration, why or f"after {deferred[0][0].label}, which waits"))
            continue
        steps.append(Step(s.migration, Direction.APPLY, s.out_of_order, ignored_window=bool(why)))
    return Plan(tuple(steps), tuple(deferred))


def _deferral(settings: Settings | None, migration: Migration, now: datetime | None) -> str | None:
    """Why the migration may not start now, if so."""
    if settings is None or now is None or not (settings.windows or migration.not_before):
        return None
    from . import windows  # here: most projects have no windows, and status runs often

    return windows.deferral(settings.windows, migration.not_before, now)


def _applied(statuses: Sequence[MigrationStatus]) -> list[Migration]:
    return [s.migration for s in statuses if s.migration is not None and is_applied(s)]


def revert_named(statuses: Sequence[MigrationStatus], target: Migration) -> list[Migration]:
    if target not in _applied(statuses):
        raise UsageError(f"{target.label} is not applied; nothing to revert",
                         "`archon-plan status` shows what is applied")
    return [target]


def revert_to(
    graph: MigrationGraph, statuses: Sequence[MigrationStatus], keep: Migration
) -> list[Migration]:
    """Everything applied after `keep` in plan order; `keep` stays."""
    return [m for m in _applied(statuses) if graph.position(m) > graph.position(keep)]


def revert_last(statuses: Sequence[MigrationStatus], count: int) -> list[Migration]:
    if count < 1:
        raise UsageError("--last needs a positive number")
    applied = _applied(statuses)
    return applied[-count:] if count <= len(applied) else applied


def backwards_plan(
    graph: MigrationGraph,
    statuses: Sequence[MigrationStatus],
    selected: Sequence[Migration],
    cascade: bool = False,
) -> Plan:
    """Rollbacks in reverse plan order, checked before the database is touched."""
    applied = {m.key for m in _applied(statuses)}
    chosen = {m.key: m for m in selected}
    dependents = {
        d.key: d for m in selected for d in graph.descendants(m)
        if d.key in applied and d.key not in chosen
    }
    if dependents and not cascade:
        names = ", ".join(m.label for m in sorted(dependents.values(), key=graph.position))
        asked = ", ".join(m.label for m in selected)
        raise RefusedError(f"cannot revert {asked}: applied migrations depend on it: {names}",
                           "revert them first, or pass --cascade to revert them too")
    chosen.update(dependents)
    irreversible = sorted((m for m in chosen.values() if m.irreversible), key=graph.position)
    if irreversible:
        names = ", ".join(m.label for m in irreversible)
        raise RefusedError(f"cannot revert {names}: irreversible (`irreversible = true`: it has no "
                           "rollback on purpose), and no revert crosses it, --cascade included",
                           "revert only migrations applied after it (`revert --to` it keeps it)")
    missing = [m for m in chosen.values() if m.rollback is None]
    if missing:
        names = ", ".join(m.label for m in sorted(missing, key=graph.position))
        raise RefusedError(f"no rollback file for {names}",
                           "add a `rollback = \"...\"` file to each in migrations.toml")
    ordered = sorted(chosen.values(), key=graph.position, reverse=True)
    return Plan(tuple(Step(m, Direction.REVERT) for m in ordered))
