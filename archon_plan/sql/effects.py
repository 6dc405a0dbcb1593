"""What statements do to named schema objects: create, drop, rename or change them; pure.

effects_create.py and effects_alter.py read them from pglast's JSON parse (objects.py
describes it); the rollback rule replays them (undo.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .objects import Fields, Name, dropped_name, fields_of, name_of, name_of_words, nodes, same, show, strings

# The kinds that share one namespace in a schema (pg_class): ALTER TABLE renames any of them.
RELATIONS = frozenset({"table", "view", "materialized view", "sequence", "index"})
# The kinds whose objects live in a table and are named within it.
PARTS = frozenset({"column", "constraint", "trigger", "policy"})


@dataclass(frozen=True)
class Ref:
    """One named object: for a part (column, constraint, trigger, policy), its table and its name."""

    kind: str
    name: Name
    part: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {show(self.name)}" + (f".{self.part}" if self.part else "")

    @property
    def schema(self) -> str | None:
        return self.name[0]

    def is_(self, other: Ref) -> bool:
        """The same object, comparing schemas only when both names give one."""
        kinds = self.kind == other.kind or {self.kind, other.kind} <= RELATIONS
        return kinds and same(self.name, other.name) and self.part == other.part

    def takes(self, other: Ref) -> bool:
        """Dropping self drops other with it: the same object, a part of a dropped table, the
        index of a dropped key, or anything in a dropped schema."""
        if self.kind == "schema":
            return other.schema == self.name[1] or (other.kind == "schema" and other.name == self.name)
        if self.kind in RELATIONS and other.kind in PARTS:
            return same(self.name, other.name)
        if self.kind == "constraint" and other.kind == "index":  # a key's index has its name
            return self.part == other.name[1] and same((self.schema, ""), (other.schema, ""))
        return self.is_(other)


@dataclass(frozen=True)
class Create:
    """A new object. It goes when any of `needs` goes (an index with its table or one of its
    columns); when one of `uses` goes only with CASCADE (a view with its tables)."""

    ref: Ref
    needs: tuple[Ref, ...] = ()
    uses: tuple[Ref, ...] = ()
    replace: bool = False  # CREATE OR REPLACE: the object may have existed, in another version


@dataclass(frozen=True)
class Drop:
    ref: Ref
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class Rename:
    """A new name, or a new schema (SET SCHEMA)."""

    old: Ref
    new: Ref


@dataclass(frozen=True)
class Change:
    """An object altered in place; `aspect` says what of it (`type`, `default`, `grants`...)."""

    ref: Ref
    aspect: str


Effect = Create | Drop | Rename | Change

OBJECT_KINDS = {
    "OBJECT_TABLE": "table", "OBJECT_VIEW": "view", "OBJECT_MATVIEW": "materialized view",
    "OBJECT_SEQUENCE": "sequence", "OBJECT_INDEX": "index", "OBJECT_FOREIGN_TABLE": "table",
    "OBJECT_FUNCTION": "function", "OBJECT_PROCEDURE": "function", "OBJECT_ROUTINE": "function",
    "OBJECT_TYPE": "type", "OBJECT_DOMAIN": "type", "OBJECT_SCHEMA": "schema",
    "OBJECT_EXTENSION": "extension", "OBJECT_COLUMN": "column", "OBJECT_TABCONSTRAINT": "constraint",
    "OBJECT_TRIGGER": "trigger", "OBJECT_POLICY": "policy",
}


def relation(fields: Fields | None, kind: str = "table") -> Ref:
    return Ref(kind, name_of(fields))


def column(table: Ref, name: object) -> Ref:
    return Ref("column", table.name, str(name).lower())


def column_refs(table: Ref, expression: object) -> tuple[Ref, ...]:
    """The columns an expression names (the last part of each name)."""
    refs = nodes(expression, "ColumnRef")
    last = [(fields_of(ref["fields"][-1], "String") or {}).get("sval") for ref in refs]
    return tuple(dict.fromkeys(column(table, name) for name in last if name))


def column_list(table: Ref, names: Sequence[object] | None) -> tuple[Ref, ...]:
    """The columns of a list of names, such as a constraint's keys."""
    return tuple(column(table, name) for name in strings(names))


def words(item: object) -> list[str]:
    """The names of a List of String nodes, lower-cased: `s.t.c` is ["s", "t", "c"]."""
    return [word.lower() for word in strings((fields_of(item, "List") or {}).get("items"))]


def object_ref(kind: str, item: object) -> Ref:
    """The object a DROP, COMMENT, GRANT or ALTER names; a part's names start with its table's."""
    if kind in PARTS:
        names = words(item)
        return Ref(kind, name_of_words(names[:-1]), names[-1] if names else "")
    if kind in RELATIONS and fields_of(item, "RangeVar") is not None:
        return relation(fields_of(item, "RangeVar"), kind)
    return Ref(kind, dropped_name(item))
