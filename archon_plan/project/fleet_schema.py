"""The shape of fleet.toml: the pydantic models of [fleet] and of a [[target]], which check keys
and types, and the JSON Schema that editors read. Private to fleet.py, which turns validation
errors into problems with line numbers and checks the values' own rules."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.fleet import FleetSettings
from .schema import SCHEMA_DRAFT, _toml_schema

# Used with fullmatch. No '/': it separates a database from its tenant schema (eu/tenant_042).
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
NAME_RULE = ("lower-case letters, digits and _ . -, starting with a letter or digit, at most 63 "
             "characters; no '/', which separates a tenant schema (eu/tenant_042)")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keys that would put a secret in the file, which is meant to be committed.
SECRET_KEYS = frozenset({"url", "database_url", "dsn", "password"})
MAX_PARALLEL = 64
_DEFAULTS = FleetSettings()


class FleetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    parallel: int = Field(default=_DEFAULTS.parallel, ge=1, le=MAX_PARALLEL, description=(
        "How many targets are migrated at once, from 1 to 64."))
    on_error: Literal["stop", "continue"] = Field(default=_DEFAULTS.on_error.value, description=(
        "When a target fails: `stop` starts no further target (those running finish), `continue` "
        "goes on with the others."))
    canary: int = Field(default=_DEFAULTS.canary, ge=0, description=(
        "The first N targets in fleet order run alone, before the others; 0: no canary."))


class TargetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(json_schema_extra={"pattern": f"^{NAME_RE.pattern}$"}, description=(
        f"The target's name, unique in the fleet: {NAME_RULE}."))
    url_env: str = Field(json_schema_extra={"pattern": f"^{ENV_NAME_RE.pattern}$"}, description=(
        "The environment variable that holds the database URL, e.g. EU_DATABASE_URL; the fleet "
        "file never holds a URL or a password."))
    schemas: str | None = Field(default=None, json_schema_extra={"minLength": 1}, description=(
        "A SQL query run on the database whose rows are tenant schema names: one target per "
        "schema, named `name/schema`. Unset: the database is one target."))
    manifest: str | None = Field(default=None, json_schema_extra={"minLength": 1}, description=(
        "The manifest for this target, relative to the fleet file's folder; unset: the manifest "
        "in use."))


def fleet_json_schema() -> dict[str, Any]:
    """The JSON Schema of fleet.toml, for editors that validate TOML as it is typed."""
    fleet = _toml_schema(FleetModel.model_json_schema(), "[fleet]")
    target = _toml_schema(TargetModel.model_json_schema(), "[[target]]")
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "archon-plan fleet.toml",
        "description": "The databases one archon-plan run migrates, each named by the environment "
                       "variable that holds its URL, and how the run goes through them.",
        "type": "object",
        "additionalProperties": False,
        "required": ["target"],
        "properties": {
            "fleet": {**fleet, "description": "How the run goes through the targets; every key is "
                      "optional."},
            "target": {"type": "array", "items": target, "minItems": 1,
                       "description": "Every database of the fleet, in the order runs take them."},
        },
    }
