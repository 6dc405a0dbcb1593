"""`irreversible = true`, and rollbacks that hold no SQL (`-- not reversible`), as other tools
write them: init marks them, check suggests the flag, revert and rehearse never cross it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]


def project(root: Path, middle: str) -> Path:
    """001 and 003 reversible; 002 as `middle` makes it (its entry's extra lines)."""
    names = ((1, "a"), (2, "b"), (3, "c"))
    files = {f"migrations/{n:03d}_{name}.sql": f"CREATE TABLE {name} (id int);\n" for n, name in names}
    files.update({f"migrations/rollbacks/{n:03d}_{name}.sql": f"DROP TABLE {name};\n"
                  for n, name in ((1, "a"), (3, "c"))})
    files["migrations/rollbacks/002_b.sql"] = "-- Not reversible: the data is gone\n"
    extras = (('001_a', 'rollback = "migrations/rollbacks/001_a.sql"\n'), ("002_b", middle),
              ("003_c", 'rollback = "migrations/rollbacks/003_c.sql"\ndepends_on = ["002_b"]\n'))
    manifest = "".join(f'[[migration]]\nversion = "0.1.0"\nfile = "migrations/{stem}.sql"\n{extra}\n'
                       for stem, extra in extras)
    return write_project(root, files, manifest)


def cli(manifest: Path, *args: str, url: str | None = None) -> int:
    return main(["--manifest", str(manifest), *(["--database-url", url] if url else []), *args])


def test_revert_never_crosses_an_irreversible_migration_cascade_included(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, 'irreversible = true\ndepends_on = ["001_a"]\n')
    assert cli(manifest, "apply", url=database_url) == 0
    assert cli(manifest, "revert", "--last", "2", url=database_url) == ExitCode.REFUSED
    assert "cannot revert 0.1.0/002_b: irreversible" in capsys.readouterr().err
    assert cli(manifest, "revert", "001_a", "--cascade", url=database_url) == ExitCode.REFUSED
    assert len(tracking_rows(db)) == 3  # nothing reverted
    assert cli(manifest, "revert", "--to", "002_b", url=database_url) == 0  # after it is fine
    assert not table_exists(db, "public.c") and table_exists(db, "public.b")


def test_a_rollback_file_beside_irreversible_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, 'rollback = "migrations/rollbacks/002_b.sql"\nirreversible = true\n')
    assert cli(manifest, "check") == ExitCode.INVALID
    assert ": migration #2: an irreversible migration has no rollback file" in capsys.readouterr().err


def test_a_rollback_without_sql_is_a_warning_suggesting_irreversible_and_runs_as_psql_would(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, 'rollback = "migrations/rollbacks/002_b.sql"\n')
    assert cli(manifest, "check", "--format", "json") == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["migration"] for f in findings if f["code"] == "AP404"] == ["0.1.0/002_b"]
    assert "irreversible = true" in next(f["hint"] for f in findings if f["code"] == "AP404")
    assert cli(manifest, "check", "--strict") == ExitCode.LINT_WARNINGS
    assert cli(manifest, "apply", url=database_url) == 0
    assert cli(manifest, "revert", "--last", "2", url=database_url) == 0
    assert table_exists(db, "public.b")  # the rollback ran, and did nothing
    assert [name for _, name in tracking_rows(db)] == ["001_a.sql"]


def test_init_marks_an_empty_or_comment_only_down_file_irreversible(tmp_path: Path) -> None:
    folder = tmp_path / "migration"
    (folder / "rollbacks").mkdir(parents=True)
    for name in ("001_a", "002_b", "003_c"):
        (folder / f"{name}.sql").write_text(f"CREATE TABLE {name[-1]} (id int);\n", encoding="utf-8")
    (folder / "rollbacks/001_a.sql").write_text("DROP TABLE a;\n", encoding="utf-8")
    (folder / "rollbacks/002_b.sql").write_text("-- no-op\n", encoding="utf-8")
    (folder / "rollbacks/003_c.sql").write_text("", encoding="utf-8")
    manifest = tmp_path / "migrations.toml"
    assert cli(manifest, "init", str(folder)) == 0
    text = manifest.read_text(encoding="utf-8")
    assert text.count("irreversible = true") == 2
    assert text.count("rollback =") == 1
    assert cli(manifest, "check", "--strict") in (0, ExitCode.LINT_WARNINGS)
