"""The benchmark's one command: `python -m bench.run`; a table on stdout, JSON with --json."""

from __future__ import annotations

import argparse
import compileall
import difflib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from . import baselines
from .measure import BenchError, memory_method
from .queries import query_figures
from .report import Figure, document, table
from .server import Server, chosen_server
from .suite import Bench, growth, lifecycle, planning, startup

DEFAULTS: dict[str, object] = {
    "sizes": [100, 1000], "plan_sizes": [10000], "linearity_sizes": [1000, 2000, 4000],
    "count_sizes": [100, 1000], "repeat": 5, "plan_repeat": 3, "startup_runs": 10,
}
QUICK: dict[str, object] = {
    "sizes": [100], "plan_sizes": [2000], "linearity_sizes": [500, 1000, 2000],
    "count_sizes": [50, 100], "repeat": 3, "plan_repeat": 1, "startup_runs": 5,
}
# The figure groups --only chooses from, in the order they are measured and reported.
GROUPS = ("startup", "planning", "growth", "lifecycle", "statements")


@dataclass(frozen=True)
class Settings:
    """What to measure, after --quick and the explicit options are laid over the defaults."""

    sizes: list[int]
    plan_sizes: list[int]
    linearity_sizes: list[int]
    count_sizes: list[int]
    repeat: int
    plan_repeat: int
    startup_runs: int
    seed: int
    only: tuple[str, ...] = GROUPS


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes are whole numbers of migrations, at least 1")
    return sizes


def _groups(text: str) -> tuple[str, ...]:
    """A comma list of GROUPS, kept in GROUPS' order whatever order it was given in."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if unknown := sorted(names - set(GROUPS)):
        raise argparse.ArgumentTypeError("; ".join(_unknown_group(name) for name in unknown))
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: name at least one of {', '.join(GROUPS)}")
    return tuple(group for group in GROUPS if group in names)


def _unknown_group(name: str) -> str:
    close = difflib.get_close_matches(name, GROUPS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else f" (one of {', '.join(GROUPS)})"
    return f"{name!r} is not a figure group{hint}"


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Time archon-plan against psql and psycopg baselines on the same server; "
        "count the statements it sends. See docs/performance.md.")
    add = parser.add_argument
    add("--database-url", help="an administrative URL; each measurement creates and drops a fresh "
        "database on it (default: ARCHON_BENCH_DATABASE_URL, else an embedded PostgreSQL)")
    add("--sizes", type=_sizes, help="N for apply, revert, no-op apply and status (default 100,1000)")
    add("--plan-sizes", type=_sizes, help="N for show and check, no database (default 10000)")
    add("--linearity-sizes", type=_sizes, help="N for show's growth (default 1000,2000,4000)")
    add("--count-sizes", type=_sizes, help="the two N statements are counted at (default 100,1000)")
    add("--repeat", type=_count, help="rounds of interleaved runs, medians reported (default 5; --quick 3)")
    add("--plan-repeat", type=_count, help="rounds for show and check (default 3; --quick 1)")
    add("--startup-runs", type=_count, help="runs of --version, --help, python -c pass (default 10)")
    add("--seed", type=int, default=0, help="seed of the synthetic projects (default 0)")
    add("--only", type=_groups, default=GROUPS, metavar="GROUPS",
        help=f"measure only these figure groups, a comma list of {','.join(GROUPS)} (default: all)")
    add("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    add("--quick", action="store_true", help="a smaller run of about a minute (N=100; show at 2,000)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else DEFAULTS
    chosen = {key: getattr(args, key) if getattr(args, key) is not None else value
              for key, value in base.items()}
    counts = chosen["count_sizes"]
    if not isinstance(counts, list) or len(set(counts)) != 2:
        raise BenchError("--count-sizes needs two different sizes, e.g. 100,1000")
    return Settings(**chosen, seed=args.seed, only=args.only)  # type: ignore[arg-type]


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def measure(settings: Settings, server: Server, work: Path) -> list[Figure]:
    archon = Path(sys.executable).with_name("archon-plan")
    if not archon.exists():
        raise BenchError(f"{archon} not found: install archon-plan into this virtualenv (pip install -e .)")
    _compile_bytecode()
    psql = baselines.psql_path()
    if psql is None:
        _say("psql not found on PATH: the psql floor is skipped and its ratios are left null")
    b = Bench(server, archon, work, settings.repeat, settings.seed, _say, psql)
    figures = startup(b, settings.startup_runs) if "startup" in settings.only else []
    if "planning" in settings.only:
        for n in settings.plan_sizes:
            figures += planning(b, n, settings.plan_repeat)
    if "growth" in settings.only:
        figures += growth(b, settings.linearity_sizes, settings.repeat)
    if "lifecycle" in settings.only:
        for n in settings.sizes:
            figures += lifecycle(b, n)
    if "statements" in settings.only:
        figures += query_figures(b, (min(settings.count_sizes), max(settings.count_sizes)))
    return figures


def _compile_bytecode() -> None:
    """Measure archon-plan as an installed copy runs: with its bytecode. An editable checkout
    under PYTHONDONTWRITEBYTECODE=1 would compile every module again in every run (about
    15 ms), which no user of a pip-installed archon-plan pays; Python still checks each .pyc
    against its source, so a stale one is never used."""
    import archon_plan

    package = Path(archon_plan.__file__).parent
    if not compileall.compile_dir(str(package), quiet=1):
        _say(f"could not compile {package}: its modules are compiled on every run")


def _archon_version() -> str:
    archon = Path(sys.executable).with_name("archon-plan")
    done = subprocess.run([str(archon), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip()


def _commit() -> str | None:
    """The commit measured, and whether archon_plan/ had uncommitted changes (read-only git)."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "archon_plan"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}{' with uncommitted changes in archon_plan/' if dirty else ''}"


def _meta(started: datetime, seconds: float, server: Server, settings: Settings) -> dict[str, object]:
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
        "server": {"version": server.version, "address": server.shown, "source": server.source},
        "archon_plan": _archon_version(),
        "commit": _commit(),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "peak_memory_by": memory_method(),
        "settings": vars(settings),
    }


def _header(meta: dict[str, object], server: Server, settings: Settings) -> str:
    return (f"archon-plan benchmark, {meta['started_at']}, {meta['duration_s']} s\n"
            f"{meta['archon_plan']} ({meta['commit'] or 'commit unknown'}), Python {meta['python']}, "
            f"{os.cpu_count()} CPUs\nserver: {server.version} at {server.shown} ({server.source})\n"
            f"medians of {settings.repeat} interleaved runs ({settings.plan_repeat} for show and check, "
            f"{settings.startup_runs} for start-up); peak memory by {meta['peak_memory_by']}\n"
            + ("" if settings.only == GROUPS else f"figure groups: {', '.join(settings.only)} only\n"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started, clock = datetime.now(UTC), time.perf_counter()
    try:
        settings = settings_from(args)
        with chosen_server(args.database_url, os.environ) as server, \
                tempfile.TemporaryDirectory(prefix="archon-plan-bench-") as work:
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
    print(_header(meta, server, settings))
    print(table(figures))
    if args.json:
        args.json.write_text(document(meta, figures), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
