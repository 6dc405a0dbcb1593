"""`archon-plan diff BASE` against real git repositories and manifest files, in-process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.core.diff import compare_manifests
from archon_plan.core.model import Manifest, Migration, Settings
from archon_plan.core.sqlfile import SqlFile
from archon_plan.errors import UsageError
from archon_plan.project.revision import load_base
from archon_plan.review.diff_report import diff_text
from tests.helpers import entry, write_project

FILES = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.1.0/002_create_posts.sql": "CREATE TABLE posts (id int PRIMARY KEY, user_id int);\n",
    "migrations/0.1.0/rollbacks/002_create_posts.sql": "DROP TABLE posts;\n",
    "migrations/0.2.0/001_create_tags.sql": "CREATE TABLE tags (id int PRIMARY KEY);\n",
    "migrations/0.2.0/rollbacks/001_create_tags.sql": "DROP TABLE tags;\n",
}
ENTRIES = [
    entry("0.1.0", "001_create_users"),
    entry("0.1.0", "002_create_posts", ("001_create_users",)),
    entry("0.2.0", "001_create_tags"),
]
NEW_FILES = {
    "migrations/0.3.0/001_add_labels.sql": "CREATE TABLE labels (id int PRIMARY KEY, tag_id int);\n",
    "migrations/0.3.0/rollbacks/001_add_labels.sql": "DROP TABLE labels;\n",
}
NEW_ENTRY = entry("0.3.0", "001_add_labels", ("0.2.0/001_create_tags", "0.1.0/001_create_users"))


def git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com",
               "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def repository(root: Path, entries: list[str] = ENTRIES, files: dict[str, str] = FILES) -> Path:
    """A git repository whose `main` holds the project; returns the manifest path."""
    manifest = write_project(root, files, "".join(entries))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return manifest


def rewrite(manifest: Path, entries: list[str], files: dict[str, str] | None = None) -> None:
    write_project(manifest.parent, files or {}, "".join(entries))


def diff(capsys: pytest.CaptureFixture[str], manifest: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--manifest", str(manifest), "diff", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_added_migration_is_reported_with_the_new_plan_order_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, [*ENTRIES, NEW_ENTRY], NEW_FILES)
    code, out, err = diff(capsys, manifest, "main")
    assert code == 0, err
    assert "added   0.3.0/001_add_labels" in out
    assert "depends on 0.1.0/001_create_users, 0.2.0/001_create_tags" in out
    assert out.index("0.2.0/001_create_tags") < out.index("+    4  0.3.0/001_add_labels")
    assert "1 added, 0 removed, 0 edited or renamed, 0 dependency change(s); no errors" in out


def test_committed_change_compared_with_the_previous_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, [*ENTRIES, NEW_ENTRY], NEW_FILES)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "labels")
    code, out, _ = diff(capsys, manifest, "HEAD~1", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert [m["name"] for m in document["added"]] == ["001_add_labels"]
    assert document["ok"] is True and document["removed"] == [] and document["edited"] == []


def test_removed_migration_of_the_base_is_an_error_and_the_report_still_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, [ENTRIES[0], ENTRIES[1]])
    code, out, err = diff(capsys, manifest, "main")
    assert code == 4
    assert "removed  0.2.0/001_create_tags" in out
    assert "main:migrations.toml:" in err and "0.2.0/001_create_tags exists in main but was removed" in err
    assert "HINT:" in err


def test_edited_sql_and_rollback_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = repository(tmp_path)
    (tmp_path / "migrations/0.1.0/002_create_posts.sql").write_text("CREATE TABLE posts (id bigint);\n")
    (tmp_path / "migrations/0.2.0/rollbacks/001_create_tags.sql").write_text("DROP TABLE IF EXISTS tags;\n")
    code, out, err = diff(capsys, manifest, "main", "--format", "json")
    assert code == 4
    edited = {e["name"]: e["changes"] for e in json.loads(out)["edited"]}
    assert edited == {"002_create_posts": ["sql"], "001_create_tags": ["rollback"]}
    assert f"{manifest}:" in err and "0.1.0/002_create_posts exists in main, and its SQL file changed" in err
    assert "its rollback file changed" in err and "2 problems found" in err


def test_dependency_changes_are_reported_without_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, [ENTRIES[0], entry("0.1.0", "002_create_posts"),
                       entry("0.2.0", "001_create_tags", ("0.1.0/002_create_posts",))])
    code, out, _ = diff(capsys, manifest, "main", "--format", "json")
    assert code == 0
    changes = {c["name"]: (c["added"], c["removed"]) for c in json.loads(out)["dependencies"]}
    assert changes == {"002_create_posts": ([], ["0.1.0/001_create_users"]),
                       "001_create_tags": (["0.1.0/002_create_posts"], [])}


def test_a_migration_moved_to_another_version_is_a_rename_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    moved = {"migrations/0.3.0/001_create_tags.sql": FILES["migrations/0.2.0/001_create_tags.sql"],
             "migrations/0.3.0/rollbacks/001_create_tags.sql": "DROP TABLE tags;\n"}
    rewrite(manifest, [ENTRIES[0], ENTRIES[1], entry("0.3.0", "001_create_tags")], moved)
    code, out, err = diff(capsys, manifest, "main")
    assert code == 4
    assert "renamed  0.2.0/001_create_tags -> 0.3.0/001_create_tags" in out
    assert "added" not in out.split("Plan")[0] and "removed" not in out.split("Plan")[0]
    assert "0.2.0/001_create_tags of main is now 0.3.0/001_create_tags (same SQL)" in err


def test_new_migration_sorting_before_existing_ones_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    late = {"migrations/0.1.0/003_add_email.sql": "ALTER TABLE users ADD COLUMN email text;\n"}
    rewrite(manifest, [*ENTRIES, entry("0.1.0", "003_add_email", rollback=False)], late)
    code, out, _ = diff(capsys, manifest, "main", "--format", "json")
    assert code == 0
    assert [(m["name"], m["out_of_order"]) for m in json.loads(out)["added"]] == [("003_add_email", True)]


def test_markdown_comment_has_the_table_lint_findings_and_a_mermaid_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, [*ENTRIES, entry("0.3.0", "001_add_labels", ("0.2.0/001_create_tags",),
                                       rollback=False)], NEW_FILES)
    code, out, _ = diff(capsys, manifest, "main", "--format", "markdown")
    assert code == 0
    assert "| change | migration | detail |" in out
    assert "| added | `0.3.0/001_add_labels` | depends on `0.2.0/001_create_tags` |" in out
    assert "#### Lint findings for the new migrations" in out
    assert "`AP401`" in out  # the new migration has no rollback file
    mermaid = out.split("```mermaid\n")[1].split("```")[0]
    assert mermaid.startswith("graph TD\n")
    assert '["0.3.0/001_add_labels"]:::new' in mermaid and '["0.2.0/001_create_tags"]' in mermaid
    assert "0.1.0/001_create_users" not in mermaid  # only the new ones and their dependencies
    assert "<details><summary>Plan order: 4 migration(s), 1 new</summary>" in out


def test_markdown_lists_errors_for_the_reviewer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = repository(tmp_path)
    rewrite(manifest, ENTRIES[:2])
    code, out, _ = diff(capsys, manifest, "main", "--format", "markdown")
    assert code == 4
    assert "> [!CAUTION]" in out and "0.2.0/001_create_tags exists in main but was removed" in out


def test_base_may_be_another_manifest_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write_project(tmp_path / "base", FILES, "".join(ENTRIES))
    head = write_project(tmp_path / "head", {**FILES, **NEW_FILES}, "".join([*ENTRIES, NEW_ENTRY]))
    monkeypatch.chdir(tmp_path)
    code, out, _ = diff(capsys, head, "base/migrations.toml", "--format", "json")
    assert code == 0
    assert json.loads(out)["base"] == "base/migrations.toml"
    assert [m["name"] for m in json.loads(out)["added"]] == ["001_add_labels"]
    assert load_base(head, str(base)).migrations[0].label == "0.1.0/001_create_users"


def test_base_without_a_manifest_makes_every_migration_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README").write_text("nothing yet\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "empty")
    manifest = write_project(tmp_path, FILES, "".join(ENTRIES))
    code, out, _ = diff(capsys, manifest, "main", "--format", "json")
    assert code == 0
    assert [m["name"] for m in json.loads(out)["added"]] == [
        "001_create_users", "002_create_posts", "001_create_tags"]


def test_unknown_revision_is_a_one_line_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repository(tmp_path)
    code, out, err = diff(capsys, manifest, "no-such-branch")
    assert code == 4 and out == ""
    assert err.startswith("archon-plan: error: base 'no-such-branch' is neither a manifest file nor a")
    assert "HINT:" in err


def test_a_manifest_outside_any_repository_explains_what_base_may_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, "".join(ENTRIES))
    code, _, err = diff(capsys, manifest, "main")
    assert code == 4
    assert "base 'main' is not a file, and git cannot read a revision" in err


def test_manifest_in_a_subfolder_is_read_from_the_same_place_at_the_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path / "db", FILES, "".join(ENTRIES))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    rewrite(manifest, [*ENTRIES, NEW_ENTRY], NEW_FILES)
    code, out, err = diff(capsys, manifest, "main", "--format", "json")
    assert code == 0, err
    assert [m["name"] for m in json.loads(out)["added"]] == ["001_add_labels"]
    base = load_base(manifest, "main")
    assert base.migrations[0].sql.path == (tmp_path / "db/migrations/0.1.0/001_create_users.sql").resolve()


def test_an_invalid_manifest_at_the_base_is_reported_with_its_location(tmp_path: Path) -> None:
    manifest = repository(tmp_path)
    (tmp_path / "migrations/0.2.0/001_create_tags.sql").unlink()
    git(tmp_path, "commit", "-q", "-am", "lose a file")
    with pytest.raises(Exception) as raised:
        load_base(manifest, "HEAD")
    assert "HEAD:migrations.toml: the manifest at the base is invalid" in str(raised.value)
    assert "HEAD:migrations.toml:" in str(raised.value).splitlines()[2]


def test_a_base_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    manifest = repository(tmp_path)
    with pytest.raises(UsageError):
        load_base(manifest, "--output=/tmp/x")


def literal(
    version: str, stem: str, text: str, folder: str = "m", depends_on: tuple[str, ...] = ()
) -> Migration:
    display = f"{folder}/{stem}.sql"
    return Migration(version=version, number=int(stem[:3]), stem=stem,
                     sql=SqlFile(path=Path(display), display=display, text=text), depends_on=depends_on)


def test_a_file_moved_to_another_folder_keeps_its_identity_and_is_no_error() -> None:
    base = Manifest(Path("base.toml"), Settings(), (literal("0.1.0", "001_a", "SELECT 1;"),))
    head = Manifest(Path("head.toml"), Settings(), (literal("0.1.0", "001_a", "SELECT 1;", "n"),
                                                    literal("0.1.0", "002_b", "SELECT 2;", "n", ("001_a",))))
    changes = compare_manifests(base, head, "main")
    edits = [(e.head.label, e.changes, e.is_error) for e in changes.edited]
    assert edits == [("0.1.0/001_a", ("file",), False)]
    assert [m.label for m in changes.new] == ["0.1.0/002_b"] and changes.problems() == []
    assert "moved   0.1.0/001_a  file moved, identity kept: m/001_a.sql -> n/001_a.sql" in diff_text(changes)
