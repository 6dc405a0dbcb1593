"""Where `create` puts a version's files, and how the entries it appends merge in git."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import tomli_w

from ..core.model import Manifest, sort_key
from ..errors import ScaffoldError

UNION = "merge=union"
# The order of an appended entry's keys: see appended_entry().
APPENDED_KEYS = ("version", "file", "depends_on", "rollback")


def folder_for(manifest: Manifest, version: str) -> Path:
    """Each version's files in a folder of their own, so that two versions' `001_...` never
    share one: beside the version's last migration when no other version has files there
    (a flat folder of one version keeps its layout), else `<migrations>/<version>/`."""
    same = [m for m in manifest.migrations if m.version == version]
    if same:
        folder = max(same, key=sort_key).sql.path.parent
        if all(m.version == version for m in manifest.migrations if m.sql.path.parent == folder):
            return folder
    return migrations_folder(manifest) / version


def migrations_folder(manifest: Manifest) -> Path:
    """The folder that holds the version folders: `migrations/` beside a new manifest; the
    parent of the last migration's folder when that is named after its version; else that
    folder itself (a flat layout, whose new versions go into sub-folders)."""
    if not manifest.migrations:
        return manifest.root / "migrations"
    last = max(manifest.migrations, key=sort_key)
    folder = last.sql.path.parent
    return folder.parent if folder.name == last.version else folder


def appended_entry(entry: Mapping[str, object], label: str) -> str:
    """One [[migration]] entry as `create` appends it, written so that git's union merge keeps
    two branches' entries whole. The union driver outputs the lines the two sides share only
    once, and interleaves the rest: two plain entries would become one table with every key
    twice. So the entry opens with a comment naming it and ends with its rollback (lines no
    other entry has), and no more than three lines in between (`[[migration]]`, `version`,
    `depends_on` on one line) can be the same on both sides: git then keeps each side whole."""
    lines = [f"# {label}", "[[migration]]"]
    for key in APPENDED_KEYS:
        value = entry.get(key)
        if value not in (None, []):
            lines.append(f"{key} = {_inline(value)}")
    return "\n".join(lines) + "\n"


def _inline(value: object) -> str:
    if isinstance(value, str):
        return tomli_w.dumps({"v": value})[len("v = "):].rstrip("\n")
    assert isinstance(value, Sequence), value
    return "[" + ", ".join(_inline(item) for item in value) + "]"


def ensure_union_merge(manifest_path: Path) -> str | None:
    """Add `NAME merge=union` to the .gitattributes beside the manifest, unless a line for
    the manifest already sets a merge attribute (ours, or one the team chose, such as
    `-merge`); returns the line added, or None."""
    attributes = manifest_path.parent / ".gitattributes"
    pattern = attribute_pattern(manifest_path.name)
    try:
        text = attributes.read_text(encoding="utf-8") if attributes.is_file() else ""
        if _sets_merge(text, pattern):
            return None
        line = f"{pattern} {UNION}"
        with attributes.open("a", encoding="utf-8", newline="") as handle:
            handle.write(("" if text.endswith("\n") or not text else "\n") + line + "\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScaffoldError(f"cannot add the manifest's merge rule to {attributes}: {exc}",
                            f"add the line `{pattern} {UNION}` to it by hand") from None
    return line


def _sets_merge(text: str, pattern: str) -> bool:
    """Whether a line for the manifest (as `NAME` or `/NAME`) sets, unsets or chooses `merge`."""
    for line in map(str.strip, text.splitlines()):
        for form in (pattern, f"/{pattern}"):
            rest = line.removeprefix(form)
            if rest != line and rest[:1].isspace() and any(
                    field.lstrip("-!").partition("=")[0] == "merge" for field in rest.split()):
                return True
    return False


def attribute_pattern(name: str) -> str:
    """The file name as a .gitattributes pattern: glob characters escaped, and quoted (as git
    reads a C-style string) when it holds white space."""
    escaped = "".join("\\" + c if c in "\\*?[" else c for c in name)
    if escaped.startswith(("#", "!")):
        escaped = "\\" + escaped
    if any(c.isspace() or c == '"' for c in escaped):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped
