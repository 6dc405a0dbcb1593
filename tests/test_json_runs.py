"""`apply`, `revert` and `repair` with --format json: one document on stdout, errors included."""

from __future__ import annotations

import json
from pathlib import Path

from archon_plan.errors import ExitCode
from tests.helpers import entry, run_in_process, write_project
from tests.test_reliability import ENV


def project(root: Path, second: str = "CREATE TABLE b (id int);\n") -> Path:
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n",
             "migrations/0.1.0/rollbacks/001_a.sql": "DROP TABLE a;\n",
             "migrations/0.1.0/002_b.sql": second,
             "migrations/0.1.0/rollbacks/002_b.sql": "DROP TABLE b;\n"}
    return write_project(root, files, entry("0.1.0", "001_a") + entry("0.1.0", "002_b"))


def run(root: Path, url: str, *args: str) -> tuple[int, dict[str, object], str]:
    done = run_in_process(["--manifest", str(root / "migrations.toml"), "--database-url", url, *args],
                          root, ENV)
    return done.returncode, json.loads(done.stdout), done.stderr


def test_apply_revert_and_repair_print_one_document_each(tmp_path: Path, database_url: str) -> None:
    project(tmp_path)
    code, plan, _ = run(tmp_path, database_url, "apply", "--dry-run", "--format", "json")
    assert code == 0 and plan["would_run"] == ["0.1.0/001_a", "0.1.0/002_b"]
    code, applied, _ = run(tmp_path, database_url, "apply", "--format", "json")
    assert code == 0
    assert [m["migration"] for m in applied["ran"]] == ["0.1.0/001_a", "0.1.0/002_b"]  # type: ignore[index]
    assert all(isinstance(m["duration_ms"], int) for m in applied["ran"])  # type: ignore[index, union-attr]
    assert applied["counts"]["applied"] == 2 and applied["exit_code"] == 0  # type: ignore[index]
    code, reverted, _ = run(tmp_path, database_url, "revert", "--last", "1", "--format", "json")
    assert code == 0 and reverted["ran"] == [{"migration": "0.1.0/002_b", "direction": "revert",
                                              "duration_ms": reverted["ran"][0]["duration_ms"]}]  # type: ignore[index]
    code, repaired, _ = run(tmp_path, database_url, "repair", "--mark-applied", "002_b", "--yes",
                            "--format", "json")
    assert code == 0 and repaired["action"] == "mark-applied" and repaired["was"] == "pending"


def test_an_error_is_a_document_too(tmp_path: Path, database_url: str) -> None:
    project(tmp_path, second="SELECT 1/0;\n")
    code, failed, err = run(tmp_path, database_url, "apply", "--format", "json")
    assert code == ExitCode.MIGRATION_FAILED
    assert failed["exit_code"] == 3 and "division by zero" in str(failed["error"])
    assert [m["migration"] for m in failed["ran"]] == ["0.1.0/001_a"]  # type: ignore[index, union-attr]
    assert "archon-plan: error:" in err  # the line for people stays on stderr
    code, refused, _ = run(tmp_path, database_url, "revert", "002_b", "--format", "json")
    assert code == ExitCode.INVALID  # not applied
    assert refused == {"schema_version": 1, "error": "0.1.0/002_b is not applied; nothing to revert",
                       "hint": "`archon-plan status` shows what is applied", "exit_code": 4, "ran": []}
