"""The dependency graph as inline SVG: the migrations in plan order, one a row, each dependency
an arc from the migration depended on down to the one that needs it.

One row per migration keeps every name readable at any size of project, a chain of a hundred
migrations as well as a hundred with no dependencies, where a layered drawing grows a column
or a row per migration."""

from __future__ import annotations

import math
from collections.abc import Mapping

from markupsafe import Markup

from ..core.graph import Key, MigrationGraph
from ..core.model import State
from .draw import add, markup, short, svg

ROW_H = 28.0
NODE_W = 470.0
TOP = 8.0


def dependency_graph(graph: MigrationGraph, states: Mapping[Key, State]) -> Markup | None:
    """Every migration of the plan, coloured by its state, with its dependencies as arcs."""
    order = graph.order
    if not order:
        return None
    edges = [(graph.position(d), j) for j, m in enumerate(order) for d in graph.dependencies(m)]
    longest = max((j - i for i, j in edges), default=0)
    arcs_w = 24.0 + min(200.0, 50.0 * math.sqrt(longest)) if edges else 16.0
    width, height = arcs_w + NODE_W + 8, TOP * 2 + ROW_H * len(order)
    root = svg(width, height, f"Dependency graph of {len(order)} migration(s)", "chart graph")
    defs = add(root, "defs")
    marker = add(defs, "marker", id="dep-arrow", viewBox="0 0 8 8", refX=7, refY=4, markerWidth=7,
                 markerHeight=7, orient="auto")
    add(marker, "path", d="M0 0 L8 4 L0 8 z", class_="arrowhead")

    def middle(row: int) -> float:
        return TOP + ROW_H * row + ROW_H / 2

    for i, j in sorted(edges, key=lambda edge: edge[0] - edge[1]):  # long arcs first, short on top
        bulge = 10.0 + (arcs_w - 18.0) * math.sqrt((j - i) / longest)
        x = arcs_w
        # Out of a node above its middle, into one below it: the two ends of a node stay apart.
        start, end = middle(i) - 3, middle(j) + 3
        path = add(root, "path", d=f"M{x:.1f} {start:.1f} C{x - bulge:.1f} {start:.1f} "
                   f"{x - bulge:.1f} {end:.1f} {x - 3:.1f} {end:.1f}",
                   class_="edge", marker_end="url(#dep-arrow)")
        add(path, "title", f"{order[j].label} depends on {order[i].label}")
    for row, migration in enumerate(order):
        state = states.get(migration.key, State.PENDING).value
        y = middle(row)
        node = add(root, "g", class_=f"node st-{state}")
        add(node, "title", f"{migration.label}: {state}")
        add(node, "rect", x=arcs_w, y=y - 11, width=NODE_W, height=22, rx=5)
        add(node, "circle", cx=arcs_w + 12, cy=y, r=4.5, class_="state-dot")
        label = add(node, "text", x=arcs_w + 24, y=y + 4, class_="node-label")
        add(label, "tspan", migration.version + " ", class_="node-version")
        add(label, "tspan", short(migration.stem, 44))
        add(node, "text", state, x=arcs_w + NODE_W - 10, y=y + 4, text_anchor="end", class_="node-state")
    return markup(root)
