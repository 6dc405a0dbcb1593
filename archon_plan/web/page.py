"""The dashboard page: one self-contained HTML document, the same for `report` and `serve`:
its CSS inline, its charts inline SVG, no script, and nothing fetched from any origin."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import jinja2
from markupsafe import Markup

from .. import __version__
from ..core.model import State
from ..review.dashboard import Dashboard
from . import charts, draw
from .graph import dependency_graph

CSS = resources.files(__package__).joinpath("templates", "dashboard.css").read_text(encoding="utf-8")
# The one stylesheet, allowed by its hash: no 'unsafe-inline', and no nonce to invent per page.
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"
# In the page itself (so a saved report carries it); a <meta> cannot say frame-ancestors.
PAGE_POLICY = (f"default-src 'none'; style-src {STYLE_SOURCE}; img-src data:; base-uri 'none'; "
               "form-action 'none'")
HEADER_POLICY = f"{PAGE_POLICY}; frame-ancestors 'none'"  # what `serve` sends
COUNTED = ((State.APPLIED, "applied"), (State.APPLIED_UNKNOWN_CHECKSUM, "no checksum"),
           (State.PENDING, "pending"), (State.MODIFIED, "modified"), (State.FAILED, "failed"),
           (State.UNKNOWN, "unknown"))
# An error as archon-plan records it starts with where: `migrations/0.1.0/002_b.sql:2:1: ...`.
_LOCATION = re.compile(r"(?P<where>\S+?\.sql(?::\d+){1,2}): (?P<rest>.*)", re.S)


@dataclass(frozen=True)
class Headline:
    """The one line that says whether all is well, and its colour."""

    tone: str  # ok, warn, mod, bad
    text: str
    sub: str


def render(board: Dashboard, refresh_s: int | None = None, served: bool = False, fleet: bool = False) -> str:
    """The page; `refresh_s` reloads it that often (`serve`), `served` links the JSON."""
    return _environment().get_template("dashboard.html").render(
        board=board, headline=headline(board),
        counts=[(state.value, label) for state, label in COUNTED],
        graph=dependency_graph(board.graph, {line.status.migration.key: line.status.state
                                             for line in board.lines if line.status.migration}),
        timeline=charts.timeline(board.events), lanes=[name for name, _ in charts.LANES],
        durations=charts.durations(board.lines), bars_shown=charts.BARS_SHOWN,
        many_bars=sum(line.duration_ms is not None for line in board.lines) > charts.BARS_SHOWN,
        **_common(refresh_s, served, fleet))


def render_error(message: str, hint: str | None, refresh_s: int | None, fleet: bool = False) -> str:
    """The page `serve` shows while the database cannot be read; it keeps refreshing."""
    return _environment().get_template("error.html").render(
        message=message, hint=hint, **_common(refresh_s, True, fleet))


def _common(refresh_s: int | None, served: bool, fleet: bool) -> dict[str, object]:
    return {"css": Markup(CSS), "policy": PAGE_POLICY, "refresh": refresh_s, "served": served,
            "fleet": fleet, "version": __version__}


def headline(board: Dashboard) -> Headline:
    """Failures first, then drift from the files, then what is left to do."""
    counts = board.counts
    total = sum(counts.values()) - counts[State.UNKNOWN]
    applied = counts[State.APPLIED] + counts[State.APPLIED_UNKNOWN_CHECKSUM]
    sub = f"{applied} of {total} migration(s) applied"
    last = board.failures[0] if board.failures else None
    if last is not None and not last.applied_since and last.label in board.behind:
        return Headline("bad", f"The last {last.kind.removesuffix('-failed')} of {last.label} failed",
                        f"{sub}; the error is under Failures")
    if counts[State.FAILED]:
        return Headline("bad", f"{counts[State.FAILED]} migration(s) failed part-way",
                        f"{sub}; `archon-plan repair --retry` resumes one")
    if counts[State.MODIFIED]:
        return Headline("mod", f"{counts[State.MODIFIED]} applied file(s) changed", sub)
    if counts[State.PENDING]:
        return Headline("warn", f"{counts[State.PENDING]} migration(s) pending", sub)
    if counts[State.UNKNOWN]:
        return Headline("warn", f"{counts[State.UNKNOWN]} recorded migration(s) not in the manifest", sub)
    return Headline("ok", "Up to date", sub)


def split_location(error: str) -> tuple[str | None, str]:
    """(`file:line:column`, the rest) of a recorded error, for showing where in bold."""
    found = _LOCATION.fullmatch(error)
    return (found["where"], found["rest"]) if found else (None, error)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("archon_plan.web"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(when=draw.when, duration=draw.duration, location=split_location,
                               lane=charts.lane)
    return environment
