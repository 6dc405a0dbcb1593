"""A cache of the validated manifest and its graph, so an unchanged manifest is not parsed again.

`status` and a no-op `apply` run in every deploy and CI job; validating migrations.toml
with pydantic and ordering it with networkx costs more than the database queries (their
imports alone: docs/performance.md). The cache holds the structure only: it is keyed on the
manifest's bytes and the tool's version. Each SQL file's checksum is kept with the file's
stamp (mode, device, inode, size, modification and change times, as git's index keeps them):
a file whose stamp is unchanged is not read again until its text is needed, and is then
refused if its checksum differs (core/sqlfile.py SqlFile); any other file is read and hashed
on each run, so a changed file is always seen. It lives in the user's cache folder, never
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
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..core.graph import MigrationGraph
from ..core.model import Manifest, Migration, Settings
from ..core.sqlfile import SqlFile, checksum, normalize_sql_text
from ..errors import RefusedError
from . import files

if TYPE_CHECKING:
    from ..core.extensions import Hook, Notify

FORMAT = 5  # 3: lint memos keep each finding's location as [file, line, column]; 4: hooks, notify;
# 5: each SQL file's checksum and stamp
_FIELDS = tuple(f.name for f in dataclasses.fields(Migration))
_SQL, _ROLLBACK = _FIELDS.index("sql"), _FIELDS.index("rollback")


def folder(env: Mapping[str, str]) -> Path:
    """The cache folder, from the environment app.py read: $XDG_CACHE_HOME or ~/.cache."""
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archon-plan"


def _entry_path(cache: Path, manifest_path: Path) -> Path:
    name = hashlib.md5(str(manifest_path.resolve()).encode()).hexdigest()
    return cache / f"{name}.json"


def _key(manifest_bytes: bytes) -> str:
    return f"{FORMAT}:{__version__}:{hashlib.md5(manifest_bytes).hexdigest()}"


def _root(manifest_path: Path) -> str:
    return os.path.join(manifest_path.resolve().parent, "")  # with a trailing separator


def load(cache: Path, manifest_path: Path) -> tuple[Manifest, MigrationGraph] | None:
    """The cached manifest and graph; SQL files vouched for by their stamps or read afresh."""
    try:
        key = _key(files.read_bytes(str(manifest_path)))
        entry = _entry_path(cache, manifest_path)
        data = json.loads(entry.read_text(encoding="utf-8"))
        if data.get("key") != key or data["fields"] != list(_FIELDS):
            return None
        files.real_folder.cache_clear()  # folders are resolved once per load, never across loads
        reading = _Reading(_root(manifest_path), entry)
        migrations = tuple(_migration(row, reading) for row in data["migrations"])
        settings = _values(Settings, data["settings"])
        requires = {m.key: tuple((str(v), str(s)) for v, s in deps)
                    for m, deps in zip(migrations, data["requires"], strict=True)}
        order = tuple(migrations[i] for i in data["order"])
        if sorted(data["order"]) != list(range(len(migrations))):
            return None
        hooks, notify = _extensions(data) if data["hooks"] or data["notify"] else ((), ())
    except (OSError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return None
    if reading.restamped:  # the rows were updated in place: the next run reads fewer files
        _write(entry, data)
    return Manifest(manifest_path, settings, migrations, hooks, notify), MigrationGraph(order, requires)


def _extensions(data: dict[str, Any]) -> tuple[tuple[Hook, ...], tuple[Notify, ...]]:
    from ..core.extensions import Hook, HookPoint, Notify, NotifyFormat, NotifyKind  # most have none

    hooks = tuple(Hook(HookPoint(h["when"]), tuple(h["run"]), h["timeout"], h["line"]) for h in data["hooks"])
    notify = tuple(Notify(n["url_env"], NotifyFormat(n["format"]), tuple(map(NotifyKind, n["on"])),
                          n["secret_env"], n["line"]) for n in data["notify"])
    return hooks, notify


def store(cache: Path, manifest_path: Path, manifest: Manifest, graph: MigrationGraph,
          parsed: bytes | None = None) -> None:
    """Remember a manifest that loaded without problems; best effort (a read-only home is fine).
    `parsed` is the manifest's bytes that were parsed: keyed on them, a manifest that changed
    while it was read can never store an old parse under the new bytes. Each migration is a
    row of its field values, named once in `fields`: half the JSON of one object per
    migration, and twice as fast to read."""
    root = _root(manifest_path)
    index = {m.key: i for i, m in enumerate(manifest.migrations)}
    data = {
        "key": _key(files.read_bytes(str(manifest_path)) if parsed is None else parsed),
        "settings": {f.name: _plain(getattr(manifest.settings, f.name), root)
                     for f in dataclasses.fields(Settings)},
        "fields": _FIELDS,
        "migrations": [[_plain(getattr(m, name), root) for name in _FIELDS] for m in manifest.migrations],
        "requires": [[list(k) for k in graph.requires.get(m.key, ())] for m in manifest.migrations],
        "order": [index[m.key] for m in graph.order],
        "hooks": [dataclasses.asdict(h) for h in manifest.hooks],
        "notify": [dataclasses.asdict(n) for n in manifest.notify],
    }
    _write(_entry_path(cache, manifest_path), data)


def _write(path: Path, data: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        partial.replace(path)  # atomic: a concurrent reader sees the old file or the new one


def _plain(value: Any, root: str) -> Any:
    """A field's value as JSON; a SQL file as [display, its resolved path unless root + display,
    checksum, stamp]."""
    if isinstance(value, SqlFile):
        path = value.filename
        return [value.display, None if path == root + value.display else path, value.checksum,
                None if value.stamp is None else list(value.stamp)]
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _values(kind: Any, data: dict[str, Any]) -> Any:
    """Rebuild a frozen dataclass, restoring tuples, frozensets and enums from its defaults."""
    return kind(**{name: data[name] if convert is None else convert(data[name])
                   for name, convert in _converters(kind)})


@functools.cache
def _converters(kind: Any) -> tuple[tuple[str, Any], ...]:
    """Each field with the type its JSON value must become (None: as it is); once per class."""
    return tuple((f.name, type(f.default) if isinstance(f.default, Enum | tuple | frozenset) else None)
                 for f in dataclasses.fields(kind))


# (index, type) of Migration's fields whose JSON value becomes a tuple, frozenset or enum
_CONVERTED = tuple((i, convert) for i, (_, convert) in enumerate(_converters(Migration)) if convert)


def _migration(row: list[Any], reading: _Reading) -> Migration:
    if len(row) != len(_FIELDS):
        raise ValueError(row)
    values = list(row)
    for index, convert in _CONVERTED:
        values[index] = convert(values[index])
    values[_SQL] = reading.file(values[_SQL])
    if values[_ROLLBACK] is not None:
        values[_ROLLBACK] = reading.file(values[_ROLLBACK])
    return Migration(*values)


class _Reading:
    """One load's SQL files: vouched for by their stamps, or read afresh and restamped."""

    def __init__(self, root: str, entry: Path) -> None:
        self.root = root
        self.entry = entry
        self.restamped = False  # some stored file changed: the cache entry is rewritten

    def file(self, stored: list[Any]) -> SqlFile:
        """A file as the manifest loader would give it; anything it would object to is a miss.
        Its path must still lead to the same file (a retargeted folder symlink must not keep
        the old one): the stamp is taken through the path as the manifest writes it."""
        display, resolved, digest, stamp = stored
        path = resolved or self.root + display
        if not path.startswith(self.root):
            raise ValueError(path)
        if stamp is not None and self._leads_to(display, path):
            try:
                status = os.lstat(self.root + display)
            except OSError:
                status = None
            now = None if status is None else files.stamp(status)
            if now is not None and now == tuple(stamp):
                return SqlFile(path, display, checksum=digest, reader=self.reread, stamp=now)
        data, status = _read_resolved(self.root, display, path)
        text = normalize_sql_text(data)
        if not text.strip():
            raise ValueError(path)
        sql = SqlFile(path, display, text, stamp=files.settled_stamp(status))
        fresh = [display, resolved, sql.checksum, None if sql.stamp is None else list(sql.stamp)]
        if fresh != stored:
            stored[:] = fresh
            self.restamped = True
        return sql

    def _leads_to(self, display: str, path: str) -> bool:
        """Whether root/display still leads to `path` through its folders (each resolved once
        per load): the same inode reached elsewhere (a hard link, a bind mount) has the same
        stamp, but its first use would find the path changed and refuse on every run."""
        folder, name = os.path.split(os.path.join(self.root, display))
        return os.path.join(files.real_folder(folder), name) == path

    def reread(self, file: SqlFile) -> str:
        """The text of a file vouched for by its stamp, at its first use; SqlFile compares it
        with the checksum it was vouched for with. One that no longer matches, or cannot be
        read, drops the cache entry: were the entry wrong rather than the file, the next run
        reads every file afresh instead of refusing again."""
        try:
            text = normalize_sql_text(_read_resolved(self.root, file.display, file.filename)[0])
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self._forget()
            raise RefusedError(f"{file.display} changed while archon-plan ran: {exc}",
                               "run the command again") from None
        if checksum(text) != file.checksum:
            self._forget()
        return text

    def _forget(self) -> None:
        with contextlib.suppress(OSError):
            self.entry.unlink()


def _read_resolved(root: str, display: str, path: str) -> tuple[bytes, os.stat_result]:
    """The bytes of root/display, which must still resolve to `path`, and its status: each
    folder resolved once per load, and the file itself opened without following a symlink.
    This runs for every file not vouched for, so strings and os calls, not pathlib and open()."""
    joined = os.path.join(root, display)
    # A symlinked file fails to open with NOFOLLOW and takes the full resolve: no lstat per
    # file. Where the flag is missing (Windows), os.path.islink asks instead.
    if ".." not in display.split("/") and (files.NOFOLLOW or not os.path.islink(joined)):
        folder, name = os.path.split(joined)
        if os.path.join(files.real_folder(folder), name) == path:
            with contextlib.suppress(OSError):  # now a symlink (ELOOP), or gone: resolve in full
                return files.read_stamped(path, files.NOFOLLOW)
    if os.path.realpath(joined) != path:
        raise ValueError(path)
    return files.read_stamped(path)


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


class Memo:
    """Results kept for a manifest between runs (load_memo, store_memo), read at their first
    use and written back only when one was added: a run that needs none reads nothing."""

    def __init__(self, cache: Path, manifest_path: Path, kind: str) -> None:
        self._where = (cache, manifest_path, kind)
        self._entries: dict[str, Any] | None = None
        self._added = False

    def _loaded(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = load_memo(*self._where)
        return self._entries

    def get(self, key: str) -> Any:
        return self._loaded().get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._loaded()[key] = value
        self._added = True

    def save(self, keep: Callable[[str], bool]) -> None:
        """Write the entries back, only those `keep` still wants (best effort)."""
        if self._added and self._entries is not None:
            store_memo(*self._where, {k: v for k, v in self._entries.items() if keep(k)})
