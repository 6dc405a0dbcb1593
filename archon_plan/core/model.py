"""Frozen values shared by every layer: migrations, settings, plans, applied rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from .sqlfile import SqlFile

if TYPE_CHECKING:
    from packaging.version import Version

    from .extensions import Hook, Notify
    from .resume import Failure

DEFAULT_TRACKING_TABLE = "public.archon_migrations"
# The line `create` writes into a new rollback: one that still holds only it was never written.
ROLLBACK_TEMPLATE_MARK = "undo everything the migration creates, in reverse order."
# In a project that records stem names, `create` also writes the file's own tracking row (as
# Archon's files do): that INSERT alone would pass for SQL, so this line guards the template.
FORWARD_TEMPLATE_MARK = "Write this migration's SQL here, then delete this line."


def strip_sql_suffix(name: str) -> str:
    """`001_x.sql` and `001_x` name the same migration."""
    return name.removesuffix(".sql")


class NameForm(StrEnum):
    """How migration_name is written in the tracking table."""

    FILE = "file"  # 001_add_x.sql, as archon-plan and the seed's runner record it
    STEM = "stem"  # 001_add_x, as Archon's own SQL and application expect


@dataclass(frozen=True)
class Settings:
    """The manifest's [settings] table."""

    tracking_schema: str = "public"
    tracking_table: str = "archon_migrations"
    name_form: NameForm = NameForm.FILE
    lock_wait_s: float = 60.0  # how long to wait for another runner's advisory lock
    lock_timeout: str | None = "10s"  # PostgreSQL lock_timeout, SET LOCAL in each migration
    statement_timeout: str | None = None  # PostgreSQL statement_timeout, likewise
    lock_retries: int = 3  # retries of a migration that failed with lock_not_available
    long_running_after: str = "5min"  # a `long_running` notification once a migration runs longer
    windows: tuple[str, ...] = ()  # maintenance windows (core/windows.py); none: any time
    ignore_windows: bool = False  # --ignore-windows: apply now, recorded in each event
    # A fleet's tenant: each migration's own search_path (SET LOCAL), `"tenant_042", public`.
    search_path: str | None = None

    @property
    def qualified_table(self) -> str:
        return f"{self.tracking_schema}.{self.tracking_table}"


@dataclass(frozen=True)
class Migration:
    """One manifest entry with its SQL loaded."""

    version: str
    number: int
    stem: str  # 001_add_x
    sql: SqlFile
    rollback: SqlFile | None = None
    depends_on: tuple[str, ...] = ()
    description: str | None = None
    lock_timeout: str | None = None  # overrides [settings] for this migration
    statement_timeout: str | None = None
    transactional: bool = True  # False: one statement at a time, in autocommit
    entry: int = 0  # 1-based position in the manifest
    line: int | None = None  # line of its [[migration]] header
    allow: frozenset[str] = frozenset()  # lint rule codes (warnings) accepted for this migration
    allow_reason: str | None = None  # why they are accepted, for reviewers
    irreversible: bool = False  # no rollback on purpose: revert and rehearse never cross it
    imported_from: str | None = None  # the name it had in the tool it was imported from
    not_before: str | None = None  # ISO 8601 instant: apply does not start it earlier

    @property
    def migration_name(self) -> str:
        return f"{self.stem}.sql"

    @property
    def key(self) -> tuple[str, str]:
        return (self.version, self.stem)

    @property
    def label(self) -> str:
        return f"{self.version}/{self.stem}"

    @property
    def checksum(self) -> str:
        return self.sql.checksum

    def recorded_name(self, form: NameForm) -> str:
        return self.migration_name if form is NameForm.FILE else self.stem


@dataclass(frozen=True)
class Actor:
    """Who runs archon-plan, for the event history (the database user comes from the server)."""

    os_user: str | None = None
    host: str | None = None
    tool_version: str | None = None


NOBODY = Actor()


class Direction(StrEnum):
    """Which way a step runs; the value is the CLI verb and the event kind."""

    APPLY = "apply"
    REVERT = "revert"


class EventKind(StrEnum):
    """The `event` column of the history (docs/design.md): what happened to a migration."""

    APPLY = "apply"
    REVERT = "revert"
    APPLY_FAILED = "apply-failed"
    REVERT_FAILED = "revert-failed"
    INTERRUPTED = "interrupted"
    RETRY = "retry"  # a lock retry, or `repair --retry` resuming a stopped migration
    STATEMENT_STARTED = "statement-started"  # a statement of a non-transactional one is sent next
    STATEMENT = "statement"  # one committed statement of a non-transactional migration
    ACCEPT_CHECKSUM = "accept-checksum"
    MARK_APPLIED = "mark-applied"
    MARK_REVERTED = "mark-reverted"
    ADOPT = "adopt"  # recorded as applied because another tool's history says so
    HOOK = "hook"  # a [[hook]] program ran: its point, program, exit code and time in detail

    @classmethod
    def done(cls, direction: Direction) -> EventKind:
        return cls(direction.value)

    @classmethod
    def failed(cls, direction: Direction) -> EventKind:
        return cls.APPLY_FAILED if direction is Direction.APPLY else cls.REVERT_FAILED


# The events after which a non-transactional migration is stopped part-way when nothing follows
# them: a failure, an interrupt, or the progress of a runner that was killed.
STOPPING_EVENTS = (EventKind.APPLY_FAILED, EventKind.REVERT_FAILED, EventKind.INTERRUPTED,
                   EventKind.STATEMENT_STARTED, EventKind.STATEMENT)


@dataclass(frozen=True)
class Event:
    """One line of the append-only history."""

    kind: EventKind
    actor: Actor
    migration: Migration | None = None
    seconds: float | None = None  # None: the event belongs to the current transaction
    error: str | None = None
    detail: dict[str, object] | None = None


def sort_key(migration: Migration) -> tuple[Version, int, str]:
    """Releases in release order (0.10.0 after 0.9.0), then NNN."""
    from packaging.version import Version  # only when ordering: keeps `status` light

    return (Version(migration.version), migration.number, migration.stem)


@dataclass(frozen=True)
class Manifest:
    """A loaded migrations.toml."""

    path: Path
    settings: Settings
    migrations: tuple[Migration, ...]
    hooks: tuple[Hook, ...] = ()
    notify: tuple[Notify, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent


@dataclass(frozen=True)
class AppliedRow:
    """A row of the tracking table."""

    version: str
    migration_name: str
    applied_at: datetime | None
    checksum: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.version, strip_sql_suffix(self.migration_name))


class State(StrEnum):
    """Where a migration stands against the database."""

    APPLIED = "applied"
    APPLIED_UNKNOWN_CHECKSUM = "applied-unknown-checksum"
    PENDING = "pending"
    MODIFIED = "modified"
    FAILED = "failed"  # a non-transactional migration stopped part-way; needs repair
    UNKNOWN = "unknown"  # recorded in the database, absent from the manifest


@dataclass(frozen=True)
class MigrationStatus:
    """One line of `status`: a migration (or an unknown row) and its state."""

    state: State
    version: str
    stem: str
    migration: Migration | None = None
    row: AppliedRow | None = None
    out_of_order: bool = False
    failure: Failure | None = None

    @property
    def label(self) -> str:
        return f"{self.version}/{self.stem}"


@dataclass(frozen=True)
class Step:
    """One migration to run in one direction, in its own transaction."""

    migration: Migration
    direction: Direction
    out_of_order: bool = False
    ignored_window: bool = False  # --ignore-windows ran it outside its windows or before not_before

    @property
    def sql(self) -> SqlFile:
        if self.direction is Direction.APPLY:
            return self.migration.sql
        assert self.migration.rollback is not None, "plans only hold revertible steps"
        return self.migration.rollback


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps: `show` prints it, the executor consumes it."""

    steps: tuple[Step, ...] = field(default_factory=tuple)
    deferred: tuple[tuple[Migration, str], ...] = ()  # pending, not started now, and why

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)
