"""The effects of CREATE and DROP statements (effects.py), read from pglast's JSON parse; pure."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .effects import OBJECT_KINDS, Create, Drop, Effect, Ref, column, column_refs, object_ref, relation, words
from .objects import Fields, fields_of, name_of, name_of_parts, name_of_words, nodes, strings

Reader = Callable[[Fields], Iterator[Effect]]


def _table(fields: Fields) -> Iterator[Effect]:
    table = relation(fields.get("relation"))
    parents = tuple(relation(fields_of(p, "RangeVar")) for p in fields.get("inhRelations", ()))
    if fields.get("partbound"):  # a partition goes with its partitioned table
        yield Create(table, needs=parents)
    else:  # a child of INHERITS goes with its parent only by CASCADE
        yield Create(table, uses=parents)
    for name in _constraint_indexes(table.name[1], fields.get("tableElts", ())):
        yield Create(Ref("index", (table.schema, name)), needs=(table,))


_SUFFIXES = {"CONSTR_PRIMARY": "pkey", "CONSTR_UNIQUE": "key"}


def _constraint_indexes(table: str, elements: Sequence[object]) -> Iterator[str]:
    """The names PostgreSQL gives the indexes of a new table's primary key and unique
    constraints (a swap renames them: `ALTER INDEX t_new_pkey RENAME TO t_pkey`)."""
    for element in elements:
        column = fields_of(element, "ColumnDef")
        if column is not None:
            keys = [(c["Constraint"], [str(column["colname"])]) for c in column.get("constraints", ())]
        else:
            constraint = fields_of(element, "Constraint") or {}
            keys = [(constraint, strings(constraint.get("keys")))]
        for spec, columns in keys:
            suffix = _SUFFIXES.get(spec.get("contype", ""))
            if suffix and spec.get("conname"):
                yield str(spec["conname"]).lower()
            elif suffix:
                yield "_".join([table, *(columns if suffix == "key" else []), suffix]).lower()


def _table_as(fields: Fields) -> Iterator[Effect]:
    kind = "materialized view" if fields.get("objtype") == "OBJECT_MATVIEW" else "table"
    yield Create(relation((fields.get("into") or {}).get("rel"), kind), uses=_reads(fields.get("query")))


def _view(fields: Fields) -> Iterator[Effect]:
    yield Create(relation(fields.get("view"), "view"), uses=_reads(fields.get("query")),
                 replace=bool(fields.get("replace")))


def _reads(query: object) -> tuple[Ref, ...]:
    return tuple(relation(rv) for rv in nodes(query, "RangeVar"))


def _index(fields: Fields) -> Iterator[Effect]:
    if not fields.get("idxname"):
        return  # PostgreSQL chooses the name: nothing to match it with
    table = relation(fields.get("relation"))
    params = fields.get("indexParams")
    on = tuple(column(table, elem["name"]) for elem in nodes(params, "IndexElem") if elem.get("name"))
    on += column_refs(table, [params, fields.get("whereClause")])
    name = (table.schema, str(fields["idxname"]).lower())
    yield Create(Ref("index", name), needs=(table, *on))


def _function(fields: Fields) -> Iterator[Effect]:
    yield Create(Ref("function", name_of_parts(fields.get("funcname"))), replace=bool(fields.get("replace")))


def _trigger(fields: Fields) -> Iterator[Effect]:
    table = relation(fields.get("relation"))
    function = Ref("function", name_of_parts(fields.get("funcname")))
    yield Create(Ref("trigger", table.name, str(fields.get("trigname")).lower()), needs=(table,),
                 uses=(function,), replace=bool(fields.get("replace")))


def _policy(fields: Fields) -> Iterator[Effect]:
    table = relation(fields.get("table"))
    yield Create(Ref("policy", table.name, str(fields.get("policy_name")).lower()), needs=(table,))


_TYPE_NAMES = {"CreateEnumStmt": "typeName", "CreateRangeStmt": "typeName", "CreateDomainStmt": "domainname"}


def _type(field: str) -> Reader:
    def read(fields: Fields) -> Iterator[Effect]:
        yield Create(Ref("type", name_of_parts(fields.get(field))))

    return read


def _composite(fields: Fields) -> Iterator[Effect]:
    yield Create(Ref("type", name_of(fields.get("typevar"))))


def _define(fields: Fields) -> Iterator[Effect]:
    if fields.get("kind") == "OBJECT_TYPE":
        yield Create(Ref("type", name_of_parts(fields.get("defnames"))))


def _schema(fields: Fields) -> Iterator[Effect]:
    yield Create(Ref("schema", (None, str(fields.get("schemaname")).lower())))


def _extension(fields: Fields) -> Iterator[Effect]:
    # IF NOT EXISTS on an extension mostly declares what the migration needs (pgcrypto, in
    # migration after migration) rather than creating it; a rollback should not drop that.
    if not fields.get("if_not_exists"):
        yield Create(Ref("extension", (None, str(fields.get("extname")).lower())))


def _sequence(fields: Fields) -> Iterator[Effect]:
    options = [fields_of(option, "DefElem") or {} for option in fields.get("options", ())]
    owners = [words(o.get("arg")) for o in options if o.get("defname") == "owned_by"]
    # OWNED BY [schema.]table.column: the sequence goes with that column
    needs = tuple(Ref("column", name_of_words(owner[:-1]), owner[-1]) for owner in owners if len(owner) > 1)
    yield Create(relation(fields.get("sequence"), "sequence"), needs=needs)


def _drop(fields: Fields) -> Iterator[Effect]:
    kind = OBJECT_KINDS.get(fields.get("removeType", ""))
    if kind is None:
        return
    for item in fields.get("objects", ()):
        yield Drop(object_ref(kind, item), bool(fields.get("missing_ok")),
                   fields.get("behavior") == "DROP_CASCADE")


READERS: dict[str, Reader] = {
    "CreateStmt": _table, "CreateTableAsStmt": _table_as, "ViewStmt": _view, "IndexStmt": _index,
    "CreateFunctionStmt": _function, "CreateTrigStmt": _trigger, "CreatePolicyStmt": _policy,
    **{kind: _type(field) for kind, field in _TYPE_NAMES.items()},
    "CompositeTypeStmt": _composite, "DefineStmt": _define, "CreateSeqStmt": _sequence,
    "CreateSchemaStmt": _schema, "CreateExtensionStmt": _extension,
    "DropStmt": _drop,
}
