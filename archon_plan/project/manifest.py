"""migrations.toml and the SQL files it names, read into Migration values."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.model import Manifest, Migration, NameForm, Settings
from ..errors import Problem
from . import files
from .entry import parse_entry
from .extensions import parse_hooks, parse_notify
from .lines import Lines, located, pydantic_problems, suggest
from .naming import IDENTIFIER_RE, TABLE_NAME_RE
from .schema import SettingsModel
from .schema import manifest_json_schema as manifest_json_schema  # the API names it here

TOP_KEYS = ("settings", "migration", "hook", "notify")


def read_manifest(path: Path, raw: bytes | None = None) -> tuple[Manifest, list[Problem]]:
    """Read a manifest (or parse `raw`, its bytes read by the caller), returning the valid
    part and every problem found."""
    files.real_folder.cache_clear()  # folders are resolved once per read, never across reads
    name = str(path)
    try:
        text = (files.read_bytes(str(path)) if raw is None else raw).decode("utf-8")
    except FileNotFoundError:
        hint = "pass --manifest PATH, or run `archon-plan init` to write one"
        return _empty(path), [Problem(name, "manifest not found", hint)]
    except (OSError, UnicodeDecodeError) as exc:
        return _empty(path), [Problem(name, f"cannot read manifest: {exc}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _empty(path), [Problem(name, f"invalid TOML: {exc}")]
    except RecursionError:
        return _empty(path), [Problem(name, "invalid TOML: nested too deeply")]
    return _parse(path, data, Lines(text))


def _empty(path: Path) -> Manifest:
    return Manifest(path=path, settings=Settings(), migrations=())


def _parse(path: Path, data: dict[str, Any], lines: Lines) -> tuple[Manifest, list[Problem]]:
    problems: list[Problem] = []
    for key in data:
        if key not in TOP_KEYS:
            problems.append(Problem(str(path), f"unknown top-level key {key!r}", suggest(key, TOP_KEYS)))
    settings = _parse_settings(path, data.get("settings", {}), lines, problems)
    raw_entries = data.get("migration", [])
    if not isinstance(raw_entries, list):
        problems.append(Problem(str(path), "`migration` must be an array of tables",
                                "write each migration as a [[migration]] table"))
        raw_entries = []
    migrations: list[Migration] = []
    root = str(path.parent)
    for index, raw in enumerate(raw_entries):
        migration = parse_entry(path, root, index, raw, lines, problems)
        if migration is not None:
            migrations.append(migration)
    problems.extend(duplicate_problems(path, migrations))
    text = "\n".join(lines.lines)
    hooks = parse_hooks(path, data.get("hook", []), text, problems)
    notify = parse_notify(path, data.get("notify", []), text, problems)
    return Manifest(path, settings, tuple(migrations), hooks, notify), problems


def _parse_settings(
    path: Path, raw: object, lines: Lines, problems: list[Problem]
) -> Settings:
    line = lines.table("settings")
    if not isinstance(raw, dict):
        problems.append(Problem(located(path, line), "[settings] must be a table"))
        return Settings()
    try:
        model = SettingsModel.model_validate(raw)
    except ValidationError as exc:
        where = lambda _line: located(path, line) + ": [settings]"  # noqa: E731
        problems.extend(pydantic_problems(exc, where, SettingsModel, lambda _key: line))
        return Settings()
    parts = model.tracking_table.split(".")
    if len(parts) == 1:
        parts = ["public", *parts]
    if len(parts) != 2 or not (IDENTIFIER_RE.fullmatch(parts[0]) and TABLE_NAME_RE.fullmatch(parts[1])):
        problems.append(Problem(
            located(path, line) + ": [settings]",
            f"tracking_table {model.tracking_table!r} is not a valid table name",
            "write `schema.table` or `table`, plain identifiers (letters, digits, _): the schema at "
            "most 63 characters, the table at most 48 (the names derived from it must fit 63)",
        ))
        return Settings()
    return Settings(
        tracking_schema=parts[0],
        tracking_table=parts[1],
        name_form=NameForm(model.recorded_name),
        lock_wait_s=model.lock_wait,
        lock_timeout=model.lock_timeout,
        statement_timeout=model.statement_timeout,
        lock_retries=model.lock_retries,
        long_running_after=model.long_running_after,
        windows=tuple(model.windows),
    )


def duplicate_problems(path: Path, migrations: Sequence[Migration]) -> list[Problem]:
    """Two entries with one number (or name) in a version: what two branches that each added
    a migration leave after their manifests merged."""
    problems = []
    seen: dict[tuple[str, object], Migration] = {}
    for migration in migrations:
        for key in ((migration.version, migration.number), (migration.version, migration.stem)):
            first = seen.setdefault(key, migration)
            if first is not migration:
                what = f"number {migration.number:03d}" if isinstance(key[1], int) else "name"
                problems.append(Problem(
                    located(path, migration.line, migration.entry - 1),
                    f"{migration.label} repeats the {what} of migration #{first.entry} "
                    f"(line {first.line}) in version {migration.version}",
                    f"numbers are unique within a version: `archon-plan renumber {migration.label}` "
                    "moves it to the next free number (renumber whichever of the two no database "
                    "has applied)",
                ))
                break
    return problems


def named_files(text: str) -> list[str]:
    """The `file` and `rollback` paths a manifest's text names, as written; [] if unreadable."""
    try:
        entries = tomllib.loads(text).get("migration", [])
    except (tomllib.TOMLDecodeError, RecursionError):
        return []  # read_manifest reports it, with its line
    if not isinstance(entries, list):
        return []
    return [value for item in entries if isinstance(item, dict)
            for value in (item.get("file"), item.get("rollback")) if isinstance(value, str)]
