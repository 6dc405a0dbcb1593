"""The pre-commit hook this repository offers (.pre-commit-hooks.yaml), read by pre-commit itself."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from pre_commit.clientlib import load_manifest

from archon_plan.cli import main
from tests.helpers import entry, write_project

ROOT = Path(__file__).resolve().parents[1]


def hook() -> dict[str, object]:
    """The one hook, validated by pre-commit's own schema (required fields, types, defaults)."""
    (only,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    return dict(only)


def test_the_hook_runs_archon_plan_check_once_for_the_whole_project() -> None:
    found = hook()
    assert found["id"] == "archon-plan-check"
    assert found["language"] == "python"  # pre-commit installs this repository in a venv of its own
    assert found["pass_filenames"] is False
    assert found["types"] == ["file"]


def test_the_hook_entry_is_the_console_script_of_the_package() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    program, *args = shlex.split(str(hook()["entry"]))
    assert program in scripts
    assert args == ["check"]


def test_the_hook_fires_on_the_manifest_and_sql_files_only() -> None:
    files = re.compile(str(hook()["files"]))
    fires = ["migrations.toml", "db/migrations.toml", "migrations/0.1.0/001_create_projects.sql",
             "migrations/0.1.0/rollbacks/001_create_projects.sql"]
    quiet = ["README.md", "my_migrations.toml.bak", "migrations.toml.orig", "fleet.toml", "app/models.py"]
    assert [f for f in fires if files.search(f)] == fires  # pre-commit matches with re.search
    assert [f for f in quiet if files.search(f)] == []


def test_the_hook_command_passes_on_a_good_project_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    manifest = write_project(tmp_path, {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n"},
                             entry("0.1.0", "001_t", rollback=False))
    argv = [*shlex.split(str(hook()["entry"]))[1:], "--manifest", str(manifest)]
    assert main(argv) == 0
    (tmp_path / "migrations/0.1.0/001_t.sql").unlink()
    assert main(argv) == 4
