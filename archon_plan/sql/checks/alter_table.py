"""ALTER TABLE's commands on a busy table: AP202-AP205, AP210, AP213 (locks and rewrites) and
AP507 (a NOT NULL column without a default, which fails on a table with rows). Pure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import objects
from ..objects import Fields, Name, fields_of, name_of, nodes, show
from . import Hit, Seen

_CHECKED_CONSTRAINTS = {"CONSTR_FOREIGN": "FOREIGN KEY", "CONSTR_CHECK": "CHECK"}
_INDEXED_CONSTRAINTS = {"CONSTR_UNIQUE": "UNIQUE", "CONSTR_PRIMARY": "PRIMARY KEY"}


def hits(fields: Fields, seen: Seen) -> Iterator[Hit]:
    table = name_of(fields.get("relation"))
    if seen.is_new(table):
        return
    for cmd in objects.alter_table_cmds(fields):
        yield from _command(cmd, table, seen)


def _command(cmd: Fields, table: Name, seen: Seen) -> Iterator[Hit]:
    subtype, column = cmd.get("subtype"), f"{show(table)}.{cmd.get('name')}"
    new_column = objects.added_column(cmd)
    constraint = fields_of(cmd.get("def"), "Constraint")
    if subtype == "AT_AlterColumnType":
        yield "AP202", f"changing the type of {column} rewrites the table"
    elif new_column is not None:
        yield from _add_column(new_column, table)
    elif subtype == "AT_SetNotNull":
        if not seen.is_new_column(table, str(cmd.get("name"))):
            yield "AP204", f"SET NOT NULL on {column} scans the whole table"
    elif subtype == "AT_AddConstraint" and constraint is not None:
        yield from _add_constraint(constraint, table)
    elif subtype == "AT_DetachPartition":
        partition = (fields_of(cmd.get("def"), "PartitionCmd") or {})
        if not partition.get("concurrent"):
            yield ("AP213", f"DETACH PARTITION {show(name_of(partition.get('name')))} takes an ACCESS "
                   f"EXCLUSIVE lock on {show(table)}")


def _add_constraint(constraint: Fields, table: Name) -> Iterator[Hit]:
    kind, name = constraint.get("contype", ""), constraint.get("conname") or "without a name"
    checked = _CHECKED_CONSTRAINTS.get(kind)
    if checked and not constraint.get("skip_validation"):
        yield "AP205", f"ADD CONSTRAINT {name} {checked} on {show(table)} checks every row without NOT VALID"
    indexed = _INDEXED_CONSTRAINTS.get(kind)
    if indexed and not constraint.get("indexname"):
        yield ("AP210", f"ADD CONSTRAINT {name} {indexed} builds its index on {show(table)} "
               "under an ACCESS EXCLUSIVE lock")


def _add_column(column: Fields, table: Name) -> Iterator[Hit]:
    name = f"{show(table)}.{column.get('colname')}"
    constraints = [item["Constraint"] for item in column.get("constraints", ())]
    reason = _rewrite_reason(column, constraints)
    if reason:
        yield "AP203", f"ADD COLUMN {name} with {reason} rewrites the table"
    kinds = {c.get("contype") for c in constraints}
    for kind in kinds & _INDEXED_CONSTRAINTS.keys():
        yield ("AP210", f"ADD COLUMN {name} {_INDEXED_CONSTRAINTS[kind]} builds its index under an "
               "ACCESS EXCLUSIVE lock")
    filled = reason or kinds & {"CONSTR_DEFAULT", "CONSTR_IDENTITY", "CONSTR_GENERATED"}
    if kinds & {"CONSTR_NOTNULL", "CONSTR_PRIMARY"} and not filled:
        yield "AP507", f"ADD COLUMN {name} NOT NULL without a DEFAULT fails on a table that has rows"


# Evaluated once by ALTER TABLE, so PostgreSQL 11+ stores the value instead of rewriting.
_NON_VOLATILE = {"now", "transaction_timestamp", "statement_timestamp"}
_SERIALS = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}


def _rewrite_reason(column: Fields, constraints: Sequence[Fields]) -> str | None:
    type_name = objects.name_of_parts((column.get("typeName") or {}).get("names"))[1]
    if type_name in _SERIALS:
        return f"type {type_name}"
    for constraint in constraints:
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
