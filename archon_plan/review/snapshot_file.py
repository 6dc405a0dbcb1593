"""The snapshot file: a schema as sorted text, one object a line, that reads well in a pull
request and compares again as a Snapshot; pure strings."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import UsageError
from .catalog import TENANT, Key, Snapshot

TITLE = "# archon-plan schema snapshot 1: kind, name and description of each object, tab-separated"
_ABOUT = "# written by `archon-plan snapshot`; `archon-plan drift` and `check --snapshot` compare with it"
_VERSION, _SCHEMAS = "# postgresql ", "# schemas "
# A name is quote_ident's, which may hold any character; descriptions are on one line already.
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_REWRITE = "write it again: archon-plan snapshot --output FILE"


@dataclass(frozen=True)
class SchemaFile:
    """A snapshot and what it covers: its schemas, and the PostgreSQL major version it was
    read on (descriptions are the server's text, which a new major version may word anew)."""

    snapshot: Snapshot
    schemas: tuple[str, ...]
    major: int

    @property
    def tenant(self) -> bool:
        """A tenant's snapshot: its one schema is written TENANT."""
        return self.schemas == (TENANT,)


def render(file: SchemaFile) -> str:
    """Sorted by name, then kind: a table's columns, constraints and triggers follow it."""
    schemas = json.dumps(list(file.schemas), ensure_ascii=False)
    lines = [TITLE, _ABOUT, f"{_VERSION}{file.major}", f"{_SCHEMAS}{schemas}"]
    for (kind, name), description in sorted(file.snapshot.objects.items(), key=_by_name):
        lines.append("\t".join([kind, _escape(name), *([description] if description else [])]))
    return "\n".join(lines) + "\n"


def _by_name(item: tuple[Key, str]) -> tuple[str, str]:
    (kind, name), _ = item
    return name, kind


def _escape(name: str) -> str:
    for plain, escaped in _ESCAPES:
        name = name.replace(plain, escaped)
    return name


def _unescape(name: str) -> str:
    out, chars = [], iter(name)
    for char in chars:
        out.append({"t": "\t", "n": "\n", "r": "\r"}.get(next(chars, ""), "\\") if char == "\\" else char)
    return "".join(out)


def parse(text: str, source: str) -> SchemaFile:
    """The file `render` wrote; UsageError names the first line it cannot read."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(TITLE.split(":")[0]):
        raise UsageError(f"{source} is not an archon-plan schema snapshot (its first line is not "
                         f"{TITLE.split(':')[0]!r})", _REWRITE)
    objects: dict[Key, str] = {}
    schemas: tuple[str, ...] | None = None
    major: int | None = None
    for number, line in enumerate(lines, 1):
        try:
            if line.startswith(_VERSION):
                major = int(line.removeprefix(_VERSION))
            elif line.startswith(_SCHEMAS):
                schemas = _schemas(line.removeprefix(_SCHEMAS))
            elif line.strip() and not line.startswith("#"):
                kind, _, rest = line.partition("\t")
                name, _, description = rest.partition("\t")
                if not kind or not name:
                    raise ValueError("not kind<TAB>name<TAB>description")
                objects[(kind, _unescape(name))] = description
        except ValueError as exc:
            raise UsageError(f"{source}:{number}: cannot read this line: {exc}", _REWRITE) from None
    if schemas is None or major is None:
        missing = _SCHEMAS if schemas is None else _VERSION
        raise UsageError(f"{source}: no `{missing.strip()}` line at its head", _REWRITE)
    return SchemaFile(Snapshot(objects), schemas, major)


def _schemas(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s for s in value):
        raise ValueError("the schemas are not a JSON list of names")
    return tuple(value)
