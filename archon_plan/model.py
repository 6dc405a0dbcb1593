"""The value types the Python API returns (docs/api.md), where the API's first release put them.

They live in `archon_plan.core.model`; release tools import them from here.
"""

from .core.model import Manifest, Migration, MigrationStatus, Settings, SqlFile, State

__all__ = ["Manifest", "Migration", "MigrationStatus", "Settings", "SqlFile", "State"]
