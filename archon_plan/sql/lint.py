"""PostgreSQL safety rules over the parsed migrations and rollbacks; pure, no I/O.

The rules read pglast's JSON parse trees, which objects.py describes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..core.model import Migration
from ..core.sqlfile import SqlFile
from ..errors import Location
from . import checks, parse, undo
from .checks import destructive as destructive_rules
from .checks import locking, names, session
from .objects import Name
from .rules import BY_CODE, Severity

__all__ = ["Finding", "LintResult", "Severity", "lint", "lint_migrations"]


@dataclass(frozen=True)
class Finding:
    """One rule broken at one place."""

    code: str
    severity: Severity
    migration: str  # the migration's label, e.g. 0.1.0/002_add_x
    location: Location  # line and column unknown for a finding about the whole file
    message: str
    hint: str

    @property
    def where(self) -> str:
        """`file:line:column`, or the file alone."""
        return str(self.location)


@dataclass(frozen=True)
class LintResult:
    """Findings to report, in plan order, and those the manifest allows."""

    findings: tuple[Finding, ...]
    suppressed: tuple[Finding, ...]
    # every migration's findings by memo_key, for the next run's `known`
    memo: Mapping[str, tuple[Finding, ...]] = field(default_factory=dict)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)


def lint_migrations(migrations: Sequence[Migration]) -> list[Finding]:
    """The findings to report for migrations given in plan order."""
    return list(lint(migrations).findings)


def lint(
    migrations: Sequence[Migration], known: Mapping[str, tuple[Finding, ...]] | None = None,
    own_tables: Sequence[Name] = (),
) -> LintResult:
    """Lint every migration; `known` holds earlier findings by memo_key, so files that did not
    change are not parsed again (parsing is most of a cold `check`). `own_tables` holds
    archon-plan's tracking table, which no rollback is asked to drop."""
    reported: list[Finding] = []
    suppressed: list[Finding] = []
    memo: dict[str, tuple[Finding, ...]] = {}
    for migration in migrations:
        key = memo_key(migration, own_tables)
        found = (known or {}).get(key)
        memo[key] = found if found is not None else tuple(_migration_findings(migration, own_tables))
        for finding in memo[key]:
            allowed = finding.code in migration.allow and BY_CODE[finding.code].allowable
            (suppressed if allowed else reported).append(finding)
    return LintResult(tuple(reported), tuple(suppressed), memo)


def memo_key(migration: Migration, own_tables: Sequence[Name] = ()) -> str:
    """Everything a migration's findings depend on (`allow` is applied afterwards)."""
    rollback = migration.rollback
    parts = [migration.label, migration.sql.display, migration.checksum, str(migration.transactional),
             rollback.display if rollback else "", rollback.checksum if rollback else "",
             *(f"{schema}.{table}" for schema, table in own_tables)]
    return hashlib.md5("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class _Hit:
    """A rule broken in one file, before it becomes a Finding."""

    code: str
    location: Location
    message: str
    hint: str | None = None

    @property
    def order(self) -> tuple[bool, int, int]:
        """Position in the file; hits about the whole file come last."""
        line, column = self.location.line, self.location.column
        return line is None, line or 0, column or 0


def _migration_findings(migration: Migration, own_tables: Sequence[Name]) -> list[Finding]:
    found = _file_findings(migration, migration.sql, rollback=False)
    if migration.irreversible:  # said on purpose: revert and rehearse stop before it
        return found
    if migration.rollback is None:
        hit = _Hit("AP401", parse.location(migration.sql, None),
                   "no rollback file: `revert` cannot undo this migration")
        return [*found, _finding(migration, hit)]
    found += _file_findings(migration, migration.rollback, rollback=True)
    if parse.only_comments(migration.rollback.text):
        hit = _Hit("AP404", parse.location(migration.rollback, None),
                   "the rollback holds no SQL statement: `revert` would only forget the migration")
        return [*found, _finding(migration, hit)]
    missing = undo.not_undone(migration.sql.text, migration.rollback.text, own_tables)
    if missing:
        hit = _Hit("AP403", parse.location(migration.rollback, None),
                   "the rollback does not undo " + ", ".join(missing))
        found.append(_finding(migration, hit))
    return found


def _finding(migration: Migration, hit: _Hit) -> Finding:
    rule = BY_CODE[hit.code]
    return Finding(hit.code, rule.severity, migration.label, hit.location, hit.message,
                   hit.hint or rule.fix)


def _file_findings(migration: Migration, sql: SqlFile, rollback: bool) -> list[Finding]:
    hits = _run_breaking(sql, migration.transactional, rollback)
    statements = _statements(sql.text)
    # A rollback drops the indexes its migration creates: their tables are known from it.
    forward = _statements(migration.sql.text) if rollback else ()
    seen = checks.Seen(migration.transactional, locked=checks.locked_tables(statements),
                       index_tables=checks.index_tables([*forward, *statements]),
                       built_plainly=checks.plain_indexes(forward),
                       long_names=parse.long_identifiers(sql.text) if statements else ())
    hits += _statement_hits(sql, statements, seen, destructive=not rollback)
    hits.sort(key=lambda hit: hit.order)  # stable
    return [_finding(migration, hit) for hit in hits]


def _statements(text: str) -> tuple[parse.Statement, ...]:
    try:
        return parse.split_statements(text)
    except parse.SqlSyntaxError:  # reported by _run_breaking
        return ()


_CONTEXT = "sql"


def _run_breaking(sql: SqlFile, transactional: bool, rollback: bool) -> list[_Hit]:
    """parse.problems already finds what stops a file from running; each names its rule."""
    hits = []
    for problem in parse.problems(sql, _CONTEXT, transactional, rollback):
        code = problem.code or "AP500"  # a problem no rule names yet is still an error
        if rollback and code == "AP501":
            code = "AP402"
        hits.append(_Hit(code, problem.location or parse.location(sql, None),
                         problem.message.removeprefix(f"{_CONTEXT}: "), problem.hint))
    return hits


def _statement_hits(
    sql: SqlFile, statements: Sequence[parse.Statement], seen: checks.Seen, destructive: bool
) -> list[_Hit]:
    """Rules read statement by statement; a table created earlier in the file is not yet busy."""
    hits: list[_Hit] = []
    for statement in statements:
        found = [*locking.hits(statement, seen), *session.hits(statement, seen), *names.hits(statement, seen)]
        if destructive:
            found += destructive_rules.hits(statement, seen)
        if found:
            place = parse.location(sql, statement.offset)
            hits += [_Hit(code, place, message) for code, message in found]
        seen.add(statement)
    return hits
