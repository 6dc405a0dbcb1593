"""archon-plan: declarative, manifest-driven PostgreSQL migrations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import load_manifest, plan, release, status
    from .core.diff import compare_manifests
    from .core.graph import build_graph
    from .errors import ArchonPlanError
    from .project.manifest import manifest_json_schema
    from .project.revision import load_base

# The public API (docs/api.md): name -> the module that defines it.
_API = {
    "load_manifest": "api", "plan": "api", "release": "api", "status": "api",
    "build_graph": "core.graph", "manifest_json_schema": "project.manifest",
    "load_base": "project.revision", "compare_manifests": "core.diff", "ArchonPlanError": "errors",
}
__all__ = [
    "ArchonPlanError", "__version__", "build_graph", "compare_manifests", "load_base", "load_manifest",
    "manifest_json_schema", "plan", "release", "status",
]


def __getattr__(name: str) -> Any:
    # Lazy, so `archon-plan --version` does not pay for pydantic, networkx and psycopg.
    if name not in _API:
        raise AttributeError(name)
    return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
