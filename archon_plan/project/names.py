"""Migration and fleet target names read straight from the files, for shell completion: no
validation and no pydantic, and nothing raised or printed, whatever the files hold."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from . import files
from .naming import FILE_NAME_RE, UNSAFE_TEXT_RE

DESCRIPTION_CHARS = 60  # what a shell shows beside a name


def migration_names(manifest: Path) -> dict[str, str]:
    """`VERSION/NNN_name` of each [[migration]] entry with a version and a well-named file, in
    manifest order, each with the start of its description."""
    entries = _document(manifest).get("migration")
    names: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        version, file = (entry.get("version"), entry.get("file")) if isinstance(entry, dict) else (0, 0)
        if isinstance(version, str) and isinstance(file, str):
            name = file.rpartition("/")[2]
            if FILE_NAME_RE.fullmatch(name):
                names[f"{version}/{name.removesuffix('.sql')}"] = _shown(entry.get("description"))
    return names


def target_names(fleet_file: Path) -> list[str]:
    """The name of each [[target]] of a fleet file (tenant targets need the database)."""
    targets = _document(fleet_file).get("target")
    found = [t.get("name") for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []
    return [name for name in found if isinstance(name, str)]


def _document(path: Path) -> dict[str, Any]:
    try:  # read_bytes: a FIFO or /dev/zero named as the manifest cannot hang the shell
        return tomllib.loads(files.read_bytes(str(path)).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not UTF-8 or not TOML
        return {}


def _shown(description: object) -> str:
    if not isinstance(description, str) or not description.strip():
        return ""
    line = UNSAFE_TEXT_RE.sub(" ", description.strip().splitlines()[0])
    return line if len(line) <= DESCRIPTION_CHARS else line[:DESCRIPTION_CHARS - 1] + "…"
