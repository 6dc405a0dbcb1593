"""migrations.toml and the SQL files it names, read into Migration values."""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict

from . import rules
from .errors import ManifestError, Problem
from .model import (
    DEFAULT_TRACKING_TABLE,
    FILE_NAME_RE,
    FILE_NAME_RULE,
    Manifest,
    Migration,
    NameForm,
    Settings,
    SqlFile,
    duration_problem,
    normalize_sql_text,
)


def _duration(text: str) -> str:
    problem = duration_problem(text)
    if problem:
        raise ValueError(problem)
    return text


IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # used with fullmatch
HEADER_RE = re.compile(r"^\s*\[\[\s*migration\s*\]\]")
MAX_VERSION_LENGTH = 20  # archon_migrations.version is VARCHAR(20)
# PostgreSQL durations as its GUCs take them: "500ms", "5s", "2min", "1h"; "0" turns it off.
Duration = Annotated[str, AfterValidator(_duration)]
# Patterns for the JSON Schema only (ECMA-262 syntax): validation keeps its own, clearer messages.
_DURATION: JsonDict = {"pattern": "^[0-9]+(ms|s|min|h)?$"}
_TABLE_PATTERN = "^([A-Za-z_][A-Za-z0-9_]{0,62}[.])?[A-Za-z_][A-Za-z0-9_]{0,62}$"
_FILE_PATTERN = "(^|/)[0-9]{3}_[a-z0-9]+(_[a-z0-9]+)*[.]sql$"


class _SettingsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tracking_table: str = Field(
        default=DEFAULT_TRACKING_TABLE, json_schema_extra={"pattern": _TABLE_PATTERN},
        description="The table that records applied migrations: `schema.table`, or `table` in public.")
    recorded_name: Literal["file", "stem"] = Field(
        default="file", description="How new rows write migration_name: `001_x.sql` (file) or "
        "`001_x` (stem, as Archon's own SQL does).")
    lock_wait: float = Field(default=60.0, gt=0, description=(
        "Seconds to wait for another runner's migration lock before giving up (exit code 7)."))
    lock_timeout: Duration | None = Field(default="10s", json_schema_extra=_DURATION, description=(
        "PostgreSQL lock_timeout inside each migration: 500ms, 5s, 2min, 1h; \"0\" turns it off."))
    statement_timeout: Duration | None = Field(default=None, json_schema_extra=_DURATION, description=(
        "PostgreSQL statement_timeout inside each migration; unset: the server's own."))
    lock_retries: int = Field(default=3, ge=0, le=20, description=(
        "Retries, with backoff, of a migration that failed with lock_not_available (55P03)."))


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: str = Field(json_schema_extra={"maxLength": MAX_VERSION_LENGTH}, description=(
        "The release this migration belongs to, e.g. \"0.2.0\"; releases run in release order."))
    file: str = Field(json_schema_extra={"pattern": _FILE_PATTERN}, description=(
        "The forward SQL file, relative to the manifest, named NNN_snake_case_name.sql."))
    rollback: str | None = Field(default=None, description=(
        "The SQL file that undoes `file`, relative to the manifest; `revert` needs it."))
    depends_on: list[str] = Field(default_factory=list, description=(
        "Earlier migrations this one needs: `NNN_name` in the same version, or `VERSION/NNN_name`."))
    description: str | None = Field(default=None, description="Free text; release notes show it.")
    lock_timeout: Duration | None = Field(default=None, json_schema_extra=_DURATION, description=(
        "This migration's PostgreSQL lock_timeout, over [settings]."))
    statement_timeout: Duration | None = Field(default=None, json_schema_extra=_DURATION, description=(
        "This migration's PostgreSQL statement_timeout, over [settings]."))
    transactional: bool = Field(default=True, description=(
        "false: run one statement at a time in autocommit, for CREATE INDEX CONCURRENTLY and the like."))
    allow: list[str] = Field(default_factory=list, json_schema_extra={"items": {"enum": [
        rule.code for rule in rules.RULES if rule.allowable]}}, description=(
        "Lint warnings `check` accepts for this migration, e.g. [\"AP201\"]; needs allow_reason."))
    allow_reason: str | None = Field(default=None, description=(
        "Why the allowed warnings are safe here, for the reviewer."))


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


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest, raising ManifestError with every problem."""
    manifest, problems = read_manifest(path)
    if problems:
        raise ManifestError(problems)
    return manifest


def read_manifest(path: Path) -> tuple[Manifest, list[Problem]]:
    """Read a manifest, returning the valid part and every problem found."""
    _resolved.cache_clear()  # folders are resolved once per read, never across reads
    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
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
            hint = _did_you_mean(key, ("settings", "migration"))
            problems.append(Problem(str(path), f"unknown top-level key {key!r}", hint))
    settings = _parse_settings(path, data.get("settings", {}), lines, problems)
    raw_entries = data.get("migration", [])
    if not isinstance(raw_entries, list):
        problems.append(Problem(str(path), "`migration` must be an array of tables",
                                "write each migration as a [[migration]] table"))
        raw_entries = []
    migrations: list[Migration] = []
    for index, raw in enumerate(raw_entries):
        migration = _parse_entry(path, index, raw, lines, problems)
        if migration is not None:
            migrations.append(migration)
    problems.extend(_duplicates(path, migrations))
    return Manifest(path=path, settings=settings, migrations=tuple(migrations)), problems


def _where(path: Path, line: int | None, entry: int | None = None) -> str:
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: migration #{entry + 1}" if entry is not None else where


def _did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(choices)}"


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
            hint = _did_you_mean(key, tuple(model.model_fields))
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
        model = _SettingsModel.model_validate(raw)
    except ValidationError as exc:
        where = lambda _line: _where(path, line) + ": [settings]"  # noqa: E731
        problems.extend(_pydantic_problems(exc, where, _SettingsModel, lambda _key: line))
        return Settings()
    parts = model.tracking_table.split(".")
    if len(parts) == 1:
        parts = ["public", *parts]
    if len(parts) != 2 or not all(IDENTIFIER_RE.fullmatch(part) for part in parts):
        problems.append(Problem(
            _where(path, line) + ": [settings]",
            f"tracking_table {model.tracking_table!r} is not a valid table name",
            "write `schema.table` or `table`, each a plain identifier (letters, digits, _)",
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
    path: Path, index: int, raw: object, lines: _Lines, problems: list[Problem]
) -> Migration | None:
    def where(line: int | None) -> str:
        return _where(path, line, index)

    if not isinstance(raw, dict):
        problems.append(Problem(where(lines.entry(index)), "must be a table"))
        return None
    try:
        entry = _EntryModel.model_validate(raw)
    except ValidationError as exc:
        problems.extend(
            _pydantic_problems(exc, where, _EntryModel, lambda key: lines.key(index, key))
        )
        return None
    found = len(problems)
    _check_version(entry.version, where(lines.key(index, "version")), problems)
    _check_allow(entry, where(lines.key(index, "allow")), problems)
    match = FILE_NAME_RE.fullmatch(Path(entry.file).name)
    if not match:
        problems.append(Problem(
            where(lines.key(index, "file")),
            f"file name {Path(entry.file).name!r} does not follow the rule {FILE_NAME_RULE}",
            "rename the file, e.g. 001_add_users.sql",
        ))
    sql = _read_sql(path.parent, entry.file, where(lines.key(index, "file")), problems)
    rollback = None
    if entry.rollback is not None:
        rollback_where = where(lines.key(index, "rollback"))
        rollback = _read_sql(path.parent, entry.rollback, rollback_where, problems)
    if len(problems) > found or sql is None or match is None:
        return None
    return Migration(
        version=entry.version,
        number=int(match["number"]),
        stem=Path(entry.file).name.removesuffix(".sql"),
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


def _check_version(version: str, where: str, problems: list[Problem]) -> None:
    try:
        Version(version)
    except InvalidVersion:
        problems.append(Problem(where, f"version {version!r} is not a release number",
                                "write it like 0.1.0"))
        return
    if len(version) > MAX_VERSION_LENGTH:
        problems.append(Problem(where, f"version {version!r} is longer than 20 characters",
                                "the tracking table stores versions as VARCHAR(20)"))


def _check_allow(entry: _EntryModel, where: str, problems: list[Problem]) -> None:
    for code in entry.allow:
        rule = rules.BY_CODE.get(code)
        if rule is None:
            hint = _did_you_mean(code.strip().upper(), tuple(rules.BY_CODE))
            problems.append(Problem(where, f"allow: {code!r} is not a lint rule", hint))
        elif not rule.allowable:
            problems.append(Problem(where, f"allow: {code} ({rule.name}) is an error and cannot be allowed",
                                    "fix the SQL: an error would break the run or its history"))
    if entry.allow and not (entry.allow_reason or "").strip():
        problems.append(Problem(where, "allow needs allow_reason",
                                'add allow_reason = "why this is safe here" to the entry'))


@functools.lru_cache(maxsize=1024)
def _resolved(folder: Path) -> Path:
    return folder.resolve()


def _resolve(root: Path, relative: str) -> Path:
    """(root / relative).resolve(), resolving each folder once: at 10,000 files a full
    resolve per file (an lstat per path component) was a third of `check`."""
    joined = root / relative
    if joined.is_symlink() or ".." in joined.parts:
        return joined.resolve()
    return _resolved(joined.parent) / joined.name


def _read_sql(root: Path, relative: str, where: str, problems: list[Problem]) -> SqlFile | None:
    try:
        path = _resolve(root, relative)
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop; a NUL byte
        problems.append(Problem(where, f"{relative} cannot be resolved: {exc}"))
        return None
    if not path.is_relative_to(_resolved(root)):
        problems.append(Problem(where, f"{relative} lies outside the project folder {root}",
                                "keep migrations beside the manifest"))
        return None
    try:
        text = normalize_sql_text(path.read_bytes())
    except FileNotFoundError:
        problems.append(Problem(where, f"{relative} not found",
                                "fix the path (relative to the manifest) or create the file"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(where, f"{relative} is not UTF-8 text (byte {exc.start})",
                                "save the file as UTF-8"))
        return None
    except (OSError, ValueError) as exc:
        problems.append(Problem(where, f"{relative} cannot be read: {exc}"))
        return None
    if not text.strip():
        problems.append(Problem(where, f"{relative} is empty", "write its SQL, or remove it"))
        return None
    return SqlFile(path=path, display=relative, text=text)


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


def render_entries(entries: Sequence[Mapping[str, Any]]) -> str:
    """TOML text for [[migration]] entries, as `create` and `init` write them.

    Each entry gets its own header: tomli_w would inline a short array of tables,
    which after a [settings] table would land inside it.
    """
    blocks = []
    for entry in entries:
        clean = {key: value for key, value in entry.items() if value not in (None, [])}
        blocks.append("[[migration]]\n" + tomli_w.dumps(clean))
    return "\n".join(blocks)


def render_settings(settings: Mapping[str, Any]) -> str:
    return "[settings]\n" + tomli_w.dumps(dict(settings))


SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"  # the newest draft Taplo's validator knows


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of migrations.toml, for editors that validate TOML as it is typed."""
    entry = _toml_schema(_EntryModel.model_json_schema(), "[[migration]]")
    settings = _toml_schema(_SettingsModel.model_json_schema(), "[settings]")
    definitions = {**settings.pop("$defs", {}), **entry.pop("$defs", {})}  # refs point at the root
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "archon-plan migrations.toml",
        "description": "The manifest of an archon-plan project: settings and every migration.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "settings": {**settings, "description": "Project-wide settings; every key is optional."},
            "migration": {"type": "array", "items": entry,
                          "description": "Every migration: a release, a SQL file, its rollback."},
        },
        **({"$defs": definitions} if definitions else {}),
    }


def _toml_schema(schema: dict[str, Any], title: str) -> dict[str, Any]:
    """TOML has no null: `X | None` is just X, and an absent key needs no null default."""
    for prop in schema.get("properties", {}).values():
        options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    return {**schema, "title": title}


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
