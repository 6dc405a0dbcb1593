"""The fleet figures from the rounds' samples and the server's counts, judged by their targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise

from .fleet_setup import MIGRATIONS, floor_statements
from .generate import Project
from .measure import Sample, Series
from .queries import slope
from .report import Figure, at_most, judged, missing, timed
from .statements import Counts

Taken = dict[tuple[str, int], list[Sample]]  # (what, tenants or databases) -> one sample per round
TARGET_TENANTS, TARGET_DATABASES = 1_000, 20  # the targets are stated at these sizes
FLOOR = "psql floor"


def figures(taken: Taken, tenants: Sequence[int], databases: int, parallel: int, project: Project,
            counts: Mapping[int, Mapping[str, Counts]] | str, why_no_peer: str | None) -> list[Figure]:
    s = {key: Series(tuple(samples)) for key, samples in taken.items()}
    largest = tenants[-1]
    return [*_apply(s, largest, parallel), _status(s, largest), *_peer(s, largest, parallel, why_no_peer),
            *_sizes(s, tenants[:-1], parallel), *_growth(s, tenants, parallel),
            _databases(s, databases, parallel), *_counts(counts, project, parallel)]


def _per_tenant(n: int, figure: Figure) -> dict[str, object]:
    if figure.overhead is None:
        return {}
    return {"overhead_per_tenant_ms": round(figure.overhead / n, 3),
            "overhead_per_migration_ms": round(figure.overhead / n / MIGRATIONS, 4)}


def _apply(s: Mapping[tuple[str, int], Series], n: int, parallel: int) -> list[Figure]:
    found = []
    for p, limit, target in ((1, 1.30, "<= 1.30x floor"), (parallel, 1.0, "< 1.00x floor")):
        archon = s[f"apply{p}", n]
        figure = timed(f"fleet_apply_parallel_{p}", f"fleet apply --parallel {p}, {n:,} tenants x 10", n,
                       archon, s.get(("floor", n)), FLOOR, per_migration=False)
        peer = s.get((f"django{p}", n))
        extra = _per_tenant(n, figure) | ({"django_tenants_ms": round(peer.ms, 2),
                                           "ratio_to_django_tenants": round(archon.ms / peer.ms, 3)}
                                          if peer else {})
        figure = replace(figure, detail={**figure.detail, **extra})
        if n == TARGET_TENANTS:
            ratio = figure.ratio
            met = None if ratio is None else (ratio <= limit if p == 1 else ratio < limit)
            figure = judged(figure, target, met)
        found.append(figure)
    return found


def _status(s: Mapping[tuple[str, int], Series], n: int) -> Figure:
    figure = timed("fleet_status", f"fleet status, {n:,} tenants applied", n, s["status", n],
                   s.get(("floor_status", n)), "psql reads every tenant's rows", per_migration=False)
    if n != TARGET_TENANTS:
        return figure
    met = figure.value is not None and figure.value < 2000 and (figure.peak_mb or 0) < 300
    return judged(figure, "< 2 s, < 300 MB", met)


def _peer(s: Mapping[tuple[str, int], Series], n: int, parallel: int, why: str | None) -> list[Figure]:
    """django-tenants' migrate_schemas against the same floor; archon-plan's ratio to it in detail."""
    found = []
    for p, how in ((1, "1 process"), (parallel, f"{parallel} processes")):
        label = f"django-tenants migrate_schemas, {how}, {n:,} tenants x 10"
        peer = s.get((f"django{p}", n))
        if peer is None:
            found.append(missing(f"django_tenants_{p}", label, n, "ms", f"not measured: {why}"))
            continue
        archon = s[f"apply{p}", n]
        figure = timed(f"django_tenants_{p}", label, n, peer, s.get(("floor", n)), FLOOR, per_migration=False,
                       extra={f"archon_plan_parallel_{p}_ms": round(archon.ms, 2),
                              "archon_plan_ratio": round(archon.ms / peer.ms, 3)})
        note = ("--executor multiprocessing; peak memory is the largest process's, the pool's "
                "workers add theirs" if p > 1 else None)
        found.append(replace(figure, note=note))
    return found


def _sizes(s: Mapping[tuple[str, int], Series], sizes: Sequence[int], parallel: int) -> list[Figure]:
    """fleet apply and status at the smaller sizes (the largest is above, with its targets)."""
    runs = (("apply", f"apply{parallel}", f"apply --parallel {parallel}", "floor", FLOOR),
            ("status", "status", "status", "floor_status", "psql reads every tenant's rows"))
    return [timed(f"fleet_{what}_{n}", f"fleet {label}, {n:,} tenants", n, s[key, n], s.get((floor, n)),
                  floor_name, per_migration=False)
            for n in sizes for what, key, label, floor, floor_name in runs]


def _growth(s: Mapping[tuple[str, int], Series], sizes: Sequence[int], parallel: int) -> list[Figure]:
    """Time and peak memory may at most grow as the number of tenants does; the floor's own
    growth over the same sizes is in detail, to tell the server's share from ours."""
    found = []
    for key, floor, name in ((f"apply{parallel}", "floor", f"fleet apply --parallel {parallel}"),
                             ("status", "floor_status", "fleet status")):
        for n1, n2 in pairwise(sizes):
            one, two, factor = s[key, n1], s[key, n2], n2 / n1
            base = (s[floor, n1].ms, s[floor, n2].ms) if (floor, n1) in s and (floor, n2) in s else None
            for what, a, c in (("time", one.ms, two.ms), ("peak memory", one.peak_mb, two.peak_mb)):
                ratio = round(c / a, 3)
                detail: dict[str, object] = {"sizes": [n1, n2], "values": [round(a, 2), round(c, 2)],
                                             "unit": "ms" if what == "time" else "MB"}
                if what == "time" and base:
                    detail.update(floor_ms=[round(v, 2) for v in base],
                                  floor_ratio=round(base[1] / base[0], 3))
                found.append(Figure(
                    f"{key}_growth_{what.split()[-1]}", f"{name} {what}, {n1:,} -> {n2:,} tenants", n2, "x",
                    ratio, target=f"<= {factor:g}x", met=ratio <= factor, detail=detail,
                    note=f"the floor grew {detail['floor_ratio']}x" if "floor_ratio" in detail else None))
    return found


def _databases(s: Mapping[tuple[str, int], Series], count: int, parallel: int) -> Figure:
    figure = timed("fleet_databases", f"fleet apply --parallel {parallel}, {count} databases x 10", count,
                   s["databases_fleet", count], s["databases_sequence", count],
                   f"archon-plan apply x{count} in sequence", per_migration=False)
    return judged(figure, "<= 0.40x", at_most(0.40, figure.ratio)) if count == TARGET_DATABASES else figure


COUNTED = (("fleet_status_statements", "fleet status: statements per tenant", "statements"),
           ("fleet_status_round_trips", "fleet status: round trips per tenant", "round trips"),
           ("fleet_apply_statements", "fleet apply: statements per tenant beyond its SQL", "statements"),
           ("fleet_apply_round_trips", "fleet apply: round trips per tenant", "round trips"))


def _counted(key: str, round_trips: bool, n: int, counts: Counts, own: int) -> int:
    """Round trips, or statements beyond the migrations' own SQL (apply) or all of them (status)."""
    if round_trips:
        return counts.round_trips
    return counts.statements - (n * own if key == "apply" else 0)


def _counts(counts: Mapping[int, Mapping[str, Counts]] | str, project: Project,
            parallel: int) -> list[Figure]:
    """Per tenant, as the slope between two sizes (and what a run costs once, in detail)."""
    if isinstance(counts, str):
        return [missing(id_, label, None, unit, f"not counted: {counts}") for id_, label, unit in COUNTED]
    (n1, c1), (n2, c2) = sorted(counts.items())
    own, beyond = project.own_statements, floor_statements(project)
    floor = {("status", False): 1, ("status", True): 1,  # psql sends each statement on its own
             ("apply", False): beyond, ("apply", True): beyond + own}
    found = []
    for (id_, label, unit), (key, trips) in zip(COUNTED, floor, strict=True):
        y1, y2 = _counted(key, trips, n1, c1[key], own), _counted(key, trips, n2, c2[key], own)
        fit = slope(n1, y1, n2, y2)
        detail = {"sizes": [n1, n2], unit.replace(" ", "_"): [y1, y2], "fixed_per_run": fit.fixed,
                  "parallel": parallel}
        figure = Figure(id_, label, n2, unit, fit.per_migration, floor[key, trips], FLOOR, detail=detail)
        if key == "status":
            figure = judged(figure, "the same for every tenant", float(fit.per_migration).is_integer())
        found.append(figure)
    return found
