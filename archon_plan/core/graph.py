"""The dependency graph: validation, ordering and plans; pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..errors import ManifestError, Problem, UsageError
from .model import Migration, sort_key, strip_sql_suffix
from .text import closest

Key = tuple[str, str]


@dataclass(frozen=True)
class MigrationGraph:
    """Migrations in plan order, with their resolved dependencies.

    graph_and_problems validates and orders the graph when it is built (networkx names cycles,
    if any); the built graph is plain data, so a cached plan needs no networkx, whose import
    would cost every `status` (docs/performance.md)."""

    order: tuple[Migration, ...]
    requires: Mapping[Key, tuple[Key, ...]]  # each migration's direct dependencies

    @cached_property
    def _positions(self) -> dict[Key, int]:
        return {m.key: i for i, m in enumerate(self.order)}

    @cached_property
    def _required_by(self) -> dict[Key, list[Key]]:
        dependents: dict[Key, list[Key]] = {}
        for key, dependencies in self.requires.items():
            for dependency in dependencies:
                dependents.setdefault(dependency, []).append(key)
        return dependents

    def dependencies(self, migration: Migration) -> tuple[Migration, ...]:
        return self._sorted(self.requires.get(migration.key, ()))

    def ancestors(self, migration: Migration) -> tuple[Migration, ...]:
        return self._sorted(_reachable(migration.key, self.requires))

    def descendants(self, migration: Migration) -> tuple[Migration, ...]:
        return self._sorted(_reachable(migration.key, self._required_by))

    def position(self, migration: Migration) -> int:
        return self._positions[migration.key]

    def _sorted(self, keys: Iterable[Key]) -> tuple[Migration, ...]:
        return tuple(self.order[i] for i in sorted(self._positions[k] for k in keys))


def _reachable(start: Key, edges: Mapping[Key, Sequence[Key]]) -> set[Key]:
    seen: set[Key] = set()
    todo = list(edges.get(start, ()))
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(edges.get(key, ()))
    return seen


def build_graph(
    migrations: Sequence[Migration], manifest: str = "migrations.toml"
) -> MigrationGraph:
    """Resolve dependencies and order the migrations; raise ManifestError on problems."""
    graph, problems = graph_and_problems(migrations, manifest)
    if problems:
        raise ManifestError(problems)
    return graph


def graph_and_problems(
    migrations: Sequence[Migration], manifest: str = "migrations.toml"
) -> tuple[MigrationGraph, list[Problem]]:
    """Build the graph and return it with every dependency problem found."""
    rank = _ranked_sort_key(migrations)
    nodes = {m.key: m for m in migrations}  # a repeated key (the manifest reports it): one node, the last
    edges: dict[Key, dict[Key, None]] = {key: {} for key in nodes}  # each key's dependencies, in order
    problems: list[Problem] = []
    forward = False  # a dependency not on an earlier migration: the only way to a cycle
    by_stem: dict[str, list[Migration]] = {}
    for migration in migrations:
        by_stem.setdefault(migration.stem, []).append(migration)
    for migration in migrations:
        for name in migration.depends_on:
            where = _where(manifest, migration)
            # Look among same-named migrations only: linear, not quadratic, in the number of entries.
            candidates = by_stem.get(strip_sql_suffix(name.rpartition("/")[2])) or migrations
            try:
                dependency = resolve(name, candidates, default_version=migration.version)
            except UsageError as exc:
                problems.append(Problem(where, f"depends_on: {exc.message}", exc.hint))
                continue
            if dependency is migration:
                problems.append(Problem(where, f"{migration.label} depends on itself",
                                        "remove it from its own depends_on"))
                continue
            if rank(dependency) > rank(migration):
                problems.append(Problem(
                    where,
                    f"{migration.label} depends on {dependency.label}, "
                    "which comes later in sequence",
                    "renumber, or drop the dependency",
                ))
            forward = forward or rank(dependency) >= rank(migration)  # equal: "1.0" and "1.0.0"
            edges[migration.key][dependency.key] = None
    if forward:
        order, cycles = _order_with_networkx(manifest, migrations, nodes, edges, rank)
        problems.extend(cycles)
    else:
        # Every dependency points to an earlier migration, so release-then-number order is a
        # topological order: the one networkx's lexicographical sort with that key gives,
        # without importing networkx on every cold run.
        order = tuple(sorted(nodes.values(), key=rank))
    requires = {m.key: tuple(edges[m.key]) for m in migrations}
    return MigrationGraph(order=order, requires=requires), problems


SortKey = Callable[[Migration], tuple[int, int, str]]


def _where(manifest: str, migration: Migration) -> str:
    line = f":{migration.line}" if migration.line else ""
    return f"{manifest}{line}: migration #{migration.entry} {migration.label}"


def _order_with_networkx(
    manifest: str, migrations: Sequence[Migration], nodes: Mapping[Key, Migration],
    edges: Mapping[Key, Iterable[Key]], rank: SortKey,
) -> tuple[tuple[Migration, ...], list[Problem]]:
    """Plan order with a dependency on a later migration: networkx's topological sort with
    (version, NNN) breaking ties; on a cycle, every cycle named and release order kept."""
    import networkx as nx

    digraph = nx.DiGraph()
    digraph.add_nodes_from(nodes)
    digraph.add_edges_from((dependency, key) for key, found in edges.items() for dependency in found)
    if nx.is_directed_acyclic_graph(digraph):
        keys = nx.lexicographical_topological_sort(digraph, key=lambda k: rank(nodes[k]))
        return tuple(nodes[k] for k in keys), []
    cycles = []
    for found in nx.simple_cycles(digraph):
        start = found.index(min(found))  # start each at its first node: stable output
        cycles.append(found[start:] + found[:start])
    problems = [Problem(manifest, f"dependency cycle: {' -> '.join(f'{v}/{s}' for v, s in [*c, c[0]])}",
                        "a migration may only depend on earlier ones") for c in sorted(cycles)]
    return tuple(sorted(migrations, key=rank)), problems  # still show something


def _ranked_sort_key(migrations: Sequence[Migration]) -> SortKey:
    """model.sort_key with each release's Version replaced by its rank: the same order, but
    ints to compare: parsing and comparing Version objects dominated ordering a large manifest."""
    versions = {m.version: sort_key(m)[0] for m in {m.version: m for m in migrations}.values()}
    ranks = {parsed: i for i, parsed in enumerate(sorted(set(versions.values())))}
    return lambda m: (ranks[versions[m.version]], m.number, m.stem)


def resolve(
    name: str, migrations: Sequence[Migration], default_version: str | None = None
) -> Migration:
    """Find the one migration `NNN_name` or `VERSION/NNN_name` (.sql optional) names."""
    given_version, _, given_stem = name.rpartition("/")
    stem = strip_sql_suffix(given_stem)
    version = given_version or (default_version or "")
    matches = [m for m in migrations if m.stem == stem and (not version or m.version == version)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        found = ", ".join(m.label for m in matches)
        raise UsageError(f"{name!r} is ambiguous: {found}", "write it as VERSION/NNN_name")
    elsewhere = [m.label for m in migrations if m.stem == stem]
    names = [m.label for m in migrations] + [m.stem for m in migrations]
    close = elsewhere[0] if elsewhere else closest(name.removesuffix(".sql"), names, cutoff=0.5)
    hint = f"did you mean {close!r}?" if close else "`archon-plan show` lists every migration"
    raise UsageError(f"no migration named {name!r}", hint)
