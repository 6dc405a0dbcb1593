"""Figures, the targets they are judged by, and the table and JSON they are reported in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from .measure import Series

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Figure:
    """One measured figure: archon-plan's value, its baseline from the same run, the target."""

    id: str  # stable key, e.g. apply_all, show, apply_statements
    label: str
    n: int | None  # migrations in the project, when that matters
    unit: str  # ms, statements, round trips, queries, x
    value: float | None
    baseline: float | None = None
    baseline_name: str | None = None
    ratio: float | None = None  # value / baseline
    overhead: float | None = None  # value - baseline, in unit
    per_migration: float | None = None  # overhead / n
    peak_mb: float | None = None  # archon-plan's own peak resident memory
    target: str | None = None
    met: bool | None = None  # None: not judged (no target, or a value is missing)
    note: str | None = None  # why a value is missing, or what to keep in mind
    detail: Mapping[str, object] = field(default_factory=dict)


def timed(
    id: str, label: str, n: int | None, archon: Series, baseline: Series | None, baseline_name: str,
    per_migration: bool = True, extra: Mapping[str, object] | None = None,
) -> Figure:
    """A whole-process time with its baseline's, their ratio and the overhead (per migration)."""
    value, base = round(archon.ms, 2), round(baseline.ms, 2) if baseline else None
    overhead = round(value - base, 2) if base is not None else None
    detail: dict[str, object] = {"samples_ms": archon.all_ms}
    if baseline:
        detail.update(baseline_samples_ms=baseline.all_ms, baseline_peak_mb=round(baseline.peak_mb, 1))
    return Figure(id, label, n, "ms", value, base, baseline_name if baseline else None,
                  round(value / base, 3) if base else None, overhead,
                  round(overhead / n, 4) if per_migration and n and overhead is not None else None,
                  round(archon.peak_mb, 1), detail={**detail, **(extra or {})})


def judged(figure: Figure, target: str, met: bool | None) -> Figure:
    return replace(figure, target=target, met=met)


def at_most(limit: float, *values: float | None) -> bool | None:
    """True when every value is within the limit; None when one is missing."""
    if any(v is None for v in values):
        return None
    return all(v is not None and v <= limit for v in values)


def missing(id: str, label: str, n: int | None, unit: str, note: str, target: str | None = None) -> Figure:
    """A figure that could not be measured here: null, with the reason, never invented."""
    return Figure(id, label, n, unit, None, target=target, note=note)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _overhead(f: Figure) -> str:
    if f.per_migration is not None:
        return f"{f.per_migration:+.3f} ms/migration"
    if f.overhead is not None:
        return f"{f.overhead:+,.1f} {f.unit}" if f.unit == "ms" else f"{f.overhead:+,.2f}"
    return ""


def _row(f: Figure) -> list[str]:
    baseline = f"{_number(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline is not None else "-"
    result = {True: "met", False: "MISSED", None: "-"}[f.met]
    return [f.label, _number(f.value, f.unit), baseline, f"{f.ratio:.2f}x" if f.ratio else "",
            _overhead(f), f"{f.peak_mb:,.0f} MB" if f.peak_mb else "", f.target or "", result]


HEADER = ["figure", "archon-plan", "baseline", "ratio", "overhead", "peak", "target", "result"]


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table, one figure a row, then the notes of figures that have one."""
    rows = [HEADER, *(_row(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {f.label}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", "Notes:", *notes] if notes else []))


def document(meta: Mapping[str, object], figures: Sequence[Figure]) -> str:
    """The JSON report: the run's description, then every figure with the fields above."""
    body = {"schema_version": SCHEMA_VERSION, **meta, "figures": [asdict(f) for f in figures]}
    return json.dumps(body, indent=2, sort_keys=False) + "\n"
