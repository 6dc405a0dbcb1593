"""`archon-plan import` and `adopt`: another tool's project, through check, apply, adoption of its
history, status and revert, on a real PostgreSQL."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import psycopg
import pytest

from tests.foreign import TOOLS, Conn, Source, flyway_row, migrated_by_the_tool, tree_hash, write
from tests.helpers import run_in_process, table_exists, tracking_rows
from tests.test_reliability import ENV, events


def cli(root: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    database = ["--database-url", url] if url else []
    return run_in_process(["--manifest", str(root / "migrations.toml"), *database, *args], root, ENV)


def entries(root: Path) -> list[dict[str, object]]:
    return list(tomllib.loads((root / "migrations.toml").read_text())["migration"])


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_an_imported_project_checks_applies_adopts_and_reverts(
    tool: str, tmp_path: Path, database_url: str, db: Conn, other_database_url: str
) -> None:
    source = TOOLS[tool](tmp_path / "src")
    before = tree_hash(source.folder)
    project = tmp_path / "project"
    project.mkdir()
    imported = cli(project, "import", "--from", tool, str(source.folder))
    assert imported.returncode == 0, imported.stderr
    assert tree_hash(source.folder) == before  # copies: the source is left as it was
    written = entries(project)
    assert len(written) == 3 and all(e["imported_from"] for e in written)
    items, price, index = written
    if tool != "supabase":  # Supabase has no down migrations: no rollback keys at all
        assert items.get("rollback") and "irreversible" not in items
        assert price.get("irreversible") is True and "rollback" not in price
    assert index.get("transactional") is False
    checked = cli(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    applied = cli(project, "apply", url=database_url)  # in the tool's order, or ALTER precedes CREATE
    assert applied.returncode == 0, applied.stderr
    assert cli(project, "status", "--check", url=database_url).returncode == 0
    if tool != "supabase":  # Supabase has no down migrations
        reverted = cli(project, "revert", "--last", "1", url=database_url)
        assert reverted.returncode == 0, reverted.stderr
        assert not table_exists(db, "public.items_name")

    with psycopg.connect(other_database_url, autocommit=True) as other:
        migrated_by_the_tool(other, source)
        adopted = cli(project, "adopt", "--from", tool, url=other_database_url)
        assert adopted.returncode == 0, adopted.stderr
        assert "adopted 3 migration(s)" in adopted.stdout
        assert cli(project, "status", "--check", url=other_database_url).returncode == 0
        assert [e for e, _ in events(other)] == ["adopt"] * 3
        again = cli(project, "adopt", "--from", tool, url=other_database_url)  # idempotent
        assert again.returncode == 0 and "adopted 0 migration(s)" in again.stdout
        assert len(tracking_rows(other)) == 3


def test_dbmate_timestamps_give_a_version_per_year_numbered_from_one(tmp_path: Path) -> None:
    source = TOOLS["dbmate"](tmp_path / "src")
    assert cli(tmp_path, "import", "--from", "dbmate", str(source.folder)).returncode == 0
    assert [e["file"] for e in entries(tmp_path)] == [
        "migrations/2022.0.0/001_create_items.sql", "migrations/2023.0.0/001_add_price.sql",
        "migrations/2023.0.0/002_index_items.sql"]
    assert entries(tmp_path)[0]["imported_from"] == "20221231235959_create_items.sql"


def test_sequence_numbers_fall_back_to_one_version_with_a_notice(tmp_path: Path) -> None:
    source = TOOLS["golang-migrate"](tmp_path / "src")
    result = cli(tmp_path, "import", "--from", "golang-migrate", str(source.folder))
    assert result.returncode == 0 and "no migration name starts with a date" in result.stderr
    assert [e["file"] for e in entries(tmp_path)] == [
        "migrations/0.1.0/001_create_items.sql", "migrations/0.1.0/002_add_price.sql",
        "migrations/0.1.0/003_index_items.sql"]


def test_flyway_orders_versions_numerically_and_keeps_sqitch_dependencies(tmp_path: Path) -> None:
    flyway, sqitch = TOOLS["flyway"](tmp_path / "f"), TOOLS["sqitch"](tmp_path / "s")
    assert cli(tmp_path / "f", "import", "--from", "flyway", str(flyway.folder)).returncode == 0
    assert [e["imported_from"] for e in entries(tmp_path / "f")] == [
        "V1.9__Create_items.sql", "V1.10__Add price.sql", "V1.11__index_items.sql"]
    one = cli(tmp_path / "s", "import", "--from", "sqitch", str(sqitch.folder), "--versions", "one")
    assert one.returncode == 0
    items, price, index = entries(tmp_path / "s")
    assert price["depends_on"] == index["depends_on"] == ["0.1.0/001_items"]
    assert items["description"] == "The items table" and items["imported_from"] == "shop:items"


def test_import_with_adopt_history_records_what_the_tool_applied(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    source = TOOLS["dbmate"](tmp_path / "src")
    migrated_by_the_tool(db, source)
    db.execute("DELETE FROM schema_migrations WHERE version = '20230102000000'")
    db.execute("DROP INDEX items_name")
    result = cli(tmp_path, "import", "--from", "dbmate", str(source.folder), "--adopt-history",
                 url=database_url)
    assert result.returncode == 0, result.stderr
    assert [n for _, n in tracking_rows(db)] == ["001_create_items.sql", "001_add_price.sql"]
    assert cli(tmp_path, "apply", url=database_url).returncode == 0  # the pending one runs
    assert table_exists(db, "public.items_name")


@pytest.mark.parametrize(("tool", "dirty", "message"), [
    ("golang-migrate", "UPDATE schema_migrations SET dirty = true", "migration 11 is dirty"),
    ("flyway", flyway_row(4, "1.12", "V1.12__more.sql", success=False), "V1.12__more.sql failed"),
    ("diesel", "INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000000')",
     "records 20990101000000, which the imported files do not have"),
])
def test_adopt_refuses_a_dirty_failed_or_unknown_history_and_records_nothing(
    tmp_path: Path, database_url: str, db: Conn, tool: str, dirty: str, message: str
) -> None:
    source = TOOLS[tool](tmp_path / "src")
    assert cli(tmp_path, "import", "--from", tool, str(source.folder)).returncode == 0
    migrated_by_the_tool(db, source)
    db.execute(dirty)  # type: ignore[arg-type]  # test literals
    refused = cli(tmp_path, "adopt", "--from", tool, url=database_url)
    assert refused.returncode == 5 and message in refused.stderr, refused.stderr
    assert tracking_rows(db) == []


def test_import_adopt_history_refuses_before_writing_anything(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    source: Source = TOOLS["golang-migrate"](tmp_path / "src")
    migrated_by_the_tool(db, source)
    db.execute("UPDATE schema_migrations SET dirty = true")
    project = tmp_path / "project"
    project.mkdir()
    result = cli(project, "import", "--from", "golang-migrate", str(source.folder), "--adopt-history",
                 url=database_url)
    assert result.returncode == 5 and list(project.iterdir()) == []


def test_import_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    source = TOOLS["diesel"](tmp_path / "src")
    assert cli(tmp_path, "import", "--from", "diesel", str(source.folder)).returncode == 0
    manifest = (tmp_path / "migrations.toml").read_text()
    again = cli(tmp_path, "import", "--from", "diesel", str(source.folder))
    assert again.returncode == 5 and "already exists" in again.stderr
    assert (tmp_path / "migrations.toml").read_text() == manifest
    other = tmp_path / "other"
    write(other, {"migrations/2023.0.0/002_add_price.sql": "SELECT 1;\n"})  # one file in the way
    refused = cli(other, "import", "--from", "diesel", str(source.folder))
    assert refused.returncode == 5 and not (other / "migrations.toml").exists()
    assert sorted(p.name for p in (other / "migrations/2023.0.0").iterdir()) == ["002_add_price.sql"]


def test_import_never_writes_into_the_source_folder(tmp_path: Path) -> None:
    source = TOOLS["golang-migrate"](tmp_path)  # tmp_path/migrations: the default --into
    result = cli(tmp_path, "import", "--from", "golang-migrate", str(source.folder))
    assert result.returncode == 5 and "lies in the source folder" in result.stderr
    elsewhere = cli(tmp_path, "import", "--from", "golang-migrate", str(source.folder), "--into", "db")
    assert elsewhere.returncode == 0


def test_a_sqitch_project_imports_from_its_root_beside_its_own_folders(tmp_path: Path) -> None:
    source = TOOLS["sqitch"](tmp_path)  # tmp_path/db: sqitch.plan, deploy/, revert/, verify/
    before = tree_hash(source.folder / "deploy")
    result = cli(source.folder, "import", "--from", "sqitch", ".")
    assert result.returncode == 0, result.stderr
    assert (source.folder / "migrations.toml").is_file() and tree_hash(source.folder / "deploy") == before


SQITCH_PLAN_REWORKED = ("%project=p\na 2023-01-01T10:00:00Z A <a@b.c>\n@v1 2023-01-01T11:00:00Z A <a@b.c>\n"
                        "a [a@v1] 2023-01-02T10:00:00Z A <a@b.c>\n")


@pytest.mark.parametrize(("tool", "files", "message"), [
    ("golang-migrate", {"1_a.up.sql": "SELECT 1;", "2_b.down.sql": "SELECT 1;"},
     "2_b.down.sql: is a down migration with no up migration"),
    ("dbmate", {"1_a.sql": "-- migrate:up\nSELECT 1;\n", "1_b.sql": "-- migrate:up\nSELECT 2;\n"},
     "1_b.sql: has the same version as 1_a.sql"),
    ("dbmate", {"1_a.sql": "SELECT 1;\n"}, "1_a.sql: has no `-- migrate:up` section"),
    ("flyway", {"V1__a.sql": "SELECT 1;", "R__views.sql": "SELECT 1;"}, "R__views.sql: is a repeatable"),
    ("flyway", {"V1__a.sql": "SELECT 1;", "V1.0__b.sql": "SELECT 1;"}, "has the same version as"),
    ("sqitch", {"sqitch.plan": "%project=p\nthis is not a change\n"}, "sqitch.plan:2: cannot be read"),
    ("sqitch", {"sqitch.plan": SQITCH_PLAN_REWORKED}, "reworks change 'a'"),
    ("diesel", {"2023-01-01_a/down.sql": "SELECT 1;"}, "is not a Diesel migration folder"),
])
def test_a_problem_in_the_source_names_the_file_and_writes_nothing(
    tmp_path: Path, tool: str, files: dict[str, str], message: str
) -> None:
    write(tmp_path / "src", files)
    project = tmp_path / "project"
    project.mkdir()
    result = cli(project, "import", "--from", tool, str(tmp_path / "src"))
    assert result.returncode == 4 and message in result.stderr, result.stderr
    assert list(project.iterdir()) == []


def test_init_on_a_foreign_layout_names_the_import_to_run(tmp_path: Path) -> None:
    source = TOOLS["golang-migrate"](tmp_path)
    result = cli(tmp_path, "init", str(source.folder))
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        f"archon-plan: error: {source.folder} holds a golang-migrate project: run `archon-plan import "
        f"--from golang-migrate {source.folder}` (init reads only NNN_name.sql files)"]


def test_repair_mark_applied_through_records_every_earlier_migration_once(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    source = TOOLS["golang-migrate"](tmp_path / "src")
    assert cli(tmp_path, "import", "--from", "golang-migrate", str(source.folder)).returncode == 0
    done = cli(tmp_path, "repair", "--mark-applied", "--through", "002_add_price", "--yes", url=database_url)
    assert done.returncode == 0, done.stderr
    assert "mark-applied: 2 migration(s) through 0.1.0/002_add_price" in done.stdout
    assert [e for e, _ in events(db)] == ["mark-applied"] * 2
    again = cli(tmp_path, "repair", "--mark-applied", "--through", "003_index_items", "--yes",
                url=database_url)
    assert again.returncode == 0 and "1 migration(s) through" in again.stdout
    assert "(2 already applied)" in again.stdout
    assert len(tracking_rows(db)) == 3
    usage = cli(tmp_path, "repair", "--accept-checksum", "--through", "003_index_items", url=database_url)
    assert usage.returncode == 4 and "--through goes with --mark-applied" in usage.stderr
