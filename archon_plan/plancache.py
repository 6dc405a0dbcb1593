"""A cache of the validated manifest and its graph, so an unchanged manifest is not parsed again.

`status` and a no-op `apply` run in every deploy and CI job; validating migrations.toml
with pydantic and ordering it with networkx costs more than the database queries (the
imports alone take about 150 ms). The cache holds the structure only: it is keyed on the
manifest's bytes and the tool's version, and every SQL file is still read and hashed on
each run, so a changed file is always seen. It lives in the user's cache folder, never
in the project, so a file committed to a repository cannot feed it. JSON, not pickle:
reading it never runs code. Any doubt (missing, unreadable, stale) is a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from . import __version__
from .graph import MigrationGraph
from .model import Manifest, Migration, Settings, SqlFile, normalize_sql_text

FORMAT = 1


def folder(env: Mapping[str, str]) -> Path:
    """The cache folder, from the environment cli.py read: $XDG_CACHE_HOME or ~/.cache."""
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archon-plan"


def _entry_path(cache: Path, manifest_path: Path) -> Path:
    name = hashlib.md5(str(manifest_path.resolve()).encode()).hexdigest()
    return cache / f"{name}.json"


def _key(manifest_bytes: bytes) -> str:
    return f"{FORMAT}:{__version__}:{hashlib.md5(manifest_bytes).hexdigest()}"


def load(cache: Path, manifest_path: Path) -> tuple[Manifest, MigrationGraph] | None:
    """The cached manifest and graph with every SQL file read afresh, or None."""
    try:
        key = _key(manifest_path.read_bytes())
        data = json.loads(_entry_path(cache, manifest_path).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        _real_folder.cache_clear()  # folders are resolved once per load, never across loads
        root = os.path.join(manifest_path.resolve().parent, "")  # with a trailing separator
        migrations = tuple(_migration(item, root) for item in data["migrations"])
        settings = _values(Settings, data["settings"])
        requires = {m.key: tuple((str(v), str(s)) for v, s in deps)
                    for m, deps in zip(migrations, data["requires"], strict=True)}
        order = tuple(migrations[i] for i in data["order"])
        if sorted(data["order"]) != list(range(len(migrations))):
            return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return None
    return Manifest(manifest_path, settings, migrations), MigrationGraph(order, requires)


def store(cache: Path, manifest_path: Path, manifest: Manifest, graph: MigrationGraph) -> None:
    """Remember a manifest that loaded without problems; best effort (a read-only home is fine)."""
    index = {m.key: i for i, m in enumerate(manifest.migrations)}
    data = {
        "key": _key(manifest_path.read_bytes()),
        "settings": _plain(manifest.settings),
        "migrations": [_plain(m) for m in manifest.migrations],
        "requires": [[list(k) for k in graph.requires.get(m.key, ())] for m in manifest.migrations],
        "order": [index[m.key] for m in graph.order],
    }
    _write(_entry_path(cache, manifest_path), data)


def _write(path: Path, data: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(data), encoding="utf-8")
        partial.replace(path)  # atomic: a concurrent reader sees the old file or the new one


def _plain(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if isinstance(item, SqlFile):
            item = [str(item.path), item.display]
        elif isinstance(item, frozenset):
            item = sorted(item)
        elif isinstance(item, tuple):
            item = list(item)
        out[f.name] = item
    return out


def _values(kind: Any, data: dict[str, Any], **given: Any) -> Any:
    """Rebuild a frozen dataclass, restoring tuples, frozensets and enums from its defaults."""
    arguments = dict(given)
    for name, convert in _converters(kind):
        if name not in arguments:
            value = data[name]
            arguments[name] = value if convert is None else convert(value)
    return kind(**arguments)


@functools.cache
def _converters(kind: Any) -> tuple[tuple[str, Any], ...]:
    """Each field with the type its JSON value must become (None: as it is); once per class."""
    return tuple((f.name, type(f.default) if isinstance(f.default, Enum | tuple | frozenset) else None)
                 for f in dataclasses.fields(kind))


def _migration(item: dict[str, Any], root: str) -> Migration:
    sql = _read(item["sql"], root)
    rollback = _read(item["rollback"], root) if item["rollback"] else None
    return _values(Migration, item, sql=sql, rollback=rollback)  # type: ignore[no-any-return]


def _read(stored: list[str], root: str) -> SqlFile:
    """Read a SQL file as the manifest loader does; anything it would object to is a miss.
    The path is resolved again (a retargeted folder symlink must not keep the old file);
    strings, not pathlib, and each folder once: this runs for every file on every `status`."""
    path, display = stored
    if _resolve(root, display) != path or not path.startswith(root):
        raise ValueError(path)
    with open(path, "rb") as file:
        text = normalize_sql_text(file.read())
    if not text.strip():
        raise ValueError(path)
    return SqlFile(path=Path(path), display=display, text=text)


def _resolve(root: str, relative: str) -> str:
    joined = os.path.join(root, relative)
    if ".." in relative.split("/") or os.path.islink(joined):
        return os.path.realpath(joined)
    folder, name = os.path.split(joined)
    return os.path.join(_real_folder(folder), name)


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


def load_memo(cache: Path, manifest_path: Path, kind: str) -> dict[str, Any]:
    """Results another command kept for this manifest (e.g. lint findings by file checksums)."""
    try:
        data = json.loads(_entry_path(cache, manifest_path).with_suffix(f".{kind}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("key") != _key(b""):
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def store_memo(cache: Path, manifest_path: Path, kind: str, entries: dict[str, Any]) -> None:
    path = _entry_path(cache, manifest_path).with_suffix(f".{kind}.json")
    _write(path, {"key": _key(b""), "entries": entries})
