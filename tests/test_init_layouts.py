"""`init` never writes a manifest that its own validation rejects: over every layout, either it
writes one that `check` accepts, or it refuses (exit 4) and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode

SQL = "CREATE TABLE {name} (id int);\n"
LAYOUTS: dict[str, dict[str, str]] = {
    "flat": {"001_a.sql": SQL.format(name="a"), "002_b.sql": SQL.format(name="b"),
             "rollbacks/001_a.sql": "DROP TABLE a;\n"},
    "version-folders": {"0.1.0/001_a.sql": SQL.format(name="a"), "0.2.0/001_b.sql": SQL.format(name="b"),
                        "0.1.0/rollbacks/001_a.sql": "DROP TABLE a;\n", "complete_setup.sql": "SELECT 1;\n"},
    "described": {"001_a.sql": "-- Description: the users table\n" + SQL.format(name="a")},
    "empty-rollback": {"001_a.sql": SQL.format(name="a"), "rollbacks/001_a.sql": ""},
    "comments-only": {"001_a.sql": "-- to do\n"},
    "nul-byte": {"001_a.sql": "SELECT 1;\n\x00SELECT 2;\n"},
    "concurrently": {"001_a.sql": SQL.format(name="a") + "CREATE INDEX CONCURRENTLY i ON a (id);\n"},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_init_writes_only_what_check_accepts(tmp_path: Path, layout: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for relative, text in LAYOUTS[layout].items():
        path = tmp_path / "migration" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    manifest = tmp_path / "migrations.toml"
    code = main(["--manifest", str(manifest), "init", str(tmp_path / "migration")])
    if code == ExitCode.OK:
        assert main(["--manifest", str(manifest), "check"]) in (ExitCode.OK, ExitCode.LINT_WARNINGS)
    else:
        assert code == ExitCode.INVALID and "init wrote nothing" in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["migration"]
