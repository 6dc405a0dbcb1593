"""PostgreSQL safety rules over the parsed migrations and rollbacks; pure, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pglast import ast, enums

from . import sqlobjects, sqltext
from .model import Migration, SqlFile
from .rules import BY_CODE, Severity
from .sqlobjects import Name, name_of, same, show, walk

__all__ = ["Finding", "LintResult", "Severity", "lint", "lint_migrations"]


@dataclass(frozen=True)
class Finding:
    """One rule broken at one place."""

    code: str
    severity: Severity
    migration: str  # the migration's label, e.g. 0.1.0/002_add_x
    where: str  # file:line:column, or the file alone
    message: str
    hint: str


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
    migrations: Sequence[Migration], known: Mapping[str, tuple[Finding, ...]] | None = None
) -> LintResult:
    """Lint every migration; `known` holds earlier findings by memo_key, so files that did not
    change are not parsed again (pglast's trees are most of `check`'s time)."""
    reported: list[Finding] = []
    suppressed: list[Finding] = []
    memo: dict[str, tuple[Finding, ...]] = {}
    for migration in migrations:
        key = memo_key(migration)
        found = (known or {}).get(key)
        memo[key] = found if found is not None else tuple(_migration_findings(migration))
        for finding in memo[key]:
            allowed = finding.code in migration.allow and BY_CODE[finding.code].allowable
            (suppressed if allowed else reported).append(finding)
    return LintResult(tuple(reported), tuple(suppressed), memo)


def memo_key(migration: Migration) -> str:
    """Everything a migration's findings depend on (`allow` is applied afterwards)."""
    rollback = migration.rollback
    parts = [migration.label, migration.sql.display, migration.checksum, str(migration.transactional),
             rollback.display if rollback else "", rollback.checksum if rollback else ""]
    return hashlib.md5("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class _Hit:
    """A rule broken in one file, before it becomes a Finding."""

    code: str
    offset: int | None
    message: str
    hint: str | None = None


def _migration_findings(migration: Migration) -> list[Finding]:
    found = _file_findings(migration, migration.sql, rollback=False)
    if migration.rollback is None:
        hit = _Hit("AP401", None, "no rollback file: `revert` cannot undo this migration")
        return [*found, _finding(migration, migration.sql, hit)]
    found += _file_findings(migration, migration.rollback, rollback=True)
    missing = sqlobjects.not_undone(migration.sql.text, migration.rollback.text)
    if missing:
        hit = _Hit("AP403", None, "the rollback does not undo " + ", ".join(missing))
        found.append(_finding(migration, migration.rollback, hit))
    return found


def _finding(migration: Migration, sql: SqlFile, hit: _Hit) -> Finding:
    rule = BY_CODE[hit.code]
    return Finding(hit.code, rule.severity, migration.label, sqltext.where(sql, hit.offset),
                   hit.message, hit.hint or rule.fix)


def _file_findings(migration: Migration, sql: SqlFile, rollback: bool) -> list[Finding]:
    hits = _run_breaking(sql, migration.transactional, rollback)
    try:
        statements = sqltext.split_statements(sql.text)
    except sqltext.SqlSyntaxError:
        statements = ()
    hits += _statement_hits(statements, migration.transactional, destructive=not rollback)
    hits.sort(key=lambda hit: len(sql.text) if hit.offset is None else hit.offset)  # stable
    return [_finding(migration, sql, hit) for hit in hits]


# sqltext.problems already finds what stops a file from running; its wording names the rule.
_PROBLEM_CODES = (
    ("syntax error", "AP501"),
    ("cannot run inside a transaction", "AP502"),
    ("would break the migration's transaction", "AP503"),
    ("transaction control in a", "AP504"),
    ("has no SQL statements", "AP505"),
)
_CONTEXT = "sql"


def _run_breaking(sql: SqlFile, transactional: bool, rollback: bool) -> list[_Hit]:
    hits = []
    for problem in sqltext.problems(sql, _CONTEXT, transactional):
        message = problem.message.removeprefix(f"{_CONTEXT}: ")
        code = next((c for text, c in _PROBLEM_CODES if text in message), "AP500")
        if rollback and code == "AP501":
            code = "AP402"
        hits.append(_Hit(code, _offset(sql.text, problem.where[len(sql.display):]), message,
                         problem.hint))
    return hits


def _offset(text: str, line_col: str) -> int | None:
    """The offset of `:line:column` (as sqltext.where writes it) in text."""
    parts = line_col.split(":")
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[: int(parts[1]) - 1]) + int(parts[2]) - 1


def _statement_hits(
    statements: Sequence[sqltext.Statement], transactional: bool, destructive: bool
) -> list[_Hit]:
    """Rules read statement by statement; a table created earlier in the file is not yet busy."""
    created: list[Name] = []
    added: list[tuple[Name, str]] = []
    hits: list[_Hit] = []
    for statement in statements:
        node, offset = statement.node, statement.offset
        found = [*_locking(node, created, added), *_session(node, transactional)]
        if destructive:
            found += _destructive(node, created)
        hits += [_Hit(code, offset, message) for code, message in found]
        created += sqlobjects.created_tables(node)
        added += sqlobjects.added_columns(node)
    return hits


def _is_new(name: Name, created: Sequence[Name]) -> bool:
    return any(same(name, other) for other in created)


def _destructive(node: ast.Node, created: Sequence[Name]) -> Iterator[tuple[str, str]]:
    kinds = enums.ObjectType
    if isinstance(node, ast.DropStmt) and node.removeType == kinds.OBJECT_TABLE:
        for name in map(sqlobjects.name_of_parts, node.objects or ()):
            if not _is_new(name, created):
                yield "AP101", f"DROP TABLE {show(name)} deletes the table and its rows"
    elif isinstance(node, ast.DropStmt) and node.removeType == kinds.OBJECT_SCHEMA:
        for item in node.objects or ():
            schema = show(sqlobjects.name_of_parts([item]))
            yield "AP104", f"DROP SCHEMA {schema} removes the schema and what it holds"
    elif isinstance(node, ast.TruncateStmt):
        for name in map(name_of, node.relations or ()):
            if not _is_new(name, created):
                yield "AP103", f"TRUNCATE {show(name)} deletes every row"
    elif isinstance(node, ast.AlterTableStmt) and not _is_new(name_of(node.relation), created):
        for cmd in node.cmds or ():
            if cmd.subtype == enums.AlterTableType.AT_DropColumn:
                yield "AP102", f"DROP COLUMN {show(name_of(node.relation))}.{cmd.name} deletes its data"


def _locking(
    node: ast.Node, created: Sequence[Name], added: Sequence[tuple[Name, str]]
) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        table = name_of(node.relation)
        if not _is_new(table, created):
            index = node.idxname or "without a name"
            yield "AP201", f"CREATE INDEX {index} blocks writes to {show(table)} while it builds"
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        table = name_of(node.relation)
        if not _is_new(table, created):
            for cmd in node.cmds or ():
                yield from _alter_table(cmd, table, added)
    elif isinstance(node, ast.RenameStmt) and node.relation is not None:
        table = name_of(node.relation)
        if node.renameType == enums.ObjectType.OBJECT_TABLE and not _is_new(table, created):
            yield "AP206", f"renaming table {show(table)} to {node.newname} breaks code using the old name"
        elif node.renameType == enums.ObjectType.OBJECT_COLUMN and not _is_new(table, created):
            yield ("AP207", f"renaming column {show(table)}.{node.subname} to {node.newname} "
                   "breaks code using the old name")


def _alter_table(
    cmd: ast.AlterTableCmd, table: Name, added: Sequence[tuple[Name, str]]
) -> Iterator[tuple[str, str]]:
    types, column = enums.AlterTableType, f"{show(table)}.{cmd.name}"
    if cmd.subtype == types.AT_AlterColumnType:
        yield "AP202", f"changing the type of {column} rewrites the table"
    elif cmd.subtype == types.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        reason = _rewrite_reason(cmd.def_)
        if reason:
            yield "AP203", f"ADD COLUMN {show(table)}.{cmd.def_.colname} with {reason} rewrites the table"
    elif cmd.subtype == types.AT_SetNotNull:
        if not any(same(table, t) and c == str(cmd.name).lower() for t, c in added):
            yield "AP204", f"SET NOT NULL on {column} scans the whole table"
    elif cmd.subtype == types.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        constraint = cmd.def_
        kinds = {enums.ConstrType.CONSTR_FOREIGN: "FOREIGN KEY", enums.ConstrType.CONSTR_CHECK: "CHECK"}
        if constraint.contype in kinds and not constraint.skip_validation:
            name = constraint.conname or "without a name"
            yield ("AP205", f"ADD CONSTRAINT {name} {kinds[constraint.contype]} on {show(table)} "
                   "checks every row without NOT VALID")


# Evaluated once by ALTER TABLE, so PostgreSQL 11+ stores the value instead of rewriting.
_NON_VOLATILE = {"now", "transaction_timestamp", "statement_timestamp"}
_SERIALS = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}


def _rewrite_reason(column: ast.ColumnDef) -> str | None:
    type_name = sqlobjects.name_of_parts(column.typeName.names if column.typeName else None)[1]
    if type_name in _SERIALS:
        return f"type {type_name}"
    for constraint in column.constraints or ():
        kind = constraint.contype
        if kind == enums.ConstrType.CONSTR_IDENTITY:
            return "GENERATED ... AS IDENTITY"
        if kind == enums.ConstrType.CONSTR_GENERATED and constraint.generated_kind == "s":
            return "GENERATED ... STORED"
        if kind == enums.ConstrType.CONSTR_DEFAULT:
            called = [sqlobjects.function_name(n) for n in walk(constraint.raw_expr)
                      if isinstance(n, ast.FuncCall)]
            volatile = [name for name in called if name not in _NON_VOLATILE]
            if volatile:
                return f"the volatile default {volatile[0]}()"
    return None


_WRAPPERS = {enums.TransactionStmtKind.TRANS_STMT_BEGIN, enums.TransactionStmtKind.TRANS_STMT_START,
             enums.TransactionStmtKind.TRANS_STMT_COMMIT}
_SETS = {enums.VariableSetKind.VAR_SET_VALUE, enums.VariableSetKind.VAR_SET_DEFAULT,
         enums.VariableSetKind.VAR_SET_CURRENT, enums.VariableSetKind.VAR_SET_MULTI}
_FALSE = {"false", "f", "off", "no", "n", "0"}  # what PostgreSQL reads as boolean false


def _session(node: ast.Node, transactional: bool) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.TransactionStmt) and node.kind in _WRAPPERS and transactional:
        word = node.kind.name.removeprefix("TRANS_STMT_").replace("START", "START TRANSACTION")
        yield "AP301", f"{word} in the file: archon-plan removes it and runs the file in its own transaction"
    elif isinstance(node, ast.VariableSetStmt) and node.kind in _SETS and not node.is_local:
        if node.name != "TRANSACTION":  # SET TRANSACTION lasts for the transaction only
            yield "AP302", f"SET {node.name} without LOCAL lasts for the whole session"
    elif isinstance(node, ast.SelectStmt):
        for call in walk(node.targetList):
            if isinstance(call, ast.FuncCall) and _sets_session(call):
                yield "AP302", "set_config(..., false) lasts for the whole session"


def _sets_session(call: ast.FuncCall) -> bool:
    args = call.args or ()
    if sqlobjects.function_name(call) != "set_config" or len(args) != 3:
        return False
    flag = args[2]
    if not isinstance(flag, ast.A_Const) or flag.isnull:
        return False
    value = flag.val
    if isinstance(value, ast.Boolean):
        return not value.boolval
    if isinstance(value, ast.String):
        return str(value.sval).lower() in _FALSE
    return isinstance(value, ast.Integer) and value.ival == 0
