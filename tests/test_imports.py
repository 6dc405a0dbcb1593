"""What deploy commands import: `status` and a no-op `apply` stay light, `--help` needs no driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archon_plan.cli import main
from tests.helpers import entry, write_project

HEAVY = ("pydantic", "networkx", "pglast", "archon_plan.review", "archon_plan.web", "jinja2", "starlette",
         "uvicorn")
SERVER = ("starlette", "uvicorn", "archon_plan.web.app")


def loaded_after(argv: list[str], cwd: Path, modules: tuple[str, ...]) -> tuple[str, list[str]]:
    """The exit code of main(argv) in a fresh Python, and which of `modules` it imported."""
    code = ("import json, sys; from archon_plan.cli import main; code = main(sys.argv[1:]); "
            f"print(code, json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True,
                         timeout=120, check=False)
    last = out.stdout.strip().splitlines()[-1]
    exit_code, _, found = last.partition(" ")
    return exit_code, json.loads(found)


def test_status_and_a_no_op_apply_import_no_pydantic_networkx_pglast_review_or_web(
    tmp_path: Path, database_url: str
) -> None:
    files = {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n",
             "migrations/0.1.0/rollbacks/001_t.sql": "DROP TABLE t;\n"}
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_t"))
    common = ["--manifest", str(manifest), "--database-url", database_url]
    assert main([*common, "apply"]) == 0  # applies, and fills the plan cache
    for verb in ("status", "apply"):
        assert loaded_after([*common, verb], tmp_path, HEAVY) == ("0", []), verb


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["apply", "--help"]])
def test_help_and_version_import_no_database_driver_nor_completion(tmp_path: Path, argv: list[str]) -> None:
    """Through the executable's entry(), which loads argcomplete only when a shell asks it to complete."""
    code = ("import sys; from archon_plan.cli import entry\ntry: entry()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'pydantic', 'networkx', "
            "'argcomplete')))")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_report_imports_no_web_server(tmp_path: Path, database_url: str) -> None:
    """Starlette and uvicorn load in `serve` alone: `report` needs Jinja2, nothing more."""
    manifest = write_project(tmp_path, {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n"},
                             entry("0.1.0", "001_t", rollback=False))
    argv = ["--manifest", str(manifest), "--database-url", database_url, "report"]
    assert loaded_after(argv, tmp_path, (*SERVER, "jinja2")) == ("0", ["jinja2"])
