"""The one way a project is loaded, for the CLI and the Python API alike: manifest, files, graph.

The CLI passes its cache folder, so an unchanged manifest is neither parsed nor validated
again (and `status` imports neither pydantic nor networkx); the API reads afresh.
"""

from __future__ import annotations

from pathlib import Path

from ..core import graph
from ..core.model import Manifest
from ..errors import ManifestError, Problem
from . import cache, files


def read_project(path: Path, cache_folder: Path | None = None) -> tuple[
        Manifest, graph.MigrationGraph, list[Problem]]:
    """The manifest and its graph, with the problems of both (none when cached). A clean
    result is cached when `cache_folder` is given."""
    cached = cache.load(cache_folder, path) if cache_folder else None
    if cached:
        return *cached, []
    try:
        data: bytes | None = files.read_bytes(str(path))  # the bytes parsed are the bytes cached
    except OSError:
        data = None  # read_manifest reports it
    loaded, problems = _read_manifest(path, data)
    built, graph_problems = graph.graph_and_problems(loaded.migrations, str(path))
    if cache_folder and data is not None and not (problems or graph_problems):
        cache.store(cache_folder, path, loaded, built, data)
    return loaded, built, [*problems, *graph_problems]


def load_project(path: Path, cache_folder: Path | None = None) -> tuple[Manifest, graph.MigrationGraph]:
    """read_project, raising ManifestError with every problem of the manifest and its graph."""
    loaded, built, problems = read_project(path, cache_folder)
    if problems:
        raise ManifestError(problems)
    return loaded, built


def load_manifest(path: Path) -> Manifest:
    """The manifest alone, raising ManifestError with every problem of it and its files."""
    loaded, problems = _read_manifest(path)
    if problems:
        raise ManifestError(problems)
    return loaded


def _read_manifest(path: Path, data: bytes | None = None) -> tuple[Manifest, list[Problem]]:
    from .manifest import read_manifest  # here: a cached load needs no pydantic

    return read_manifest(path, data)
