"""A sqitch project read into ForeignMigration values: sqitch.plan in plan order, with
deploy/<change>.sql as the migration and revert/<change>.sql as its rollback."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.adoption import ForeignMigration
from ..errors import Problem
from .sources import checked, foreign, read_text

PRAGMA_RE = re.compile(r"%\s*(?P<key>[a-z_-]+)\s*=\s*(?P<value>\S+)")
# change [dependencies] planned_at planner <email> # note
CHANGE_RE = re.compile(
    r"(?P<name>[^\s:@#\\\[\]%+-][^\s:@#\\\[\]]*)\s+(?:\[(?P<depends>[^\]]*)\]\s*)?"
    r"(?P<date>(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})T[0-9:]{8}Z)\s+"
    r"[^<]*<[^>]*>\s*(?:#\s?(?P<note>.*))?")
TAG_RE = re.compile(r"@\S+\s+[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\s.*")


def read_sqitch(folder: Path) -> list[ForeignMigration]:
    """The plan's changes in plan order, each imported as `project:change`; a reworked change,
    an unknown dependency or a line that is not sqitch's plan syntax is a problem."""
    return checked(folder, lambda problems: _changes(folder, problems))


def _changes(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    plan = folder / "sqitch.plan"
    text = read_text(plan, problems) if plan.is_file() else None
    if text is None:
        if not plan.is_file():
            problems.append(Problem(str(plan), "not found", "pass the folder that holds sqitch.plan"))
        return []
    project, found = None, []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line, where = raw.strip(), f"{plan}:{number}"
        pragma = PRAGMA_RE.fullmatch(line)
        if pragma and pragma["key"] == "project":
            project = pragma["value"]
        if not line or line.startswith("#") or pragma or TAG_RE.fullmatch(line):
            continue
        change = CHANGE_RE.fullmatch(line)
        if change is None:
            problems.append(Problem(where, f"cannot be read as a sqitch change or tag: {line[:60]!r}"))
        elif change["name"] in seen:
            problems.append(Problem(where, f"reworks change {change['name']!r}: archon-plan cannot import "
                                    "reworked changes", "import the project before the rework"))
        elif project is None:
            problems.append(Problem(where, "comes before %project=NAME",
                                    "sqitch plans name their project first"))
            return []
        else:
            depends = _depends(where, change["depends"] or "", project, seen, problems)
            seen.add(change["name"])
            migration = _change(folder, project, change, depends, problems)
            if migration:
                found.append(migration)
    return found


def _depends(where: str, text: str, project: str, seen: set[str], problems: list[Problem]) -> tuple[str, ...]:
    """The dependencies within the project, as `project:change`; conflicts (`!change`) and
    other projects' changes have no counterpart in the manifest."""
    kept = []
    for item in text.split():
        if item.startswith("!") or (":" in item and not item.startswith(f"{project}:")):
            continue
        name = item.removeprefix(f"{project}:").split("@", 1)[0]
        if name not in seen:
            problems.append(Problem(where, f"depends on {item!r}, not an earlier change of the plan"))
        kept.append(f"{project}:{name}")
    return tuple(kept)


def _change(folder: Path, project: str, change: re.Match[str], depends: tuple[str, ...],
            problems: list[Problem]) -> ForeignMigration | None:
    name = change["name"]
    deploy, revert = folder / "deploy" / f"{name}.sql", folder / "revert" / f"{name}.sql"
    if not deploy.is_file():
        problems.append(Problem(str(deploy), f"not found: the deploy script of change {name!r}"))
        return None
    up = read_text(deploy, problems)
    down = read_text(revert, problems) if revert.is_file() else None
    if up is None:
        return None
    stamp = change["year"] + change["month"] + change["day"]
    return foreign(f"{project}:{name}", name, deploy, up, down, stamp=stamp, depends_on=depends,
                   description=(change["note"] or "").strip() or None)
