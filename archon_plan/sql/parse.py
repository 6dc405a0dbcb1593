"""SQL text read with pglast: statements, transaction control, non-transactional work, long names."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..core.model import FORWARD_TEMPLATE_MARK, ROLLBACK_TEMPLATE_MARK
from ..core.sqlfile import SqlFile
from ..errors import Location, Problem


@dataclass(frozen=True)
class Statement:
    """One top-level statement and where it starts in its file.

    Its kind and fields come from pglast's JSON parse, much cheaper than its Python tree
    (docs/performance.md); running and lint (objects.py describes the format) both read them.
    Their locations count bytes from the file's start; `offset` counts characters.
    """

    text: str
    offset: int  # 0-based character offset in the file
    kind: str  # the parse tree's node name: CreateStmt, IndexStmt, TransactionStmt, ...
    parsed: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def fields(self) -> dict[str, Any]:
        """The node's fields. A statement kept from an earlier run (remembered.py) has none:
        its text alone is parsed again here, so its locations count from its own start."""
        parsed = self.parsed
        if parsed is None:
            (again,) = split_statements(self.text)
            parsed = again.fields
            object.__setattr__(self, "parsed", parsed)
        return parsed

    @property
    def is_transaction_control(self) -> bool:
        return self.kind == "TransactionStmt"


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


def location(sql: SqlFile, offset: int | None) -> Location:
    """The place of an offset in the file; the file alone when there is no offset."""
    if offset is None:
        return Location(sql.display)
    line, column = line_col(sql.text, offset)
    return Location(sql.display, line, column)


# Small: callers read a file's statements a few times in a row (its problems, then its
# statements; a migration and its rollback together). Keeping the parse trees of thousands
# of files alive costs memory and the cyclic collector's time (docs/performance.md).
@lru_cache(maxsize=64)
def split_statements(text: str) -> tuple[Statement, ...]:
    """Top-level statements with their offsets; raises SqlSyntaxError."""
    from pglast import parser

    try:
        raw = json.loads(parser.parse_sql_json(text)).get("stmts", [])
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 else None  # 0-based characters already
        offset = location if isinstance(location, int) and location >= 0 else None
        raise SqlSyntaxError(str(exc.args[0]), offset) from exc
    encoded = None if text.isascii() else text.encode("utf-8")

    def chars(byte_offset: int) -> int:  # libpg_query's JSON counts bytes
        return byte_offset if encoded is None else len(encoded[:byte_offset].decode("utf-8"))

    statements = []
    for item in raw:
        start = item.get("stmt_location", 0)
        end = start + item["stmt_len"] if item.get("stmt_len") else None
        first, last = chars(start), len(text) if end is None else chars(end)
        ((kind, fields),) = item["stmt"].items()
        statements.append(Statement(text[first:last], first, kind, fields))
    return tuple(statements)


def _defnames(items: list[dict[str, Any]] | None) -> set[str]:
    return {item.get("DefElem", {}).get("defname", "") for item in items or ()}


_ALWAYS_AUTOCOMMIT = {
    "AlterSystemStmt": "ALTER SYSTEM", "CreatedbStmt": "CREATE DATABASE", "DropdbStmt": "DROP DATABASE",
    "CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION", "DropSubscriptionStmt": "DROP SUBSCRIPTION",
}


_WHOLE_REINDEX = {"REINDEX_OBJECT_SYSTEM": "REINDEX SYSTEM", "REINDEX_OBJECT_DATABASE": "REINDEX DATABASE",
                  "REINDEX_OBJECT_SCHEMA": "REINDEX SCHEMA"}


def _detaches_concurrently(cmd: dict[str, Any]) -> bool:
    partition = cmd.get("AlterTableCmd", {}).get("def", {}).get("PartitionCmd", {})
    return bool(partition.get("concurrent"))


def _needs_autocommit(statement: Statement) -> str | None:
    """Why PostgreSQL refuses this statement in a transaction block, if it does."""
    kind, fields = statement.kind, statement.fields
    if kind in _ALWAYS_AUTOCOMMIT:
        return _ALWAYS_AUTOCOMMIT[kind]
    if kind == "IndexStmt" and fields.get("concurrent"):
        return "CREATE INDEX CONCURRENTLY"
    if kind == "DropStmt" and fields.get("concurrent"):
        return "DROP INDEX CONCURRENTLY"
    if kind == "ReindexStmt" and "concurrently" in _defnames(fields.get("params")):
        return "REINDEX CONCURRENTLY"
    if kind == "ReindexStmt" and fields.get("kind") in _WHOLE_REINDEX:
        return _WHOLE_REINDEX[fields["kind"]]
    if kind == "ClusterStmt" and not fields.get("relation"):
        return "CLUSTER without a table"
    if kind == "AlterTableStmt" and any(_detaches_concurrently(cmd) for cmd in fields.get("cmds", ())):
        return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
    if kind == "VacuumStmt" and fields.get("is_vacuumcmd"):
        return "VACUUM"
    if kind == "DiscardStmt" and fields.get("target") == "DISCARD_ALL":
        return "DISCARD ALL"
    if kind == "AlterDatabaseStmt" and "tablespace" in _defnames(fields.get("options")):
        return "ALTER DATABASE SET TABLESPACE"
    return None


# Dropped from the file: archon-plan's own transaction takes their place.
_WRAPPERS = {"TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT"}
# Harmless inside our transaction.
_NESTED = {"TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO"}


def _is_wrapper(statement: Statement) -> bool:
    return statement.is_transaction_control and statement.fields.get("kind") in _WRAPPERS


def _breaks_transaction(statement: Statement) -> str | None:
    """ROLLBACK, PREPARE TRANSACTION and the like would end our transaction early."""
    kind = str(statement.fields.get("kind", ""))
    if not statement.is_transaction_control or kind in _WRAPPERS | _NESTED:
        return None
    return kind.removeprefix("TRANS_STMT_").replace("_", " ")


@dataclass(frozen=True)
class CreatedIndex:
    """The index a CREATE INDEX names, as written (case kept): it lives in its table's schema."""

    schema: str | None  # the table's, when the statement names it
    table: str
    name: str
    concurrently: bool


def created_index(statement: Statement) -> CreatedIndex | None:
    """The index a named CREATE INDEX [CONCURRENTLY] creates, else None."""
    fields = statement.fields
    if statement.kind != "IndexStmt" or not fields.get("idxname"):
        return None
    relation = fields.get("relation", {})
    return CreatedIndex(relation.get("schemaname"), str(relation.get("relname")), str(fields["idxname"]),
                        bool(fields.get("concurrent")))


def runnable_statements(sql: SqlFile) -> tuple[Statement, ...]:
    """The statements to run inside archon-plan's transaction.

    Top-level BEGIN/COMMIT are left out so a self-wrapped file stays atomic with
    its tracking row. Raises SqlSyntaxError; problems() reports the rest.
    """
    return tuple(s for s in split_statements(sql.text) if not _is_wrapper(s))


def statement_checksum(statement: Statement) -> str:
    return hashlib.md5(statement.text.encode("utf-8")).hexdigest()


def problems(sql: SqlFile, context: str, transactional: bool = True, rollback: bool = False) -> list[Problem]:
    """Everything that stops a file from running in its mode (one transaction, or
    one statement at a time for `transactional = false`). A rollback with no statement runs
    (it only forgets the migration; lint's AP404 says so), unless it is still `create`'s template."""
    if "\x00" in sql.text:  # the text would end there on its way to the server (and to pglast)
        return [Problem.at(location(sql, sql.text.index("\x00")),
                           f"{context}: a NUL byte: every statement after it would be dropped",
                           "remove the NUL byte", code="AP506")]
    try:
        statements = split_statements(sql.text)
    except SqlSyntaxError as exc:
        return [Problem.at(location(sql, exc.offset), f"{context}: syntax error: {exc.message}",
                           code="AP501")]
    found = []
    if not statements and (not rollback or ROLLBACK_TEMPLATE_MARK in sql.text):
        found.append(Problem.at(location(sql, None), f"{context}: has no SQL statements, only comments",
                                "write its SQL, or remove it from the manifest", code="AP505"))
    elif not rollback and FORWARD_TEMPLATE_MARK in sql.text:
        found.append(Problem.at(location(sql, sql.text.index(FORWARD_TEMPLATE_MARK)),
                                f"{context}: still holds `create`'s placeholder line",
                                "write the migration's SQL there, then delete the line", code="AP505"))
    for statement in statements:
        reason = _needs_autocommit(statement)
        if reason and transactional:
            found.append(Problem.at(
                location(sql, statement.offset),
                f"{context}: {reason} cannot run inside a transaction",
                "add `transactional = false` to its [[migration]] entry (it then runs one "
                "statement at a time), ideally in a migration of its own",
                code="AP502",
            ))
        if not transactional and statement.is_transaction_control:
            found.append(Problem.at(
                location(sql, statement.offset),
                f"{context}: transaction control in a `transactional = false` migration",
                "remove it: such a migration runs each statement on its own",
                code="AP504",
            ))
            continue
        if statement.kind == "CopyStmt" and not statement.fields.get("filename"):
            found.append(Problem.at(
                location(sql, statement.offset),
                f"{context}: COPY ... FROM STDIN / TO STDOUT needs a client streaming the data",
                "load rows with INSERT ... VALUES, or COPY from a file on the database server",
                code="AP500",
            ))
        bad = _breaks_transaction(statement)
        if bad:
            found.append(Problem.at(
                location(sql, statement.offset),
                f"{context}: top-level {bad} would break the migration's transaction",
                "remove it: archon-plan runs each migration in its own transaction",
                code="AP503",
            ))
    return found


def needs_autocommit(text: str) -> bool:
    """Whether the SQL holds a statement PostgreSQL refuses in a transaction block; False when
    it does not parse (check reports that)."""
    try:
        return any(_needs_autocommit(s) for s in split_statements(text))
    except SqlSyntaxError:
        return False


def only_comments(text: str) -> bool:
    """Whether the SQL is empty or only comments (`-- no-op`); False when it does not parse."""
    try:
        return not split_statements(text)
    except SqlSyntaxError:
        return False


MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are cut short
# A run of at least 64 characters that could be a name (any name of more than 63 bytes has
# at least 16 characters): only a file with one is scanned, which is almost none.
_LONG_ASCII = re.compile(r'"[^"]{64,}"|[A-Za-z_][\w$]{63,}')
_LONG_ANY = re.compile(r'"[^"]{16,}"|[^\W\d][\w$]{15,}')


def long_identifiers(text: str) -> list[tuple[int, str]]:
    """Identifiers of more than 63 bytes as PostgreSQL reads them (unquoted ones lower-cased),
    each with its offset; the parse trees hold them already cut."""
    if not (_LONG_ASCII if text.isascii() else _LONG_ANY).search(text):
        return []
    from pglast import parser

    found = []
    for token in parser.scan(text):
        written = text[token.start:token.end + 1]
        name = written[1:-1].replace('""', '"') if written.startswith('"') else written.lower()
        if token.name == "IDENT" and len(name.encode("utf-8")) > MAX_NAME_BYTES:
            found.append((token.start, name))
    return found


def uses_savepoints(statement: Statement) -> bool:
    return statement.is_transaction_control and statement.fields.get("kind") in _NESTED
