"""AP601: a SQL file in a migrations folder that no entry names (an upstream pull) is seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, write_project


def test_files_no_entry_names_are_warned_about_and_fail_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n",
             "migrations/0.1.0/rollbacks/001_a.sql": "DROP TABLE a;\n",
             "migrations/0.1.0/002_b.sql": "CREATE TABLE b (id int);\n",  # pulled, not listed
             "migrations/0.2.0/001_c.sql": "CREATE TABLE c (id int);\n",  # a new release's folder
             "migrations/0.2.0/notes.sql": "-- not a migration's name\n",
             "migrations/complete_setup.sql": "SELECT 1;\n"}  # outside the version folders
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_a"))
    assert main(["--manifest", str(manifest), "check", "--format", "json"]) == 0
    found = [(f["code"], f["file"]) for f in json.loads(capsys.readouterr().out)["findings"]]
    assert found == [("AP601", "migrations/0.1.0/002_b.sql"), ("AP601", "migrations/0.2.0/001_c.sql")]
    assert main(["--manifest", str(manifest), "check", "--strict"]) == ExitCode.LINT_WARNINGS
    assert "migrations/0.1.0/002_b.sql: warning AP601" in capsys.readouterr().out


def test_a_flat_folder_with_every_file_listed_is_clean(tmp_path: Path) -> None:
    files = {"migrations/001_a.sql": "CREATE TABLE a (id int);\n",
             "migrations/rollbacks/001_a.sql": "DROP TABLE a;\n"}
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_a").replace("0.1.0/", ""))
    assert main(["--manifest", str(manifest), "check", "--strict"]) == 0
