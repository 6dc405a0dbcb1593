"""archon-plan: declarative, manifest-driven PostgreSQL migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .graph import build_graph
    from .manifest import load_manifest

__all__ = ["__version__", "build_graph", "load_manifest"]


def __getattr__(name: str) -> Any:
    # Lazy, so `archon-plan --version` does not pay for pydantic and networkx.
    if name == "load_manifest":
        from .manifest import load_manifest

        return load_manifest
    if name == "build_graph":
        from .graph import build_graph

        return build_graph
    raise AttributeError(name)
