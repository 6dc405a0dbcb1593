"""AP2xx: statements that lock or rewrite a busy table: index builds and drops, rewrites,
renames; ALTER TABLE's commands are in alter_table.py. Pure."""

from __future__ import annotations

from collections.abc import Iterator

from .. import objects, parse
from ..objects import Fields, fields_of, name_of, same, show
from . import Hit, Seen, alter_table, is_on

_CONCURRENTLY = "in a migration of its own with `transactional = false`"


def hits(statement: parse.Statement, seen: Seen) -> Iterator[Hit]:
    kind, fields = statement.kind, statement.fields
    if kind == "IndexStmt" and not fields.get("concurrent"):
        table = name_of(fields.get("relation"))
        if not seen.is_new(table):
            index = fields.get("idxname") or "without a name"
            yield "AP201", f"CREATE INDEX {index} blocks writes to {show(table)} while it builds"
    elif kind == "AlterTableStmt" and fields.get("objtype") == "OBJECT_TABLE":
        yield from alter_table.hits(fields, seen)
    elif kind == "RenameStmt" and fields.get("relation") is not None:
        yield from _rename(fields, seen)
    elif kind == "DropStmt" and fields.get("removeType") == "OBJECT_INDEX" and not fields.get("concurrent"):
        yield from _drop_index(fields, seen)
    elif kind == "ReindexStmt" and not _options(fields.get("params")).get("concurrently"):
        yield from _reindex(fields, seen)
    elif kind == "VacuumStmt" and fields.get("is_vacuumcmd") and _options(fields.get("options")).get("full"):
        tables = [name_of(rel["VacuumRelation"].get("relation")) for rel in fields.get("rels", ())]
        if not tables or not all(map(seen.is_new, tables)):
            shown = ", ".join(map(show, tables)) or "every table of the database"
            yield "AP211", f"VACUUM FULL rewrites {shown} under an ACCESS EXCLUSIVE lock"
    elif kind == "ClusterStmt":
        clustered = name_of(fields["relation"]) if fields.get("relation") else None
        if clustered is None or not seen.is_new(clustered):
            shown = show(clustered) if clustered else "every clustered table of the database"
            yield "AP212", f"CLUSTER rewrites {shown} under an ACCESS EXCLUSIVE lock"


def _rename(fields: Fields, seen: Seen) -> Iterator[Hit]:
    table, renamed, new_name = name_of(fields.get("relation")), fields.get("renameType"), fields["newname"]
    if seen.is_new(table):
        return
    if renamed == "OBJECT_TABLE":
        yield "AP206", f"renaming table {show(table)} to {new_name} breaks code using the old name"
    elif renamed == "OBJECT_COLUMN":
        yield ("AP207", f"renaming column {show(table)}.{fields.get('subname')} to {new_name} "
               "breaks code using the old name")


def _drop_index(fields: Fields, seen: Seen) -> Iterator[Hit]:
    for index in map(objects.dropped_name, fields.get("objects", ())):
        table = seen.index_of(index)
        # Dropping its table or one of its columns in the same file takes the same lock anyway;
        # the rollback of a migration that built the index plainly runs as that migration does.
        plain = any(same(index, built) for built in seen.built_plainly)
        if seen.is_new_index(index) or plain or (table is not None and seen.is_locked(table)):
            continue
        on = f"on {show(table)}" if table else "on its table"
        yield ("AP208", f"DROP INDEX {show(index)} takes an ACCESS EXCLUSIVE lock {on}: it waits for, "
               "then blocks, every query of the table")


_REINDEX_KINDS = {"REINDEX_OBJECT_INDEX": "INDEX", "REINDEX_OBJECT_TABLE": "TABLE"}


def _reindex(fields: Fields, seen: Seen) -> Iterator[Hit]:
    what = _REINDEX_KINDS.get(fields.get("kind", ""))
    target = name_of(fields["relation"]) if fields.get("relation") else None
    if what == "INDEX" and target is not None and seen.is_new_index(target):
        return
    if what == "TABLE" and target is not None and seen.is_new(target):
        return
    shown = f"{what} {show(target)}" if what and target else str(fields.get("kind", "")).rsplit("_", 1)[-1]
    yield "AP209", f"REINDEX {shown} blocks writes to its table, and reads that use the index, while it runs"


def _options(items: object) -> dict[str, bool]:
    """The options of VACUUM (...) or REINDEX (...): `FULL` and `FULL true` are on, `FULL off` is not."""
    found = {}
    for item in items if isinstance(items, list) else ():
        option = fields_of(item, "DefElem") or {}
        found[str(option.get("defname"))] = is_on(option.get("arg"))
    return found
