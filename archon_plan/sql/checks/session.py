"""AP3xx: transaction control, session settings, and statements that a retry of a
`transactional = false` migration would run twice; pure."""

from __future__ import annotations

from collections.abc import Iterator

from .. import effects, objects, parse, undo
from ..effects import Create, Ref
from ..objects import Fields, fields_of, nodes
from . import FALSE, Hit, Seen

_WRAPPERS = {"TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT"}
_SETS = {"VAR_SET_VALUE", "VAR_SET_DEFAULT", "VAR_SET_CURRENT", "VAR_SET_MULTI"}


def hits(statement: parse.Statement, seen: Seen) -> Iterator[Hit]:
    kind, fields = statement.kind, statement.fields
    if kind == "TransactionStmt" and fields.get("kind") in _WRAPPERS and seen.transactional:
        word = fields["kind"].removeprefix("TRANS_STMT_").replace("START", "START TRANSACTION")
        yield "AP301", f"{word} in the file: archon-plan removes it and runs the file in its own transaction"
    elif kind == "VariableSetStmt" and fields.get("kind") in _SETS and not fields.get("is_local"):
        if fields.get("name") != "TRANSACTION":  # SET TRANSACTION lasts for the transaction only
            yield "AP302", f"SET {fields.get('name')} without LOCAL lasts for the whole session"
    elif kind == "SelectStmt":
        for call in nodes(fields.get("targetList"), "FuncCall"):
            if _sets_session(call):
                yield "AP302", "set_config(..., false) lasts for the whole session"
    if not seen.transactional:
        for what in _not_rerunnable(statement, seen):
            yield ("AP303", f"{what} fails when it runs again, as a retry of this `transactional = false` "
                   "migration would run it")


def _sets_session(call: Fields) -> bool:
    args = call.get("args", ())
    if objects.function_name(call) != "set_config" or len(args) != 3:
        return False
    flag = fields_of(args[2], "A_Const")
    if flag is None or flag.get("isnull"):
        return False
    if "boolval" in flag:  # the value's own fields: false, 0 and '' are left out
        return not flag["boolval"].get("boolval")
    if "sval" in flag:
        return str(flag["sval"].get("sval", "")).lower() in FALSE - {""}
    return "ival" in flag and not flag["ival"].get("ival")


# The field that makes a second run of a CREATE a no-op: IF NOT EXISTS, OR REPLACE. Without
# it, or for a statement without such a clause, a DROP ... IF EXISTS of the object before it will do.
_GUARDS = {
    "CreateStmt": "if_not_exists", "IndexStmt": "if_not_exists", "CreateSeqStmt": "if_not_exists",
    "CreateSchemaStmt": "if_not_exists", "CreateExtensionStmt": "if_not_exists",
    "CreateTableAsStmt": "if_not_exists", "ViewStmt": "replace", "CreateFunctionStmt": "replace",
    "CreateTrigStmt": "replace", "DefineStmt": "replace", "CreateEnumStmt": "", "CreateDomainStmt": "",
    "CompositeTypeStmt": "", "CreateRangeStmt": "", "CreatePolicyStmt": "",
}
_COMMANDS = {"AT_AddColumn": "ADD COLUMN", "AT_DropColumn": "DROP COLUMN",
             "AT_DropConstraint": "DROP CONSTRAINT"}


def _not_rerunnable(statement: parse.Statement, seen: Seen) -> Iterator[str]:
    kind, fields = statement.kind, statement.fields
    head = " ".join(statement.text.split()[:3])
    if kind in ("DropStmt", "RenameStmt") and not fields.get("missing_ok"):
        yield head
    elif kind in _GUARDS and not fields.get(_GUARDS[kind]):
        created = [e.ref for e in undo.effects(statement) if isinstance(e, Create)]
        if not created or not _dropped_before(created[0], seen):
            yield head
    elif kind == "AlterEnumStmt" and not fields.get("skipIfNewValExists"):
        yield f"ALTER TYPE ... {'RENAME' if fields.get('oldVal') else 'ADD'} VALUE"
    elif kind == "AlterTableStmt":
        table = effects.relation(fields.get("relation"))
        for cmd in objects.alter_table_cmds(fields):
            subtype = cmd.get("subtype", "")
            constraint = (fields_of(cmd.get("def"), "Constraint") or {}).get("conname")
            if subtype in _COMMANDS and not cmd.get("missing_ok"):
                name = (fields_of(cmd.get("def"), "ColumnDef") or {}).get("colname") or cmd.get("name")
                yield f"{_COMMANDS[subtype]} {name}"
            elif subtype == "AT_AddConstraint" and constraint:  # unnamed, it is added again under a new name
                ref = Ref("constraint", table.name, str(constraint).lower())
                if not _dropped_before(ref, seen):
                    yield f"ADD CONSTRAINT {constraint}"


def _dropped_before(ref: Ref, seen: Seen) -> bool:
    return any(ref.is_(gone) for gone in seen.dropped_if_exists)
