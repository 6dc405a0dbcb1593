"""Fleet figures: `python -m bench.fleet`; a table on stdout, JSON with --json.

Every figure is a ratio to a baseline timed in the same run on the same server, or a count:
`fleet apply` on a database's tenant schemas against one psql session doing the same work,
`fleet status` against psql reading every tenant's rows, a fleet of databases against
`archon-plan apply` once per database, growth with the number of tenants, and django-tenants'
`migrate_schemas` as a peer. See docs/performance.md, "Fleets".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psycopg

from . import baselines, fleet_django, fleet_figures, fleet_setup
from .fleet_figures import Taken
from .generate import Project
from .measure import BenchError, Command, memory_method, run
from .report import Figure, document, table
from .run import _archon_version, _commit, _compile_bytecode, _say, _sizes
from .server import Server, chosen_server, fresh_database
from .statements import Counts, counted, find_log
from .suite import Bench


@dataclass(frozen=True)
class Defaults:
    tenants: tuple[int, ...]
    databases: int
    repeat: int


FULL, QUICK = Defaults((250, 500, 1000), 20, 3), Defaults((50, 100, 200), 5, 1)


@dataclass(frozen=True)
class Settings:
    """What to measure, after --quick and the explicit options are laid over the defaults."""

    tenants: list[int]
    databases: int
    repeat: int
    peer_repeat: int
    parallel: int
    seed: int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet",
        description="Time `archon-plan fleet` against psql baselines on the same server; count the "
        "statements it sends per tenant; django-tenants as a peer. See docs/performance.md.")
    add = parser.add_argument
    add("--database-url", help="an administrative URL; each measurement creates and drops fresh "
        "databases on it (default: ARCHON_BENCH_DATABASE_URL, else an embedded PostgreSQL)")
    add("--tenants", type=_sizes, help="tenant schemas per database, growing (default 250,500,1000); "
        "the floor, --parallel 1 and the peer run at the largest")
    add("--databases", type=int, help="databases of the whole-database fleet (default 20; --quick 5)")
    add("--repeat", type=int, help="rounds of interleaved runs, medians reported (default 3; --quick 1)")
    add("--peer-repeat", type=int, default=1, help="rounds that also run django-tenants (default 1: "
        "it takes minutes at 1,000 tenants); 0 leaves the peer out")
    add("--parallel", type=int, default=4, help="--parallel of the parallel runs (default 4)")
    add("--seed", type=int, default=0, help="seed of the synthetic migrations (default 0)")
    add("--json", nargs="?", const="-", metavar="PATH",
        help="write the figures as JSON to PATH; alone, print the JSON instead of the table")
    add("--quick", action="store_true", help="a smaller run of a minute or two (50,100,200 tenants)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    tenants = sorted(set(args.tenants or base.tenants))
    databases, repeat = args.databases or base.databases, args.repeat or base.repeat
    if len(tenants) < 2 or min(databases, repeat, args.parallel) < 1 or args.peer_repeat < 0:
        raise BenchError("--tenants needs two sizes or more; --databases, --repeat and --parallel at least 1")
    return Settings(tenants, databases, repeat, min(args.peer_repeat, repeat), args.parallel, args.seed)


@dataclass(frozen=True)
class Fleet:
    """What every round shares: the bench, the project, its fleet files and the peer."""

    b: Bench
    settings: Settings
    project: Project
    tenant_fleet: Path
    database_fleet: Path
    peer: fleet_django.DjangoTenants | None

    def command(self, fleet: Path, env: dict[str, str], *args: str) -> Command:
        """`archon-plan fleet ...` as users run it, the URLs in the variables fleet.toml names."""
        command = self.b.archon_plan(self.project, None, "fleet", *args, "--fleet", str(fleet))
        return replace(command, env={**(command.env or os.environ), **env})

    def apply(self, url: str, parallel: int) -> Command:
        return self.command(self.tenant_fleet, {fleet_setup.TENANTS_VARIABLE: url},
                            "apply", "--parallel", str(parallel))

    def status(self, url: str) -> Command:
        return self.command(self.tenant_fleet, {fleet_setup.TENANTS_VARIABLE: url}, "status", "--check")


def tenants_round(f: Fleet, n: int, taken: Taken, largest: bool, peer: bool) -> None:
    """At every size, each on a fresh database: the psql floor (and its reads), fleet apply
    --parallel P and fleet status. At the largest also fleet apply --parallel 1 and the peer."""
    b, project, per_tenant = f.b, f.project, fleet_setup.tables_per_target(f.project)
    if b.psql:
        floor_apply, floor_status = fleet_setup.write_floor_files(project, n)
        with fleet_setup.tenant_database(b.server, n) as url:
            taken["floor", n].append(run(baselines.psql(url, project.root, floor_apply)))
            fleet_setup.check_tenants(url, n, per_tenant)
            taken["floor_status", n].append(run(baselines.psql(url, project.root, floor_status)))
    for parallel in [1, f.settings.parallel] if largest else [f.settings.parallel]:
        with fleet_setup.tenant_database(b.server, n) as url:
            taken[f"apply{parallel}", n].append(run(f.apply(url, parallel)))
            fleet_setup.check_tenants(url, n, per_tenant)
            if parallel == f.settings.parallel:
                taken["status", n].append(run(f.status(url)))
    if largest and peer and f.peer:
        for processes in (1, f.settings.parallel):
            with fresh_database(b.server) as url:
                f.peer.prepare(url, n)
                taken[f"django{processes}", n].append(run(f.peer.migrate(url, processes)))
                fleet_setup.check_tenants(url, n, per_tenant - 1, public=None)  # django_migrations


def databases_round(f: Fleet, taken: Taken) -> None:
    """fleet apply --parallel P over D databases, against `archon-plan apply` on each in turn."""
    count = f.settings.databases
    with fleet_setup.databases(f.b.server, count) as urls:
        env = fleet_setup.database_env(urls)
        taken["databases_fleet", count].append(
            run(f.command(f.database_fleet, env, "apply", "--parallel", str(f.settings.parallel))))
        fleet_setup.check_databases(env, f.project)
    with fleet_setup.databases(f.b.server, count) as urls:
        taken["databases_sequence", count].append(run(_in_sequence(f, urls)))
        fleet_setup.check_databases(fleet_setup.database_env(urls), f.project)


def _in_sequence(f: Fleet, urls: Sequence[str]) -> Command:
    """One shell runs `archon-plan apply` on each database in turn: what a deploy script does
    without a fleet. Its peak memory is the largest of its children's."""
    env = f.b.archon_plan(f.project, None, "apply").env or os.environ
    script = 'for url do "$0" --manifest "$MANIFEST" --database-url "$url" apply || exit $?; done'
    return Command(f"archon-plan apply x{len(urls)}", ("/bin/sh", "-c", script, str(f.b.archon), *urls),
                   f.project.root, {**env, "MANIFEST": str(f.project.manifest)})


def count_round(f: Fleet, sizes: tuple[int, int]) -> dict[int, dict[str, Counts]] | str:
    """fleet apply and fleet status counted on the server at two sizes, or why they cannot be."""
    log = find_log(f.b.server.admin_url)
    if isinstance(log, str):
        return log
    found: dict[int, dict[str, Counts]] = {}
    for n in sizes:
        f.b.say(f"counting statements on the server, {n:,} tenants")
        with fleet_setup.tenant_database(f.b.server, n, log_statements=True) as url:
            found[n] = {key: counted(log, url, partial(run, command))
                        for key, command in (("apply", f.apply(url, f.settings.parallel)),
                                             ("status", f.status(url)))}
    return found


def measure(settings: Settings, server: Server, work: Path) -> list[Figure]:
    archon = Path(sys.executable).with_name("archon-plan")
    if not archon.exists():
        raise BenchError(f"{archon} not found: install archon-plan into this virtualenv (pip install -e .)")
    _compile_bytecode()
    psql = baselines.psql_path()
    if psql is None:
        _say("psql not found on PATH: the psql floors are skipped and their ratios left null")
    b = Bench(server, archon, work, settings.repeat, settings.seed, _say, psql)
    project = b.project(fleet_setup.MIGRATIONS)
    tenant_fleet, database_fleet = fleet_setup.write_fleet_files(project, settings.databases)
    why_no_peer = fleet_django.missing() if settings.peer_repeat else "left out (--peer-repeat 0)"
    peer = None if why_no_peer else fleet_django.DjangoTenants(work / "django", project)
    f = Fleet(b, settings, project, tenant_fleet, database_fleet, peer)
    taken: Taken = defaultdict(list)
    for round_ in range(1, settings.repeat + 1):
        for n in settings.tenants:
            _say(f"round {round_} of {settings.repeat}: {n:,} tenants")
            tenants_round(f, n, taken, n == settings.tenants[-1], round_ <= settings.peer_repeat)
        _say(f"round {round_} of {settings.repeat}: {settings.databases} databases")
        databases_round(f, taken)
    counts = count_round(f, (settings.tenants[0], settings.tenants[-1]))
    return fleet_figures.figures(taken, settings.tenants, settings.databases, settings.parallel,
                                 project, counts, why_no_peer)


def _meta(started: datetime, seconds: float, server: Server, settings: Settings) -> dict[str, object]:
    return {"started_at": started.isoformat(timespec="seconds"), "duration_s": round(seconds, 1),
            "server": {"version": server.version, "address": server.shown, "source": server.source},
            "archon_plan": _archon_version(), "commit": _commit(), "machine": {"cpus": os.cpu_count()},
            "peak_memory_by": memory_method(), "settings": vars(settings)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started, clock = datetime.now(UTC), time.perf_counter()
    try:
        settings = settings_from(args)
        with chosen_server(args.database_url, os.environ) as server, \
                tempfile.TemporaryDirectory(prefix="archon-plan-bench-fleet-") as work:
            _say(f"server: {server.version} at {server.shown} ({server.source})")
            figures = measure(settings, server, Path(work))
    except (BenchError, psycopg.Error, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"bench: error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; the fresh databases were dropped", file=sys.stderr)
        return 130
    meta = _meta(started, time.perf_counter() - clock, server, settings)
    if args.json == "-":
        print(document(meta, figures), end="")
        return 0
    print(f"archon-plan fleet benchmark, {meta['started_at']}, {meta['duration_s']} s\n"
          f"{meta['archon_plan']} ({meta['commit'] or 'commit unknown'}), {os.cpu_count()} CPUs\n"
          f"server: {server.version} at {server.shown} ({server.source})\n"
          f"medians of {settings.repeat} rounds ({settings.peer_repeat} for the peer); "
          f"peak memory by {meta['peak_memory_by']}\n")
    print(table(figures))
    if args.json:
        Path(args.json).write_text(document(meta, figures), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
