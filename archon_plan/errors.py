"""The exception hierarchy of archon-plan and the exit code each branch maps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes: a documented contract (README, docs/cli.md)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    MIGRATION_FAILED = 3
    INVALID = 4
    REFUSED = 5
    UNREACHABLE = 6
    LOCK_TIMEOUT = 7
    NOT_UP_TO_DATE = 8
    LINT_WARNINGS = 9  # check --strict found warnings only
    REHEARSAL_FAILED = 10  # some rollback does not restore the schema (rehearse)
    DRIFT = 11  # the schema differs from the snapshot or the migrations (drift, check --snapshot)
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
    TERMINATED = 143  # SIGTERM (docker stop, Kubernetes, a cancelled CI job): 128 + 15


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: every path that stops cleanly on Ctrl-C (psycopg
    cancels the running statement on the server) stops cleanly on it too."""


@dataclass(frozen=True)
class Location:
    """A place in a file, as PostgreSQL and editors count: lines and columns from 1."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        """`file:line:column`, or as much of it as is known."""
        parts = [self.file, *(str(n) for n in (self.line, self.column) if n is not None)]
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One finding of a validation pass: where it is, what is wrong, what to do.

    `where` is the place as text: a manifest entry (`migrations.toml:12: migration #3 ...`)
    or, for a problem in a SQL file, `str(location)`. `code` is the lint rule (sql/rules.py)
    that reports it, when there is one.
    """

    where: str
    message: str
    hint: str | None = None
    code: str | None = None
    location: Location | None = None

    def __post_init__(self) -> None:
        if self.location is not None and self.where != str(self.location):
            raise ValueError(f"where {self.where!r} is not the location {str(self.location)!r}")

    @classmethod
    def at(cls, location: Location, message: str, hint: str | None = None,
           code: str | None = None) -> Problem:
        """A problem at a place in a SQL file."""
        return cls(str(location), message, hint, code, location)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text}\n  HINT: {self.hint}" if self.hint else text


class ArchonPlanError(Exception):
    """Root of every error archon-plan reports; carries its exit code and a hint."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nHINT: {self.hint}" if self.hint else self.message


class ProblemsError(ArchonPlanError):
    """Several problems found in one pass, reported together."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        summary = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__("\n".join([*map(str, self.problems), summary]))


class ManifestError(ProblemsError):
    """migrations.toml, a file it names, or the plan it describes is invalid."""

    exit_code = ExitCode.INVALID


class SourceError(ProblemsError):
    """The project that `import` reads, in another tool's layout, has problems."""

    exit_code = ExitCode.INVALID


class LintError(ArchonPlanError):
    """`check` found errors in the SQL: what would break a run or its history."""

    exit_code = ExitCode.INVALID


class UsageError(ArchonPlanError):
    """The command line names something that does not fit the manifest."""

    exit_code = ExitCode.INVALID


class RefusedError(ArchonPlanError):
    """A run that would be unsafe: drift, a missing rollback, dependents, ..."""

    exit_code = ExitCode.REFUSED


class DriftError(RefusedError):
    """Applied migrations whose files changed since they were recorded."""


class SchemaDriftError(ArchonPlanError):
    """The schema of a database differs from what it should be: objects added, removed or
    changed by hand (drift), or a snapshot file the migrations no longer build (check)."""

    exit_code = ExitCode.DRIFT

    def __init__(self, subject: str, against: str, count: int, hint: str | None = None) -> None:
        self.subject, self.against, self.count = subject, against, count
        super().__init__(f"{subject} differs from {against} in {count} schema object(s)", hint)


class ScaffoldError(ArchonPlanError):
    """`create` or `init` would overwrite or could not write a file."""

    exit_code = ExitCode.REFUSED


class DatabaseError(ArchonPlanError):
    """The database could not be reached or used."""

    exit_code = ExitCode.UNREACHABLE


class LockTimeoutError(DatabaseError):
    """Another runner held the migration lock for longer than we wait."""

    exit_code = ExitCode.LOCK_TIMEOUT


class Outcome(Enum):
    """How a migration that stopped left the database; messages are derived from it."""

    COMMITTED = "committed"  # with its tracking row and event: the migration is applied
    UNRECORDED = "unrecorded"  # its SQL committed, its tracking row did not
    ROLLED_BACK = "rolled back"
    PARTLY_COMMITTED = "partly committed"  # non-transactional: `committed` statements stay
    UNKNOWN = "unknown"  # the connection was lost before the answer arrived

    def describe(self, committed: int | None = None, statements: int | None = None,
                 direction: str = "apply") -> str:
        """The outcome as the end of an error's first line; the counts are a non-transactional
        migration's statements that stay committed, of how many."""
        lost = "the connection was lost, so whether it committed is unknown"
        if self is Outcome.ROLLED_BACK and direction == "revert":
            return "rolled back, so it stays applied; migrations reverted before it stay reverted"
        if self is Outcome.ROLLED_BACK:
            return "rolled back, earlier migrations are kept"
        if self is Outcome.COMMITTED:
            return "it had committed, with its tracking row"
        if self is Outcome.UNRECORDED:
            return "its SQL committed, its tracking row did not"
        if statements is None:
            return lost
        done = (f"statements 1..{committed} of {statements} stay committed" if committed
                else f"none of its {statements} statements committed")
        return done if self is Outcome.PARTLY_COMMITTED else f"{done}; {lost}"


class MigrationFailedError(DatabaseError):
    """A migration failed: where, PostgreSQL's diagnostics, and what it left behind.

    `hint` is PostgreSQL's hint; archon-plan's own advice is `advice`. The message is
    built from the fields, and `message` (its first line) is what the event history keeps.
    """

    exit_code = ExitCode.MIGRATION_FAILED

    def __init__(  # one keyword per field, as psycopg's Diagnostic has one attribute each
        self, *, migration: str, direction: str, location: Location, sqlstate: str | None,
        primary: str, detail: str | None = None, hint: str | None = None, in_sql: bool = True,
        outcome: Outcome = Outcome.ROLLED_BACK, committed: int | None = None,
        statements: int | None = None, advice: str | None = None,
    ) -> None:
        self.migration, self.direction, self.location = migration, direction, location
        self.sqlstate, self.primary, self.detail = sqlstate, primary, detail
        self.in_sql, self.outcome, self.advice = in_sql, outcome, advice
        self.committed, self.statements = committed, statements
        part = "SQL" if in_sql else "setup or tracking row"
        super().__init__(
            f"{location}: {direction} of {migration} failed in its {part}: {sqlstate or '?'} "
            f"{primary}; {outcome.describe(committed, statements, direction)}", hint)

    def __str__(self) -> str:
        """The first line, then PostgreSQL's DETAIL and HINT, then archon-plan's HINT."""
        lines = [self.message, *(f"{label}: {text}" for label, text in (
            ("DETAIL", self.detail), ("HINT", self.hint), ("HINT", self.advice)) if text)]
        return "\n".join(lines)


class ConnectionLostError(DatabaseError):
    """The connection broke while a migration's message was on its way or running; on
    reconnecting, its tracking row settled whether it committed (UNKNOWN when it could not)."""

    def __init__(self, *, migration: str, direction: str, outcome: Outcome, cause: str) -> None:
        self.migration, self.direction, self.outcome = migration, direction, outcome
        said = {Outcome.COMMITTED: "on reconnecting, its tracking row shows that it committed",
                Outcome.ROLLED_BACK: "on reconnecting, its tracking row shows that it did not commit",
                }.get(outcome, "the database could not be reached again, so whether it committed is unknown")
        hint = ("check the network and that the server runs; then `archon-plan status` shows whether "
                "it committed, and `archon-plan apply` goes on" if outcome is Outcome.UNKNOWN
                else "`archon-plan apply` goes on from there once the connection holds")
        super().__init__(f"the connection was lost during {direction} of {migration} ({cause}); "
                         f"{said}; the run stops here", hint)


class RunInterruptedError(ArchonPlanError):
    """The run was interrupted (Ctrl-C) during a migration; carries what it left behind."""

    exit_code = ExitCode.INTERRUPTED
    stopped = "interrupted"

    def __init__(  # the fields of MigrationFailedError that apply to an interruption
        self, *, migration: str, direction: str, location: Location,
        outcome: Outcome = Outcome.ROLLED_BACK, committed: int | None = None,
        statements: int | None = None, advice: str | None = None,
    ) -> None:
        self.migration, self.direction, self.location = migration, direction, location
        self.outcome, self.committed, self.statements = outcome, committed, statements
        self.advice = advice
        left = outcome.describe(committed, statements, direction)
        super().__init__(f"{location}: {self.stopped} during {direction} of {migration}; "
                         f"{'it was ' if outcome is Outcome.ROLLED_BACK else ''}{left}", advice)

    @staticmethod
    def of(interrupt: KeyboardInterrupt, **fields: Any) -> RunInterruptedError:
        """The error for this interrupt: SIGTERM's has its own exit code."""
        kind = RunTerminatedError if isinstance(interrupt, Terminated) else RunInterruptedError
        return kind(**fields)


class RunTerminatedError(RunInterruptedError):
    """The run was stopped by SIGTERM during a migration; handled as Ctrl-C is."""

    exit_code = ExitCode.TERMINATED
    stopped = "terminated (SIGTERM)"
