"""Statements and round trips per migration, counted on the server at two sizes.

Counting at two sizes separates what each migration costs (the slope) from what a run
costs once (taking the lock, reading the rows, creating the tracking table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from . import baselines
from .generate import Project
from .measure import BenchError, run
from .report import Figure, judged, missing
from .server import fresh_database
from .statements import Counts, ServerLog, counted, find_log
from .suite import Bench

# One round trip per migration (issue 13); statements are reported, not judged: what counts
# is waiting on the server, and several statements can share one message.
ROUND_TRIP_TARGET = 1
# The slope of two integer counts is exact in principle; this absorbs float noise (1.0000001).
TOLERANCE = 1e-6
ROUND_TRIPS, CONSTANT = f"<= {ROUND_TRIP_TARGET}", "the same at every N"  # the targets as shown
ARCHON_STEPS = (("apply", ("apply",)), ("noop", ("apply",)), ("status", ("status",)),
                ("revert", ("revert", "--last")))


@dataclass(frozen=True)
class Slope:
    """count(N) = per_migration * N + fixed, from two sizes."""

    per_migration: float
    fixed: float


def slope(n1: int, y1: int, n2: int, y2: int) -> Slope:
    per = (y2 - y1) / (n2 - n1)
    return Slope(round(per, 3), round(y1 - per * n1, 1))


def _count_size(b: Bench, log: ServerLog, project: Project) -> dict[str, Counts]:
    """archon-plan's apply, no-op apply, status and revert, then the psql floor's apply and
    revert (which find the tracking table there: its DDL is IF NOT EXISTS), on a database
    that logs every statement."""
    n, counts = len(project.migrations), {}
    b.say(f"counting statements on the server, N={n:,}")
    with fresh_database(b.server, log_statements=True) as url:
        for key, args in ARCHON_STEPS:
            command = b.archon_plan(project, url, *args, *([str(n)] if key == "revert" else []))
            counts[key] = counted(log, url, partial(run, command))
        if b.psql:
            floor_apply, floor_revert = baselines.write_floor_files(project)
            for key, file in (("floor_apply", floor_apply), ("floor_revert", floor_revert)):
                counts[key] = counted(log, url, partial(run, baselines.psql(url, project.root, file)))
    return counts


Sized = tuple[tuple[Project, dict[str, Counts]], tuple[Project, dict[str, Counts]]]
OWN: dict[str, Callable[[Project], int]] = {
    "apply": lambda p: p.own_statements, "revert": lambda p: p.rollback_statements}


def query_figures(b: Bench, sizes: tuple[int, int]) -> list[Figure]:
    log = find_log(b.server.admin_url)
    if isinstance(log, str):
        return _unmeasured(sizes[1], f"not counted: {log}")
    small, large = b.project(sizes[0]), b.project(sizes[1])
    try:
        sized: Sized = ((small, _count_size(b, log, small)), (large, _count_size(b, log, large)))
    except BenchError as exc:
        return _unmeasured(sizes[1], f"not counted: {exc}")
    figures = [f for key in ("apply", "revert") for f in _per_migration(key, sized)]
    (_, c1), (_, c2) = sized
    return figures + [_constant(key, label, sizes[0], c1[key], sizes[1], c2[key])
                      for key, label in (("noop", "no-op apply"), ("status", "status"))]


def _fit(sized: Sized, key: str, value: Callable[[Project, Counts], int]) -> Slope | None:
    """The slope of value over the two sizes; None when key was not counted (no psql)."""
    (p1, c1), (p2, c2) = sized
    if key not in c1 or key not in c2:
        return None
    return slope(len(p1.migrations), value(p1, c1[key]), len(p2.migrations), value(p2, c2[key]))


def _per_migration(key: str, sized: Sized) -> list[Figure]:
    own = OWN[key]
    beyond = _fit(sized, key, lambda p, c: c.statements - own(p))
    trips = _fit(sized, key, lambda p, c: c.round_trips)
    floor = _fit(sized, f"floor_{key}", lambda p, c: c.statements - own(p))
    floor_trips = _fit(sized, f"floor_{key}", lambda p, c: c.round_trips)
    assert beyond is not None and trips is not None  # archon-plan's own counts are always taken
    (p1, c1), (p2, c2) = sized
    detail = {"sizes": [len(p1.migrations), len(p2.migrations)],
              "statements": [c1[key].statements, c2[key].statements],
              "own_statements": [own(p1), own(p2)],
              "round_trips": [c1[key].round_trips, c2[key].round_trips],
              "fixed_statements_per_run": beyond.fixed, "fixed_round_trips_per_run": trips.fixed}
    n, name = len(p2.migrations), "psql floor"
    statements = Figure(f"{key}_statements", f"{key}: statements/migration beyond its SQL", n,
                        "statements", beyond.per_migration, floor.per_migration if floor else None,
                        name if floor else None, detail=detail)
    round_trips = Figure(f"{key}_round_trips", f"{key}: round trips/migration", n, "round trips",
                         trips.per_migration, floor_trips.per_migration if floor_trips else None,
                         name if floor_trips else None, detail={"fixed_per_run": trips.fixed})
    met = trips.per_migration <= ROUND_TRIP_TARGET + TOLERANCE
    return [statements, judged(round_trips, ROUND_TRIPS, met)]


def _constant(key: str, label: str, n1: int, one: Counts, n2: int, two: Counts) -> Figure:
    figure = Figure(f"{key if key == 'status' else 'noop_apply'}_statements",
                    f"{label}: statements, N={n1:,} vs {n2:,}", n2, "statements", two.statements,
                    one.statements, f"N={n1:,}",
                    detail={"sizes": [n1, n2], "statements": [one.statements, two.statements],
                            "round_trips": [one.round_trips, two.round_trips]})
    return judged(figure, CONSTANT, one == two)


# (id, label, unit, target): what _unmeasured reports, its target kept even without a value.
QUERY_FIGURES = (
    ("apply_statements", "apply: statements/migration beyond its SQL", "statements", None),
    ("apply_round_trips", "apply: round trips/migration", "round trips", ROUND_TRIPS),
    ("revert_statements", "revert: statements/migration beyond its SQL", "statements", None),
    ("revert_round_trips", "revert: round trips/migration", "round trips", ROUND_TRIPS),
    ("noop_apply_statements", "no-op apply: statements", "statements", CONSTANT),
    ("status_statements", "status: statements", "statements", CONSTANT),
)


def _unmeasured(n: int, note: str) -> list[Figure]:
    return [missing(id_, label, n, unit, note, target) for id_, label, unit, target in QUERY_FIGURES]
