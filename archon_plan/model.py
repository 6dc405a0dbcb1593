"""The value types the Python API returns (docs/api.md), importable from one public place.

They live in the layers (`core.model`, `core.graph`, `core.diff`, `core.resume`); release
tools import them from here, which stays put when the layers move.
"""

from .core.diff import DependencyChange, Edit, ManifestDiff
from .core.graph import MigrationGraph
from .core.model import (
    AppliedRow,
    Direction,
    Manifest,
    Migration,
    MigrationStatus,
    Plan,
    Settings,
    State,
    Step,
)
from .core.resume import Failure
from .core.sqlfile import SqlFile
from .errors import Location, Problem

__all__ = [
    "AppliedRow", "DependencyChange", "Direction", "Edit", "Failure", "Location", "Manifest",
    "ManifestDiff", "Migration", "MigrationGraph", "MigrationStatus", "Plan", "Problem", "Settings",
    "SqlFile", "State", "Step",
]
