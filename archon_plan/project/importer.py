"""`archon-plan import`: another tool's project copied into the archon-plan layout with its
manifest; checked as `check` would before anything is written, and never overwriting."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.adoption import Placed, Tool, Versions, place
from ..errors import ScaffoldError
from .scaffold import (
    MANIFEST_HEADER,
    refuse_what_check_would,
    relative,
    render_entries,
    render_settings,
    write_new,
)
from .sources import read_folders, read_source


@dataclass(frozen=True)
class Layout:
    """What import would write: every file's text by its path, the manifest last."""

    manifest: Path
    text: str  # the manifest's
    files: Mapping[Path, str]
    placed: list[Placed]
    notice: str | None  # why `--versions year` fell back to one version


def plan_import(tool: Tool, source: Path, into: Path, manifest: Path, versions: Versions) -> Layout:
    """Read the source and lay it out in versions of NNN_name.sql files; nothing is written.
    SourceError (exit 4) for a problem in the source."""
    placed, notice = place(read_source(tool, source), versions)
    root = manifest.parent
    for folder in read_folders(tool, source):
        _refuse_inside(into, folder)
        _refuse_inside(manifest, folder)
    labels = {p.migration.original: p.label for p in placed}
    files: dict[Path, str] = {}
    entries = []
    for item in placed:
        migration, folder = item.migration, into / item.version
        sql, rollback = folder / f"{item.stem}.sql", folder / "rollbacks" / f"{item.stem}.sql"
        files[sql] = migration.sql
        if migration.rollback is not None:
            files[rollback] = migration.rollback
        entries.append({
            "version": item.version,
            "file": relative(sql, root),
            "rollback": relative(rollback, root) if migration.rollback is not None else None,
            "irreversible": True if migration.irreversible else None,
            "transactional": None if migration.transactional else False,
            "depends_on": [labels[name] for name in migration.depends_on],
            "description": migration.description,
            "imported_from": migration.original,
        })
    settings: dict[str, Any] = {"tracking_table": "public.archon_migrations"}
    text = MANIFEST_HEADER + "\n" + render_settings(settings) + "\n" + render_entries(entries)
    return Layout(manifest, text, files, placed, notice)


def _refuse_inside(path: Path, source: Path) -> None:
    """The source folder is left as it is: nothing is written in it."""
    path, source = path.resolve(), source.resolve()
    if path == source or source in path.parents:
        raise ScaffoldError(f"{path} lies in the source folder {source}, which import leaves untouched",
                            "pass --into (or --manifest) another folder, e.g. --into db/archon")


def write_import(layout: Layout) -> None:
    """Write every file and then the manifest, or nothing: refused (exit 5) when one exists,
    refused (exit 4) when `check` would reject the result."""
    existing = [p for p in (layout.manifest, *layout.files) if p.exists()]
    if existing:
        raise ScaffoldError(f"{existing[0]} already exists ({len(existing)} file(s) in the way); "
                            "archon-plan never overwrites a file, and nothing was written",
                            "pass another --into or --manifest, or remove them")
    _check_staged(layout)
    written: list[Path] = []
    try:
        for path, text in [*layout.files.items(), (layout.manifest, layout.text)]:
            write_new(path, text)
            written.append(path)
    except BaseException:
        for path in written:  # all or nothing: a file that appeared meanwhile stops the import
            path.unlink(missing_ok=True)
        raise


def _check_staged(layout: Layout) -> None:
    """The files and manifest written to a staging folder beside the manifest (so paths
    resolve as they will) and read as `check` reads them."""
    root = layout.manifest.parent
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".archon-import-{os.getpid()}"
    try:
        for path, text in layout.files.items():
            write_new(staging / path.resolve().relative_to(root.resolve()), text)
        write_new(staging / layout.manifest.name, layout.text)
        refuse_what_check_would(staging / layout.manifest.name, layout.manifest, "import")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
