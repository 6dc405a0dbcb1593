"""The statement rules of `check`, one module per family of codes; pure.

Each module's `hits(statement, seen)` yields (code, message) for one top-level statement;
`Seen` is what the file did before it, which tells a busy table from one the file created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import objects, parse, undo
from ..effects import Drop, Ref
from ..objects import Name, same

Hit = tuple[str, str]  # (code, message)
FALSE = {"false", "f", "off", "no", "n", "0", ""}  # what PostgreSQL reads as boolean false


def is_on(arg: object) -> bool:
    """An option's value: absent (`FULL`) is on; `false`, `off`, `0` are off."""
    for kind, key in (("String", "sval"), ("Boolean", "boolval"), ("Integer", "ival")):
        value = objects.fields_of(arg, kind)
        if value is not None:  # false and zero values are left out of the parse
            return str(value.get(key, "")).lower() not in FALSE
    return True


@dataclass
class Seen:
    """What a file did before the statement being checked, and how it runs."""

    transactional: bool
    # tables the file drops, or drops a column of, anywhere: it locks them anyway
    locked: Sequence[Name] = ()
    # the table of each index a CREATE INDEX of the migration names (forward file and rollback)
    index_tables: Mapping[Name, Name] = field(default_factory=dict)
    # for a rollback: the indexes its migration builds without CONCURRENTLY (AP201 speaks for them)
    built_plainly: Sequence[Name] = ()
    long_names: Sequence[tuple[int, str]] = ()  # parse.long_identifiers of the file

    tables: list[Name] = field(default_factory=list)
    columns: list[tuple[Name, str]] = field(default_factory=list)
    indexes: list[Name] = field(default_factory=list)
    dropped_if_exists: list[Ref] = field(default_factory=list)

    def is_new(self, table: Name) -> bool:
        """Created earlier in the file: nobody uses it yet."""
        return any(same(table, other) for other in self.tables)

    def is_new_column(self, table: Name, column: str) -> bool:
        return any(same(table, t) and c == column.lower() for t, c in self.columns)

    def is_new_index(self, index: Name) -> bool:
        table = self.index_of(index)
        created = any(same(index, other) for other in self.indexes)
        return created or (table is not None and self.is_new(table))

    def index_of(self, index: Name) -> Name | None:
        """The table of an index the migration creates, if it does."""
        return next((table for name, table in self.index_tables.items() if same(name, index)), None)

    def is_locked(self, table: Name) -> bool:
        return any(same(table, other) for other in self.locked)

    def add(self, statement: parse.Statement) -> None:
        """Take in what the statement creates."""
        self.tables += objects.created_tables(statement)
        self.columns += objects.added_columns(statement)
        index = parse.created_index(statement)
        if index is not None:
            self.indexes.append(_name(index, index.name))
        if not self.transactional:  # for AP303 alone
            drops = [e for e in undo.effects(statement) if isinstance(e, Drop)]
            self.dropped_if_exists += [drop.ref for drop in drops if drop.if_exists]


def index_tables(statements: Iterable[parse.Statement]) -> dict[Name, Name]:
    """The table of each index that a CREATE INDEX of these statements names."""
    indexes = filter(None, map(parse.created_index, statements))
    return {_name(index, index.name): _name(index, index.table) for index in indexes}


def plain_indexes(statements: Iterable[parse.Statement]) -> list[Name]:
    """The indexes these statements build without CONCURRENTLY."""
    built = [index for index in map(parse.created_index, statements) if index and not index.concurrently]
    return [_name(index, index.name) for index in built]


def _name(index: parse.CreatedIndex, name: str) -> Name:
    """The index's name or its table's: both in the table's schema."""
    return (index.schema.lower() if index.schema else None, name.lower())


def locked_tables(statements: Iterable[parse.Statement]) -> list[Name]:
    """The tables these statements drop, or drop a column of: they take the strongest lock."""
    found = []
    for statement in statements:
        fields = statement.fields
        if statement.kind == "DropStmt" and fields.get("removeType") == "OBJECT_TABLE":
            found += [objects.dropped_name(item) for item in fields.get("objects", ())]
        elif statement.kind == "AlterTableStmt" and any(
                cmd.get("subtype") == "AT_DropColumn" for cmd in objects.alter_table_cmds(fields)):
            found.append(objects.name_of(fields.get("relation")))
    return found
