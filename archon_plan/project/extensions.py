"""The manifest's `[[hook]]` and `[[notify]]` tables, validated into core values with every
problem at its line."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ..core.durations import duration_is_off, duration_problem
from ..core.extensions import Hook, HookPoint, Notify, NotifyFormat, NotifyKind
from ..errors import Problem
from .lines import Lines, located, pydantic_problems

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _duration(text: str) -> str:
    problem = duration_problem(text)
    if problem:
        raise ValueError(problem)
    if duration_is_off(text):  # elsewhere "0" turns a timeout off; here it would kill at once
        raise ValueError("a hook needs a timeout above 0, e.g. 10min")
    return text


def _env_name(text: str) -> str:
    if not ENV_NAME_RE.fullmatch(text):  # never echo it: it may be the URL itself
        raise ValueError("must name an environment variable (letters, digits, _), not hold a URL or secret")
    return text


EnvName = Annotated[str, AfterValidator(_env_name)]
OnKind = Literal["applied", "reverted", "repaired", "failed", "refused", "drift", "long_running"]
_DEFAULT_ON: tuple[OnKind, ...] = ("failed", "refused", "drift", "long_running")  # DEFAULT_NOTIFY_ON


class HookModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    when: Literal["before_apply", "after_apply", "before_migration", "after_migration", "on_failure"] = Field(
        description="The point of a run: before_apply and before_migration stop the run when the "
        "program fails; after_apply, after_migration and on_failure only warn.")
    run: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, description=(
        "The program and its arguments, e.g. [\"pg_dump\", \"--schema-only\", \"--file\", \"backup.sql\"]; "
        "never a shell string. It gets ARCHON_HOOK, ARCHON_MIGRATION(S), ARCHON_DATABASE_URL and PG*."))
    timeout: Annotated[str, AfterValidator(_duration)] = Field(default="10min", description=(
        "How long it may run: 500ms, 5s, 2min, 1h."))


class NotifyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url_env: EnvName = Field(description="The environment variable that holds the webhook URL; "
                             "the manifest never holds it.")
    format: Literal["slack", "discord", "json"] = Field(default="json", description="The body's shape.")
    on: list[OnKind] = Field(
        default_factory=lambda: list(_DEFAULT_ON),
        description="The kinds of event to send, one POST per run and kind.")
    secret_env: EnvName | None = Field(default=None, description=(
        "The environment variable with a secret: the body's HMAC-SHA256 goes in X-Archon-Signature."))


_Model = TypeVar("_Model", HookModel, NotifyModel)


def parse_hooks(path: Path, raw: object, text: str, problems: list[Problem]) -> tuple[Hook, ...]:
    found = []
    for model, line in _tables(path, raw, text, "hook", HookModel, problems):
        found.append(Hook(HookPoint(model.when), tuple(model.run), model.timeout, line))
    return tuple(found)


def parse_notify(path: Path, raw: object, text: str, problems: list[Problem]) -> tuple[Notify, ...]:
    found = []
    for model, line in _tables(path, raw, text, "notify", NotifyModel, problems):
        found.append(Notify(model.url_env, NotifyFormat(model.format), tuple(map(NotifyKind, model.on)),
                            model.secret_env, line))
    return tuple(found)


def _tables(path: Path, raw: object, text: str, name: str, model: type[_Model],
            problems: list[Problem]) -> list[tuple[_Model, int | None]]:
    """Each valid table of the array `name`, with its header's line."""
    if not isinstance(raw, list):
        problems.append(Problem(str(path), f"`{name}` must be an array of tables",
                                f"write each as a [[{name}]] table"))
        return []
    lines = Lines(text, name)
    valid = []
    for index, item in enumerate(raw):
        where = functools.partial(_where, path, f"[[{name}]] #{index + 1}")
        if not isinstance(item, dict):
            problems.append(Problem(where(lines.entry(index)), "must be a table"))
            continue
        try:
            valid.append((model.model_validate(item), lines.entry(index)))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, where, model, functools.partial(lines.key, index)))
    return valid


def _where(path: Path, table: str, line: int | None) -> str:
    return f"{located(path, line)}: {table}"
