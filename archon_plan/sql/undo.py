"""Does a rollback undo its migration? Replay the migration's effects, then the rollback's, over
what existed before; what is left over is what the rollback does not undo. Pure.

Only the rollback's work on what the migration touched is judged: what the rollback alone
creates, drops or renames may undo what a DO block or a CASCADE did, which is not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from . import effects_alter, effects_create, parse
from .effects import PARTS, RELATIONS, Change, Create, Drop, Effect, Ref, Rename
from .objects import Name, same


def effects(statement: parse.Statement) -> list[Effect]:
    """What one top-level statement does to named objects; [] for what it does not name."""
    reader = effects_create.READERS.get(statement.kind) or effects_alter.READERS.get(statement.kind)
    return list(reader(statement.fields)) if reader else []


class State(Enum):
    NEW = "created"  # the rollback must drop it
    EITHER = "created or replaced"  # OR REPLACE, or DROP IF EXISTS then CREATE: drop or define again
    GONE = "dropped"  # existed before: the rollback must create it again
    CHANGED = "changed"  # existed before and was altered: the rollback must alter the same again
    MOVED = "renamed"  # existed before as `origin`: the rollback must rename it back


@dataclass(frozen=True)
class Entry:
    """One object that the replay has seen differ from before the migration."""

    ref: Ref
    state: State
    needs: tuple[Ref, ...] = ()  # dropped with any of these
    uses: tuple[Ref, ...] = ()  # dropped with these by CASCADE
    aspects: tuple[str, ...] = ()  # CHANGED, MOVED: what was altered
    origin: Ref | None = None  # MOVED: its name before the migration
    guarded: bool = False  # GONE by DROP ... IF EXISTS: it may never have existed

    def describe(self) -> str | None:
        if self.state in (State.NEW, State.EITHER):
            return str(self.ref)
        if self.state is State.GONE:
            return None if self.guarded else f"the dropped {self.ref}"
        if self.state is State.CHANGED:
            return f"the changed {', '.join(self.aspects)} of {self.ref}"
        new = self.ref.part or self.ref.name[1]
        return f"the renaming of {self.origin} to {new}"


class Replay:
    """The objects that differ so far, in the order the migration first touched them."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.forward = True

    def run(self, statements: Sequence[parse.Statement]) -> None:
        for statement in statements:
            for effect in effects(statement):
                self.apply(effect)

    def apply(self, effect: Effect) -> None:
        if isinstance(effect, Create):
            self._create(effect)
        elif isinstance(effect, Drop):
            self._drop(effect.ref, effect.if_exists, effect.cascade, target=True)
        elif isinstance(effect, Rename):
            self._rename(effect.old, effect.new)
        else:
            self._change(effect)

    def left_over(self) -> list[str]:
        """What differs, each object once: not the parts of a new table, nor the old name of a
        renamed object apart from its renaming."""
        moved = [e.origin for e in self.entries if e.state is State.MOVED and e.origin]
        gone = [e for e in self.entries if e.state is State.GONE and any(e.ref.is_(m) for m in moved)]
        inside = [e for e in self.entries
                  if e.state in (State.NEW, State.EITHER) and self._inside_new(e.ref, e.needs)]
        return [text for e in self.entries if e not in gone + inside and (text := e.describe())]

    # --- lookups -------------------------------------------------------------------------------

    def _live(self, ref: Ref) -> Entry | None:
        return next((e for e in self.entries if e.state is not State.GONE and e.ref.is_(ref)), None)

    def _gone(self, ref: Ref) -> Entry | None:
        return next((e for e in self.entries if e.state is State.GONE and e.ref.is_(ref)), None)

    def _inside_new(self, ref: Ref, needs: Sequence[Ref] = ()) -> bool:
        """Part of an object the migration created, which goes with it (a new table's index)."""
        new = [e.ref for e in self.entries if e.state in (State.NEW, State.EITHER) and not e.ref.is_(ref)]
        return any(holder.takes(r) for holder in new for r in (ref, *needs))

    def _swap(self, old: Entry, new: Entry | None) -> None:
        at = self.entries.index(old)
        self.entries[at:at + 1] = [new] if new else []

    # --- effects -------------------------------------------------------------------------------

    def _create(self, create: Create) -> None:
        live = self._live(create.ref)
        if live is not None:
            if not self.forward and live.state in (State.EITHER, State.CHANGED):
                self._swap(live, None)  # defined again: the version from before is back
            elif self.forward and live.state is State.CHANGED and create.replace:
                self._swap(live, _with_aspect(live, "definition"))
            return
        state = State.EITHER if create.replace else State.NEW
        entry = Entry(create.ref, state, create.needs, create.uses)
        self.entries.append(entry)
        self._arrive(entry)
        if not self.forward and entry in self.entries:
            self.entries.remove(entry)  # what the rollback alone creates is not judged

    def _arrive(self, entry: Entry) -> None:
        """`entry` now holds a name that an object from before had: it takes that object's place."""
        gone = self._gone(entry.ref)
        if gone is None:
            return
        self.entries.remove(gone)
        if entry.state is State.MOVED and entry.origin is not None and entry.origin.is_(entry.ref):
            back = replace(entry, state=State.CHANGED, origin=None)
            self._swap(entry, back if entry.aspects else None)
        elif not self.forward:
            self._swap(entry, None)  # restored
        elif gone.guarded and entry.state in (State.NEW, State.EITHER):
            self._swap(entry, replace(entry, state=State.EITHER))
        else:
            self._swap(entry, replace(entry, state=State.CHANGED, aspects=(*entry.aspects, "definition"),
                                      origin=None))

    def _drop(self, ref: Ref, if_exists: bool, cascade: bool, target: bool) -> None:
        live = self._live(ref)
        if live is None:
            if target and self.forward and not self._inside_new(ref) and self._gone(ref) is None:
                self.entries.append(Entry(ref, State.GONE, guarded=if_exists))
        elif live.state is State.CHANGED:
            self._swap(live, Entry(live.ref, State.GONE))
        else:
            self._swap(live, None)
        for other in [e for e in self.entries if e.state is not State.GONE]:
            if _dropped_with(other, ref, cascade):
                self._drop(other.ref, False, cascade, target=False)

    def _rename(self, old: Ref, new: Ref) -> None:
        live = self._live(old)
        self.entries = [e if e is live or (e.state is State.GONE and e.ref.is_(old)) else
                        replace(e, ref=_renamed(e.ref, old, new), needs=_all_renamed(e.needs, old, new),
                                uses=_all_renamed(e.uses, old, new))
                        for e in self.entries]
        if live is None:
            gone = self._gone(new)
            if self.forward and not self._inside_new(old):
                self.entries.append(Entry(old, State.GONE))
                self.entries.append(Entry(new, State.MOVED, origin=old))
            elif not self.forward and gone is not None:
                self.entries.remove(gone)  # what the rollback built aside takes the old name back
            return
        moved = replace(live, ref=Ref(live.ref.kind, new.name, new.part))
        if live.state is State.CHANGED:
            self.entries.append(Entry(old, State.GONE))
            moved = replace(moved, state=State.MOVED, origin=live.ref)
        self._swap(live, moved)
        self._arrive(moved)

    def _change(self, change: Change) -> None:
        live = self._live(change.ref)
        if not self.forward:
            if live is not None and change.aspect in live.aspects:
                kept = tuple(a for a in live.aspects if a != change.aspect)
                undone = live.state is State.CHANGED and not kept
                self._swap(live, None if undone else replace(live, aspects=kept))
        elif live is None:
            if not self._inside_new(change.ref):
                self.entries.append(Entry(change.ref, State.CHANGED, aspects=(change.aspect,)))
        elif live.state in (State.CHANGED, State.MOVED):
            self._swap(live, _with_aspect(live, change.aspect))


def _with_aspect(entry: Entry, aspect: str) -> Entry:
    return entry if aspect in entry.aspects else replace(entry, aspects=(*entry.aspects, aspect))


def _dropped_with(entry: Entry, dropped: Ref, cascade: bool) -> bool:
    if dropped.takes(entry.ref) or any(dropped.takes(need) for need in entry.needs):
        return True
    return cascade and any(dropped.takes(used) for used in entry.uses)


def _renamed(ref: Ref, old: Ref, new: Ref) -> Ref:
    """ref after `old` became `new`: itself, one of its parts, or something in a renamed schema."""
    if ref.is_(old):
        return Ref(ref.kind, new.name, new.part)
    if old.kind in RELATIONS and ref.kind in PARTS and same(ref.name, old.name):
        return Ref(ref.kind, new.name, ref.part)
    if old.kind == "schema" and ref.schema == old.name[1]:
        return Ref(ref.kind, (new.name[1], ref.name[1]), ref.part)
    return ref


def _all_renamed(refs: tuple[Ref, ...], old: Ref, new: Ref) -> tuple[Ref, ...]:
    return tuple(_renamed(ref, old, new) for ref in refs)


def not_undone(forward: str, rollback: str, own_tables: Sequence[Name] = ()) -> list[str]:
    """What the rollback leaves different from before the migration; [] if either does not parse.
    What is on `own_tables` (archon-plan's tracking table, which Archon's own migration 008
    creates too) is left out: no rollback may drop it, and rehearse does not compare it."""
    try:
        migration, undo = parse.split_statements(forward), parse.split_statements(rollback)
    except parse.SqlSyntaxError:
        return []
    replay = Replay()
    replay.run(migration)
    replay.forward = False
    replay.run(undo)
    owned = [Ref("table", name) for name in own_tables]
    replay.entries = [e for e in replay.entries if not any(_dropped_with(e, own, False) for own in owned)]
    return replay.left_over()


def written_schemas(text: str) -> set[str]:
    """The schemas a file's statements create, change or drop objects in, as qualified names
    write them (an unqualified name is the search path's); none when the file does not parse."""
    try:
        statements = parse.split_statements(text)
    except parse.SqlSyntaxError:
        return set()
    found: set[str] = set()
    for statement in statements:
        for effect in effects(statement):
            for ref in (effect.old, effect.new) if isinstance(effect, Rename) else (effect.ref,):
                schema = ref.name[1] if ref.kind == "schema" else ref.schema
                if schema:
                    found.add(schema)
    return found
