"""The shape of migrations.toml: the pydantic models of [settings] and of a [[migration]]
entry, which validate it, and the JSON Schema that editors read. Private to manifest.py,
which turns validation errors into problems with line numbers."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from ..core import windows
from ..core.durations import duration_problem
from ..core.model import DEFAULT_TRACKING_TABLE
from ..sql import rules


def _window(text: str) -> str:
    windows.parse_window(text)  # ValueError: pydantic reports it at the key
    return text


def _instant(text: str) -> str:
    windows.parse_instant(text)
    return text


def _duration(text: str) -> str:
    problem = duration_problem(text)
    if problem:
        raise ValueError(problem)
    return text


MAX_VERSION_LENGTH = 20  # archon_migrations.version is VARCHAR(20)
VERSION_CHARS_RE = re.compile(r"[0-9A-Za-z.+!_-]+")
# PostgreSQL durations as its GUCs take them: "500ms", "5s", "2min", "1h"; "0" turns it off.
Duration = Annotated[str, AfterValidator(_duration)]
# Patterns for the JSON Schema only (ECMA-262 syntax): validation keeps its own, clearer messages.
_DURATION: JsonDict = {"pattern": "^[0-9]+(ms|s|min|h)?$"}
_TABLE_PATTERN = "^([A-Za-z_][A-Za-z0-9_]{0,62}[.])?[A-Za-z_][A-Za-z0-9_]{0,47}$"
_FILE_PATTERN = "(^|/)[0-9]{3}_[a-z0-9]+(_[a-z0-9]+)*[.]sql$"


class SettingsModel(BaseModel):
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
    windows: list[Annotated[str, AfterValidator(_window)]] = Field(default_factory=list, description=(
        "Maintenance windows: apply starts a migration only inside one, e.g. [\"Sat 02:00-04:00 UTC\", "
        "\"Mon-Fri 22:00-02:00 Europe/Berlin\"]; none: any time."))
    long_running_after: Duration = Field(default="5min", json_schema_extra=_DURATION, description=(
        "After how long a running migration sends the `long_running` notification, once."))


class EntryModel(BaseModel):
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
    irreversible: bool = Field(default=False, description=(
        "true: no rollback on purpose (dropped data cannot come back); revert and rehearse stop "
        "before it, and it has no `rollback`."))
    not_before: Annotated[str, AfterValidator(_instant)] | None = Field(default=None, description=(
        "An ISO 8601 time with its zone, e.g. \"2026-12-10T02:00:00Z\": apply does not start it earlier."))
    imported_from: str | None = Field(default=None, description=(
        "The migration's name in the tool it was imported from (`archon-plan import`), for reference."))


SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"  # the newest draft Taplo's validator knows


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of migrations.toml, for editors that validate TOML as it is typed."""
    from .extensions import HookModel, NotifyModel

    entry = _toml_schema(EntryModel.model_json_schema(), "[[migration]]")
    settings = _toml_schema(SettingsModel.model_json_schema(), "[settings]")
    hook = _toml_schema(HookModel.model_json_schema(), "[[hook]]")
    notify = _toml_schema(NotifyModel.model_json_schema(), "[[notify]]")
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
            "hook": {"type": "array", "items": hook,
                     "description": "Programs run at points of a run, e.g. a backup before applying."},
            "notify": {"type": "array", "items": notify,
                       "description": "Webhooks told about failures, refusals, drift, long runs."},
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


@functools.lru_cache(maxsize=256)
def version_problem(version: str) -> tuple[str, str] | None:
    """What is wrong with a version, and the hint; once per distinct version. The grammar
    (docs/manifest.md): ASCII letters, digits and . + ! _ - only, as packaging reads a release;
    packaging alone would take "0.1.0 " and store the space, and a later fix would run it again."""
    if not VERSION_CHARS_RE.fullmatch(version):
        return (f"version {version!r} holds a space, a control character or a character outside "
                "ASCII letters, digits and . + ! _ -", "write it like 0.1.0")
    try:
        Version(version)
    except InvalidVersion:
        return f"version {version!r} is not a release number", "write it like 0.1.0"
    if len(version) > MAX_VERSION_LENGTH:
        return (f"version {version!r} is longer than 20 characters",
                "the tracking table stores versions as VARCHAR(20)")
    return None
