"""migrations.toml and the SQL files it names, read into Migration values."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..core.model import (
    FILE_NAME_RE,
    FILE_NAME_RULE,
    IDENTIFIER_RE,
    TABLE_NAME_RE,
    UNSAFE_TEXT_RE,
    Manifest,
    Migration,
    NameForm,
    Settings,
    SqlFile,
)
from ..core.text import did_you_mean
from ..errors import Problem
from ..sql import rules
from . import files
from .schema import EntryModel, SettingsModel, version_problem
from .schema import manifest_json_schema as manifest_json_schema  # the API names it here

HEADER_RE = re.compile(r"^\s*\[\[\s*migration\s*\]\]")


class _Lines:
    """Maps manifest entries and keys to line numbers; tomllib keeps none."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [i + 1 for i, line in enumerate(self.lines) if HEADER_RE.match(line)]

    def entry(self, index: int) -> int | None:
        return self.headers[index] if index < len(self.headers) else None

    def key(self, index: int, key: str) -> int | None:
        start = self.entry(index)
        if start is None:
            return None
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines) + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, end):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def table(self, name: str) -> int | None:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        return next((i + 1 for i, ln in enumerate(self.lines) if pattern.match(ln)), None)


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
    return _parse(path, data, _Lines(text))


def _empty(path: Path) -> Manifest:
    return Manifest(path=path, settings=Settings(), migrations=())


def _parse(path: Path, data: dict[str, Any], lines: _Lines) -> tuple[Manifest, list[Problem]]:
    problems: list[Problem] = []
    for key in data:
        if key not in ("settings", "migration"):
            hint = _suggest(key, ("settings", "migration"))
            problems.append(Problem(str(path), f"unknown top-level key {key!r}", hint))
    settings = _parse_settings(path, data.get("settings", {}), lines, problems)
    raw_entries = data.get("migration", [])
    if not isinstance(raw_entries, list):
        problems.append(Problem(str(path), "`migration` must be an array of tables",
                                "write each migration as a [[migration]] table"))
        raw_entries = []
    migrations: list[Migration] = []
    root = str(path.parent)
    for index, raw in enumerate(raw_entries):
        migration = _parse_entry(path, root, index, raw, lines, problems)
        if migration is not None:
            migrations.append(migration)
    problems.extend(_duplicates(path, migrations))
    return Manifest(path=path, settings=settings, migrations=tuple(migrations)), problems


def _where(path: Path, line: int | None, entry: int | None = None) -> str:
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: migration #{entry + 1}" if entry is not None else where


def _suggest(word: str, choices: Sequence[str]) -> str:
    return did_you_mean(word, choices) or f"expected one of: {', '.join(choices)}"


def _pydantic_problems(
    exc: ValidationError,
    where: Callable[[int | None], str],
    model: type[BaseModel],
    line_of: Callable[[str], int | None],
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            hint = _suggest(key, tuple(model.model_fields))
            problems.append(Problem(f"{where(line_of(key))}", f"unknown key {key!r}", hint))
        else:
            problems.append(Problem(f"{where(line_of(key))}", f"{loc}: {error['msg']}"))
    return problems


def _parse_settings(
    path: Path, raw: object, lines: _Lines, problems: list[Problem]
) -> Settings:
    line = lines.table("settings")
    if not isinstance(raw, dict):
        problems.append(Problem(_where(path, line), "[settings] must be a table"))
        return Settings()
    try:
        model = SettingsModel.model_validate(raw)
    except ValidationError as exc:
        where = lambda _line: _where(path, line) + ": [settings]"  # noqa: E731
        problems.extend(_pydantic_problems(exc, where, SettingsModel, lambda _key: line))
        return Settings()
    parts = model.tracking_table.split(".")
    if len(parts) == 1:
        parts = ["public", *parts]
    if len(parts) != 2 or not (IDENTIFIER_RE.fullmatch(parts[0]) and TABLE_NAME_RE.fullmatch(parts[1])):
        problems.append(Problem(
            _where(path, line) + ": [settings]",
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
    )


def _parse_entry(
    path: Path, root: str, index: int, raw: object, lines: _Lines, problems: list[Problem]
) -> Migration | None:
    def where(line: int | None) -> str:
        return _where(path, line, index)

    def at(key: str) -> Callable[[], str]:  # found only for a problem: a scan of the entry's lines
        return lambda: where(lines.key(index, key))

    if not isinstance(raw, dict):
        problems.append(Problem(where(lines.entry(index)), "must be a table"))
        return None
    try:
        entry = EntryModel.model_validate(raw)
    except ValidationError as exc:
        problems.extend(
            _pydantic_problems(exc, where, EntryModel, lambda key: lines.key(index, key))
        )
        return None
    found = len(problems)
    bad_version = version_problem(entry.version)
    if bad_version:
        problems.append(Problem(at("version")(), *bad_version))
    if entry.description is not None and UNSAFE_TEXT_RE.search(entry.description):
        problems.append(Problem(at("description")(), "description holds a control character or a "
                                "bidirectional override, which release notes and terminals would show raw",
                                "remove it (write plain text; line breaks are fine)"))
    problems.extend(_allow_problems(entry, at("allow")))
    name = _file_name(entry.file)
    match = FILE_NAME_RE.fullmatch(name)
    if not match:
        problems.append(Problem(
            at("file")(),
            f"file name {name!r} does not follow the rule {FILE_NAME_RULE}",
            "rename the file, e.g. 001_add_users.sql",
        ))
    sql = _read_sql(root, entry.file, at("file"), problems)
    rollback = None
    if entry.rollback is not None:
        rollback = _read_sql(root, entry.rollback, at("rollback"), problems)
    if len(problems) > found or sql is None or match is None:
        return None
    return Migration(
        version=entry.version,
        number=int(match["number"]),
        stem=name.removesuffix(".sql"),
        sql=sql,
        rollback=rollback,
        depends_on=tuple(entry.depends_on),
        description=entry.description,
        lock_timeout=entry.lock_timeout,
        statement_timeout=entry.statement_timeout,
        transactional=entry.transactional,
        allow=frozenset(entry.allow),
        allow_reason=entry.allow_reason,
        entry=index + 1,
        line=lines.entry(index),
    )


def _file_name(path: str) -> str:
    """Path(path).name, without building a Path for each of 10,000 entries."""
    name = path.rpartition("/")[2]
    return name if name not in ("", ".") else Path(path).name


def _allow_problems(entry: EntryModel, where: Callable[[], str]) -> list[Problem]:
    problems = []
    for code in entry.allow:
        rule = rules.BY_CODE.get(code)
        if rule is None:
            hint = _suggest(code.strip().upper(), tuple(rules.BY_CODE))
            problems.append(Problem(where(), f"allow: {code!r} is not a lint rule", hint))
        elif not rule.allowable:
            problems.append(Problem(where(), f"allow: {code} ({rule.name}) is an error and cannot be allowed",
                                    "fix the SQL: an error would break the run or its history"))
    if entry.allow and not (entry.allow_reason or "").strip():
        problems.append(Problem(where(), "allow needs allow_reason",
                                'add allow_reason = "why this is safe here" to the entry'))
    return problems


def _read_sql(root: str, relative: str, where: Callable[[], str], problems: list[Problem]) -> SqlFile | None:
    try:
        return files.read_sql(root, relative)
    except files.UnusableFile as exc:
        problems.append(Problem(where(), exc.message, exc.hint))
        return None


def _duplicates(path: Path, migrations: Sequence[Migration]) -> list[Problem]:
    problems = []
    seen: dict[tuple[str, object], Migration] = {}
    for migration in migrations:
        for key in ((migration.version, migration.number), (migration.version, migration.stem)):
            first = seen.setdefault(key, migration)
            if first is not migration:
                what = f"number {migration.number:03d}" if isinstance(key[1], int) else "name"
                problems.append(Problem(
                    _where(path, migration.line, migration.entry - 1),
                    f"{migration.label} repeats the {what} of migration #{first.entry} "
                    f"(line {first.line}) in version {migration.version}",
                    "numbers and names are unique within a version: renumber one of them",
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
