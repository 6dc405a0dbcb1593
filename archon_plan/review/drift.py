"""Schema drift: a database's schema against a snapshot file, or against what the migrations it
has applied build on a scratch database; and the fleet job that does it on every target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from ..core.graph import MigrationGraph
from ..core.model import NOBODY, Actor, MigrationStatus, Settings, State
from ..core.sqlfile import SqlFile
from ..db import connection, fleet, run, state, tracker
from ..db.connection import Connection
from ..errors import ArchonPlanError, SchemaDriftError, UsageError
from ..sql import undo
from . import catalog, rehearse
from .catalog import TENANT, Snapshot
from .snapshot_file import SchemaFile

Key = tuple[str, str]  # (version, stem), as Migration.key
Opener = Callable[[], AbstractContextManager[Connection]]
SCRATCH_TENANT = "tenant"  # the schema a tenant's migrations are built in on a scratch database
_BUILT = (State.APPLIED, State.APPLIED_UNKNOWN_CHECKSUM, State.MODIFIED)


@dataclass(frozen=True)
class Scope:
    """The schemas a snapshot covers, as it writes them: a tenant's one schema is TENANT."""

    schemas: tuple[str, ...]
    tenant: str | None = None  # the schema TENANT stands for where this scope is read

    def read(self, conn: Connection, settings: Settings) -> Snapshot:
        """The snapshot of this scope, without archon-plan's own tables (a tenant's in its schema)."""
        schemas = [self.tenant if s == TENANT and self.tenant else s for s in self.schemas]
        if self.tenant is not None:
            settings = fleet.tenant_settings(settings, self.tenant)
        return catalog.snapshot(conn, tracker.own_tables(settings), schemas, self.tenant)


def migrations_scope(graph: MigrationGraph, tenant: str | None = None, schemas: Sequence[str] = ()) -> Scope:
    """A tenant's schema; else `schemas`, or `public` and the schemas the migrations' SQL writes
    objects in."""
    if tenant is not None:
        return Scope((TENANT,), tenant)
    if schemas:
        return Scope(tuple(dict.fromkeys(schemas)))
    return Scope(tuple(sorted({"public"}.union(*(undo.written_schemas(m.sql.text) for m in graph.order)))))


@dataclass(frozen=True)
class Expectation:
    """The schema a database should have, and where that comes from."""

    snapshot: Snapshot
    against: str  # "schema.snapshot", or the migrations built on a scratch database
    major: int  # the PostgreSQL major version it was read on


@dataclass(frozen=True)
class Drift:
    """What differs between the expected schema and the one found; sorted by kind and name."""

    expected: Expectation
    schemas: tuple[str, ...]
    differences: tuple[catalog.Difference, ...]

    def error(self, subject: str = "the schema", hint: str | None = None) -> SchemaDriftError:
        return SchemaDriftError(subject, self.expected.against, len(self.differences),
                                hint or "a change made by hand belongs in a migration; or undo it")


class Expected(Protocol):
    """Where the expected schema of a database (or a tenant: its schema's name) comes from."""

    def scope(self, graph: MigrationGraph, tenant: str | None) -> Scope: ...

    def expect(self, settings: Settings, graph: MigrationGraph, statuses: Sequence[MigrationStatus],
               tenant: bool, reporter: run.Reporter) -> Expectation: ...


@dataclass(frozen=True)
class FromFile:
    """A snapshot file: its schemas are the scope; a tenant's file fits tenants only."""

    file: SchemaFile
    source: str

    def scope(self, graph: MigrationGraph, tenant: str | None) -> Scope:
        if self.file.tenant != (tenant is not None):
            what = "a tenant's (its schema is written {tenant})" if self.file.tenant else "a database's"
            raise UsageError(f"{self.source} is {what} snapshot; this target is "
                             f"{'a tenant schema' if tenant else 'a whole database'}",
                             "write a tenant's snapshot with `archon-plan snapshot --tenant SCHEMA`, a "
                             "database's without --tenant")
        return Scope(self.file.schemas, tenant)

    def expect(self, settings: Settings, graph: MigrationGraph, statuses: Sequence[MigrationStatus],
               tenant: bool, reporter: run.Reporter) -> Expectation:
        return Expectation(self.file.snapshot, self.source, self.file.major)


class FromMigrations:
    """The migrations a database has applied (all of them when no statuses are given), applied
    on a scratch database; built once for every target that applied the same ones."""

    def __init__(self, open_scratch: Opener, setup: SqlFile | None = None, actor: Actor = NOBODY,
                 schemas: tuple[str, ...] = ()) -> None:
        self.open_scratch, self.setup, self.actor, self.schemas = open_scratch, setup, actor, schemas
        self._built: dict[object, Expectation | ArchonPlanError] = {}
        self._lock = threading.Lock()

    def scope(self, graph: MigrationGraph, tenant: str | None) -> Scope:
        return migrations_scope(graph, tenant, self.schemas)

    def expect(self, settings: Settings, graph: MigrationGraph, statuses: Sequence[MigrationStatus] | None,
               tenant: bool, reporter: run.Reporter) -> Expectation:
        keys = None if statuses is None else applied(statuses, reporter)
        memo = (id(graph), keys, tenant)
        with self._lock:  # one scratch database at a time; the targets that wait reuse it
            if memo not in self._built:
                try:
                    self._built[memo] = self._build(settings, graph, keys, tenant, reporter)
                except ArchonPlanError as exc:
                    self._built[memo] = exc
            built = self._built[memo]
        if isinstance(built, ArchonPlanError):
            raise built
        return built

    def _build(self, settings: Settings, graph: MigrationGraph, keys: Collection[Key] | None,
               tenant: bool, reporter: run.Reporter) -> Expectation:
        where = fleet.tenant_settings(settings, SCRATCH_TENANT) if tenant else settings
        chosen = [m for m in graph.order if keys is None or m.key in keys]
        with self.open_scratch() as conn:
            scratch = rehearse.prepare(rehearse.Scratch(conn, where, graph, reporter, self.actor), self.setup)
            for migration in chosen:  # one by one: a database may have applied any subset
                scratch.apply(migration)
            snapshot = self.scope(graph, SCRATCH_TENANT if tenant else None).read(conn, where)
            major = connection.server_major(conn)
        what = "every migration" if keys is None else f"the {len(chosen)} applied migration(s)"
        return Expectation(snapshot, f"{what} built on a scratch database", major)


def applied(statuses: Sequence[MigrationStatus], reporter: run.Reporter) -> frozenset[Key]:
    """The migrations a database has applied, to build again; notices for those that cannot be."""
    for status in statuses:
        if status.state is State.MODIFIED:
            reporter.notice(f"{status.label} changed since it was applied: it is built as its file is now")
        elif status.state is State.FAILED:
            reporter.notice(f"{status.label} stopped part-way: not built, so what it did shows as added")
        elif status.state is State.UNKNOWN:
            reporter.notice(f"{status.label} is recorded but not in the manifest: what it did shows as added")
    return frozenset((s.version, s.stem) for s in statuses if s.state in _BUILT and s.migration)


def compare(expected: Expectation, scope: Scope, found: Snapshot) -> Drift:
    return Drift(expected, scope.schemas, tuple(catalog.compare(expected.snapshot, found)))


def fleet_job(expected: Expected, found: dict[str, Drift]) -> fleet.Job:
    """`fleet drift`: each target's schema against what it should be. A target that differs
    fails with exit code 11; what differs is kept in `found`, by target name."""

    def job(conn: Connection, member: fleet.Member, reporter: run.Reporter) -> fleet.Done:
        tenant = member.target.schema
        scope = expected.scope(member.graph, tenant)
        statuses = state.read_state(conn, member.settings, member.graph)
        live = scope.read(conn, member.settings)
        expectation = expected.expect(member.settings, member.graph, statuses, tenant is not None, reporter)
        drift = found[member.target.name] = compare(expectation, scope, live)
        major = connection.server_major(conn)
        if expectation.major != major:
            reporter.notice(major_notice(expectation.major, major))
        if drift.differences:
            raise drift.error()
        return None, statuses

    return job


def major_notice(expected: int, found: int) -> str:
    return (f"the expected schema was read on PostgreSQL {expected}, this database runs {found}: "
            "definitions the server words differently show as changed")
