"""Each file's checked split is kept between runs: a file parsed before is not parsed again,
and what runs, and where an error is placed, is exactly what a fresh parse gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]
FIRST = "CREATE TABLE a (id int);\nCOMMENT ON TABLE a IS 'x';\n"
SAVEPOINTS = "SAVEPOINT s;\nCREATE TABLE b (id int);\nRELEASE SAVEPOINT s;\n"


def project(tmp_path: Path, second: str = SAVEPOINTS) -> Path:
    files = {
        "migrations/0.1.0/001_create_a.sql": FIRST,
        "migrations/0.1.0/rollbacks/001_create_a.sql": "DROP TABLE a;\n",
        "migrations/0.1.0/002_create_b.sql": second,
        "migrations/0.1.0/rollbacks/002_create_b.sql": "DROP TABLE b;\n",
    }
    return write_project(tmp_path, files, entry("0.1.0", "001_create_a") + entry("0.1.0", "002_create_b"))


def cli(manifest: Path, url: str, *args: str) -> int:
    return main(["--manifest", str(manifest), "--database-url", url, *args])


def kept_file(plan_cache_folder: Path) -> Path:
    (found,) = (plan_cache_folder / "archon-plan").glob("*.splits.json")
    return found


@pytest.mark.parametrize("second", ["CREATE TABLE b (id int);\n", SAVEPOINTS])
def test_a_second_run_of_the_same_files_loads_no_parser(
    tmp_path: Path, database_url: str, db: Conn, plan_cache_folder: Path, second: str
) -> None:
    """A file with savepoints runs in an explicit BEGIN, which PostgreSQL insists on: its kept
    statements are parsed again to tell (Statement.fields); the others never are."""
    manifest = project(tmp_path, second)
    assert cli(manifest, database_url, "apply") == ExitCode.OK
    assert cli(manifest, database_url, "revert", "--last", "2") == ExitCode.OK
    assert len(json.loads(kept_file(plan_cache_folder).read_text())["entries"]) == 4
    code = ("import sys; from archon_plan.cli import main; "
            "codes = [main(['--manifest', sys.argv[1], '--database-url', sys.argv[2], *a.split()]) "
            "for a in ('apply', 'revert --last 2', 'apply')]; "
            "print(codes, 'pglast' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(manifest), database_url], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines()[-1] == f"[0, 0, 0] {second == SAVEPOINTS}"
    assert len(tracking_rows(db)) == 2 and table_exists(db, "b")


def test_a_kept_split_places_an_error_where_a_fresh_parse_would(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, "CREATE TABLE b (id int);\n\nINSERT INTO missing VALUES (1);\n")
    errors = []
    for _ in range(2):  # parsed, then kept
        assert cli(manifest, database_url, "apply") == ExitCode.MIGRATION_FAILED
        errors.append(capsys.readouterr().err)
    assert "002_create_b.sql:3" in errors[0]
    assert errors[0] == errors[1]


@pytest.mark.parametrize("damage", [[[0, 10_000, "CreateStmt"]], [[0, 5]], "x", [[-1, 3, "CreateStmt"]],
                                    [[0, 3, 7]], [[0, 20, "CreateStmt"], [10, 5, "CommentStmt"]]])
def test_a_damaged_kept_split_is_parsed_again(
    tmp_path: Path, database_url: str, db: Conn, plan_cache_folder: Path, damage: object
) -> None:
    manifest = project(tmp_path)
    assert cli(manifest, database_url, "apply") == ExitCode.OK
    assert cli(manifest, database_url, "revert", "--last", "2") == ExitCode.OK
    path = kept_file(plan_cache_folder)
    data = json.loads(path.read_text())
    data["entries"] = {key: damage for key in data["entries"]}
    path.write_text(json.dumps(data))
    assert cli(manifest, database_url, "apply") == ExitCode.OK
    assert db.execute("SELECT obj_description('a'::regclass)").fetchone() == ("x",)
    assert len(tracking_rows(db)) == 2


def test_only_the_manifests_files_are_kept(
    tmp_path: Path, database_url: str, plan_cache_folder: Path
) -> None:
    from archon_plan.core.sqlfile import checksum

    manifest = project(tmp_path, "CREATE TABLE b (id int);\n")
    assert cli(manifest, database_url, "apply") == ExitCode.OK
    assert cli(manifest, database_url, "revert", "--last", "1") == ExitCode.OK
    edited = "CREATE TABLE b (id bigint);\n"
    (tmp_path / "migrations/0.1.0/002_create_b.sql").write_text(edited)  # pending again: no drift
    assert cli(manifest, database_url, "apply") == ExitCode.OK
    kept = {key.partition(":")[0] for key in json.loads(kept_file(plan_cache_folder).read_text())["entries"]}
    assert checksum("CREATE TABLE b (id int);\n") not in kept  # the file as it was: gone
    assert {checksum(FIRST), checksum("DROP TABLE b;\n"), checksum(edited)} <= kept
