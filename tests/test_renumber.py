"""`archon-plan renumber NAME`: a migration no database has applied moves to another number of
its version, with its files (by `git mv`, so its history follows), its entry and every
depends_on naming it; refused, with nothing changed, whenever that is not safe."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.helpers import git, run_in_process, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]

DATABASE_VARIABLES = ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL",
                      "SUPABASE_DB_PASSWORD", "SUPABASE_SERVICE_KEY", "ARCHON_EMBEDDED", "CI")


def sql_files(*labels: str) -> dict[str, str]:
    files = {}
    for number, label in enumerate(labels):
        version, stem = label.split("/")
        files[f"migrations/{version}/{stem}.sql"] = f"CREATE TABLE t{number} (id int);\n"
        files[f"migrations/{version}/rollbacks/{stem}.sql"] = f"DROP TABLE t{number};\n"
    return files


def block(label: str, *extra: str) -> str:
    version, stem = label.split("/")
    return "\n".join([f"# {label}", "[[migration]]", f'version = "{version}"',
                      f'file = "migrations/{version}/{stem}.sql"', *extra,
                      f'rollback = "migrations/{version}/rollbacks/{stem}.sql"', "", ""])


PAIR = ("0.1.0/001_a", "0.1.0/002_b", "0.1.0/002_c")  # two branches' 002, merged
PAIR_MANIFEST = "# the team's own comment\n\n" + "".join(block(label) for label in PAIR)


def run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}
    return run_in_process(["--manifest", str(root / "migrations.toml"), *args], root, {**clean, **env})


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_renumber_moves_with_git_and_the_file_keeps_its_history(tmp_path: Path) -> None:
    write_project(tmp_path, sql_files(*PAIR), PAIR_MANIFEST)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "two branches merged")
    before = (tmp_path / "migrations.toml").read_text(encoding="utf-8")
    assert run(tmp_path, "check").returncode == 4

    result = run(tmp_path, "renumber", "0.1.0/002_c", "--yes")
    assert_ok(result)
    assert "renumbered 0.1.0/002_c to 0.1.0/003_c (git mv)" in result.stdout
    assert "could not check whether a database has applied 0.1.0/002_c" in result.stderr
    # Only the entry's comment, file and rollback changed: the rest of the text as it was.
    assert (tmp_path / "migrations.toml").read_text(encoding="utf-8") == before.replace("002_c", "003_c")
    assert git(tmp_path, "status", "--short").splitlines() == [
        " M migrations.toml",
        "R  migrations/0.1.0/002_c.sql -> migrations/0.1.0/003_c.sql",
        "R  migrations/0.1.0/rollbacks/002_c.sql -> migrations/0.1.0/rollbacks/003_c.sql",
    ]
    assert_ok(run(tmp_path, "check"))
    git(tmp_path, "commit", "-q", "-am", "renumber 002_c")
    for path in ("migrations/0.1.0/003_c.sql", "migrations/0.1.0/rollbacks/003_c.sql"):
        history = git(tmp_path, "log", "--follow", "--format=%s", "--", path).splitlines()
        assert history == ["renumber 002_c", "two branches merged"]


def test_every_depends_on_naming_it_is_rewritten_in_its_own_form(tmp_path: Path) -> None:
    labels = ("0.1.0/001_a", "0.1.0/003_b", "0.1.0/003_c", "0.1.0/005_d", "0.2.0/001_e", "0.2.0/002_f")
    manifest = (block("0.1.0/001_a") + block("0.1.0/003_b") + block("0.1.0/003_c")
                + block("0.1.0/005_d", 'depends_on = ["003_c", "003_b"]')
                + block("0.2.0/001_e", "depends_on = [", '    "0.1.0/003_c.sql",  # its table', "]")
                + block("0.2.0/002_f", "depends_on = ['0.1.0/003_c', \"001_e\"]"))
    write_project(tmp_path, sql_files(*labels), manifest)
    result = run(tmp_path, "renumber", "003_c", "--to", "004", "--yes")
    assert_ok(result)
    assert "depends_on of 0.1.0/005_d, depends_on of 0.2.0/001_e, depends_on of 0.2.0/002_f" in result.stdout
    assert (tmp_path / "migrations.toml").read_text(encoding="utf-8") == manifest.replace("003_c", "004_c")
    assert_ok(run(tmp_path, "check"))


def test_outside_git_the_files_are_renamed(tmp_path: Path) -> None:
    write_project(tmp_path, sql_files(*PAIR), PAIR_MANIFEST)
    result = run(tmp_path, "renumber", "002_b", "--yes")
    assert_ok(result)
    assert "(renamed: git does not track it)" in result.stdout
    assert (tmp_path / "migrations/0.1.0/003_b.sql").is_file()
    assert (tmp_path / "migrations/0.1.0/rollbacks/003_b.sql").is_file()
    assert not (tmp_path / "migrations/0.1.0/002_b.sql").exists()
    assert_ok(run(tmp_path, "check"))


REFUSALS = {
    "the number is taken": (["002_c", "--to", "1"], {}, 5,
                            "number 001 of version 0.1.0 is taken by 0.1.0/001_a"),
    "its new file exists": (["002_c"], {"migrations/0.1.0/rollbacks/003_c.sql": "-- someone's\n"}, 5,
                            "migrations/0.1.0/rollbacks/003_c.sql already exists"),
    "nobody confirms": (["002_c"], {}, 5, "refusing to renumber without confirmation"),
    "an unknown name": (["002_x"], {}, 4, "no migration named '002_x'"),
    "another problem": (["002_c"], {"migrations/0.1.0/001_a.sql": ""}, 4, "001_a.sql is empty"),
    "no database in CI": (["002_c", "--yes"], {"CI": "true"}, 6, "CI is set"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_renumber_changes_nothing(tmp_path: Path, case: str) -> None:
    args, extra, code, said = REFUSALS[case]
    env = {"CI": extra.pop("CI")} if "CI" in extra else {}
    write_project(tmp_path, {**sql_files(*PAIR), **extra}, PAIR_MANIFEST)
    before = snapshot(tmp_path)
    result = run(tmp_path, "renumber", *args, **env)
    assert result.returncode == code, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


def test_a_dependent_that_would_come_first_is_refused_with_the_way_out(tmp_path: Path) -> None:
    labels = (*PAIR, "0.1.0/003_d")
    manifest = PAIR_MANIFEST + block("0.1.0/003_d", 'depends_on = ["002_c"]')
    write_project(tmp_path, sql_files(*labels), manifest)
    before = snapshot(tmp_path)
    result = run(tmp_path, "renumber", "002_c", "--yes")
    assert result.returncode == 4
    assert "0.1.0/003_d depends on 0.1.0/004_c, which comes later in sequence" in result.stderr
    assert "renumber the migrations that depend on it first" in result.stderr
    assert snapshot(tmp_path) == before
    assert_ok(run(tmp_path, "renumber", "003_d", "--yes"))  # 004_d, then c takes the free 003
    assert_ok(run(tmp_path, "renumber", "002_c", "--to", "3", "--yes"))
    assert_ok(run(tmp_path, "check"))


def test_a_failed_step_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archon_plan.project import renumber

    write_project(tmp_path, sql_files(*PAIR), PAIR_MANIFEST)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    before = snapshot(tmp_path)

    def full_disk(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(renumber, "_replace", full_disk)
    result = run(tmp_path, "renumber", "002_c", "--yes")
    assert result.returncode == 5
    assert "No space left on device; what it had done is undone" in result.stderr
    assert snapshot(tmp_path) == before and git(tmp_path, "status", "--short") == ""


def test_a_migration_the_database_has_applied_keeps_its_number(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    labels = ("0.1.0/001_a", "0.1.0/002_b", "0.1.0/003_c")
    write_project(tmp_path, sql_files(*labels), "".join(block(label) for label in labels))
    assert_ok(run(tmp_path, "apply", "--target", "002_b", ARCHON_DATABASE_URL=database_url))
    before = snapshot(tmp_path)
    refused = run(tmp_path, "renumber", "002_b", "--yes", ARCHON_DATABASE_URL=database_url)
    assert refused.returncode == 5
    assert "not renumbering 0.1.0/002_b: it is applied there" in refused.stderr
    db.execute("INSERT INTO archon_migrations (version, migration_name) VALUES ('0.1.0', '005_c.sql')")
    refused = run(tmp_path, "renumber", "003_c", "--to", "5", "--yes", ARCHON_DATABASE_URL=database_url)
    assert refused.returncode == 5 and "a row of that name is recorded there" in refused.stderr
    assert snapshot(tmp_path) == before

    rows = tracking_rows(db)
    done = run(tmp_path, "renumber", "003_c", "--yes", ARCHON_DATABASE_URL=database_url)
    assert_ok(done)
    assert "does not record it" in done.stdout and "NOTICE" not in done.stderr
    assert "renumbered 0.1.0/003_c to 0.1.0/004_c" in done.stdout
    assert tracking_rows(db) == rows  # it only reads the database


def test_in_a_stem_named_project_the_files_own_tracking_row_follows(tmp_path: Path) -> None:
    manifest = tmp_path / "migrations.toml"
    manifest.write_text('[settings]\nrecorded_name = "stem"\n', encoding="utf-8")
    for name in ("add_a", "add_b"):
        assert_ok(run(tmp_path, "create", name))
    for stem in ("001_add_a", "002_add_b"):
        path = tmp_path / "migrations/0.1.0" / f"{stem}.sql"
        text = path.read_text(encoding="utf-8")
        marker = next(line for line in text.splitlines() if "then delete this line" in line)
        path.write_text(text.replace(marker, f"CREATE TABLE {stem[4:]} (id int);"), encoding="utf-8")
        (tmp_path / "migrations/0.1.0/rollbacks" / f"{stem}.sql").write_text(f"DROP TABLE {stem[4:]};\n")
    result = run(tmp_path, "renumber", "002_add_b", "--to", "7", "--yes")
    assert_ok(result)
    assert "007_add_b.sql: its own tracking row" in result.stdout
    text = (tmp_path / "migrations/0.1.0/007_add_b.sql").read_text(encoding="utf-8")
    assert "VALUES ('0.1.0', '007_add_b')" in text
    assert "-- Migration 0.1.0/002_add_b" in text  # comments as they were: git sees a rename
    assert "# 0.1.0/007_add_b\n[[migration]]" in manifest.read_text(encoding="utf-8")
    assert_ok(run(tmp_path, "check"))
