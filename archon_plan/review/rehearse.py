"""Proven rollbacks: on a scratch database, apply, revert, compare the catalog, apply again."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from ..core.graph import MigrationGraph
from ..core.model import (
    NOBODY,
    Actor,
    Direction,
    Migration,
    MigrationStatus,
    Plan,
    Settings,
    State,
    Step,
)
from ..core.sqlfile import SqlFile
from ..db import connection, executor, run, state, tracker
from ..db.connection import Connection
from ..errors import MigrationFailedError, RefusedError
from . import catalog

Key = tuple[str, str]  # (version, stem), as Migration.key
Opener = Callable[[], AbstractContextManager[Connection]]


class Verdict(StrEnum):
    RESTORED = "restored"  # the rollback gives back the schema the migration started from
    DIFFERS = "differs"  # it does not: `differences` says how
    NO_ROLLBACK = "no-rollback"  # applied, not rehearsed
    IRREVERSIBLE = "irreversible"  # `irreversible = true`: applied, never reverted
    FAILED = "rollback-failed"  # the rollback failed on the server: `error` says how
    BASE = "base"  # in BASE (--changed-since): applied, not rehearsed


@dataclass(frozen=True)
class Outcome:
    """What rehearsing one migration showed."""

    migration: Migration
    verdict: Verdict
    differences: tuple[catalog.Difference, ...] = ()
    changed: int | None = None  # schema objects the migration adds, drops or alters; None: not looked at
    error: str | None = None  # FAILED: the server's error, at its file:line


@dataclass(frozen=True)
class Rehearsal:
    """Every migration's outcome, in the order they ran."""

    outcomes: tuple[Outcome, ...]
    server_version: str = ""  # PostgreSQL's `server_version` on the scratch databases

    @property
    def ok(self) -> bool:
        return all(o.verdict not in (Verdict.DIFFERS, Verdict.FAILED) for o in self.outcomes)


class Reporter(run.Reporter, Protocol):
    """The executor's progress, plus one call per rehearsed migration."""

    def rehearsed(self, outcome: Outcome) -> None: ...


@dataclass(frozen=True)
class Scratch:
    """One scratch database and what every step on it needs."""

    conn: Connection
    settings: Settings
    graph: MigrationGraph
    reporter: run.Reporter
    actor: Actor

    def snapshot(self, schemas: Collection[str] | None = None, home: str | None = None) -> catalog.Snapshot:
        # archon-plan's own tables change on every step; they are not the migrations' schema.
        return catalog.snapshot(self.conn, tracker.own_tables(self.settings), schemas, home)

    def apply(self, migration: Migration) -> tuple[Migration, ...]:
        anytime = replace(self.settings, ignore_windows=True)  # a scratch database has no windows
        plan = executor.apply(self.conn, anytime, self.graph, self.reporter, migration, self.actor)
        return tuple(step.migration for step in plan.steps)

    def revert(self, migration: Migration) -> None:
        def only(_: Sequence[MigrationStatus]) -> list[Migration]:
            return [migration]

        executor.revert(self.conn, self.settings, self.graph, self.reporter, only, False, self.actor)


def rehearse(
    open_scratch: Opener,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    base: Collection[Key] | None = None,
    actor: Actor = NOBODY,
    setup: SqlFile | None = None,
) -> Rehearsal:
    """Rehearse every migration in plan order; with `base`, apply the migrations it holds
    first without rehearsal, then rehearse the others. Every rollback file is checked first,
    and all their problems are reported before anything runs. A rollback that leaves the
    schema different, or a non-transactional one that fails part-way, leaves the database
    wrong for what follows, so the rest go on a fresh one; one that fails and rolls back
    leaves it as it was, and the rehearsal goes on there. `setup` runs on each new scratch
    database first (roles, schemas and extensions the migrations expect, as Supabase's)."""
    keys = set(base) if base is not None else set()
    pending = sorted(graph.order, key=lambda m: m.key not in keys)  # stable: plan order within each
    executor.prepare(Plan(tuple(Step(m, Direction.REVERT) for m in pending
                                if m.key not in keys and m.rollback is not None and not m.irreversible)))
    outcomes: list[Outcome] = []
    version = ""
    while pending:
        with open_scratch() as conn:
            version = connection.server_version(conn)
            scratch = prepare(Scratch(conn, settings, graph, reporter, actor), setup,
                              [o.migration for o in outcomes])
            while pending:
                migration = pending.pop(0)
                in_base = migration.key in keys
                outcome = _base(scratch, migration, keys) if in_base else _one(scratch, migration)
                outcomes.append(outcome)
                reporter.rehearsed(outcome)
                if outcome.verdict is Verdict.DIFFERS or (
                        outcome.verdict is Verdict.FAILED and not migration.transactional):
                    break
    return Rehearsal(tuple(outcomes), version)


def prepare(scratch: Scratch, setup: SqlFile | None, done: Sequence[Migration] = ()) -> Scratch:
    """Run `setup`, check the database is a scratch one, then apply `done` (where a rehearsal
    stands)."""
    if setup is not None:
        connection.run_script(scratch.conn, setup, "the --setup file")
    statuses = state.read_state(scratch.conn, scratch.settings, scratch.graph)
    applied = [s.label for s in statuses if s.state is not State.PENDING]
    if applied:
        raise RefusedError(f"the scratch database already records migrations ({', '.join(applied)}); "
                           "rehearse runs only on a new, empty database",
                           "let rehearse create its own scratch database")
    # Created now, so that the first snapshot already sees the tracking schema.
    tracker.ensure_table(scratch.conn, scratch.settings)
    if done:
        scratch.reporter.notice(f"rebuilding a fresh scratch database: applying {len(done)} migration(s)")
    for migration in done:
        scratch.apply(migration)
    return scratch


def _base(scratch: Scratch, migration: Migration, base: Collection[Key]) -> Outcome:
    ran = scratch.apply(migration)
    new = [m.label for m in ran if m.key not in base]
    if new:
        raise RefusedError(f"{migration.label}, which BASE has, depends on {', '.join(new)}, which BASE "
                           "does not have", "a migration already in BASE cannot depend on a new one")
    return Outcome(migration, Verdict.BASE)


def _one(scratch: Scratch, migration: Migration) -> Outcome:
    """Apply, revert, compare with the schema before; apply again when it was restored."""
    if migration.irreversible or migration.rollback is None:
        scratch.apply(migration)
        return Outcome(migration, Verdict.IRREVERSIBLE if migration.irreversible else Verdict.NO_ROLLBACK)
    before = scratch.snapshot()
    scratch.apply(migration)
    applied = scratch.snapshot()
    try:
        scratch.revert(migration)
    except MigrationFailedError as exc:  # rolled back (transactional): still applied, go on
        return Outcome(migration, Verdict.FAILED, (), len(catalog.compare(before, applied)), exc.message)
    differences = tuple(catalog.compare(before, scratch.snapshot()))
    changed = len(catalog.compare(before, applied))
    if differences:
        # Applying again on top of what the rollback left would mostly fail ("already exists").
        return Outcome(migration, Verdict.DIFFERS, differences, changed)
    scratch.apply(migration)
    return Outcome(migration, Verdict.RESTORED, (), changed)
