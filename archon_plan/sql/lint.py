"""PostgreSQL safety rules over the parsed migrations and rollbacks; pure, no I/O.

The rules read pglast's JSON parse trees, which objects.py describes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..core.model import Migration, SqlFile
from ..errors import Location
from . import objects, parse, undo
from .objects import Fields, Name, fields_of, name_of, nodes, same, show
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
    if migration.rollback is None:
        hit = _Hit("AP401", parse.location(migration.sql, None),
                   "no rollback file: `revert` cannot undo this migration")
        return [*found, _finding(migration, hit)]
    found += _file_findings(migration, migration.rollback, rollback=True)
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
    try:
        statements = parse.split_statements(sql.text)
    except parse.SqlSyntaxError:
        statements = ()
    hits += _statement_hits(sql, statements, migration.transactional, destructive=not rollback)
    hits.sort(key=lambda hit: hit.order)  # stable
    return [_finding(migration, hit) for hit in hits]


_CONTEXT = "sql"


def _run_breaking(sql: SqlFile, transactional: bool, rollback: bool) -> list[_Hit]:
    """parse.problems already finds what stops a file from running; each names its rule."""
    hits = []
    for problem in parse.problems(sql, _CONTEXT, transactional):
        code = problem.code or "AP500"  # a problem no rule names yet is still an error
        if rollback and code == "AP501":
            code = "AP402"
        hits.append(_Hit(code, problem.location or parse.location(sql, None),
                         problem.message.removeprefix(f"{_CONTEXT}: "), problem.hint))
    return hits


def _statement_hits(
    sql: SqlFile, statements: Sequence[parse.Statement], transactional: bool, destructive: bool
) -> list[_Hit]:
    """Rules read statement by statement; a table created earlier in the file is not yet busy."""
    created: list[Name] = []
    added: list[tuple[Name, str]] = []
    hits: list[_Hit] = []
    for statement in statements:
        found = [*_locking(statement, created, added), *_session(statement, transactional)]
        if destructive:
            found += _destructive(statement, created)
        if found:
            place = parse.location(sql, statement.offset)
            hits += [_Hit(code, place, message) for code, message in found]
        created += objects.created_tables(statement)
        added += objects.added_columns(statement)
    return hits


def _is_new(name: Name, created: Sequence[Name]) -> bool:
    return any(same(name, other) for other in created)


def _destructive(statement: parse.Statement, created: Sequence[Name]) -> Iterator[tuple[str, str]]:
    kind, fields = statement.kind, statement.fields
    if kind == "DropStmt" and fields.get("removeType") == "OBJECT_TABLE":
        for name in map(objects.dropped_name, fields.get("objects", ())):
            if not _is_new(name, created):
                yield "AP101", f"DROP TABLE {show(name)} deletes the table and its rows"
    elif kind == "DropStmt" and fields.get("removeType") == "OBJECT_SCHEMA":
        for item in fields.get("objects", ()):
            schema = show(objects.dropped_name(item))
            yield "AP104", f"DROP SCHEMA {schema} removes the schema and what it holds"
    elif kind == "TruncateStmt":
        for name in (name_of(fields_of(item, "RangeVar")) for item in fields.get("relations", ())):
            if not _is_new(name, created):
                yield "AP103", f"TRUNCATE {show(name)} deletes every row"
    elif kind == "AlterTableStmt" and not _is_new(table := name_of(fields.get("relation")), created):
        for cmd in objects.alter_table_cmds(fields):
            if cmd.get("subtype") == "AT_DropColumn":
                yield "AP102", f"DROP COLUMN {show(table)}.{cmd.get('name')} deletes its data"


def _locking(
    statement: parse.Statement, created: Sequence[Name], added: Sequence[tuple[Name, str]]
) -> Iterator[tuple[str, str]]:
    kind, fields = statement.kind, statement.fields
    if kind not in ("IndexStmt", "AlterTableStmt", "RenameStmt"):
        return
    table = name_of(fields.get("relation"))
    if kind == "IndexStmt" and not fields.get("concurrent"):
        if not _is_new(table, created):
            index = fields.get("idxname") or "without a name"
            yield "AP201", f"CREATE INDEX {index} blocks writes to {show(table)} while it builds"
    elif kind == "AlterTableStmt" and fields.get("objtype") == "OBJECT_TABLE":
        if not _is_new(table, created):
            for cmd in objects.alter_table_cmds(fields):
                yield from _alter_table(cmd, table, added)
    elif kind == "RenameStmt" and fields.get("relation") is not None:
        renamed, new_name = fields.get("renameType"), fields.get("newname")
        if renamed == "OBJECT_TABLE" and not _is_new(table, created):
            yield "AP206", f"renaming table {show(table)} to {new_name} breaks code using the old name"
        elif renamed == "OBJECT_COLUMN" and not _is_new(table, created):
            yield ("AP207", f"renaming column {show(table)}.{fields.get('subname')} to {new_name} "
                   "breaks code using the old name")


_CHECKED_CONSTRAINTS = {"CONSTR_FOREIGN": "FOREIGN KEY", "CONSTR_CHECK": "CHECK"}


def _alter_table(cmd: Fields, table: Name, added: Sequence[tuple[Name, str]]) -> Iterator[tuple[str, str]]:
    subtype, column = cmd.get("subtype"), f"{show(table)}.{cmd.get('name')}"
    new_column = objects.added_column(cmd)
    constraint = fields_of(cmd.get("def"), "Constraint")
    if subtype == "AT_AlterColumnType":
        yield "AP202", f"changing the type of {column} rewrites the table"
    elif new_column is not None:
        reason = _rewrite_reason(new_column)
        if reason:
            added_name = f"{show(table)}.{new_column.get('colname')}"
            yield "AP203", f"ADD COLUMN {added_name} with {reason} rewrites the table"
    elif subtype == "AT_SetNotNull":
        if not any(same(table, t) and c == str(cmd.get("name")).lower() for t, c in added):
            yield "AP204", f"SET NOT NULL on {column} scans the whole table"
    elif subtype == "AT_AddConstraint" and constraint is not None:
        checked = _CHECKED_CONSTRAINTS.get(constraint.get("contype", ""))
        if checked and not constraint.get("skip_validation"):
            name = constraint.get("conname") or "without a name"
            yield ("AP205", f"ADD CONSTRAINT {name} {checked} on {show(table)} "
                   "checks every row without NOT VALID")


# Evaluated once by ALTER TABLE, so PostgreSQL 11+ stores the value instead of rewriting.
_NON_VOLATILE = {"now", "transaction_timestamp", "statement_timestamp"}
_SERIALS = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}


def _rewrite_reason(column: Fields) -> str | None:
    type_name = objects.name_of_parts((column.get("typeName") or {}).get("names"))[1]
    if type_name in _SERIALS:
        return f"type {type_name}"
    for constraint in (item["Constraint"] for item in column.get("constraints", ())):
        kind = constraint.get("contype")
        if kind == "CONSTR_IDENTITY":
            return "GENERATED ... AS IDENTITY"
        if kind == "CONSTR_GENERATED" and constraint.get("generated_kind") == "s":
            return "GENERATED ... STORED"
        if kind == "CONSTR_DEFAULT":
            called = map(objects.function_name, nodes(constraint.get("raw_expr"), "FuncCall"))
            volatile = [name for name in called if name not in _NON_VOLATILE]
            if volatile:
                return f"the volatile default {volatile[0]}()"
    return None


_WRAPPERS = {"TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT"}
_SETS = {"VAR_SET_VALUE", "VAR_SET_DEFAULT", "VAR_SET_CURRENT", "VAR_SET_MULTI"}
_FALSE = {"false", "f", "off", "no", "n", "0"}  # what PostgreSQL reads as boolean false


def _session(statement: parse.Statement, transactional: bool) -> Iterator[tuple[str, str]]:
    kind, fields = statement.kind, statement.fields
    if kind == "TransactionStmt" and fields.get("kind") in _WRAPPERS and transactional:
        word = fields["kind"].removeprefix("TRANS_STMT_").replace("START", "START TRANSACTION")
        yield "AP301", f"{word} in the file: archon-plan removes it and runs the file in its own transaction"
    elif kind == "VariableSetStmt" and fields.get("kind") in _SETS and not fields.get("is_local"):
        if fields.get("name") != "TRANSACTION":  # SET TRANSACTION lasts for the transaction only
            yield "AP302", f"SET {fields.get('name')} without LOCAL lasts for the whole session"
    elif kind == "SelectStmt":
        for call in nodes(fields.get("targetList"), "FuncCall"):
            if _sets_session(call):
                yield "AP302", "set_config(..., false) lasts for the whole session"


def _sets_session(call: Fields) -> bool:
    args = call.get("args", ())
    if objects.function_name(call) != "set_config" or len(args) != 3:
        return False
    flag = fields_of(args[2], "A_Const")
    if flag is None or flag.get("isnull"):
        return False
    if "boolval" in flag:  # the value's own fields: false, 0 and '' are left out
        return not flag["boolval"].get("boolval")
    if "sval" in flag:
        return str(flag["sval"].get("sval", "")).lower() in _FALSE
    return "ival" in flag and not flag["ival"].get("ival")
