"""Compatibility with the real Archon v1 migrations in ../shared/corpora/archon-v1."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import psycopg
import pytest

from archon_plan.core.graph import build_graph
from archon_plan.core.model import State
from archon_plan.db import connection, executor, state
from archon_plan.db.target import Target
from archon_plan.project import scaffold
from archon_plan.project.loader import load_manifest
from tests.conftest import CORPUS
from tests.helpers import tracking_rows
from tests.test_executor import Recorder

Conn = psycopg.Connection[tuple[object, ...]]

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpora/archon-v1 is absent")

STEMS = [
    "001_add_source_url_display_name", "002_add_hybrid_search_tsvector", "003_ollama_add_columns",
    "004_ollama_migrate_data", "005_ollama_create_functions", "006_ollama_create_indexes_optional",
    "007_add_priority_column_to_tasks", "008_add_migration_tracking",
    "009_add_cascade_delete_constraints", "010_add_provider_placeholders", "011_add_page_metadata_table",
]


def available_extensions(db: Conn) -> set[str]:
    return {str(name) for (name,) in db.execute("SELECT name FROM pg_available_extensions")}


def run_base(db: Conn, name: str) -> None:
    """Run a base file the way a person would with psql; drop pgcrypto where the server lacks it."""
    extensions = available_extensions(db)
    if "vector" not in extensions:
        pytest.skip("the server has no pgvector (the embedded PostgreSQL has it)")
    text = (CORPUS / "base" / name).read_text(encoding="utf-8")
    if "pgcrypto" not in extensions:
        text = re.sub(r"(?im)^CREATE EXTENSION IF NOT EXISTS pgcrypto;\s*$", "", text)
    db.execute(text.encode())


def archon_project(tmp_path: Path) -> Path:
    shutil.copytree(CORPUS / "0.1.0", tmp_path / "migration" / "0.1.0")
    manifest_path = tmp_path / "migrations.toml"
    count, archon_layout = scaffold.init(tmp_path / "migration", manifest_path, "0.1.0")
    assert (count, archon_layout) == (11, True)
    return manifest_path


def apply_all(database_url: str, manifest_path: Path) -> list[str]:
    loaded = load_manifest(manifest_path)
    graph = build_graph(loaded.migrations)
    recorder = Recorder()
    with connection.connect(Target(url=database_url, source="test")) as conn:
        executor.apply(conn, loaded.settings, graph, recorder)
    return recorder.finished


def states(database_url: str, manifest_path: Path) -> list[State]:
    loaded = load_manifest(manifest_path)
    with connection.connect(Target(url=database_url, source="test")) as conn:
        found = state.read_state(conn, loaded.settings, build_graph(loaded.migrations))
    return [s.state for s in found]


def test_init_then_apply_on_the_legacy_base_records_exactly_eleven_rows(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    run_base(db, "supabase_stubs.sql")
    run_base(db, "legacy_complete_setup.sql")
    manifest_path = archon_project(tmp_path)
    assert 'recorded_name = "stem"' in manifest_path.read_text()

    assert apply_all(database_url, manifest_path) == [f"0.1.0/{s}" for s in STEMS]

    assert tracking_rows(db) == [("0.1.0", stem) for stem in STEMS]
    nulls = db.execute("SELECT count(*) FROM archon_migrations WHERE checksum IS NULL").fetchone()
    assert nulls == (0,)
    assert set(states(database_url, manifest_path)) == {State.APPLIED}
    assert apply_all(database_url, manifest_path) == []


def test_file_name_form_keeps_the_rows_archon_writes_in_its_own_form(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    run_base(db, "supabase_stubs.sql")
    run_base(db, "legacy_complete_setup.sql")
    manifest_path = archon_project(tmp_path)
    text = manifest_path.read_text().replace('recorded_name = "stem"', 'recorded_name = "file"')
    manifest_path.write_text(text)

    apply_all(database_url, manifest_path)

    # 008 back-fills 001..007 without .sql, and 008..011 record themselves so: Archon's own
    # application looks up those names, so they stay beside archon-plan's own rows.
    assert tracking_rows(db) == sorted([("0.1.0", f"{stem}.sql") for stem in STEMS]
                                       + [("0.1.0", stem) for stem in STEMS])
    assert set(states(database_url, manifest_path)) == {State.APPLIED}


def test_complete_setup_database_is_all_applied_and_apply_runs_nothing(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    run_base(db, "supabase_stubs.sql")
    run_base(db, "complete_setup.sql")
    manifest_path = archon_project(tmp_path)

    assert states(database_url, manifest_path) == [State.APPLIED_UNKNOWN_CHECKSUM] * 11
    assert apply_all(database_url, manifest_path) == []
    assert tracking_rows(db) == [("0.1.0", stem) for stem in STEMS]
    columns = {c for (c,) in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'archon_migrations'")}
    assert "execution_ms" not in columns  # nothing to do, so the table was not even altered
