"""What a change does to the migrations against a base: added, removed, edited, dependencies; pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Problem
from .graph import MigrationGraph, build_graph, graph_and_problems
from .model import Manifest, Migration

REMOVED_HINT = ("restore it: databases may have applied it, and `status` would list it as unknown; "
                "undo a migration with a new one, or `revert` it everywhere first")
EDITED_HINT = ("restore the file and put the change in a new migration; after a deliberate, "
               "equivalent edit, each database needs `archon-plan repair --accept-checksum NAME`")
RENAMED_HINT = ("keep the old version and name: databases that applied it would apply it again "
                "under the new one")


@dataclass(frozen=True)
class Edit:
    """A migration of the base that changed: its SQL, its rollback, its identity or its path."""

    base: Migration
    head: Migration
    changes: tuple[str, ...]  # sql, rollback, renamed (errors); file (a move that keeps identity)

    @property
    def is_error(self) -> bool:
        return self.changes != ("file",)


@dataclass(frozen=True)
class DependencyChange:
    """depends_on of a migration in both, as resolved labels."""

    migration: Migration
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class ManifestDiff:
    """The head manifest against its base, and the head's plan order."""

    base_name: str  # as the user named the base, for messages
    base_file: str  # where the base's manifest is, for the location of removed migrations
    head_file: str
    added: tuple[Migration, ...]
    removed: tuple[Migration, ...]
    edited: tuple[Edit, ...]  # includes renames and moves; is_error tells them apart
    dependencies: tuple[DependencyChange, ...]
    graph: MigrationGraph  # of the head
    out_of_order: frozenset[tuple[str, str]]  # new migrations sorting before one the base has

    @property
    def new(self) -> tuple[Migration, ...]:
        """What databases at the base have not seen: added, and renamed under a new identity."""
        new = {e.head.key for e in self.edited if "renamed" in e.changes} | {m.key for m in self.added}
        return tuple(m for m in self.graph.order if m.key in new)

    def problems(self) -> list[Problem]:
        """Removed and edited migrations of the base, each an error: it may be applied somewhere."""
        found = [Problem(_where(self.base_file, m), f"{m.label} exists in {self.base_name} but was "
                         "removed", REMOVED_HINT) for m in self.removed]
        for edit in (e for e in self.edited if e.is_error):
            found.append(Problem(_where(self.head_file, edit.head), _edit_message(edit, self.base_name),
                                 RENAMED_HINT if "renamed" in edit.changes else EDITED_HINT))
        return found


def compare_manifests(
    base: Manifest, head: Manifest, base_name: str = "the base", base_file: str | None = None
) -> ManifestDiff:
    """Compare by identity (version, name); a removal and an addition with the same SQL are a rename."""
    head_graph = build_graph(head.migrations, str(head.path))
    base_file = base_file or str(base.path)
    base_graph, _ = graph_and_problems(base.migrations, base_file)  # the base is what it is
    base_keys = {m.key: m for m in base_graph.order}
    head_keys = {m.key: m for m in head_graph.order}
    gone = [m for m in base_graph.order if m.key not in head_keys]
    fresh = [m for m in head_graph.order if m.key not in base_keys]
    renames = _renames(gone, fresh)
    edited = [e for m in head_graph.order if m.key in base_keys
              if (e := _edit(base_keys[m.key], m)) is not None]
    shared = [(base_keys[m.key], m) for m in head_graph.order if m.key in base_keys]
    renamed_from, renamed_to = {e.base.key for e in renames}, {e.head.key for e in renames}
    return ManifestDiff(
        base_name=base_name,
        base_file=base_file,
        head_file=str(head.path),
        added=tuple(m for m in fresh if m.key not in renamed_to),
        removed=tuple(m for m in gone if m.key not in renamed_from),
        edited=tuple(sorted([*edited, *renames], key=lambda e: head_graph.position(e.head))),
        dependencies=_dependency_changes(base_graph, head_graph, shared),
        graph=head_graph,
        out_of_order=_out_of_order(head_graph, fresh, base_keys),
    )


def _edit(base: Migration, head: Migration) -> Edit | None:
    changes = []
    if base.checksum != head.checksum:
        changes.append("sql")
    if _rollback_checksum(base) != _rollback_checksum(head):
        changes.append("rollback")
    if not changes and base.sql.display != head.sql.display:
        changes.append("file")
    return Edit(base, head, tuple(changes)) if changes else None


def _rollback_checksum(migration: Migration) -> str | None:
    return migration.rollback.checksum if migration.rollback else None


def _renames(gone: Sequence[Migration], fresh: Sequence[Migration]) -> list[Edit]:
    by_checksum: dict[str, Migration] = {}
    for migration in gone:
        by_checksum.setdefault(migration.checksum, migration)
    renames = []
    for migration in fresh:
        old = by_checksum.pop(migration.checksum, None)
        if old is not None:
            renames.append(Edit(old, migration, ("renamed",)))
    return renames


def _dependency_changes(
    base: MigrationGraph, head: MigrationGraph, shared: Sequence[tuple[Migration, Migration]]
) -> tuple[DependencyChange, ...]:
    changes = []
    for old, new in shared:
        before = [d.label for d in base.dependencies(old)]
        after = [d.label for d in head.dependencies(new)]
        if before != after:
            changes.append(DependencyChange(new, tuple(d for d in after if d not in before),
                                            tuple(d for d in before if d not in after)))
    return tuple(changes)


def _out_of_order(
    graph: MigrationGraph, fresh: Sequence[Migration], base_keys: dict[tuple[str, str], Migration]
) -> frozenset[tuple[str, str]]:
    """A new migration sorting before one the base has runs out of order on databases at the base."""
    last = max((graph.position(m) for m in graph.order if m.key in base_keys), default=-1)
    return frozenset(m.key for m in fresh if graph.position(m) < last)


def _where(manifest_name: str, migration: Migration) -> str:
    line = f":{migration.line}" if migration.line else ""
    return f"{manifest_name}{line}: migration #{migration.entry} {migration.label}"


def _edit_message(edit: Edit, base_name: str) -> str:
    if "renamed" in edit.changes:
        return (f"{edit.base.label} of {base_name} is now {edit.head.label} (same SQL): "
                "a migration's version and name are its identity")
    what = " and ".join({"sql": "its SQL file", "rollback": "its rollback file"}[c] for c in edit.changes)
    return f"{edit.head.label} exists in {base_name}, and {what} changed"
