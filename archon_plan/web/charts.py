"""The dashboard's charts as inline SVG: the history on a time axis, and how long migrations took."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from ..core.model import EventKind
from ..review.dashboard import MigrationLine
from .draw import add, axis, duration, markup, short, svg, when

# The timeline's lanes, top to bottom, and the events each holds; the lane names the CSS class.
LANES: tuple[tuple[str, tuple[EventKind, ...]], ...] = (
    ("apply", (EventKind.APPLY,)),
    ("revert", (EventKind.REVERT,)),
    ("failed", (EventKind.APPLY_FAILED, EventKind.REVERT_FAILED, EventKind.INTERRUPTED)),
    ("repair", (EventKind.ACCEPT_CHECKSUM, EventKind.MARK_APPLIED, EventKind.MARK_REVERTED,
                EventKind.ADOPT)),
    ("other", (EventKind.RETRY, EventKind.STATEMENT_STARTED, EventKind.STATEMENT)),
)
LANE_OF = {str(kind): lane for lane, kinds in LANES for kind in kinds}
BARS_SHOWN = 40


def lane(event: Mapping[str, Any]) -> str:
    """The lane (and colour) of an event; one of another tool's kinds goes to "other"."""
    return LANE_OF.get(str(event["event"]), "other")


def timeline(events: Sequence[Mapping[str, Any]]) -> Markup | None:
    """Each event a dot at its time, in the lane of its kind; hovering shows what it was."""
    if not events:
        return None
    lanes = [name for name, _ in LANES if any(lane(e) == name for e in events)]
    width, left, right, lane_h, top = 1000.0, 96.0, 24.0, 30.0, 8.0
    height = top + lane_h * len(lanes) + 34
    times: list[datetime] = [e["finished_at"] for e in events]
    start, span = min(times), (max(times) - min(times)).total_seconds()

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span if span else 0.5
        return left + share * (width - left - right)

    root = svg(width, height, f"Timeline of the last {len(events)} event(s)", "chart timeline")
    for row, name in enumerate(lanes):
        y = top + lane_h * row + lane_h / 2
        add(root, "line", x1=left, y1=y, x2=width - right, y2=y, class_="lane")
        add(root, "text", name, x=left - 12, y=y + 4, text_anchor="end", class_="axis-label")
    for event in events:
        y = top + lane_h * lanes.index(lane(event)) + lane_h / 2
        dot = add(root, "circle", cx=x(event["finished_at"]), cy=y, r=5.5, class_=f"dot ev-{lane(event)}")
        add(dot, "title", _describe(event))
    _time_axis(root, start, span, left, width - right, top + lane_h * len(lanes))
    return markup(root)


def _describe(event: Mapping[str, Any]) -> str:
    name = f" {event['version']}/{event['migration_name']}" if event["version"] else ""
    took = f" ({duration(event['duration_ms'])})" if event["duration_ms"] is not None else ""
    return f"{when(event['finished_at'])}: {event['event']}{name}{took}"


def _time_axis(root: ET.Element, start: datetime, span: float, left: float, right: float, y: float) -> None:
    add(root, "line", x1=left, y1=y, x2=right, y2=y, class_="axis")
    ticks = 5 if span else 1
    for i in range(ticks):
        share = i / (ticks - 1) if ticks > 1 else 0.5
        moment = start + timedelta(seconds=span * share)
        tick_x = left + share * (right - left)
        add(root, "line", x1=tick_x, y1=y, x2=tick_x, y2=y + 5, class_="axis")
        anchor = "start" if i == 0 and ticks > 1 else "end" if i == ticks - 1 and ticks > 1 else "middle"
        add(root, "text", _tick(moment, i, span), x=tick_x, y=y + 18, text_anchor=anchor,
            class_="axis-label")


def _tick(moment: datetime, i: int, span: float) -> str:
    """The first tick says when; over a minute or more the others say the time (with the date
    beyond a day), within a minute how long after the first."""
    if i == 0:
        return when(moment)
    if span < 60:
        return "+" + duration(round(span * 1000 * i / 4))
    return when(moment, date=span >= 86_400)


def durations(lines: Sequence[MigrationLine]) -> Markup | None:
    """A bar per applied migration: its newest apply's duration; the slowest BARS_SHOWN of many."""
    bars = [line for line in lines if line.duration_ms is not None]
    if not bars:
        return None
    if len(bars) > BARS_SHOWN:
        bars = sorted(bars, key=lambda line: -(line.duration_ms or 0))[:BARS_SHOWN]
    label_w, bar_w, row_h, top = 300.0, 560.0, 24.0, 26.0
    width, height = label_w + bar_w + 90, top + row_h * len(bars) + 8
    end, step = axis(max(line.duration_ms or 0 for line in bars))
    root = svg(width, height, "How long each migration's newest apply took", "chart durations")
    for i in range(round(end / step) + 1):
        grid_x = label_w + bar_w * i * step / end
        add(root, "line", x1=grid_x, y1=top - 6, x2=grid_x, y2=height - 4, class_="grid")
        add(root, "text", duration(round(i * step)), x=grid_x, y=top - 10, text_anchor="middle",
            class_="axis-label")
    for row, line in enumerate(bars):
        y = top + row * row_h
        ms = line.duration_ms or 0
        label = add(root, "text", short(line.status.label, 42), x=label_w - 10, y=y + row_h / 2 + 4,
                    text_anchor="end", class_="bar-label")
        add(label, "title", line.status.label)
        bar = add(root, "rect", x=label_w, y=y + 5, width=max(1.5, bar_w * ms / end), height=row_h - 10,
                  rx=3, class_=f"bar st-{line.status.state.value}")
        add(bar, "title", f"{line.status.label}: {duration(ms)}")
        add(root, "text", duration(ms), x=label_w + bar_w * ms / end + 8, y=y + row_h / 2 + 4,
            class_="bar-value")
    return markup(root)
