"""SQL text read with pglast: statements, transaction control, non-transactional work."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pglast is imported where SQL is read: `status` never needs it
    from pglast import ast

from .errors import Problem
from .model import SqlFile


@dataclass(frozen=True)
class Statement:
    """One top-level statement and where it starts in its file."""

    text: str
    offset: int  # 0-based character offset in the file
    node: ast.Node

    @property
    def is_transaction_control(self) -> bool:
        from pglast import ast

        return isinstance(self.node, ast.TransactionStmt)


class SqlSyntaxError(Exception):
    """pglast could not parse a file; carries the 0-based offset of the error."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def where(sql: SqlFile, offset: int | None) -> str:
    """`file:line:column` for messages."""
    if offset is None:
        return sql.display
    line, column = line_col(sql.text, offset)
    return f"{sql.display}:{line}:{column}"


@lru_cache(maxsize=4096)
def split_statements(text: str) -> tuple[Statement, ...]:
    """Top-level statements with their offsets; raises SqlSyntaxError."""
    from pglast import parser

    try:
        raw = parser.parse_sql(text)
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 else None  # 0-based already
        offset = location if isinstance(location, int) and location >= 0 else None
        raise SqlSyntaxError(str(exc.args[0]), offset) from exc
    statements = []
    for item in raw:
        start = item.stmt_location or 0
        end = start + item.stmt_len if item.stmt_len else len(text)
        assert item.stmt is not None
        statements.append(Statement(text=text[start:end], offset=start, node=item.stmt))
    return tuple(statements)


def _needs_autocommit(node: ast.Node) -> str | None:
    """Why PostgreSQL refuses this statement in a transaction block, if it does."""
    from pglast import ast, enums

    match node:
        case ast.IndexStmt(concurrent=True):
            return "CREATE INDEX CONCURRENTLY"
        case ast.DropStmt(concurrent=True):
            return "DROP INDEX CONCURRENTLY"
        case ast.ReindexStmt():
            params = [p.defname for p in node.params or ()]
            if "concurrently" in params:
                return "REINDEX CONCURRENTLY"
            if node.kind in (enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM,
                             enums.ReindexObjectType.REINDEX_OBJECT_DATABASE):
                return "REINDEX SYSTEM/DATABASE"
        case ast.VacuumStmt(is_vacuumcmd=True):
            return "VACUUM"
        case ast.AlterSystemStmt():
            return "ALTER SYSTEM"
        case ast.CreatedbStmt():
            return "CREATE DATABASE"
        case ast.DropdbStmt():
            return "DROP DATABASE"
        case ast.CreateTableSpaceStmt():
            return "CREATE TABLESPACE"
        case ast.DropTableSpaceStmt():
            return "DROP TABLESPACE"
        case ast.DiscardStmt(target=enums.DiscardMode.DISCARD_ALL):
            return "DISCARD ALL"
        case ast.AlterDatabaseStmt() if any(
            o.defname == "tablespace" for o in node.options or ()
        ):
            return "ALTER DATABASE SET TABLESPACE"
        case ast.CreateSubscriptionStmt():
            return "CREATE SUBSCRIPTION"
        case ast.DropSubscriptionStmt():
            return "DROP SUBSCRIPTION"
    return None


@lru_cache(maxsize=1)
def _transaction_kinds() -> tuple[frozenset[object], frozenset[object]]:
    """Dropped from the file (our own transaction takes their place), and harmless in it."""
    from pglast import enums

    kinds = enums.TransactionStmtKind
    wrappers = frozenset({kinds.TRANS_STMT_BEGIN, kinds.TRANS_STMT_START, kinds.TRANS_STMT_COMMIT})
    nested = frozenset({kinds.TRANS_STMT_SAVEPOINT, kinds.TRANS_STMT_RELEASE, kinds.TRANS_STMT_ROLLBACK_TO})
    return wrappers, nested


def _is_wrapper(node: ast.Node) -> bool:
    from pglast import ast

    return isinstance(node, ast.TransactionStmt) and node.kind in _transaction_kinds()[0]


def _breaks_transaction(node: ast.Node) -> str | None:
    """ROLLBACK, PREPARE TRANSACTION and the like would end our transaction early."""
    from pglast import ast

    wrappers, nested = _transaction_kinds()
    if not isinstance(node, ast.TransactionStmt) or node.kind in wrappers | nested:
        return None
    return str(getattr(node.kind, "name", node.kind)).removeprefix("TRANS_STMT_").replace("_", " ")


def invalid_index_candidate(statement: Statement) -> str | None:
    """The index a failed CREATE INDEX CONCURRENTLY may have left INVALID behind."""
    from pglast import ast

    node = statement.node
    if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname:
        schema = node.relation.schemaname if node.relation else None
        return f"{schema}.{node.idxname}" if schema else str(node.idxname)
    return None


def runnable_statements(sql: SqlFile) -> tuple[Statement, ...]:
    """The statements to run inside archon-plan's transaction.

    Top-level BEGIN/COMMIT are left out so a self-wrapped file stays atomic with
    its tracking row. Raises SqlSyntaxError; problems() reports the rest.
    """
    return tuple(s for s in split_statements(sql.text) if not _is_wrapper(s.node))


def statement_checksum(statement: Statement) -> str:
    return hashlib.md5(statement.text.encode("utf-8")).hexdigest()


def problems(sql: SqlFile, context: str, transactional: bool = True) -> list[Problem]:
    """Everything that stops a file from running in its mode (one transaction, or
    one statement at a time for `transactional = false`)."""
    from pglast import ast

    try:
        statements = split_statements(sql.text)
    except SqlSyntaxError as exc:
        return [Problem(where(sql, exc.offset), f"{context}: syntax error: {exc.message}")]
    found = []
    if not statements:
        found.append(Problem(sql.display, f"{context}: has no SQL statements, only comments",
                             "write its SQL, or remove it from the manifest"))
    for statement in statements:
        reason = _needs_autocommit(statement.node)
        if reason and transactional:
            found.append(Problem(
                where(sql, statement.offset),
                f"{context}: {reason} cannot run inside a transaction",
                "add `transactional = false` to its [[migration]] entry (it then runs one "
                "statement at a time), ideally in a migration of its own",
            ))
        if not transactional and isinstance(statement.node, ast.TransactionStmt):
            found.append(Problem(
                where(sql, statement.offset),
                f"{context}: transaction control in a `transactional = false` migration",
                "remove it: such a migration runs each statement on its own",
            ))
            continue
        bad = _breaks_transaction(statement.node)
        if bad:
            found.append(Problem(
                where(sql, statement.offset),
                f"{context}: top-level {bad} would break the migration's transaction",
                "remove it: archon-plan runs each migration in its own transaction",
            ))
    return found


def changes_settings(statement: Statement) -> bool:
    """SET, SET LOCAL, RESET, SET ROLE, SET SESSION AUTHORIZATION at the top level."""
    from pglast import ast

    return isinstance(statement.node, ast.VariableSetStmt)


def is_do_block(statement: Statement) -> bool:
    from pglast import ast

    return isinstance(statement.node, ast.DoStmt)
