"""Two branches that each add a migration: `create` gives each version a folder of its own, and
writes `migrations.toml merge=union` to .gitattributes, so that git merges the two appended
entries whole and `check` then names the repeated number with the command that fixes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from archon_plan.project.layout import attribute_pattern
from tests.helpers import entry, git, write_project


def cli(manifest: Path, *args: str) -> int:
    return main(["--manifest", str(manifest), *args])


def filled(manifest: Path, label: str, table: str) -> None:
    """Write SQL into the two template files `create` made for `label`."""
    version, stem = label.split("/")
    folder = manifest.parent / "migrations" / version
    for path, sql in ((folder / f"{stem}.sql", f"CREATE TABLE {table} (id int);\n"),
                      (folder / "rollbacks" / f"{stem}.sql", f"DROP TABLE {table};\n")):
        path.write_text(path.read_text(encoding="utf-8") + sql, encoding="utf-8")


def created_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.sql"))


# --- where create puts a version's files ------------------------------------------------------


def test_a_new_project_gets_a_folder_per_version(tmp_path: Path) -> None:
    manifest = tmp_path / "migrations.toml"
    assert cli(manifest, "create", "add_users") == 0
    assert cli(manifest, "create", "add_teams", "--version", "0.2.0") == 0
    assert cli(manifest, "create", "add_email", "--version", "0.1.0") == 0
    assert created_files(tmp_path) == [
        "migrations/0.1.0/001_add_users.sql", "migrations/0.1.0/002_add_email.sql",
        "migrations/0.1.0/rollbacks/001_add_users.sql", "migrations/0.1.0/rollbacks/002_add_email.sql",
        "migrations/0.2.0/001_add_teams.sql", "migrations/0.2.0/rollbacks/001_add_teams.sql",
    ]


def test_a_flat_folder_of_one_version_keeps_its_layout_and_a_new_version_gets_a_sub_folder(
    tmp_path: Path,
) -> None:
    manifest = write_project(tmp_path, {"db/001_a.sql": "CREATE TABLE a (id int);\n"},
                             '[[migration]]\nversion = "0.1.0"\nfile = "db/001_a.sql"\n')
    assert cli(manifest, "create", "add_b") == 0
    assert cli(manifest, "create", "add_c", "--version", "0.2.0") == 0
    assert cli(manifest, "create", "add_d", "--version", "0.2.0") == 0
    assert created_files(tmp_path) == [
        "db/0.2.0/001_add_c.sql", "db/0.2.0/002_add_d.sql",
        "db/0.2.0/rollbacks/001_add_c.sql", "db/0.2.0/rollbacks/002_add_d.sql",
        "db/001_a.sql", "db/002_add_b.sql", "db/rollbacks/002_add_b.sql",
    ]


def test_a_flat_folder_shared_by_two_versions_gets_no_more_of_either(tmp_path: Path) -> None:
    """Left by an older `create`: 0.1.0's 001 and 0.2.0's 001 side by side. New files go to the
    version's own folder, where no other version's number can stand beside them."""
    files = {"migrations/001_a.sql": "SELECT 1;\n", "migrations/001_b.sql": "SELECT 2;\n"}
    manifest = write_project(tmp_path, files,
                             '[[migration]]\nversion = "0.1.0"\nfile = "migrations/001_a.sql"\n\n'
                             '[[migration]]\nversion = "0.2.0"\nfile = "migrations/001_b.sql"\n')
    assert cli(manifest, "create", "add_c") == 0
    assert cli(manifest, "create", "add_d", "--version", "0.1.0") == 0
    assert "migrations/0.2.0/002_add_c.sql" in created_files(tmp_path)
    assert "migrations/0.1.0/002_add_d.sql" in created_files(tmp_path)


# --- .gitattributes ---------------------------------------------------------------------------


def test_create_and_init_write_the_union_merge_line_once(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "migrations.toml"
    attributes = tmp_path / ".gitattributes"
    attributes.write_text("*.sql text eol=lf", encoding="utf-8")  # no newline at its end
    assert cli(manifest, "create", "add_users") == 0
    assert f"added `migrations.toml merge=union` to {attributes}" in capsys.readouterr().out
    assert cli(manifest, "create", "add_teams") == 0
    assert "gitattributes" not in capsys.readouterr().out
    assert attributes.read_text(encoding="utf-8") == "*.sql text eol=lf\nmigrations.toml merge=union\n"

    other = tmp_path / "other"
    write_project(other, {"migrations/001_a.sql": "SELECT 1;\n"}, "")
    (other / "migrations.toml").unlink()
    assert cli(other / "migrations.toml", "init", str(other / "migrations")) == 0
    assert (other / ".gitattributes").read_text(encoding="utf-8") == "migrations.toml merge=union\n"


@pytest.mark.parametrize("line", ["migrations.toml -merge", "/migrations.toml merge=binary text",
                                  "migrations.toml   merge=union"])
def test_a_merge_rule_of_the_teams_own_is_left_as_it_is(tmp_path: Path, line: str) -> None:
    attributes = tmp_path / ".gitattributes"
    attributes.write_text(line + "\n", encoding="utf-8")
    assert cli(tmp_path / "migrations.toml", "create", "add_users") == 0
    assert attributes.read_text(encoding="utf-8") == line + "\n"


@pytest.mark.parametrize("name", ["migrations.toml", "my plan.toml", "db[1]*.toml", "#x.toml"])
def test_the_pattern_names_exactly_the_manifest_as_git_reads_it(tmp_path: Path, name: str) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitattributes").write_text(f"{attribute_pattern(name)} merge=union\n", encoding="utf-8")
    said = git(tmp_path, "check-attr", "merge", "--", name, "db1x.toml", "other.toml")
    assert said.splitlines() == [f"{name}: merge: union", "db1x.toml: merge: unspecified",
                                 "other.toml: merge: unspecified"]


# --- two branches -----------------------------------------------------------------------------


def test_two_branches_entries_merge_whole_and_check_names_the_repeated_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both new entries depend on the same migration: git's union driver would keep that line
    once, for one of them only, had `create` not written each entry so it stays whole."""
    manifest = tmp_path / "migrations.toml"
    git(tmp_path, "init", "-q", "-b", "main")
    assert cli(manifest, "create", "add_users") == 0
    filled(manifest, "0.1.0/001_add_users", "users")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    for branch, name in (("one", "add_teams"), ("two", "add_tags")):
        git(tmp_path, "checkout", "-q", "-b", branch, "main")
        assert cli(manifest, "create", name, "--depends-on", "001_add_users") == 0
        filled(manifest, f"0.1.0/002_{name}", name.removeprefix("add_"))
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", name)
    git(tmp_path, "checkout", "-q", "main")
    git(tmp_path, "merge", "-q", "one")
    git(tmp_path, "merge", "-q", "two", "-m", "merge two")  # no conflict
    entries = tomllib.loads(manifest.read_text(encoding="utf-8"))["migration"]
    assert [(e["file"], e.get("depends_on")) for e in entries] == [
        ("migrations/0.1.0/001_add_users.sql", None),
        ("migrations/0.1.0/002_add_teams.sql", ["0.1.0/001_add_users"]),
        ("migrations/0.1.0/002_add_tags.sql", ["0.1.0/001_add_users"]),
    ]
    assert all(e["rollback"] == e["file"].replace("0.1.0/", "0.1.0/rollbacks/") for e in entries)
    capsys.readouterr()
    assert cli(manifest, "check") == ExitCode.INVALID
    err = capsys.readouterr().err
    assert "0.1.0/002_add_tags repeats the number 002 of migration #2" in err
    assert "`archon-plan renumber 0.1.0/002_add_tags` moves it to the next free number" in err


def test_entries_written_by_hand_are_not_made_union_safe(tmp_path: Path) -> None:
    """Why create writes its entries as it does: two plain entries appended on two branches
    come out of the union merge as one table with every key twice, which `check` reports."""
    manifest = write_project(tmp_path, {}, entry("0.1.0", "001_a"))
    (tmp_path / ".gitattributes").write_text("migrations.toml merge=union\n", encoding="utf-8")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    for branch, stem in (("one", "002_b"), ("two", "002_c")):
        git(tmp_path, "checkout", "-q", "-b", branch, "main")
        manifest.write_text(manifest.read_text(encoding="utf-8") + entry("0.1.0", stem), encoding="utf-8")
        git(tmp_path, "commit", "-q", "-am", stem)
    git(tmp_path, "checkout", "-q", "main")
    git(tmp_path, "merge", "-q", "one")
    git(tmp_path, "merge", "-q", "two", "-m", "merge two")
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(manifest.read_text(encoding="utf-8"))
