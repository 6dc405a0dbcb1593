"""SQL files in the migrations' folders that no manifest entry names: after an upstream pull,
Archon's own application lists them as pending while archon-plan would not see them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core.model import Migration
from .naming import FILE_NAME_RE


def unlisted_files(migrations: Sequence[Migration], root: Path) -> list[str]:
    """Every `*.sql` beside a listed migration file that no entry names (as `file` or
    `rollback`); and, where the files sit in version folders, every `NNN_name.sql` in the
    version folders beside them, a new release's folder included. Shown relative to root."""
    listed = {m.sql.path for m in migrations} | {m.rollback.path for m in migrations if m.rollback}
    versions = {m.version for m in migrations}
    folders = {m.sql.path.parent for m in migrations}
    siblings: set[Path] = set()
    for folder in folders:
        if folder.name in versions:
            siblings.update(p for p in folder.parent.iterdir() if p.is_dir() and p.name != "rollbacks")
    found = []
    for folder in sorted(folders | siblings):
        for path in sorted(folder.glob("*.sql")):
            named = folder in folders or FILE_NAME_RE.fullmatch(path.name)
            if named and path not in listed and path.is_file():
                found.append(path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path))
    return found
