"""One [[migration]] entry of the manifest, validated and read into a Migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from ..core.model import Migration
from ..core.sqlfile import SqlFile
from ..errors import Problem
from ..sql import rules
from . import files
from .lines import Lines, located, pydantic_problems, suggest
from .naming import FILE_NAME_RE, FILE_NAME_RULE, UNSAFE_TEXT_RE
from .schema import EntryModel, version_problem


def parse_entry(
    path: Path, root: str, index: int, raw: object, lines: Lines, problems: list[Problem]
) -> Migration | None:
    def where(line: int | None) -> str:
        return located(path, line, index)

    def at(key: str) -> Callable[[], str]:  # found only for a problem: a scan of the entry's lines
        return lambda: where(lines.key(index, key))

    if not isinstance(raw, dict):
        problems.append(Problem(where(lines.entry(index)), "must be a table"))
        return None
    try:
        entry = EntryModel.model_validate(raw)
    except ValidationError as exc:
        problems.extend(
            pydantic_problems(exc, where, EntryModel, lambda key: lines.key(index, key))
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
    if entry.rollback is not None and entry.irreversible:
        problems.append(Problem(at("irreversible")(), "an irreversible migration has no rollback file",
                                "remove `rollback`, or `irreversible = true` if the rollback undoes it"))
    elif entry.rollback is not None:
        rollback = _read_sql(root, entry.rollback, at("rollback"), problems, empty_ok=True)
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
        irreversible=entry.irreversible,
        imported_from=entry.imported_from,
        not_before=entry.not_before,
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
            hint = suggest(code.strip().upper(), tuple(rules.BY_CODE))
            problems.append(Problem(where(), f"allow: {code!r} is not a lint rule", hint))
        elif not rule.allowable:
            problems.append(Problem(where(), f"allow: {code} ({rule.name}) is an error and cannot be allowed",
                                    "fix the SQL: an error would break the run or its history"))
    if entry.allow and not (entry.allow_reason or "").strip():
        problems.append(Problem(where(), "allow needs allow_reason",
                                'add allow_reason = "why this is safe here" to the entry'))
    return problems


def _read_sql(root: str, relative: str, where: Callable[[], str], problems: list[Problem],
              empty_ok: bool = False) -> SqlFile | None:
    try:
        return files.read_sql(root, relative, empty_ok)
    except files.UnusableFile as exc:
        problems.append(Problem(where(), exc.message, exc.hint))
        return None
