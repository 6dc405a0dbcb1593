"""The Python API for release tooling (docs/api.md): manifests, plans, releases, status; read-only."""

from __future__ import annotations

import os
from pathlib import Path

from .core import graph, releases
from .core.graph import MigrationGraph
from .core.model import Manifest, Migration, MigrationStatus
from .db import connection, state
from .db.target import resolve_target
from .errors import UsageError
from .project import loader


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read migrations.toml and the SQL files it names; ManifestError lists every problem."""
    return loader.load_manifest(Path(path))


def plan(loaded: Manifest) -> MigrationGraph:
    """The plan order and the resolved dependencies; ManifestError on dependency problems."""
    return graph.build_graph(loaded.migrations, str(loaded.path))


def release(loaded: Manifest, version: str) -> tuple[Migration, ...]:
    """The migrations of one release in plan order; UsageError (with did-you-mean) if it has none."""
    return releases.release(plan(loaded), version)


def status(loaded: Manifest, database_url: str) -> tuple[MigrationStatus, ...]:
    """Each migration's state in the database at database_url; reads only, creates nothing."""
    built = plan(loaded)
    target = resolve_target(database_url, {})
    if target is None:
        raise UsageError("status needs a database URL", "pass postgresql://user:password@host/dbname")
    conn = connection.connect(target)
    try:
        with connection.database_errors(target):
            return state.read_state(conn, loaded.settings, built)
    finally:
        conn.close()
