"""`archon-plan renumber`: a migration moved to another number of its version, with its files
(`git mv` when git tracks them), its manifest entry and every `depends_on` naming it; all
of it checked before anything changes, and undone if a step fails."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..core import graph
from ..core.model import Manifest, Migration, NameForm, strip_sql_suffix
from ..errors import ManifestError, Problem, RefusedError, ScaffoldError, UsageError
from . import edit
from .manifest import duplicate_problems, read_manifest
from .revision import GIT_TIMEOUT_S


@dataclass(frozen=True)
class Move:
    source: Path
    target: Path
    shown: str  # the source as the manifest writes it


@dataclass(frozen=True)
class Renumbering:
    """What renumber will do, decided and checked before it does any of it."""

    manifest: Manifest
    migration: Migration  # as it is now
    stem: str  # its new NNN_name
    moves: tuple[Move, ...]  # the file, then its rollback when that bears the same name
    text: str  # the manifest's new text
    dependents: tuple[Migration, ...]  # entries whose depends_on names it
    rewritten: tuple[tuple[Path, str], ...] = ()  # (new path, new text): its own tracking row

    @property
    def label(self) -> str:
        return f"{self.migration.version}/{self.stem}"


def plan_renumber(path: Path, name: str, to: int | None) -> Renumbering:
    """Decide the move of migration `name` to number `to` (default: one more than the highest
    of its version); refuse anything that would leave the project worse, before any change."""
    loaded, text = _read_tolerating_repeats(path)
    migration = graph.resolve(name, loaded.migrations)
    number = _free_number(loaded.migrations, migration, to)
    stem = f"{number:03d}_{migration.stem.partition('_')[2]}"
    moves, changes = _moves(loaded.root, migration, stem)
    dependents = _dependents(loaded.migrations, migration, stem)
    for m, renamed in dependents:
        changes[m.entry - 1] = {a: b for a, b in zip(m.depends_on, renamed, strict=True) if a != b}
    renamed_by_entry = {m.entry: renamed for m, renamed in dependents}
    after = [replace(m, number=number, stem=stem) if m is migration
             else replace(m, depends_on=renamed_by_entry[m.entry]) if m.entry in renamed_by_entry else m
             for m in loaded.migrations]
    _refuse_new_problems(path, loaded.migrations, after, f"{migration.label} as {migration.version}/{stem}")
    comment = {migration.entry - 1: (f"# {migration.label}", f"# {migration.version}/{stem}")}
    try:
        new_text = edit.replace_strings(text, changes, comment)
    except edit.UneditableText as exc:
        raise RefusedError(f"{path}: cannot rewrite the entries that name {migration.label} in place: "
                           f"{exc}", "rename the files and edit `file`, `rollback` and each depends_on "
                           "by hand") from None
    rewritten = _own_row(moves[0], migration, stem) if loaded.settings.name_form is NameForm.STEM else ()
    return Renumbering(loaded, migration, stem, moves, new_text, tuple(m for m, _ in dependents), rewritten)


def _read_tolerating_repeats(path: Path) -> tuple[Manifest, str]:
    """The manifest and its text; refused with every problem `check` reports, but for the
    repeated numbers that renumber is there to fix."""
    try:
        data: bytes | None = path.read_bytes()
    except OSError:
        data = None  # read_manifest reports it
    loaded, problems = read_manifest(path, data)
    repeated = duplicate_problems(path, loaded.migrations)
    others = [p for p in problems if p not in repeated]
    if others or data is None:
        raise ManifestError([*others, Problem(str(path), "renumber changed nothing: it needs a manifest "
                                              "whose only problem is a repeated number",
                                              "fix the problems above (archon-plan check lists them)")])
    return loaded, data.decode("utf-8")


def _free_number(migrations: Sequence[Migration], migration: Migration, to: int | None) -> int:
    version = migration.version
    others = [m for m in migrations if m.version == version and m is not migration]
    number = to if to is not None else max(migration.number, *(m.number for m in others)) + 1
    if number > 999:
        raise RefusedError(f"version {version} has no number left after 999", "pass --to NNN, a free number")
    taken = next((m for m in others if m.number == number), None)
    if taken is not None:
        raise RefusedError(f"number {number:03d} of version {version} is taken by {taken.label}",
                           "leave --to out for the next free number, or choose a free one")
    if number == migration.number:
        raise UsageError(f"{migration.label} already has number {number:03d}")
    return number


def _moves(root: Path, migration: Migration, stem: str) -> tuple[tuple[Move, ...], dict[int, dict[str, str]]]:
    """The files to rename (as the manifest writes their paths) and the entry's new paths."""
    written = [migration.sql.display]
    if migration.rollback is not None and _file_name(migration.rollback.display) == migration.migration_name:
        written.append(migration.rollback.display)  # a rollback named otherwise keeps its name
    moves, paths = [], {}
    for display in written:
        source = root / display
        head, slash, _ = display.rpartition("/")
        paths[display] = f"{head}{slash}{stem}.sql"
        moves.append(Move(source, source.with_name(f"{stem}.sql"), display))
        if source.is_symlink():
            raise RefusedError(f"{display} is a symbolic link; renumber moves only regular files",
                               "rename it and edit the manifest by hand")
        if os.path.lexists(moves[-1].target):
            raise RefusedError(f"{paths[display]} already exists; renumber never overwrites a file",
                               "choose another number with --to, or move that file away")
    return tuple(moves), {migration.entry - 1: paths}


def _file_name(display: str) -> str:
    return display.rpartition("/")[2]


def _dependents(migrations: Sequence[Migration], moved: Migration, stem: str
                ) -> list[tuple[Migration, tuple[str, ...]]]:
    """The other migrations whose depends_on names the moved one, with their new depends_on."""
    named = [m for m in migrations if m.stem == moved.stem]  # the only ones a name can mean
    found = []
    for other in migrations:
        renamed = tuple(_dependency(d, other, moved, stem, named) for d in other.depends_on)
        if other is not moved and renamed != other.depends_on:
            found.append((other, renamed))
    return found


def _dependency(name: str, owner: Migration, moved: Migration, stem: str, named: Sequence[Migration]) -> str:
    """A depends_on string, renamed when it means the moved migration; its form (`NNN_name` or
    `VERSION/NNN_name`, `.sql` or not) kept."""
    given_version, slash, given = name.rpartition("/")
    if strip_sql_suffix(given) != moved.stem:
        return name
    try:
        found = graph.resolve(name, named, default_version=owner.version)
    except UsageError:
        return name  # `check` reports it
    suffix = ".sql" if given.endswith(".sql") else ""
    return f"{given_version}{slash}{stem}{suffix}" if found is moved else name


def _refuse_new_problems(path: Path, before: Sequence[Migration], after: Sequence[Migration],
                         what: str) -> None:
    """Refuse a renumbering that adds a problem: a dependent that would come before it, a
    repeated number. The problems that were there already are not its doing."""
    known = {p.message for p in [*graph.graph_and_problems(before, str(path))[1],
                                 *duplicate_problems(path, before)]}
    found = [*graph.graph_and_problems(after, str(path))[1], *duplicate_problems(path, after)]
    new = [p for p in found if p.message not in known]
    if new:
        raise ManifestError([*new, Problem(str(path), f"renumber changed nothing: {what} would give "
                                           "the problems above", "renumber the migrations that depend "
                                           "on it first, or choose another number with --to")])


def _own_row(move: Move, migration: Migration, stem: str) -> tuple[tuple[Path, str], ...]:
    """In a stem-named project (Archon's), the file's own tracking row (`create`'s template,
    for the SQL editor) names the migration: it gets the new name. Nothing else in a file
    changes, so git still sees the rename."""
    with move.source.open(encoding="utf-8", newline="") as handle:
        text = handle.read()
    row = re.compile(rf"(VALUES\s*\(\s*'{re.escape(migration.version)}'\s*,\s*'){re.escape(migration.stem)}'",
                     re.IGNORECASE)
    new = row.sub(lambda found: f"{found[1]}{stem}'", text)
    return ((move.target, new),) if new != text else ()


def carry_out(plan: Renumbering) -> list[bool]:
    """Move the files, rewrite the file's own row, then write the manifest; when a step fails,
    undo the steps before it. Returns, for each move, whether git made it."""
    undo: list[Callable[[], object]] = []
    by_git = []
    try:
        for move in plan.moves:
            git = _tracked(move.source)
            _move(move.source, move.target, git)
            undo.append(functools.partial(_move, move.target, move.source, git))
            by_git.append(git)
        for path, text in plan.rewritten:
            before = path.read_bytes()
            path.write_bytes(text.encode("utf-8"))
            undo.append(functools.partial(path.write_bytes, before))
        _replace(plan.manifest.path, plan.text)
    except (OSError, subprocess.SubprocessError) as exc:
        left = _undo(undo)
        raise ScaffoldError(f"renumber of {plan.migration.label} failed: {exc}; "
                            + (f"undoing it failed too: {left}" if left else "what it had done is undone"),
                            None if left else "fix the cause, then run renumber again") from None
    return by_git


def _undo(steps: list[Callable[[], object]]) -> str | None:
    """Run the undo steps, last first; the first failure, if any."""
    failed = None
    for step in reversed(steps):
        try:
            step()
        except (OSError, subprocess.SubprocessError) as exc:
            failed = failed or str(exc)
    return failed


def _tracked(path: Path) -> bool:
    """Whether git tracks the file (so `git mv` keeps it in the index, and `git log --follow`
    finds its history); False outside a work tree or without git."""
    try:
        done = subprocess.run(["git", "-C", str(path.parent), "ls-files", "--error-unmatch", "--", path.name],
                              capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _move(source: Path, target: Path, git: bool) -> None:
    if not git:
        os.rename(source, target)
        return
    done = subprocess.run(["git", "-C", str(source.parent), "mv", "--", source.name, target.name],
                          capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines() or ["git mv failed"]
        raise OSError(f"git mv {source.name} {target.name}: {said[-1]}")


def _replace(path: Path, text: str) -> None:
    """Write the manifest whole or not at all: a new file renamed over the old one."""
    trial = path.with_name(f".{path.name}.renumber-{os.getpid()}")
    try:
        trial.write_bytes(text.encode("utf-8"))
        shutil.copymode(path, trial)
        os.replace(trial, path)
    finally:
        trial.unlink(missing_ok=True)
