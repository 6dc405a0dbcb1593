"""A synthetic archon-plan project of N small, realistic migrations, each with its rollback."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PER_VERSION_MAX = 100  # numbering restarts per version and NNN must stay three digits
DEPENDENCY_SHARE = 0.10
KINDS = ("create_table", "add_column", "create_index", "insert_rows", "alter_default", "function")
WEIGHTS = (20, 20, 15, 20, 10, 15)


@dataclass(frozen=True)
class Generated:
    """One migration as written: its SQL, its rollback and how many statements each holds."""

    version: str
    number: int
    slug: str
    forward: str
    rollback: str
    statements: int
    rollback_statements: int
    depends_on: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        return f"{self.number:03d}_{self.slug}"

    @property
    def label(self) -> str:
        return f"{self.version}/{self.stem}"

    @property
    def file(self) -> str:
        return f"migrations/{self.version}/{self.stem}.sql"

    @property
    def rollback_file(self) -> str:
        return f"migrations/{self.version}/rollbacks/{self.stem}.sql"


@dataclass(frozen=True)
class Project:
    """A generated project on disk; the migrations are in plan order."""

    root: Path
    manifest: Path
    migrations: tuple[Generated, ...]

    @property
    def own_statements(self) -> int:
        return sum(m.statements for m in self.migrations)

    @property
    def rollback_statements(self) -> int:
        return sum(m.rollback_statements for m in self.migrations)

    @property
    def versions(self) -> int:
        return len({m.version for m in self.migrations})


@dataclass
class _Schema:
    """What earlier migrations created, so later ones (and their rollbacks) stay valid."""

    tables: list[str] = field(default_factory=list)
    creator: dict[str, str] = field(default_factory=dict)  # table -> label of its CREATE
    default: dict[str, str | None] = field(default_factory=dict)  # table -> name's default


# A step writes (slug, forward SQL, rollback SQL, forward statements); rollbacks are one statement.
_Sql = tuple[str, str, str, int]


def _create_table(i: int, table: str, schema: _Schema) -> _Sql:
    forward = (
        f"CREATE TABLE {table} (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    name text NOT NULL,\n"
        "    created_at timestamptz NOT NULL DEFAULT now()\n"
        ");\n"
        f"COMMENT ON TABLE {table} IS 'synthetic table {i}';\n"
    )
    schema.default[table] = None
    return f"create_{table}", forward, f"DROP TABLE {table};\n", 2


def _add_column(i: int, table: str, schema: _Schema) -> _Sql:
    column = f"c{i:05d}"
    return (f"add_{column}_to_{table}",
            f"ALTER TABLE {table} ADD COLUMN {column} integer NOT NULL DEFAULT 0;\n",
            f"ALTER TABLE {table} DROP COLUMN {column};\n", 1)


def _create_index(i: int, table: str, schema: _Schema) -> _Sql:
    index = f"{table}_name_{i:05d}"
    return (f"index_{table}_name",
            f"CREATE INDEX {index} ON {table} (name, created_at);\n",
            f"DROP INDEX {index};\n", 1)


def _insert_rows(i: int, table: str, schema: _Schema) -> _Sql:
    return (f"seed_{table}",
            f"INSERT INTO {table} (name)\nSELECT 'm{i:05d} row ' || g FROM generate_series(1, 25) AS g;\n",
            f"DELETE FROM {table} WHERE name LIKE 'm{i:05d} row %';\n", 1)


def _alter_default(i: int, table: str, schema: _Schema) -> _Sql:
    previous = schema.default[table]
    schema.default[table] = f"m{i:05d}"
    restore = "DROP DEFAULT" if previous is None else f"SET DEFAULT '{previous}'"
    return (f"default_{table}_name",
            f"ALTER TABLE {table} ALTER COLUMN name SET DEFAULT 'm{i:05d}';\n",
            f"ALTER TABLE {table} ALTER COLUMN name {restore};\n", 1)


def _function(i: int, table: str, schema: _Schema) -> _Sql:
    name = f"f{i:05d}"
    forward = (
        f"CREATE FUNCTION {name}(x integer) RETURNS integer\n"
        "LANGUAGE plpgsql IMMUTABLE AS $$\n"
        "BEGIN\n"
        f"    RETURN x + {i};\n"
        "END\n"
        "$$;\n"
    )
    return f"create_{name}", forward, f"DROP FUNCTION {name}(integer);\n", 1


_STEPS: dict[str, Callable[[int, str, _Schema], _Sql]] = {
    "create_table": _create_table, "add_column": _add_column, "create_index": _create_index,
    "insert_rows": _insert_rows, "alter_default": _alter_default, "function": _function,
}


def per_version(n: int) -> int:
    """About ten versions for any N, never more than 100 migrations in one."""
    return max(1, min(PER_VERSION_MAX, math.ceil(n / 10)))


def plan_migrations(n: int, seed: int = 0) -> tuple[Generated, ...]:
    """The migrations of a project of size n: the same for the same n and seed."""
    rng, schema = random.Random(f"{seed}:{n}"), _Schema()
    size, made = per_version(n), list[Generated]()
    for i in range(n):
        kind = "create_table" if i == 0 else rng.choices(KINDS, WEIGHTS)[0]
        table = f"t{i:05d}" if kind == "create_table" else rng.choice(schema.tables)
        slug, forward, rollback, statements = _STEPS[kind](i, table, schema)
        depends: tuple[str, ...] = ()
        if i > 0 and rng.random() < DEPENDENCY_SHARE:
            # A migration that touches a table depends on the one that created it.
            depends = (schema.creator.get(table) or rng.choice(made).label,)
        migration = Generated(f"1.{i // size}.0", i % size + 1, slug, forward, rollback,
                              statements, 1, depends)
        if kind == "create_table":
            schema.tables.append(table)
            schema.creator[table] = migration.label
        made.append(migration)
    return tuple(made)


def _entry(m: Generated) -> str:
    lines = ["[[migration]]", f'version = "{m.version}"', f'file = "{m.file}"',
             f'rollback = "{m.rollback_file}"', f'description = "synthetic: {m.slug}"']
    if m.depends_on:
        lines.append("depends_on = [" + ", ".join(f'"{d}"' for d in m.depends_on) + "]")
    return "\n".join(lines) + "\n"


def write_project(root: Path, n: int, seed: int = 0) -> Project:
    """Write migrations.toml, the SQL files and their rollbacks under root."""
    migrations = plan_migrations(n, seed)
    for m in migrations:
        (root / m.rollback_file).parent.mkdir(parents=True, exist_ok=True)
        (root / m.file).write_text(m.forward, encoding="utf-8")
        (root / m.rollback_file).write_text(m.rollback, encoding="utf-8")
    header = f"# Synthetic benchmark project: {n} migrations, seed {seed} (bench/generate.py).\n\n"
    manifest = root / "migrations.toml"
    manifest.write_text(header + "\n".join(_entry(m) for m in migrations), encoding="utf-8")
    return Project(root, manifest, migrations)
