"""fleet.toml read into a Fleet: every problem of the file at once, each with its line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path, PureWindowsPath
from typing import Any, TypeVar

from pydantic import ValidationError

from ..core.fleet import DEFAULT_FLEET_FILE as DEFAULT_FLEET_FILE  # where callers have found it
from ..core.fleet import Fleet, FleetSettings, OnError, TargetSpec
from ..errors import ManifestError, Problem
from . import files
from .fleet_schema import ENV_NAME_RE, NAME_RE, NAME_RULE, SECRET_KEYS, FleetModel, TargetModel
from .fleet_schema import fleet_json_schema as fleet_json_schema  # the API names it here
from .lines import ANY_HEADER_RE, Lines, pydantic_problems, suggest

_TOML_LINE_RE = re.compile(r"\(at line ([0-9]+), column [0-9]+\)$")
_TOP_KEYS = ("fleet", "target")
_WRITE_ONE = ('write it: one [[target]] per database, with name = "eu" and url_env = "EU_DATABASE_URL" '
              "(the environment variable that holds its URL)")
_Where = Callable[[str], str]  # a key of a table -> `file:line: table`, for a problem's place
_Model = TypeVar("_Model", FleetModel, TargetModel)


class _Lines(Lines):
    """The manifest's line finder, with [[target]] headers for entries and keys of [fleet]."""

    def __init__(self, text: str) -> None:
        super().__init__(text, "target")

    def setting(self, key: str) -> int | None:
        """The line of `key` in [fleet], else of [fleet] itself."""
        start = self.table("fleet")
        if start is None:
            return None
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            if ANY_HEADER_RE.match(self.lines[number - 1]):
                break
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def top(self, key: str) -> int | None:
        """The first line that opens `[key]`, `[[key]]` or assigns `key`."""
        name = re.escape(key)
        pattern = re.compile(rf"^\s*(\[\[?\s*[\"']?{name}[\"']?\s*[].]|[\"']?{name}[\"']?\s*[=.])")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)


def load_fleet(path: Path) -> Fleet:
    """The fleet file at `path`; raises ManifestError with every problem it has."""
    fleet, problems = _read_fleet(path)
    if problems:
        raise ManifestError(problems)
    return fleet


def _read_fleet(path: Path) -> tuple[Fleet, list[Problem]]:
    name = str(path)
    empty = Fleet(path=path, settings=FleetSettings(), targets=())
    try:
        data = files.read_bytes(name)
    except FileNotFoundError:
        return empty, [Problem(name, "fleet file not found", _WRITE_ONE)]
    except OSError as exc:
        return empty, [Problem(name, f"cannot read the fleet file: {exc}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return empty, [Problem(_where(path, line), f"not UTF-8 text (byte {exc.start})",
                               "save the file as UTF-8")]
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE_RE.search(str(exc))
        return empty, [Problem(_where(path, int(found[1]) if found else None), f"invalid TOML: {exc}")]
    except RecursionError:
        return empty, [Problem(name, "invalid TOML: nested too deeply")]
    return _parse(path, document, _Lines(text))


def _where(path: Path, line: int | None, what: str | None = None) -> str:
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {what}" if what else where


def _parse(path: Path, document: dict[str, Any], lines: _Lines) -> tuple[Fleet, list[Problem]]:
    problems = [*_secret_problems(document, lambda key: _where(path, lines.top(key)))]
    for key in document:
        if key not in _TOP_KEYS and key.lower() not in SECRET_KEYS:
            problems.append(Problem(_where(path, lines.top(key)), f"unknown top-level key {key!r}",
                                    suggest(key, _TOP_KEYS)))
    settings = _parse_settings(path, document.get("fleet", {}), lines, problems)
    entries = document.get("target", [])
    if not isinstance(entries, list):
        problems.append(Problem(_where(path, lines.top("target")), "`target` must be an array of tables",
                                "write each target as a [[target]] table"))
        entries = []
    elif not entries:
        problems.append(Problem(str(path), "the fleet has no target", _WRITE_ONE))
    parsed = [_parse_target(path, index, raw, lines, problems) for index, raw in enumerate(entries)]
    problems.extend(_duplicates(path, entries, lines))
    targets = tuple(spec for spec in parsed if spec is not None)
    return Fleet(path=path, settings=settings, targets=targets), problems


def _secret_problems(table: Mapping[str, object], where: _Where) -> list[Problem]:
    return [Problem(where(key), f"{key!r}: the fleet file never holds a database URL or password",
                    "put the URL in an environment variable and name it with url_env, e.g. "
                    'url_env = "EU_DATABASE_URL"; remove the secret from the file and its history')
            for key in table if key.lower() in SECRET_KEYS]


def _validated(
    model: type[_Model], raw: Mapping[str, object], where: Callable[[int | None], str],
    line_of: Callable[[str], int | None], problems: list[Problem],
) -> _Model | None:
    """`raw` checked by `model`, less the secret keys (reported on their own); None if invalid."""
    problems.extend(_secret_problems(raw, lambda key: where(line_of(key))))
    try:
        return model.model_validate({k: v for k, v in raw.items() if k.lower() not in SECRET_KEYS})
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, where, model, line_of))
        return None


def _parse_settings(path: Path, raw: object, lines: _Lines, problems: list[Problem]) -> FleetSettings:
    if not isinstance(raw, dict):
        problems.append(Problem(_where(path, lines.top("fleet")), "[fleet] must be a table"))
        return FleetSettings()
    model = _validated(FleetModel, raw, lambda line: _where(path, line, "[fleet]"), lines.setting, problems)
    if model is None:
        return FleetSettings()
    return FleetSettings(parallel=model.parallel, on_error=OnError(model.on_error), canary=model.canary)


def _parse_target(
    path: Path, index: int, raw: object, lines: _Lines, problems: list[Problem]
) -> TargetSpec | None:
    def where(line: int | None) -> str:
        return _where(path, line, f"target #{index + 1}")

    if not isinstance(raw, dict):
        problems.append(Problem(where(lines.entry(index)), "must be a table"))
        return None
    found = len(problems)
    model = _validated(TargetModel, raw, where, lambda key: lines.key(index, key), problems)
    # The values' own rules, checked even when a type is wrong elsewhere: every problem at once.
    problems.extend(_value_problems(path, raw, lambda key: where(lines.key(index, key))))
    if model is None or len(problems) > found:
        return None
    manifest = (path.parent / model.manifest).absolute() if model.manifest is not None else None
    return TargetSpec(name=model.name, url_env=model.url_env, schemas=model.schemas, manifest=manifest,
                      line=lines.entry(index))


def _value_problems(path: Path, raw: Mapping[str, object], where: _Where) -> list[Problem]:
    checks: dict[str, Callable[[Path, str], tuple[str, str] | None]] = {
        "name": _name_problem, "url_env": _url_env_problem, "schemas": _schemas_problem,
        "manifest": _manifest_problem}
    problems = []
    for key, check in checks.items():
        value = raw.get(key)
        found = check(path, value) if isinstance(value, str) else None
        if found:
            problems.append(Problem(where(key), *found))
    return problems


def _name_problem(_path: Path, name: str) -> tuple[str, str] | None:
    if NAME_RE.fullmatch(name):
        return None
    return f"name {name!r} is not a target name", f"write {NAME_RULE}"


def _url_env_problem(_path: Path, url_env: str) -> tuple[str, str] | None:
    if ENV_NAME_RE.fullmatch(url_env):
        return None
    # Never echoed: a value that is no variable name may well be the URL or its password.
    if any(mark in url_env for mark in ("://", "@", "=")):
        return ("url_env holds what looks like a database URL; the fleet file never holds one",
                'name the environment variable that holds the URL instead, e.g. url_env = '
                '"EU_DATABASE_URL"; remove the URL from the file and its history')
    return ("url_env is not an environment variable name",
            "write letters, digits and _, not starting with a digit, e.g. EU_DATABASE_URL")


def _schemas_problem(_path: Path, query: str) -> tuple[str, str] | None:
    if query.strip():
        return None
    return "schemas is empty", "write the query that lists the tenant schemas, or remove the key"


def _manifest_problem(path: Path, manifest: str) -> tuple[str, str] | None:
    if not manifest.strip():
        return "manifest is empty", "write the manifest's path relative to the fleet file, or remove the key"
    if manifest.startswith(("/", "\\")) or PureWindowsPath(manifest).drive:
        return (f"manifest {manifest!r} is an absolute path",
                "write it relative to the fleet file's folder, so the fleet works from any checkout")
    found = path.parent / manifest
    if found.is_file():
        return None
    what = "is not a file" if found.exists() else "not found"
    return (f"manifest {manifest!r} {what} (relative to the fleet file's folder)",
            "fix the path, or remove the key to use the manifest in use")


def _duplicates(path: Path, entries: list[Any], lines: _Lines) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, raw in enumerate(entries):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        earlier = first.setdefault(name, index)
        if earlier != index:
            at = lines.entry(earlier)
            problems.append(Problem(
                _where(path, lines.entry(index), f"target #{index + 1}"),
                f"name {name!r} is already the name of target #{earlier + 1}"
                + (f" (line {at})" if at else ""),
                "names are unique in a fleet: rename one"))
    return problems
