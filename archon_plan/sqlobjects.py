"""What SQL statements create and drop, read from pglast's parse trees; pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pglast import ast, enums

from . import sqltext

Name = tuple[str | None, str]  # (schema or None, name), lower-cased
_OBJ = enums.ObjectType


def walk(node: object) -> Iterator[ast.Node]:
    """Every node below node (itself included), depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(reversed([getattr(item, field) for field in item]))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))


def name_of(relation: ast.RangeVar | None) -> Name:
    if relation is None:  # the grammar always gives one; the types do not say so
        return (None, "")
    schema = relation.schemaname.lower() if relation.schemaname else None
    return (schema, str(relation.relname).lower())


def name_of_parts(parts: Sequence[object] | None) -> Name:
    """A name written as String parts: `table`, `schema.table`, `db.schema.table`."""
    words = [str(getattr(part, "sval", part)).lower() for part in parts or ()]
    if not words:
        return (None, "")
    return (words[-2] if len(words) > 1 else None, words[-1])


def show(name: Name) -> str:
    return f"{name[0]}.{name[1]}" if name[0] else name[1]


def same(a: Name, b: Name) -> bool:
    """The same object, comparing schemas only when both names give one."""
    return a[1] == b[1] and (a[0] is None or b[0] is None or a[0] == b[0])


def function_name(call: ast.FuncCall) -> str:
    return name_of_parts(call.funcname)[1]


def created_tables(node: ast.Node) -> list[Name]:
    if isinstance(node, ast.CreateStmt):
        return [name_of(node.relation)]
    if isinstance(node, ast.CreateTableAsStmt) and node.objtype == _OBJ.OBJECT_TABLE and node.into:
        return [name_of(node.into.rel)]
    return []


def added_columns(node: ast.Node) -> list[tuple[Name, str]]:
    if not isinstance(node, ast.AlterTableStmt) or node.objtype != _OBJ.OBJECT_TABLE:
        return []
    table = name_of(node.relation)
    return [(table, str(cmd.def_.colname).lower()) for cmd in node.cmds or ()
            if cmd.subtype == enums.AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef)]


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


_TYPES = (ast.CreateEnumStmt, ast.CreateRangeStmt)
_DROPPED_KINDS = {
    _OBJ.OBJECT_TABLE: "table", _OBJ.OBJECT_INDEX: "index", _OBJ.OBJECT_FUNCTION: "function",
    _OBJ.OBJECT_PROCEDURE: "function", _OBJ.OBJECT_ROUTINE: "function", _OBJ.OBJECT_TYPE: "type",
    _OBJ.OBJECT_DOMAIN: "type", _OBJ.OBJECT_SCHEMA: "schema",
}


def creates(node: ast.Node) -> list[SqlObject]:
    """What a statement creates that its rollback should drop."""
    if isinstance(node, ast.IndexStmt) and node.idxname:
        table = name_of(node.relation)
        return [SqlObject("index", (table[0], str(node.idxname).lower()), table=table)]
    if isinstance(node, ast.CreateFunctionStmt):
        return [SqlObject("function", name_of_parts(node.funcname))]
    if isinstance(node, _TYPES):
        return [SqlObject("type", name_of_parts(node.typeName))]
    if isinstance(node, ast.CompositeTypeStmt):
        return [SqlObject("type", name_of(node.typevar))]
    if isinstance(node, ast.CreateDomainStmt):
        return [SqlObject("type", name_of_parts(node.domainname))]
    if isinstance(node, ast.DefineStmt) and node.kind == _OBJ.OBJECT_TYPE:
        return [SqlObject("type", name_of_parts(node.defnames))]
    tables = [SqlObject("table", name) for name in created_tables(node)]
    return tables + [SqlObject("column", t, column=c) for t, c in added_columns(node)]


def drops(node: ast.Node) -> list[SqlObject]:
    """What a statement drops; redefining a function also undoes creating it."""
    if isinstance(node, ast.CreateFunctionStmt):
        return [SqlObject("function", name_of_parts(node.funcname))]
    if isinstance(node, ast.AlterTableStmt) and node.objtype == _OBJ.OBJECT_TABLE:
        table = name_of(node.relation)
        return [SqlObject("column", table, column=str(cmd.name).lower()) for cmd in node.cmds or ()
                if cmd.subtype == enums.AlterTableType.AT_DropColumn]
    if isinstance(node, ast.DropStmt) and node.removeType in _DROPPED_KINDS:
        kind = _DROPPED_KINDS[node.removeType]
        return [SqlObject(kind, _dropped_name(item)) for item in node.objects or ()]
    return []


def _dropped_name(item: object) -> Name:
    if isinstance(item, ast.ObjectWithArgs):
        return name_of_parts(item.objname)
    if isinstance(item, ast.TypeName):
        return name_of_parts(item.names)
    return name_of_parts(item if isinstance(item, list | tuple) else [item])  # parts, or one String


def _covered(thing: SqlObject, dropped: Iterable[SqlObject]) -> bool:
    return any(thing.dropped_by(drop) for drop in dropped)


def created_objects(statements: Sequence[sqltext.Statement]) -> list[SqlObject]:
    """What a file leaves behind: objects it creates and does not drop again itself."""
    found: list[SqlObject] = []
    for statement in statements:
        gone = drops(statement.node)
        found = [thing for thing in found if not _covered(thing, gone)]
        tables = [thing.name for thing in found if thing.kind == "table"]
        for thing in creates(statement.node):
            holder = thing.name if thing.kind == "column" else thing.table
            if holder is None or not any(same(holder, table) for table in tables):
                found.append(thing)  # a column or index of a new table goes with the table
    return found


def not_undone(forward: str, rollback: str) -> list[str]:
    """The objects forward creates that rollback does not drop; [] if either does not parse."""
    try:
        created = created_objects(sqltext.split_statements(forward))
        dropped = [d for s in sqltext.split_statements(rollback) for d in drops(s.node)]
    except sqltext.SqlSyntaxError:
        return []
    return [str(thing) for thing in created if not _covered(thing, dropped)]
