"""`archon-plan fleet status|apply|revert|drift`: one plan on every target of fleet.toml."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Parsing imports this module: what the verbs need loads in them, as commands.py does.
from ..core import graph, planning
from ..core.model import Direction, Plan, Settings, State, Step
from ..errors import ExitCode, ManifestError, Problem, RefusedError
from .completion import migration_names, target_names
from .drift import scratch_options
from .options import RUN, adder

if TYPE_CHECKING:
    from ..core.fleet import Fleet, TargetSpec
    from ..db.fleet import Job, Member, Result
    from ..db.state import Selector
    from .commands import Context

FORMATS = ("text", "json")
BEHIND = (State.PENDING, State.MODIFIED, State.FAILED)


def add_parser(add: Callable[..., argparse.ArgumentParser], positive: Callable[[str], float]) -> None:
    """The fleet verbs, under `archon-plan fleet`."""
    fleet = add("fleet", help="status, apply, revert or drift on every database and tenant schema of "
                "fleet.toml", example=("archon-plan fleet status --check",
                                       "archon-plan fleet apply --canary 1"),
                description="One plan on many targets: the databases and tenant schemas that "
                "fleet.toml lists (docs/fleet.md). Each target gets exactly what `apply`, `revert` "
                "or `status` does on one database.")
    verbs = fleet.add_subparsers(dest="fleet_command", required=True, metavar="VERB")
    choose = argparse.ArgumentParser(add_help=False)
    choose.add_argument("--fleet", type=Path, metavar="PATH",
                        help="the fleet file (default: fleet.toml beside the manifest)")
    choose.add_argument("--only", metavar="GLOB", help="only targets whose name matches, e.g. 'eu/tenant_0*'")
    choose.add_argument("--shard", metavar="I/N", help="only shard I of N (stable, by a hash of the name)")
    target_names(choose.add_argument("--target", action="append", default=[], metavar="NAME",
                                     help="only this target (repeatable)"))
    choose.add_argument("--format", choices=FORMATS, default="text")
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--parallel", type=positive, metavar="N", help="targets at once ([fleet] parallel, 4)")
    run.add_argument("--canary", type=int, metavar="N", help="the first N targets run alone first")
    run.add_argument("--on-error", choices=("stop", "continue"),
                     help="after a failed target: start no new one, or go on ([fleet] on_error)")
    run.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")
    run.add_argument("--ignore-windows", action="store_true",
                     help="apply outside the maintenance windows and before not_before (recorded)")
    # The fleet's databases come from fleet.toml: of the database options, its runs take RUN's.
    verb = adder(verbs, [], hide_others=False)

    status = verb("status", parents=[choose], help="print each target's counts, then totals",
                  example="archon-plan fleet status --only 'eu/*' --check")
    status.add_argument("--check", action="store_true", help="exit 8 when any target is behind")
    verb("apply", parents=[choose, run], help="apply what is pending on every target", database=RUN,
         example="archon-plan fleet apply --canary 1 --parallel 8")
    revert = verb("revert", parents=[choose, run], help="revert on every target", database=RUN,
                  example="archon-plan fleet revert --last 1 --dry-run")
    which = revert.add_mutually_exclusive_group(required=True)
    migration_names(which.add_argument("--to", metavar="NAME", help="revert everything applied after NAME"))
    which.add_argument("--last", type=positive, metavar="N", help="revert the last N applied")
    revert.add_argument("--cascade", action="store_true", help="also revert applied dependents")
    drift = verb("drift", parents=[choose], help="compare each target's schema with a snapshot or with its "
                 "migrations; exit 11 when any differs",
                 example="archon-plan fleet drift --snapshot tenant.snapshot")
    drift.add_argument("--snapshot", type=Path, metavar="FILE",
                       help="the expected schema (a tenant's: `snapshot --tenant`); default: each target's "
                       "applied migrations, built on a scratch database")
    scratch_options(drift)


def run(context: Context, args: argparse.Namespace) -> int:
    from ..core.fleet import OnError
    from ..db import fleet as runner
    from . import fleet_render as render

    if args.fleet_command == "drift":
        from .drift import fleet_drift

        return fleet_drift(context, args)
    fleet, projects = load_targets(context, args)
    job = _job(context, args, projects, fleet)  # the fleet's SQL is checked before any target is touched
    chosen = choose(context, args, fleet, projects)
    settings = replace(fleet.settings, on_error=OnError.CONTINUE)  # status reads every target
    if args.fleet_command != "status":
        settings = replace(settings, parallel=int(args.parallel or settings.parallel),
                           on_error=OnError(args.on_error or fleet.settings.on_error),
                           canary=settings.canary if args.canary is None else max(0, args.canary))
    dry_run = getattr(args, "dry_run", False)
    progress = render.Progress(len(chosen), args.format == "text" and args.fleet_command != "status", dry_run)
    fleet_run = runner.FleetRun(settings.parallel, settings.on_error, progress,
                                lambda text: print(f"NOTICE: {text}", file=sys.stderr), context.actor)
    results = fleet_run.run(chosen, job, 0 if args.fleet_command == "status" else settings.canary)
    if args.fleet_command == "status":
        print(render.status_json(results, where(chosen), fleet.path) if args.format == "json"
              else render.status_text(results))
        return _status_code(results, args.check)
    code = runner.exit_code(results, fleet_run.interrupt)
    print(render.run_json(args.fleet_command, results, where(chosen), fleet.path, dry_run, code)
          if args.format == "json" else render.run_text(args.fleet_command, results, dry_run))
    return int(code)


def load_targets(context: Context, args: argparse.Namespace) -> tuple[Fleet, _Projects]:
    """The fleet file and the manifests of its targets."""
    from ..project.fleet import DEFAULT_FLEET_FILE, load_fleet
    from .commands import load

    loaded, built = load(context)
    return (load_fleet(args.fleet or loaded.root / DEFAULT_FLEET_FILE),
            _Projects(context, loaded.settings, built))


def choose(context: Context, args: argparse.Namespace, fleet: Fleet, projects: _Projects) -> list[Member]:
    """The targets --only, --shard and --target choose, tenants listed; in fleet order."""
    from ..core.fleet import duplicate_names, parse_shard, select
    from ..db import fleet as runner

    shard = parse_shard(args.shard) if args.shard else None
    everyone = runner.members(fleet.targets, context.env, projects.of)
    duplicates = duplicate_names([m.target for m in everyone])
    if duplicates:
        raise RefusedError(f"{fleet.path}: more than one target is named {duplicates[0]}",
                           "target names, and so the schemas a query yields, must be unique")
    names = {t.name for t in select([m.target for m in everyone], args.only, shard, args.target)}
    return [m for m in everyone if m.target.name in names]


def status_document(context: Context, fleet_file: Path | None) -> dict[str, Any]:
    """`fleet status --format json` of every target, read as `fleet status` reads them: what
    `serve --fleet` shows at /api/fleet."""
    from ..core.fleet import OnError
    from ..db import fleet as runner
    from . import fleet_render as render

    every = argparse.Namespace(fleet=fleet_file, only=None, shard=None, target=[])
    fleet, projects = load_targets(context, every)
    chosen = choose(context, every, fleet, projects)
    fleet_run = runner.FleetRun(fleet.settings.parallel, OnError.CONTINUE, lambda _: None,
                                lambda text: print(f"NOTICE: {text}", file=sys.stderr), context.actor)
    return render.status_document(fleet_run.run(chosen, runner.read_job), where(chosen), fleet.path)


def where(chosen: Sequence[Member]) -> dict[str, tuple[str | None, str | None]]:
    """Each target's database (password redacted) and tenant schema, for the JSON documents."""
    return {m.target.name: (m.database.redacted if m.database else None, m.target.schema) for m in chosen}


def _status_code(results: Sequence[Result], check: bool) -> int:
    failed = [r for r in results if not r.ok]
    if failed:
        return failed[0].exit_code
    behind = any(s.state in BEHIND for r in results for s in r.statuses)
    return ExitCode.NOT_UP_TO_DATE if check and behind else ExitCode.OK


class _Projects:
    """Each target's manifest, loaded once: the one in use, or the target's own."""

    def __init__(self, context: Context, settings: Settings, built: graph.MigrationGraph) -> None:
        self._context = context
        self._default = (settings, built)
        self.loaded: dict[Path, tuple[Settings, graph.MigrationGraph]] = {}

    def of(self, spec: TargetSpec) -> tuple[Settings, graph.MigrationGraph]:
        if spec.manifest is None:
            return self._default
        if spec.manifest not in self.loaded:
            from .commands import load

            loaded, built = load(self._context, spec.manifest)
            self.loaded[spec.manifest] = (loaded.settings, built)
        return self.loaded[spec.manifest]

    def all(self, fleet: Fleet) -> list[graph.MigrationGraph]:
        return [self.of(spec)[1] for spec in {spec.manifest: spec for spec in fleet.targets}.values()]


def _job(context: Context, args: argparse.Namespace, projects: _Projects, fleet: Fleet) -> Job:
    from ..db import executor
    from ..db import fleet as runner

    if args.fleet_command == "status":
        return runner.read_job
    direction = Direction.APPLY if args.fleet_command == "apply" else Direction.REVERT
    problems: list[Problem] = []
    graphs = projects.all(fleet)
    for built in graphs:  # every file the run could need, before any target is touched
        steps = tuple(Step(m, direction) for m in built.order if direction is Direction.APPLY or m.rollback)
        try:
            executor.prepare(Plan(steps))
        except ManifestError as exc:
            problems += exc.problems
    if problems:
        raise ManifestError(problems)
    if direction is Direction.APPLY:
        return runner.apply_job(context.actor, args.dry_run)
    if args.to is not None:
        for built in graphs:  # an unknown name is refused before any target is touched
            graph.resolve(args.to, built.order)
    return runner.revert_job(context.actor, functools.partial(_selector, args.to, args.last),
                             args.cascade, args.dry_run)


def _selector(to: str | None, last: float | None, built: graph.MigrationGraph) -> Selector:
    """What `revert --to NAME` or `--last N` chooses, on a target with this graph."""
    if to is not None:
        keep = graph.resolve(to, built.order)
        return lambda statuses: planning.revert_to(built, statuses, keep)
    return lambda statuses: planning.revert_last(statuses, int(last or 0))
