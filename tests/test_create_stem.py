"""`create` in a project that records stem names (Archon's) writes the file's own tracking row,
as Archon's files do: pasted into the SQL editor, the migration is then seen as applied."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode

Conn = psycopg.Connection[tuple[object, ...]]


def cli(manifest: Path, *args: str) -> int:
    return main(["--manifest", str(manifest), *args])


def test_a_created_migration_records_itself_when_run_by_hand(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "migrations.toml"
    manifest.write_text('[settings]\nrecorded_name = "stem"\n', encoding="utf-8")
    assert cli(manifest, "create", "add_notes", "--version", "0.1.0") == 0
    path = tmp_path / "migrations" / "0.1.0" / "001_add_notes.sql"
    text = path.read_text(encoding="utf-8")
    assert ("INSERT INTO archon_migrations (version, migration_name)\n"
            "VALUES ('0.1.0', '001_add_notes')") in text
    assert cli(manifest, "check") == ExitCode.INVALID  # the placeholder line is still there
    err = capsys.readouterr().err
    assert "001_add_notes.sql:4:4: migration 0.1.0/001_add_notes: still holds `create`'s placeholder" in err
    marker = next(line for line in text.splitlines() if "then delete this line" in line)
    path.write_text(text.replace(marker, "CREATE TABLE notes (id int);"), encoding="utf-8")
    (tmp_path / "migrations/0.1.0/rollbacks/001_add_notes.sql").write_text("DROP TABLE notes;\n")
    assert cli(manifest, "check") == 0
    db.execute("CREATE TABLE archon_migrations (id serial, version text, migration_name text, "
               "applied_at timestamptz DEFAULT now(), checksum text, UNIQUE (version, migration_name))")
    db.execute(path.read_text(encoding="utf-8").encode())  # as the SQL editor runs it
    capsys.readouterr()
    assert cli(manifest, "--database-url", database_url, "status", "--format", "json") == 0
    states = [m["state"] for m in json.loads(capsys.readouterr().out)["migrations"]]
    assert states == ["applied-unknown-checksum"]


def test_in_a_file_form_project_the_template_stays_comments_only(tmp_path: Path) -> None:
    manifest = tmp_path / "migrations.toml"
    manifest.write_text("", encoding="utf-8")
    assert cli(manifest, "create", "add_notes", "--version", "0.1.0") == 0
    assert "INSERT" not in (tmp_path / "migrations/0.1.0/001_add_notes.sql").read_text(encoding="utf-8")
