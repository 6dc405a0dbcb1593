"""The effects of ALTER, RENAME, COMMENT and GRANT statements (effects.py), read from pglast's
JSON parse; pure. Only what `rehearse` compares is a change: a comment on an index is not."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .effects import (
    OBJECT_KINDS,
    PARTS,
    RELATIONS,
    Change,
    Create,
    Drop,
    Effect,
    Ref,
    Rename,
    column,
    column_list,
    column_refs,
    object_ref,
    relation,
)
from .objects import Fields, alter_table_cmds, fields_of, name_of_parts

Reader = Callable[[Fields], Iterator[Effect]]

_COLUMN_ASPECTS = {
    "AT_AlterColumnType": "type", "AT_ColumnDefault": "default", "AT_SetNotNull": "NOT NULL",
    "AT_DropNotNull": "NOT NULL", "AT_AddIdentity": "identity", "AT_SetIdentity": "identity",
    "AT_DropIdentity": "identity", "AT_DropExpression": "generation", "AT_SetExpression": "generation",
}
_TABLE_ASPECTS = {
    "AT_EnableRowSecurity": "row level security", "AT_DisableRowSecurity": "row level security",
    "AT_ForceRowSecurity": "forced row level security", "AT_NoForceRowSecurity": "forced row level security",
    "AT_ChangeOwner": "owner", "AT_SetLogged": "persistence", "AT_SetUnLogged": "persistence",
    "AT_AddInherit": "inheritance", "AT_DropInherit": "inheritance",
    "AT_EnableTrigAll": "trigger states", "AT_DisableTrigAll": "trigger states",
    "AT_EnableTrigUser": "trigger states", "AT_DisableTrigUser": "trigger states",
}
_TRIGGER_STATES = {"AT_EnableTrig", "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_DisableTrig"}
_CONSTRAINT_ASPECTS = {"AT_ValidateConstraint": "validation", "AT_AlterConstraint": "definition"}
_PARTITIONS = {"AT_AttachPartition", "AT_DetachPartition"}


def _alter_table(fields: Fields) -> Iterator[Effect]:
    table = relation(fields.get("relation"), OBJECT_KINDS.get(fields.get("objtype", ""), "table"))
    for cmd in alter_table_cmds(fields):
        yield from _command(table, cmd)


def _command(table: Ref, cmd: Fields) -> Iterator[Effect]:
    subtype, name = cmd.get("subtype", ""), cmd.get("name")
    definition = cmd.get("def")
    missing_ok, cascade = bool(cmd.get("missing_ok")), cmd.get("behavior") == "DROP_CASCADE"
    if subtype == "AT_AddColumn":
        new = fields_of(definition, "ColumnDef") or {}
        type_name = Ref("type", name_of_parts((new.get("typeName") or {}).get("names")))
        yield Create(column(table, new.get("colname")), needs=(table,), uses=(type_name,))
    elif subtype == "AT_DropColumn":
        yield Drop(column(table, name), missing_ok, cascade)
    elif subtype == "AT_AddConstraint":
        yield from _constraint(table, fields_of(definition, "Constraint") or {})
    elif subtype == "AT_DropConstraint":
        yield Drop(Ref("constraint", table.name, str(name).lower()), missing_ok, cascade)
    elif subtype in _COLUMN_ASPECTS:
        yield Change(column(table, name), _COLUMN_ASPECTS[subtype])
    elif subtype in _TABLE_ASPECTS:
        yield Change(table, _TABLE_ASPECTS[subtype])
    elif subtype in _CONSTRAINT_ASPECTS:
        constraint = name or (fields_of(definition, "Constraint") or {}).get("conname")
        yield Change(Ref("constraint", table.name, str(constraint).lower()), _CONSTRAINT_ASPECTS[subtype])
    elif subtype in _TRIGGER_STATES:
        yield Change(Ref("trigger", table.name, str(name).lower()), "state")
    elif subtype in _PARTITIONS:
        yield Change(relation((fields_of(definition, "PartitionCmd") or {}).get("name")), "partition")


def _constraint(table: Ref, constraint: Fields) -> Iterator[Effect]:
    if not constraint.get("conname"):
        return  # PostgreSQL chooses the name: nothing to match it with
    on = column_list(table, constraint.get("keys")) + column_list(table, constraint.get("fk_attrs"))
    on += column_refs(table, constraint.get("raw_expr"))
    referenced = (relation(constraint["pktable"]),) if constraint.get("pktable") else ()
    name = str(constraint["conname"]).lower()
    if constraint.get("indexname"):  # USING INDEX: the index takes the constraint's name
        yield Rename(Ref("index", (table.schema, str(constraint["indexname"]).lower())),
                     Ref("index", (table.schema, name)))
    yield Create(Ref("constraint", table.name, name), needs=(table, *on), uses=referenced)


def _rename(fields: Fields) -> Iterator[Effect]:
    kind = OBJECT_KINDS.get(fields.get("renameType", ""))
    new, old_part = str(fields.get("newname")).lower(), str(fields.get("subname")).lower()
    if kind in RELATIONS:
        old = relation(fields.get("relation"), kind)
        yield Rename(old, Ref(kind, (old.schema, new)))
    elif kind in PARTS:
        table = relation(fields.get("relation"))
        yield Rename(Ref(kind, table.name, old_part), Ref(kind, table.name, new))
    elif kind == "schema":
        yield Rename(Ref(kind, (None, old_part)), Ref(kind, (None, new)))
    elif kind in ("function", "type"):
        old = object_ref(kind, fields.get("object"))
        yield Rename(old, Ref(kind, (old.schema, new)))


def _set_schema(fields: Fields) -> Iterator[Effect]:
    kind = OBJECT_KINDS.get(fields.get("objectType", ""))
    if kind in RELATIONS or kind in ("function", "type"):
        rel = fields.get("relation")
        old = relation(rel, kind) if rel else object_ref(kind, fields.get("object"))
        yield Rename(old, Ref(old.kind, (str(fields.get("newschema")).lower(), old.name[1])))


_COMMENTED = {"schema", "table", "view", "materialized view", "column", "function"}  # as rehearse compares
_GRANTED = {"OBJECT_TABLE": "table", "OBJECT_FUNCTION": "function", "OBJECT_PROCEDURE": "function",
            "OBJECT_ROUTINE": "function", "OBJECT_SCHEMA": "schema"}


def _comment(fields: Fields) -> Iterator[Effect]:
    kind = OBJECT_KINDS.get(fields.get("objtype", ""))
    if kind in _COMMENTED:
        yield Change(object_ref(kind, fields.get("object")), "comment")


def _grant(fields: Fields) -> Iterator[Effect]:
    kind = _GRANTED.get(fields.get("objtype", ""))
    if kind is None:
        return
    for item in fields.get("objects", ()):
        if fields.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
            yield Change(object_ref("schema", item), f"grants on all its {kind}s")
        else:
            yield Change(object_ref(kind, item), "grants")


def _owner(fields: Fields) -> Iterator[Effect]:
    kind = OBJECT_KINDS.get(fields.get("objectType", ""))
    if kind in ("schema", "function"):
        yield Change(object_ref(kind, fields.get("object")), "owner")


def _enum(fields: Fields) -> Iterator[Effect]:
    yield Change(Ref("type", name_of_parts(fields.get("typeName"))), "values")


def _domain(fields: Fields) -> Iterator[Effect]:
    yield Change(Ref("type", name_of_parts(fields.get("typeName"))), "definition")


def _function(fields: Fields) -> Iterator[Effect]:
    yield Change(Ref("function", name_of_parts((fields.get("func") or {}).get("objname"))), "options")


def _policy(fields: Fields) -> Iterator[Effect]:
    table = relation(fields.get("table"))
    yield Change(Ref("policy", table.name, str(fields.get("policy_name")).lower()), "definition")


def _extension(fields: Fields) -> Iterator[Effect]:
    yield Change(Ref("extension", (None, str(fields.get("extname")).lower())), "version")


def _sequence(fields: Fields) -> Iterator[Effect]:
    options = {(fields_of(o, "DefElem") or {}).get("defname") for o in fields.get("options", ())}
    if options - {"restart"}:  # RESTART changes the value, which is data
        yield Change(relation(fields.get("sequence"), "sequence"), "options")


READERS: dict[str, Reader] = {
    "AlterTableStmt": _alter_table, "RenameStmt": _rename, "AlterObjectSchemaStmt": _set_schema,
    "CommentStmt": _comment, "GrantStmt": _grant, "AlterOwnerStmt": _owner, "AlterSeqStmt": _sequence,
    "AlterEnumStmt": _enum, "AlterDomainStmt": _domain, "AlterFunctionStmt": _function,
    "AlterPolicyStmt": _policy, "AlterExtensionStmt": _extension,
}
