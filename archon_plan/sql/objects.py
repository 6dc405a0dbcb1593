"""What SQL statements create and drop, read from pglast's JSON parse trees; pure.

A node of that parse is `{"Kind": {fields}}` where a field may hold any node, and its
fields alone where the field holds one kind only (a statement's `relation`). False, zero,
empty and absent fields are left out, and enums are their names (`"OBJECT_TABLE"`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import parse

Name = tuple[str | None, str]  # (schema or None, name), lower-cased
Fields = Mapping[str, Any]  # one node's fields, without its kind
_NONE: Fields = {}


def fields_of(value: object, kind: str) -> Fields | None:
    """value's fields if it is a `kind` node, else None."""
    return value.get(kind) if isinstance(value, dict) else None


def nodes(value: object, kind: str) -> Iterator[Fields]:
    """The fields of every `kind` node in value (itself included), depth first in source order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if kind in item:
                yield item[kind]
            stack.extend(reversed(item.values()))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def name_of(relation: Fields | None) -> Name:
    if relation is None:  # the grammar always gives one; the types do not say so
        return (None, "")
    schema = relation.get("schemaname")
    return (schema.lower() if schema else None, str(relation.get("relname")).lower())


def name_of_parts(parts: Sequence[object] | None) -> Name:
    """A name written as String parts: `table`, `schema.table`, `db.schema.table`."""
    words = [str((fields_of(part, "String") or _NONE).get("sval", "")).lower() for part in parts or ()]
    if not words:
        return (None, "")
    return (words[-2] if len(words) > 1 else None, words[-1])


def dropped_name(item: object) -> Name:
    """The name of one object of a DROP: a List of parts, a String, a function or a type."""
    for kind, field in (("List", "items"), ("ObjectWithArgs", "objname"), ("TypeName", "names")):
        found = fields_of(item, kind)
        if found is not None:
            return name_of_parts(found.get(field))
    return name_of_parts([item])


def show(name: Name) -> str:
    return f"{name[0]}.{name[1]}" if name[0] else name[1]


def same(a: Name, b: Name) -> bool:
    """The same object, comparing schemas only when both names give one."""
    return a[1] == b[1] and (a[0] is None or b[0] is None or a[0] == b[0])


def function_name(call: Fields) -> str:
    return name_of_parts(call.get("funcname"))[1]


def alter_table_cmds(fields: Fields) -> list[Fields]:
    """The commands of an ALTER TABLE statement."""
    return [cmd["AlterTableCmd"] for cmd in fields.get("cmds", ())]


def created_tables(statement: parse.Statement) -> list[Name]:
    kind, fields = statement.kind, statement.fields
    if kind == "CreateStmt":
        return [name_of(fields.get("relation"))]
    into = fields.get("into")
    if kind == "CreateTableAsStmt" and fields.get("objtype") == "OBJECT_TABLE" and into:
        return [name_of(into.get("rel"))]
    return []


def added_columns(statement: parse.Statement) -> list[tuple[Name, str]]:
    fields = statement.fields
    if statement.kind != "AlterTableStmt" or fields.get("objtype") != "OBJECT_TABLE":
        return []
    table = name_of(fields.get("relation"))
    columns = map(added_column, alter_table_cmds(fields))
    return [(table, str(column.get("colname")).lower()) for column in columns if column is not None]


def added_column(cmd: Fields) -> Fields | None:
    """The column an ALTER TABLE command adds, if it adds one."""
    return fields_of(cmd.get("def"), "ColumnDef") if cmd.get("subtype") == "AT_AddColumn" else None


@dataclass(frozen=True)
class SqlObject:
    """A table, column, index, function, type or schema, as a statement names it."""

    kind: str
    name: Name  # for a column: its table
    column: str | None = None
    table: Name | None = None  # for an index: its table, when known

    def __str__(self) -> str:
        shown = f"{show(self.name)}.{self.column}" if self.column else show(self.name)
        return f"{self.kind} {shown}"

    def dropped_by(self, drop: SqlObject) -> bool:
        if drop.kind == "schema":
            return drop.name[1] in (self.name[0], self.table[0] if self.table else None)
        if drop.kind == "table" and self.kind in ("column", "index"):
            holder = self.name if self.kind == "column" else self.table
            return holder is not None and same(holder, drop.name)
        return drop.kind == self.kind and same(drop.name, self.name) and drop.column == self.column


# Statements that create a type, and the field that names it (String parts).
_TYPE_NAMES = {"CreateEnumStmt": "typeName", "CreateRangeStmt": "typeName", "CreateDomainStmt": "domainname"}
_DROPPED_KINDS = {
    "OBJECT_TABLE": "table", "OBJECT_INDEX": "index", "OBJECT_FUNCTION": "function",
    "OBJECT_PROCEDURE": "function", "OBJECT_ROUTINE": "function", "OBJECT_TYPE": "type",
    "OBJECT_DOMAIN": "type", "OBJECT_SCHEMA": "schema",
}


def creates(statement: parse.Statement) -> list[SqlObject]:
    """What a statement creates that its rollback should drop."""
    kind, fields = statement.kind, statement.fields
    if kind == "IndexStmt" and fields.get("idxname"):
        table = name_of(fields.get("relation"))
        return [SqlObject("index", (table[0], str(fields["idxname"]).lower()), table=table)]
    if kind == "CreateFunctionStmt":
        return [SqlObject("function", name_of_parts(fields.get("funcname")))]
    if kind in _TYPE_NAMES:
        return [SqlObject("type", name_of_parts(fields.get(_TYPE_NAMES[kind])))]
    if kind == "CompositeTypeStmt":
        return [SqlObject("type", name_of(fields.get("typevar")))]
    if kind == "DefineStmt" and fields.get("kind") == "OBJECT_TYPE":
        return [SqlObject("type", name_of_parts(fields.get("defnames")))]
    tables = [SqlObject("table", name) for name in created_tables(statement)]
    return tables + [SqlObject("column", t, column=c) for t, c in added_columns(statement)]


def drops(statement: parse.Statement) -> list[SqlObject]:
    """What a statement drops; redefining a function also undoes creating it."""
    kind, fields = statement.kind, statement.fields
    if kind == "CreateFunctionStmt":
        return [SqlObject("function", name_of_parts(fields.get("funcname")))]
    if kind == "AlterTableStmt" and fields.get("objtype") == "OBJECT_TABLE":
        table = name_of(fields.get("relation"))
        return [SqlObject("column", table, column=str(cmd.get("name")).lower())
                for cmd in alter_table_cmds(fields) if cmd.get("subtype") == "AT_DropColumn"]
    if kind == "DropStmt" and fields.get("removeType") in _DROPPED_KINDS:
        dropped = _DROPPED_KINDS[fields["removeType"]]
        return [SqlObject(dropped, dropped_name(item)) for item in fields.get("objects", ())]
    return []


def _covered(thing: SqlObject, dropped: Iterable[SqlObject]) -> bool:
    return any(thing.dropped_by(drop) for drop in dropped)


def created_objects(statements: Sequence[parse.Statement]) -> list[SqlObject]:
    """What a file leaves behind: objects it creates and does not drop again itself."""
    found: list[SqlObject] = []
    for statement in statements:
        gone = drops(statement)
        found = [thing for thing in found if not _covered(thing, gone)]
        tables = [thing.name for thing in found if thing.kind == "table"]
        for thing in creates(statement):
            holder = thing.name if thing.kind == "column" else thing.table
            if holder is None or not any(same(holder, table) for table in tables):
                found.append(thing)  # a column or index of a new table goes with the table
    return found


def not_undone(forward: str, rollback: str) -> list[str]:
    """The objects forward creates that rollback does not drop; [] if either does not parse."""
    try:
        created = created_objects(parse.split_statements(forward))
        dropped = [d for s in parse.split_statements(rollback) for d in drops(s)]
    except parse.SqlSyntaxError:
        return []
    return [str(thing) for thing in created if not _covered(thing, dropped)]


# The fields that name the relation a statement creates or changes (one RangeVar each).
_TARGETS = ("relation", "table", "view", "sequence")


def written_schemas(text: str) -> set[str]:
    """The schemas a file's statements create, change or drop objects in, as qualified names
    write them (an unqualified name is the search path's); none when the file does not parse."""
    try:
        statements = parse.split_statements(text)
    except parse.SqlSyntaxError:
        return set()
    found: set[str] = set()
    for statement in statements:
        fields = statement.fields
        if statement.kind == "CreateSchemaStmt" and fields.get("schemaname"):
            found.add(str(fields["schemaname"]))
        targets = [fields.get(key) for key in _TARGETS] + [(fields.get("into") or _NONE).get("rel")]
        found.update(str(t["schemaname"]) for t in targets if isinstance(t, dict) and t.get("schemaname"))
        found.update(str(thing.name[0]) for thing in (*creates(statement), *drops(statement))
                     if thing.kind in ("function", "type") and thing.name[0])  # relations: above
    return found
