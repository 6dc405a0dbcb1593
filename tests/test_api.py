"""The documented Python API (docs/api.md), used the way a release tool would use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import archon_plan
from archon_plan.cli import main
from archon_plan.core.model import State
from tests.helpers import entry, table_exists, write_project

FILES = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.2.0/001_add_email.sql": "ALTER TABLE users ADD COLUMN email text;\n",
    "migrations/0.2.0/rollbacks/001_add_email.sql": "ALTER TABLE users DROP COLUMN email;\n",
    "migrations/0.2.0/002_create_posts.sql": "CREATE TABLE posts (id int PRIMARY KEY);\n",
}
MANIFEST = (
    entry("0.1.0", "001_create_users")
    + entry("0.2.0", "001_add_email", ("0.1.0/001_create_users",))
    + entry("0.2.0", "002_create_posts", rollback=False)
)


def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, FILES, MANIFEST)


def test_a_release_lists_its_migrations_with_checksums_in_plan_order(tmp_path: Path) -> None:
    loaded = archon_plan.load_manifest(project(tmp_path))
    chosen = archon_plan.release(loaded, "0.2.0")
    assert [(m.label, m.sql.display, m.rollback is not None) for m in chosen] == [
        ("0.2.0/001_add_email", "migrations/0.2.0/001_add_email.sql", True),
        ("0.2.0/002_create_posts", "migrations/0.2.0/002_create_posts.sql", False),
    ]
    assert all(len(m.checksum) == 32 for m in chosen)
    graph = archon_plan.plan(loaded)
    assert [d.label for d in graph.dependencies(chosen[0])] == ["0.1.0/001_create_users"]
    assert [graph.position(m) for m in chosen] == [1, 2]


def test_an_unknown_release_suggests_the_closest_one(tmp_path: Path) -> None:
    loaded = archon_plan.load_manifest(project(tmp_path))
    with pytest.raises(archon_plan.ArchonPlanError) as raised:
        archon_plan.release(loaded, "0.2")
    assert "no migration has version '0.2'" in str(raised.value)
    assert "did you mean '0.2.0'?" in str(raised.value)


def test_status_of_a_database_after_applying_part_of_the_plan(tmp_path: Path, database_url: str) -> None:
    manifest = project(tmp_path)
    applied = main(["--manifest", str(manifest), "--database-url", database_url,
                    "apply", "--target", "0.2.0/001_add_email"])
    assert applied == 0
    statuses = archon_plan.status(archon_plan.load_manifest(manifest), database_url)
    assert [(s.label, s.state) for s in statuses] == [
        ("0.1.0/001_create_users", State.APPLIED),
        ("0.2.0/001_add_email", State.APPLIED),
        ("0.2.0/002_create_posts", State.PENDING),
    ]
    first = statuses[0]
    assert first.row is not None and first.migration is not None and first.row.applied_at is not None
    assert first.row.checksum == first.migration.checksum


def test_status_reads_only_and_creates_nothing(
    tmp_path: Path, database_url: str, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    statuses = archon_plan.status(archon_plan.load_manifest(project(tmp_path)), database_url)
    assert {s.state for s in statuses} == {State.PENDING}
    assert not table_exists(db, "public.archon_migrations")
    assert not table_exists(db, "public.archon_migrations_events")


def test_an_invalid_manifest_raises_one_error_with_every_problem(tmp_path: Path) -> None:
    manifest = write_project(tmp_path, FILES, entry("0.1.0", "001_create_users") + 'typo = "x"\n\n'
                             + entry("0.1.0", "002_missing"))
    with pytest.raises(archon_plan.ArchonPlanError) as raised:
        archon_plan.load_manifest(manifest)
    assert raised.value.exit_code == 4
    assert "unknown key 'typo'" in str(raised.value) and "002_missing.sql not found" in str(raised.value)


def test_an_unreachable_database_is_an_error_without_the_password(tmp_path: Path) -> None:
    loaded = archon_plan.load_manifest(project(tmp_path))
    with pytest.raises(archon_plan.ArchonPlanError) as raised:
        archon_plan.status(loaded, "postgresql://me:s3cret@127.0.0.1:1/nowhere")
    assert raised.value.exit_code == 6 and "s3cret" not in str(raised.value)


def test_what_is_new_since_the_last_release_manifest(tmp_path: Path) -> None:
    old = write_project(tmp_path / "old", FILES, entry("0.1.0", "001_create_users"))
    new = project(tmp_path / "new")
    changes = archon_plan.compare_manifests(archon_plan.load_base(new, str(old)),
                                            archon_plan.load_manifest(new))
    assert [m.label for m in changes.new] == ["0.2.0/001_add_email", "0.2.0/002_create_posts"]
    assert changes.problems() == []


def test_importing_the_package_loads_none_of_the_heavy_libraries() -> None:
    code = ("import sys, archon_plan; archon_plan.__version__; "
            "print(sorted({'pydantic', 'networkx', 'psycopg', 'pglast'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    assert set(archon_plan.__all__) >= {"load_manifest", "plan", "release", "status", "build_graph"}


def test_the_value_types_are_importable_where_docs_api_md_imports_them() -> None:
    from archon_plan.core import model as core_model
    from archon_plan.model import Manifest, MigrationStatus, State

    assert (State, Manifest, MigrationStatus) == (core_model.State, core_model.Manifest,
                                                  core_model.MigrationStatus)
