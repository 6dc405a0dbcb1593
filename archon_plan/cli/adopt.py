"""`archon-plan import`, `adopt` and `repair --mark-applied --through`: taking over a project
and its database from another tool, or a baseline of many migrations at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

# Parsing imports this module: what the verbs need loads in them, as commands.py does.
from ..core.adoption import Tool, Versions
from ..errors import ExitCode, UsageError
from .options import CONNECTION, RUN

if TYPE_CHECKING:
    from .commands import Context

TOOLS = tuple(tool.value for tool in Tool)


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The `import` and `adopt` verbs."""
    imports = add("import", help="copy another tool's migrations into the archon-plan layout, with a "
                  "manifest", database=(*CONNECTION, *RUN),
                  example=("archon-plan import --from flyway src/main/resources/db/migration",
                           "archon-plan import --from dbmate db/migrations --adopt-history"),
                  description="Read a dbmate, golang-migrate, Flyway, Diesel, Supabase or sqitch project and "
                  "write its migrations as NNN_name.sql files with their manifest; the source is left as "
                  "it is. Nothing is written when a file exists (exit 5) or the result would fail "
                  "`check` (exit 4). The database options matter with --adopt-history alone.")
    imports.add_argument("--from", dest="tool", choices=TOOLS, required=True, help="the tool SOURCE is for")
    imports.add_argument("source", type=Path, metavar="SOURCE", help="the tool's migrations folder")
    imports.add_argument("--into", type=Path, metavar="DIR",
                         help="where to write the migrations (default: migrations/ beside the manifest)")
    imports.add_argument("--versions", choices=[v.value for v in Versions], default=Versions.YEAR.value,
                         help="year (default): a version YYYY.0.0 per calendar year of the timestamps; "
                         "one: everything in 0.1.0")
    imports.add_argument("--adopt-history", action="store_true",
                         help="also record as applied what the tool's history table on the database says")
    adopt = add("adopt", help="record as applied what another tool's history table says it applied",
                database=(*CONNECTION, *RUN), example="archon-plan adopt --from flyway",
                description="For a project written by `archon-plan import`: read the tool's history table "
                "on the configured database and record those migrations (by imported_from) as applied, "
                "in one transaction, with an `adopt` event each.")
    adopt.add_argument("--from", dest="tool", choices=TOOLS, required=True, help="the tool that migrated it")


def handles(args: argparse.Namespace) -> bool:
    return args.command in ("import", "adopt") or (args.command == "repair" and args.through is not None)


def run(context: Context, args: argparse.Namespace) -> int:
    if args.command == "repair":
        return repair_through(context, args)
    if args.command == "adopt":
        return adopt(context, Tool(args.tool))
    return import_project(context, args)


def import_project(context: Context, args: argparse.Namespace) -> int:
    from ..project import importer

    tool = Tool(args.tool)
    manifest = context.manifest_path
    layout = importer.plan_import(tool, args.source, args.into or manifest.parent / "migrations", manifest,
                                  Versions(args.versions))
    if layout.notice:
        print(f"NOTICE: {layout.notice}", file=sys.stderr)
    if args.adopt_history:
        from ..core.model import Settings
        from ..db import adopt as adoption
        from .commands import connected

        with connected(context, Settings(), manifest.parent) as (conn, _):  # refusals before any write
            adoption.applied_in_source(conn, tool, [p.migration.original for p in layout.placed])
    importer.write_import(layout)
    versions = sorted({p.version for p in layout.placed}, key=[p.version for p in layout.placed].index)
    print(f"wrote {manifest} with {len(layout.placed)} migration(s) from {tool} "
          f"in {len(versions)} version(s): {', '.join(versions)}")
    return adopt(context, tool) if args.adopt_history else ExitCode.OK


def adopt(context: Context, tool: Tool) -> int:
    from ..db import adopt as adoption
    from .commands import PrintReporter, connected, load

    loaded, built = load(context)
    with connected(context, loaded.settings, loaded.root) as (conn, _):
        done, named = adoption.adopt(conn, loaded.settings, built, PrintReporter(), tool, context.actor)
    print(f"adopted {len(done)} migration(s) from {adoption.history_table(tool)} "
          f"({named - len(done)} of the {named} it records were already applied here); "
          "the event history records each.")
    return ExitCode.OK


def repair_through(context: Context, args: argparse.Namespace) -> int:
    """`repair --mark-applied --through NAME`: every migration up to NAME, in plan order."""
    from ..core import graph
    from ..db import baseline
    from .commands import PrintReporter, confirm, connected, load

    if args.mark_applied is None:
        raise UsageError("--through goes with --mark-applied",
                         "archon-plan repair --mark-applied --through NAME")
    if args.mark_applied or args.name:
        raise UsageError("name the migration once: --mark-applied --through NAME")
    loaded, built = load(context)
    last = graph.resolve(args.through, built.order)
    through = built.order[:built.position(last) + 1]
    if not args.yes:
        confirm(f"mark-applied every migration through {last.label} ({len(through)} in plan order) that is "
                "not applied: this changes the recorded history. Proceed?")
    with connected(context, loaded.settings, loaded.root) as (conn, _):
        done = baseline.mark_applied(conn, loaded.settings, built, PrintReporter(), through,
                                     actor=context.actor, detail=lambda _m, _s: {"through": last.label})
    print(f"mark-applied: {len(done)} migration(s) through {last.label} "
          f"({len(through) - len(done)} already applied); the event history records each.")
    return ExitCode.OK
