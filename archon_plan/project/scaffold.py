"""Writing files for `create` and `init`: never overwriting, manifests appended as text
(layout.py says where `create` puts them)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w
from packaging.version import InvalidVersion, Version

from ..core.model import (
    FORWARD_TEMPLATE_MARK,
    ROLLBACK_TEMPLATE_MARK,
    Manifest,
    Migration,
    NameForm,
    sort_key,
)
from ..errors import ScaffoldError
from . import layout
from .naming import FILE_NAME_RE, FILE_NAME_RULE

SLUG_RE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")  # used with fullmatch
DESCRIPTION_RE = re.compile(r"^--\s*Description:\s*(?P<text>.+)$", re.M | re.I)
MANIFEST_HEADER = (
    "# archon-plan manifest: every migration, in release order.\n"
    "# Reference: docs/manifest.md. Validate with `archon-plan check`.\n"
)
MIGRATION_TEMPLATE = """-- Migration {label}: {description}
-- Runs in one transaction together with its tracking row: no BEGIN/COMMIT here.

"""
ROLLBACK_TEMPLATE = "-- Rollback of {label}: " + ROLLBACK_TEMPLATE_MARK + "\n\n"
# Archon's own files end so: pasted into Supabase's SQL editor, as Archon's UI says to, the
# migration records itself, and Archon and archon-plan both see it applied.
SELF_RECORD_TEMPLATE = ("-- " + FORWARD_TEMPLATE_MARK + "\n\n"
                        "-- Record migration application for tracking\n"
                        "INSERT INTO {table} (version, migration_name)\n"
                        "VALUES ('{version}', '{stem}')\n"
                        "ON CONFLICT (version, migration_name) DO NOTHING;\n")


@dataclass(frozen=True)
class Created:
    sql: Path
    rollback: Path
    version: str
    stem: str


def slugify(name: str) -> str:
    slug = re.sub(r"[\s-]+", "_", name.strip().lower())
    if not SLUG_RE.fullmatch(slug):
        raise ScaffoldError(
            f"migration name {name!r} is not snake_case",
            "use lower-case letters, digits and '_', e.g. add_user_email",
        )
    return slug


def create(
    manifest: Manifest, name: str, version: str | None, depends_on: Sequence[str]
) -> Created:
    """Write the next NNN_name.sql and its rollback, and append the manifest entry."""
    slug = slugify(name)
    version = version or _latest_version(manifest.migrations)
    _check_version(version)
    same = [m for m in manifest.migrations if m.version == version]
    number = max((m.number for m in same), default=0) + 1
    if number > 999:
        raise ScaffoldError(f"version {version} already has 999 migrations",
                            "start a new version with --version")
    folder = layout.folder_for(manifest, version)
    stem = f"{number:03d}_{slug}"
    sql_path, rollback_path = folder / f"{stem}.sql", folder / "rollbacks" / f"{stem}.sql"
    label = f"{version}/{stem}"
    for path in (sql_path, rollback_path):  # check both first: never leave half a migration
        if path.exists():
            raise ScaffoldError(f"{path} already exists; archon-plan never overwrites a file",
                                "choose another name, or remove the file")
    text = MIGRATION_TEMPLATE.format(label=label, description=name)
    settings = manifest.settings
    if settings.name_form is NameForm.STEM:
        table = settings.tracking_table if settings.tracking_schema == "public" else settings.qualified_table
        text += SELF_RECORD_TEMPLATE.format(table=table, version=version, stem=stem)
    write_new(sql_path, text)
    write_new(rollback_path, ROLLBACK_TEMPLATE.format(label=label))
    entry = {
        "version": version,
        "file": relative(sql_path, manifest.root),
        "rollback": relative(rollback_path, manifest.root),
        "depends_on": list(depends_on),
    }
    append_to_manifest(manifest.path, layout.appended_entry(entry, label))
    return Created(sql_path, rollback_path, version, stem)


def _latest_version(migrations: Sequence[Migration]) -> str:
    return max(migrations, key=sort_key).version if migrations else "0.1.0"


def _check_version(version: str) -> None:
    try:
        Version(version)
    except InvalidVersion:
        raise ScaffoldError(f"version {version!r} is not a release number",
                            "write it like 0.2.0") from None


def relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ScaffoldError(f"{path} lies outside the manifest's folder {root}",
                            "put the manifest in (or above) the migrations folder") from None


def write_new(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; archon-plan never overwrites a file",
                            "choose another name, or remove the file") from None
    except OSError as exc:
        raise ScaffoldError(f"cannot write {path}: {exc.strerror}") from None


def append_to_manifest(path: Path, text: str) -> None:
    """Append as text so the comments and layout a reviewer sees stay as they are."""
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else MANIFEST_HEADER
        separator = "" if current.endswith("\n") else "\n"
        path.write_text(current + separator + "\n" + text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise ScaffoldError(f"cannot write {path}: {exc.strerror}") from None


def init(folder: Path, manifest_path: Path, default_version: str) -> tuple[int, bool]:
    """Write a manifest for an existing folder; returns (count, archon_layout)."""
    if manifest_path.exists():
        raise ScaffoldError(f"{manifest_path} already exists; archon-plan never overwrites it",
                            "remove it first, or pass --manifest OTHER.toml")
    if not folder.is_dir():
        raise ScaffoldError(f"{folder} is not a folder", "pass the folder holding NNN_name.sql")
    versioned = sorted((d for d in folder.iterdir() if d.is_dir() and _is_version(d.name)),
                       key=lambda d: Version(d.name))
    groups = [(d.name, d) for d in versioned] or [(default_version, folder)]
    try:
        entries = [e for version, d in groups for e in _entries(version, d, manifest_path.parent)]
        if not entries:
            raise ScaffoldError(f"no NNN_name.sql files in {folder}",
                                f"migration files follow the rule {FILE_NAME_RULE}")
    except ScaffoldError:
        _point_to_import(folder)
        raise
    settings: dict[str, Any] = {"tracking_table": "public.archon_migrations"}
    if versioned:
        # Archon's layout: its application looks rows up by the name without .sql.
        settings["recorded_name"] = "stem"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    text = MANIFEST_HEADER + "\n" + render_settings(settings) + "\n" + render_entries(entries)
    _refuse_what_check_would(manifest_path, text)
    write_new(manifest_path, text)
    return len(entries), bool(versioned)


def _point_to_import(folder: Path) -> None:
    """A folder in another tool's layout gets the import command to run, not a list of the
    names that break the rule."""
    from ..errors import UsageError
    from .sources import detect

    tool = detect(folder)
    if tool is not None:
        raise UsageError(f"{folder} holds a {tool} project: run `archon-plan import --from {tool} "
                         f"{folder}` (init reads only NNN_name.sql files)")


def _refuse_what_check_would(manifest_path: Path, text: str) -> None:
    """init never writes a manifest that its own validation rejects: the text is read as
    `check` reads it (beside the real one, so its paths resolve) and refused with every
    problem (exit 4), before anything is written."""
    trial = manifest_path.with_name(f".{manifest_path.name}.init-{os.getpid()}")
    try:
        write_new(trial, text)
        refuse_what_check_would(trial, manifest_path, "init")
    finally:
        trial.unlink(missing_ok=True)


def refuse_what_check_would(trial: Path, shown: Path, verb: str) -> None:
    """ManifestError (exit 4) with every problem `check` would report on the manifest at
    `trial` (its errors, not its warnings), named as `shown`; `verb` wrote nothing."""
    from ..core.graph import graph_and_problems
    from ..errors import ManifestError, Problem
    from ..sql import lint
    from ..sql.rules import Severity
    from .manifest import read_manifest

    loaded, problems = read_manifest(trial)
    built, graph_problems = graph_and_problems(loaded.migrations, str(shown))
    errors = [f for f in lint.lint(built.order).findings if f.severity is Severity.ERROR]
    problems += graph_problems + [Problem.at(f.location, f"{f.migration}: {f.message}", f.hint, f.code)
                                  for f in errors]
    if problems:
        named = [replace(p, where=p.where.replace(str(trial), str(shown)).replace(trial.name, shown.name))
                 for p in problems]
        raise ManifestError([*named, Problem(str(shown), f"{verb} wrote nothing: the manifest it "
                                             "would write has the problems above",
                                             f"fix the files, then run {verb} again")])


def _is_version(name: str) -> bool:
    try:
        Version(name)
    except InvalidVersion:
        return False
    return name[:1].isdigit()


def _entries(version: str, folder: Path, root: Path) -> list[dict[str, Any]]:
    files = sorted(p for p in folder.glob("*.sql") if p.is_file())
    bad = [p.name for p in files if not FILE_NAME_RE.fullmatch(p.name)]
    if bad:
        raise ScaffoldError(f"{folder}: {', '.join(bad)} do(es) not follow the rule "
                            f"{FILE_NAME_RULE}", "rename them, then run init again")
    entries = []
    for path in files:
        rollback = folder / "rollbacks" / path.name
        text = path.read_text(encoding="utf-8", errors="replace")
        described = DESCRIPTION_RE.search(text)
        irreversible = rollback.is_file() and _does_nothing(rollback)
        entries.append({
            "version": version,
            "file": relative(path, root),
            "rollback": relative(rollback, root) if rollback.is_file() and not irreversible else None,
            "irreversible": True if irreversible else None,
            "description": described["text"].strip() if described else None,
        })
    return entries


def _does_nothing(rollback: Path) -> bool:
    """An empty or comment-only down file (`-- not reversible`): no rollback, on purpose."""
    from ..sql import parse

    return parse.only_comments(rollback.read_text(encoding="utf-8", errors="replace"))


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
