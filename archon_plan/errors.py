"""The exception hierarchy of archon-plan and the exit code each branch maps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum


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
    INTERRUPTED = 130


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


class ScaffoldError(ArchonPlanError):
    """`create` or `init` would overwrite or could not write a file."""

    exit_code = ExitCode.REFUSED


class DatabaseError(ArchonPlanError):
    """The database could not be reached or used."""

    exit_code = ExitCode.UNREACHABLE


class LockTimeoutError(DatabaseError):
    """Another runner held the migration lock for longer than we wait."""

    exit_code = ExitCode.LOCK_TIMEOUT


class MigrationFailedError(DatabaseError):
    """A migration's SQL failed; it was rolled back, earlier ones were kept."""

    exit_code = ExitCode.MIGRATION_FAILED


class RunInterruptedError(ArchonPlanError):
    """The run was interrupted (Ctrl-C); the running migration was rolled back."""

    exit_code = ExitCode.INTERRUPTED
