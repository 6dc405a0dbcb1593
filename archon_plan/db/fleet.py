"""One plan on many targets: the fleet's databases and tenant schemas.

Canaries run first, one at a time; then a bounded pool of worker threads takes the rest in
fleet order. Each worker keeps its connection while its targets are on the same database, so
the tenants of a database switch between migrations without reconnecting, and no server sees
more than `parallel` of our sessions at once (plus the short-lived ones a non-transactional
migration opens).
Each target runs exactly what `apply`, `revert` or `status` runs on one database: its own
lock, refusals, transactions and events. Nothing here prints: progress goes to a callback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import psycopg
from psycopg import pq

from ..core.fleet import FleetTarget, OnError, TargetSpec, tenant_target
from ..core.graph import MigrationGraph
from ..core.model import NOBODY, Actor, MigrationStatus, Plan, Settings, Step
from ..errors import ArchonPlanError, DatabaseError, ExitCode, Terminated
from . import connection, executor, state
from .connection import Connection
from .target import Target, named_target, redact


@dataclass(frozen=True)
class Member:
    """A target ready to run: where, with which settings and plan; or why it cannot run."""

    target: FleetTarget
    settings: Settings
    graph: MigrationGraph
    database: Target | None = None
    problem: ArchonPlanError | None = None


@dataclass(frozen=True)
class Result:
    """What became of one target."""

    name: str
    exit_code: int
    ran: tuple[str, ...] = ()  # labels of the migrations run (or, dry run, that would run)
    error: str | None = None
    hint: str | None = None
    seconds: float = 0.0
    statuses: tuple[MigrationStatus, ...] = ()
    started: bool = True
    deferred: tuple[str, ...] = ()  # pending, waiting for a maintenance window or not_before

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


def tenant_settings(settings: Settings, schema: str) -> Settings:
    """A tenant's tracking tables in its own schema, and its migrations run there first."""
    quoted = '"' + schema.replace('"', '""') + '"'
    return replace(settings, tracking_schema=schema, search_path=f"{quoted}, public")


def members(specs: Sequence[TargetSpec], env: Mapping[str, str],
            project: Callable[[TargetSpec], tuple[Settings, MigrationGraph]]) -> list[Member]:
    """Every target of the fleet; a database with `schemas` becomes one member per schema,
    or one member carrying the problem when it cannot be listed."""
    found: list[Member] = []
    for spec in specs:
        settings, graph = project(spec)
        whole = FleetTarget(spec.name, spec)
        try:
            database = named_target(spec.url_env, env)
            if spec.schemas is None:
                found.append(Member(whole, settings, graph, database))
                continue
            schemas = tenant_schemas(database, spec)
        except ArchonPlanError as exc:
            found.append(Member(whole, settings, graph, None, exc))
            continue
        found += [Member(tenant_target(spec, schema), tenant_settings(settings, schema), graph, database)
                  for schema in schemas]
    return found


def tenant_schemas(database: Target, spec: TargetSpec) -> list[str]:
    """The schemas spec's query yields, read in a read-only transaction; each must exist."""
    assert spec.schemas is not None
    with connection.connect(database) as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                rows = conn.execute(spec.schemas.encode()).fetchall()
        except psycopg.Error as exc:
            message = redact(" ".join(str(exc).split()), database.secrets)
            raise DatabaseError(f"target {spec.name}: the schemas query failed: {message}",
                                "it must be one read-only SELECT whose first column is a schema name"
                                ) from None
        schemas = [row[0] if row else None for row in rows]
        wrong = [value for value in schemas if not isinstance(value, str) or not value]
        if wrong:
            raise DatabaseError(f"target {spec.name}: the schemas query yielded {wrong[0]!r}, not a "
                                "schema name", "select the schema's name (text) first: "
                                "SELECT nspname FROM pg_namespace WHERE ...")
        missing = conn.execute("SELECT s FROM unnest(%s::text[]) AS s WHERE NOT EXISTS "
                               "(SELECT FROM pg_namespace WHERE nspname = s)", (schemas,)).fetchall()
    if missing:
        raise DatabaseError(f"target {spec.name}: the schemas query yielded {missing[0][0]!r}, which is "
                            "not a schema", "tenants' schemas are the application's: the fleet never "
                            "creates them")
    return [str(value) for value in schemas]


class Stopped(Exception):
    """Raised between two migrations of a target once the fleet run is interrupted."""


class _Reporter:
    """A target's progress: notices go to the fleet's callback; an interrupted fleet stops
    the target before its next migration starts."""

    def __init__(self, name: str, halt: threading.Event, notice: Callable[[str], None]) -> None:
        self._name, self._halt, self._notice = name, halt, notice

    def notice(self, text: str) -> None:
        self._notice(f"{self._name}: {text}")

    def step_started(self, step: Step) -> None:
        if self._halt.is_set():
            raise Stopped

    def step_finished(self, step: Step, seconds: float) -> None:
        pass


Done = tuple[Plan | None, tuple[MigrationStatus, ...]]  # what ran, or the state read
Job = Callable[[Connection, Member, _Reporter], Done]


class FleetRun:
    """Runs one job on each member: canaries alone first, then `parallel` at once."""

    def __init__(self, parallel: int, on_error: OnError, progress: Callable[[Result], None],
                 notice: Callable[[str], None], actor: Actor = NOBODY) -> None:
        self.parallel, self.on_error, self.actor = parallel, on_error, actor
        self._progress, self._notice = progress, notice
        self._local = threading.local()
        self._opened: list[Connection] = []
        self._guard = threading.Lock()
        self.no_new = threading.Event()  # start no new target
        self.halt = threading.Event()  # and stop running ones before their next migration
        self.interrupt: KeyboardInterrupt | None = None

    def run(self, chosen: Sequence[Member], job: Job, canary: int = 0) -> list[Result]:
        """Each member's result, in fleet order. An interrupt (Ctrl-C, SIGTERM) stops the
        run between migrations; it is kept in `interrupt` for the caller's exit code."""
        results: dict[str, Result] = {}
        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="fleet")
        try:
            for member in chosen[:canary]:  # alone, in order; a failure stops everything
                self._collect(results, [pool.submit(self._one, job, member)])
                if not results[member.target.name].ok:
                    self.no_new.set()
            self._collect(results, [pool.submit(self._one, job, member) for member in chosen[canary:]])
        except BaseException:  # an interrupt outside the wait, or a bug: start nothing more
            self.no_new.set()
            self.halt.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            for conn in self._opened:
                conn.close()
        return [results.get(m.target.name) or Result(m.target.name, ExitCode.INTERRUPTED, started=False,
                                                     error="not started") for m in chosen]

    def _collect(self, results: dict[str, Result], futures: Iterable[Future[Result]]) -> None:
        pending = set(futures)
        while pending:
            try:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt as interrupt:  # only the main thread gets signals
                if self.interrupt is not None:  # the second one: cancel what runs on the server
                    self._notice("cancelling the running statements")
                    for conn in list(self._opened):
                        if not conn.closed:
                            conn.cancel_safe(timeout=5.0)
                    continue
                self.interrupt = interrupt
                self.no_new.set()
                self.halt.set()
                self._notice("stopping: running migrations finish, no new one starts "
                             "(interrupt again to cancel them)")
                continue
            for future in done:
                result = future.result()
                results[result.name] = result
                if result.started:
                    self._progress(result)

    def _one(self, job: Job, member: Member) -> Result:
        name, started = member.target.name, time.perf_counter()
        if self.no_new.is_set():
            return Result(name, ExitCode.INTERRUPTED if self.halt.is_set() else ExitCode.REFUSED,
                          error="not started: the fleet run stopped before this target", started=False)
        try:
            if member.problem is not None:
                raise member.problem
            assert member.database is not None
            conn = self._connection(member.database)
            with connection.database_errors(member.database):
                plan, statuses = job(conn, member, _Reporter(name, self.halt, self._notice))
        except Stopped:
            return Result(name, ExitCode.INTERRUPTED, error="stopped between migrations: the fleet run "
                          "was interrupted", seconds=time.perf_counter() - started)
        except ArchonPlanError as exc:
            if self.on_error is OnError.STOP:
                self.no_new.set()
            return Result(name, exc.exit_code, error=exc.message, hint=exc.hint,
                          seconds=time.perf_counter() - started)
        except Exception as exc:  # a bug must fail this target, not migrate the rest unwatched
            self.no_new.set()
            return Result(name, ExitCode.INTERNAL, error=f"internal error: {type(exc).__name__}: {exc}",
                          seconds=time.perf_counter() - started)
        ran = tuple(step.migration.label for step in plan.steps) if plan else ()
        waits = tuple(m.label for m, _ in plan.deferred) if plan is not None else ()
        return Result(name, ExitCode.OK, ran, seconds=time.perf_counter() - started, statuses=statuses,
                      deferred=waits)

    def _connection(self, database: Target) -> Connection:
        """This worker's connection: kept while its targets are on the same database (the
        tenants of one database come one after another), so a run holds at most `parallel`."""
        kept: tuple[str, Connection] | None = getattr(self._local, "kept", None)
        if kept is not None:
            url, conn = kept
            if url == database.url and not (conn.broken or conn.closed) and \
                    conn.info.transaction_status == pq.TransactionStatus.IDLE:
                return conn
            conn.close()
        conn = connection.connect(database)
        self._local.kept = (database.url, conn)
        with self._guard:
            self._opened.append(conn)
        return conn


def exit_code(results: Sequence[Result], interrupt: KeyboardInterrupt | None) -> ExitCode:
    """0 when every target did its work; 130/143 when interrupted; otherwise 3."""
    if interrupt is not None:
        return ExitCode.TERMINATED if isinstance(interrupt, Terminated) else ExitCode.INTERRUPTED
    return ExitCode.OK if all(r.ok for r in results) else ExitCode.MIGRATION_FAILED


def read_job(conn: Connection, member: Member, reporter: _Reporter) -> Done:
    """`fleet status`: the target's state, read without the lock."""
    return None, state.read_state(conn, member.settings, member.graph)


def apply_job(actor: Actor, dry_run: bool) -> Job:
    """`fleet apply`: what `apply` does on one database."""

    def job(conn: Connection, member: Member, reporter: _Reporter) -> Done:
        if dry_run:
            return state.plan_forwards(conn, member.settings, member.graph), ()
        assert member.database is not None
        database = member.database
        return executor.apply(conn, member.settings, member.graph, reporter, None, actor,
                              reconnect=lambda: connection.connect(database)), ()

    return job


def revert_job(actor: Actor, selector: Callable[[MigrationGraph], state.Selector], cascade: bool,
               dry_run: bool) -> Job:
    """`fleet revert`: what `revert` does on one database; `selector` chooses with its graph."""

    def job(conn: Connection, member: Member, reporter: _Reporter) -> Done:
        select = selector(member.graph)
        if dry_run:
            return state.plan_backwards(conn, member.settings, member.graph, select, cascade), ()
        assert member.database is not None
        database = member.database
        return executor.revert(conn, member.settings, member.graph, reporter, select, cascade, actor,
                               reconnect=lambda: connection.connect(database)), ()

    return job
