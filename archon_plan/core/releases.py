"""Releases: the migrations of one version, and release notes in markdown; pure."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.version import Version

from ..errors import UsageError
from .graph import MigrationGraph
from .model import Migration
from .text import did_you_mean


def versions(migrations: Sequence[Migration]) -> list[str]:
    """Every release the migrations name, in release order."""
    return sorted({m.version for m in migrations}, key=Version)


def release(graph: MigrationGraph, version: str) -> tuple[Migration, ...]:
    """The migrations of one release, in plan order."""
    chosen = tuple(m for m in graph.order if m.version == version)
    if not chosen:
        known = versions(graph.order)
        hint = did_you_mean(version, known) or (
            f"the releases are: {', '.join(known)}" if known else "the manifest has no migrations")
        raise UsageError(f"no migration has version {version!r}", hint)
    return chosen


def release_notes(graph: MigrationGraph, only: Sequence[Migration] | None = None) -> str:
    """Markdown: newest release first, each migration with its description and what to know."""
    listed = graph.order if only is None else only
    lines = ["# Release notes"]
    for version in reversed(versions(listed)):
        lines.extend(["", f"## {version}", ""])
        lines.extend(_note(graph, m) for m in listed if m.version == version)
    if not listed:
        lines.extend(["", "No migrations."])
    return "\n".join(lines)


def _note(graph: MigrationGraph, migration: Migration) -> str:
    """One list item on one line: a line break inside it would only render as a space."""
    parts = [f"- **{migration.stem}**" + (":" if migration.description else "")]
    if migration.description:
        parts.append(_sentence(migration.description))
    dependencies = ", ".join(f"`{d.label}`" for d in graph.dependencies(migration))
    if dependencies:
        parts.append(f"Depends on {dependencies}.")
    if not migration.transactional:
        parts.append("Runs outside a transaction (`transactional = false`), one statement at a time.")
    if migration.rollback is None:
        parts.append("No rollback: it cannot be reverted.")
    return " ".join(parts)


def _sentence(text: str) -> str:
    """A description on one line, ending like a sentence."""
    line = " ".join(text.split())
    return line if line.endswith((".", "!", "?")) else line + "."
