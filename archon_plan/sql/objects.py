"""Reading pglast's JSON parse trees: nodes, names, the tables and columns statements add; pure.

A node of that parse is `{"Kind": {fields}}` where a field may hold any node, and its
fields alone where the field holds one kind only (a statement's `relation`). False, zero,
empty and absent fields are left out, and enums are their names (`"OBJECT_TABLE"`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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


def strings(parts: Sequence[object] | None) -> list[str]:
    """The values of a list of String nodes, as written."""
    return [str((fields_of(part, "String") or _NONE).get("sval", "")) for part in parts or ()]


def name_of_parts(parts: Sequence[object] | None) -> Name:
    """A name written as String parts: `table`, `schema.table`, `db.schema.table`."""
    return name_of_words(strings(parts))


def name_of_words(words: Sequence[str]) -> Name:
    if not words:
        return (None, "")
    return (words[-2].lower() if len(words) > 1 else None, words[-1].lower())


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
