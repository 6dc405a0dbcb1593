"""AP1xx: changes that destroy data or what running code uses; pure."""

from __future__ import annotations

from collections.abc import Iterator

from .. import objects, parse
from ..objects import fields_of, name_of, show
from . import Hit, Seen


def hits(statement: parse.Statement, seen: Seen) -> Iterator[Hit]:
    kind, fields = statement.kind, statement.fields
    if kind == "DropStmt" and fields.get("removeType") == "OBJECT_TABLE":
        for name in map(objects.dropped_name, fields.get("objects", ())):
            if not seen.is_new(name):
                yield "AP101", f"DROP TABLE {show(name)} deletes the table and its rows"
    elif kind == "DropStmt" and fields.get("removeType") == "OBJECT_SCHEMA":
        for item in fields.get("objects", ()):
            schema = show(objects.dropped_name(item))
            yield "AP104", f"DROP SCHEMA {schema} removes the schema and what it holds"
    elif kind == "TruncateStmt":
        for name in (name_of(fields_of(item, "RangeVar")) for item in fields.get("relations", ())):
            if not seen.is_new(name):
                yield "AP103", f"TRUNCATE {show(name)} deletes every row"
    elif kind == "AlterTableStmt" and not seen.is_new(table := name_of(fields.get("relation"))):
        for cmd in objects.alter_table_cmds(fields):
            if cmd.get("subtype") == "AT_DropColumn":
                yield "AP102", f"DROP COLUMN {show(table)}.{cmd.get('name')} deletes its data"
