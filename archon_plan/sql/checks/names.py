"""AP508: names longer than PostgreSQL's 63 bytes, which it cuts short without an error; pure."""

from __future__ import annotations

from collections.abc import Iterator

from .. import parse
from ..objects import nodes, strings
from ..parse import MAX_NAME_BYTES
from . import Hit, Seen

# Where each statement names what it creates or renames: a relation (relname), a plain name,
# or String parts (the last is the name). Columns and constraints are found anywhere in it.
_DEFINED = {
    "CreateStmt": "relation", "ViewStmt": "view", "CreateSeqStmt": "sequence", "CompositeTypeStmt": "typevar",
    "IndexStmt": "idxname", "CreateTrigStmt": "trigname", "CreatePolicyStmt": "policy_name",
    "RenameStmt": "newname", "CreateSchemaStmt": "schemaname", "AlterObjectSchemaStmt": "newschema",
    "CreateFunctionStmt": "funcname", "CreateEnumStmt": "typeName", "CreateRangeStmt": "typeName",
    "CreateDomainStmt": "domainname", "DefineStmt": "defnames",
}


def hits(statement: parse.Statement, seen: Seen) -> Iterator[Hit]:
    """The parse holds names already cut: the long ones are found in the text, at the statement."""
    end = statement.offset + len(statement.text)
    here = dict.fromkeys(name for offset, name in seen.long_names if statement.offset <= offset < end)
    defined = set(_defined_names(statement)) if here else set()
    for name in here:
        cut = name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")
        if cut in defined:
            yield ("AP508", f"the name {name} is {len(name.encode('utf-8'))} bytes: PostgreSQL silently "
                   f"shortens it to {cut}")


def _defined_names(statement: parse.Statement) -> Iterator[str]:
    fields = statement.fields
    value = fields.get(_DEFINED.get(statement.kind, ""))
    if statement.kind == "CreateTableAsStmt":
        value = (fields.get("into") or {}).get("rel")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):  # a relation: its schema is named elsewhere
        yield str(value.get("relname", ""))
    elif isinstance(value, list):
        yield from strings(value)[-1:]
    yield from (str(column.get("colname", "")) for column in nodes(fields, "ColumnDef"))
    yield from (str(c["conname"]) for c in nodes(fields, "Constraint") if c.get("conname"))
