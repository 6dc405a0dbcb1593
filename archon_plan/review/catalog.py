"""A schema snapshot read from pg_catalog, and the differences between two snapshots."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.sqlfile import checksum
from .catalog_sql import EXCLUDED, QUERIES

if TYPE_CHECKING:  # the connection comes from db/; review only reads through it
    import psycopg

Key = tuple[str, str]  # (kind, schema-qualified name)
# A tenant's schema in a per-tenant snapshot: each tenant of a fleet compares equal to it.
TENANT = "{tenant}"
# Names print relative to the search path: pinned, so that the role's setting changes nothing.
_SEARCH_PATH = """SELECT set_config('search_path', concat_ws(', ', quote_ident(%s), 'public'), true),
    quote_ident(%s)"""


@dataclass(frozen=True)
class Snapshot:
    """The schema objects of a database, each a key and a one-line description."""

    objects: Mapping[Key, str]


def snapshot(
    conn: psycopg.Connection[tuple[object, ...]], exclude: Collection[tuple[str, str]] = (),
    schemas: Collection[str] | None = None, home: str | None = None,
) -> Snapshot:
    """Read the schema objects of `schemas` (None: every non-system schema) in one read-only
    view; `exclude` names (schema, table) pairs to leave out. `home` is a tenant's schema: it
    comes first on the search path, and is written TENANT, so that tenants compare equal."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute(_SEARCH_PATH, (home, home)).fetchone()
        rename = _renamer(str(row[1]) if row and row[1] is not None else None)
        row = conn.execute(EXCLUDED, ([s for s, _ in exclude], [t for _, t in exclude])).fetchone()
        params = {"excluded": row[0] if row else [], "schemas": None if schemas is None else list(schemas)}
        objects: dict[Key, str] = {}
        for query in QUERIES:
            for kind, name, description, *definition in conn.execute(query, params):
                # View definitions and constraint text span lines; one line reads better in a report.
                parts = [rename(" ".join(str(description or "").split()))]
                if definition and definition[0] is not None:  # hashed: a body is no line of a report
                    parts.append(f"definition md5 {checksum(rename(str(definition[0])))}")
                objects[(str(kind), rename(str(name)))] = "; ".join(part for part in parts if part)
    return Snapshot(objects)


def _renamer(quoted: str | None) -> Callable[[str], str]:
    """Writes the schema `quoted` (as quote_ident gives it) as TENANT where it qualifies a name."""
    if quoted is None:
        return lambda text: text
    pattern = re.compile(r'(?<![\w$".])' + re.escape(quoted) + r"(?=\.|$)")
    return lambda text: pattern.sub(TENANT, text)


MISSING, LEFT_BEHIND, CHANGED = "missing", "still-exists", "differs"


@dataclass(frozen=True)
class Difference:
    """One object that is not the same in two snapshots."""

    kind: str
    name: str
    before: str | None  # None: absent before
    after: str | None  # None: absent after

    @property
    def change(self) -> str:
        if self.after is None:
            return MISSING
        return LEFT_BEHIND if self.before is None else CHANGED

    def __str__(self) -> str:
        return self.text()

    def text(self, limit: int | None = None) -> str:
        """The difference as a reader of a rollback report wants it; long definitions cut at limit."""
        def cut(text: str | None) -> str:
            text = text or "(nothing)"
            return text if limit is None or len(text) <= limit else text[:limit] + "..."

        subject = f"{self.kind} {self.name}"
        if self.change == MISSING:
            return f"{subject}: missing after rollback"
        if self.change == LEFT_BEHIND:
            return f"{subject}: still exists after rollback"
        return f"{subject}: definition differs: before {cut(self.before)}, after {cut(self.after)}"


# Relations whose columns, constraints, triggers and policies are named after them.
_RELATION_KINDS = frozenset({"table", "partitioned table", "foreign table", "view", "materialized view"})


def compare(before: Snapshot, after: Snapshot) -> list[Difference]:
    """Every object whose presence or description changed, sorted by kind and name; the parts
    of a table that is missing or left behind as a whole are not listed apart."""
    keys = sorted(before.objects.keys() | after.objects.keys())
    found = [Difference(kind, name, before.objects.get((kind, name)), after.objects.get((kind, name)))
             for kind, name in keys]
    found = [d for d in found if d.before != d.after]
    wholes = {(d.change, f"{d.name}.") for d in found if d.kind in _RELATION_KINDS and d.change != CHANGED}
    return [d for d in found if not any(d.change == change and d.name.startswith(prefix)
                                        for change, prefix in wholes)]
