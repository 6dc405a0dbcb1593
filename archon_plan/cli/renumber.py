"""`archon-plan renumber NAME`: after two branches each added a migration with one number,
move the one no database has applied to the next free number."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ExitCode, RefusedError

if TYPE_CHECKING:
    from ..project.renumber import Renumbering
    from .commands import Context


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    renumber = add("renumber", help="move a migration no database has applied to another number",
                   description="Give migration NAME the next free number of its version (or NNN): its "
                   "file and rollback are renamed (with `git mv` when git tracks them), and its manifest "
                   "entry and every depends_on naming it are rewritten in place. Refused (exit 5) when "
                   "the configured database records it as applied, or the number or the files are taken.",
                   example="archon-plan renumber 0.3.0/002_add_email --to 004",
                   database=("--database-url", "--embedded"))
    renumber.add_argument("name", metavar="NAME", help="the migration: NNN_name or VERSION/NNN_name")
    renumber.add_argument("--to", type=_number, metavar="NNN",
                          help="the new number (default: one more than the highest of its version)")
    renumber.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _number(text: str) -> int:
    if not (text.isdigit() and 1 <= int(text) <= 999):
        raise argparse.ArgumentTypeError(f"{text!r} is not a migration number (1 to 999)")
    return int(text)


def handles(args: argparse.Namespace) -> bool:
    return bool(args.command == "renumber")


def run(context: Context, args: argparse.Namespace) -> int:
    from ..project import renumber
    from .commands import confirm

    plan = renumber.plan_renumber(context.manifest_path, args.name, args.to)
    checked = _refuse_if_applied(context, plan)
    print(f"renumber {plan.migration.label} to {plan.label}:")
    for move in plan.moves:
        print(f"  {move.shown} -> {move.target.name}")
    paths = "file and rollback" if len(plan.moves) > 1 else "file"
    named = "".join(f", depends_on of {m.label}" for m in plan.dependents)
    print(f"  {context.manifest_path}: its {paths}{named}")
    for path, _ in plan.rewritten:
        print(f"  {path.name}: its own tracking row")
    if not args.yes:
        confirm(f"Renumber {plan.migration.label} to {plan.label}?", what="renumber")
    by_git = renumber.carry_out(plan)
    how = "git mv" if all(by_git) else "git mv / renamed" if any(by_git) else "renamed: git does not track it"
    print(f"renumbered {plan.migration.label} to {plan.label} ({how}); {checked}")
    return ExitCode.OK


def _refuse_if_applied(context: Context, plan: Renumbering) -> str:
    """Refuse a migration that the configured database records as applied (or stopped part-way),
    or whose new name it records. With nothing configured and no CI, no database is started
    just to look: that is said. Returns what was checked, for the last line."""
    from ..db import events, tracker
    from ..db.target import resolve_target
    from .commands import connected

    settings, migration = plan.manifest.settings, plan.migration
    chosen = context.embedded or context.env.get("ARCHON_EMBEDDED") == "1"
    if resolve_target(context.database_url, context.env) is None and not chosen and not context.env.get("CI"):
        print(f"NOTICE: no database configured: renumber could not check whether a database has applied "
              f"{migration.label} (it starts no embedded PostgreSQL just to look: --embedded checks that "
              "one, --database-url another)", file=sys.stderr)
        return "no database was checked"
    with connected(context, settings, plan.manifest.root) as (conn, target):
        recorded = {row.key for row in tracker.read_rows(conn, settings)}
        recorded |= {(f.version, f.stem) for f in events.read_failures(conn, settings)}
    for stem, why in ((migration.stem, "it is applied there (or stopped part-way)"),
                      (plan.stem, "a row of that name is recorded there")):
        if (migration.version, stem) in recorded:
            raise RefusedError(
                f"not renumbering {migration.label}: {why}: {target.redacted}",
                "a migration a database has applied keeps its number: renumber the other one of the "
                "pair, or revert it there first")
    return f"{target.redacted} does not record it"
