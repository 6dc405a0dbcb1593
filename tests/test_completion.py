"""`archon-plan completion`: scripts each shell parses, and completions of migration and target
names read from the files through argcomplete's own protocol, with no database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archon_plan.project.names import migration_names, target_names
from tests.helpers import entry, write_project

BIN = Path(sys.executable).parent  # where the console script `archon-plan` is installed
FILES = {"migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int);\n",
         "migrations/0.1.0/002_create_posts.sql": "CREATE TABLE posts (id int);\n",
         "migrations/0.2.0/001_add_email.sql": "ALTER TABLE users ADD email text;\n"}
MANIFEST = (entry("0.1.0", "001_create_users", rollback=False) + 'description = "Users: who signs in"\n\n'
            + entry("0.1.0", "002_create_posts", rollback=False)
            + entry("0.2.0", "001_add_email", rollback=False))
USERS_AND_POSTS = ["0.1.0/001_create_users", "0.1.0/002_create_posts"]
SYNTAX_CHECK = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


def script(shell: str) -> str:
    done = subprocess.run([sys.executable, "-m", "archon_plan", "completion", shell], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


def shell_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def complete(cwd: Path, line: str, shell: str = "bash") -> list[str]:
    """What argcomplete answers for `line`, asked as the bash and zsh scripts ask: the
    environment protocol, the answer on file descriptor 8 (stdout and stderr go nowhere)."""
    env = {**shell_env(), "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE": "1",
           "_ARGCOMPLETE_SHELL": shell, "_ARGCOMPLETE_IFS": "\n"}
    for variable in ("_ARGCOMPLETE_STDOUT_FILENAME", "_ARC_DEBUG"):
        env.pop(variable, None)
    done = subprocess.run(["bash", "-c", '"$@" 8>&1 9>&2 1>/dev/null 2>&1', "_", sys.executable, "-m",
                           "archon_plan"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(name.strip() for name in done.stdout.split("\n") if name.strip())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_project(tmp_path, FILES, MANIFEST)
    return tmp_path


@pytest.mark.parametrize("shell", sorted(SYNTAX_CHECK))
def test_each_shells_script_parses_in_that_shell(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: its completion script was not checked")
    text = script(shell)
    assert "archon-plan" in text
    done = subprocess.run(SYNTAX_CHECK[shell], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_revert_completes_the_manifests_migration_names_with_no_database(project: Path) -> None:
    assert complete(project, "archon-plan revert 0.1") == USERS_AND_POSTS


@pytest.mark.parametrize("line", [
    "archon-plan apply --target 0.1", "archon-plan revert --to 0.1", "archon-plan repair 0.1",
    "archon-plan repair --retry 0.1", "archon-plan repair --mark-applied --through 0.1",
    "archon-plan fleet revert --to 0.1",
])
def test_every_option_that_names_a_migration_completes_one(project: Path, line: str) -> None:
    assert complete(project, line) == USERS_AND_POSTS


def test_zsh_is_answered_with_each_names_description(project: Path) -> None:
    assert complete(project, "archon-plan revert 0.1", "zsh") == [
        "0.1.0/001_create_users:Users: who signs in", "0.1.0/002_create_posts:"]


def test_a_name_begun_without_its_version_completes_by_name_alone(project: Path) -> None:
    assert complete(project, "archon-plan revert 00") == ["001_add_email", "001_create_users",
                                                          "002_create_posts"]


def test_the_manifest_given_after_the_command_is_the_one_read(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    line = f"archon-plan revert --manifest {project / 'migrations.toml'} 0.2"
    assert complete(elsewhere, line) == ["0.2.0/001_add_email"]
    assert complete(elsewhere, f"archon-plan --manifest {project / 'migrations.toml'} revert 0.2") == [
        "0.2.0/001_add_email"]


@pytest.mark.parametrize("text", [None, "[[migration]\nversion = ", "migration = 3\n", "\xff\xfe"])
def test_a_missing_or_broken_manifest_completes_nothing_and_says_nothing(tmp_path: Path,
                                                                          text: str | None) -> None:
    if text is not None:
        (tmp_path / "migrations.toml").write_bytes(text.encode("latin-1"))
    assert complete(tmp_path, "archon-plan revert 0") == []
    assert complete(tmp_path, "archon-plan sta") == ["status"]  # commands still complete


def test_fleet_target_completes_the_fleet_files_target_names(project: Path) -> None:
    (project / "fleet.toml").write_text('[[target]]\nname = "eu"\nurl_env = "EU_URL"\n\n'
                                        '[[target]]\nname = "us"\nurl_env = "US_URL"\n', encoding="utf-8")
    assert complete(project, "archon-plan fleet status --target ") == ["eu", "us"]
    assert complete(project, "archon-plan fleet apply --fleet fleet.toml --target u") == ["us"]


def test_options_complete_and_database_options_only_where_used(project: Path) -> None:
    assert "--database-url" not in complete(project, "archon-plan show --")
    assert {"--database-url", "--lock-wait", "--target"} <= set(complete(project, "archon-plan apply --"))


def test_bash_completes_a_migration_name_through_the_installed_script(project: Path) -> None:
    """The script as a user installs it, sourced in bash, and its function called as bash's
    `complete -F` calls it."""
    code = ('source /dev/stdin; COMP_LINE="archon-plan revert 0.1"; COMP_POINT=${#COMP_LINE}; '
            'COMP_WORDS=(archon-plan revert 0.1); COMP_CWORD=2; _python_argcomplete archon-plan; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "-c", code], input=script("bash"), cwd=project, env=shell_env(),
                          capture_output=True, text=True, timeout=60)
    assert sorted(done.stdout.split()) == USERS_AND_POSTS, done.stderr


def test_fish_completes_a_migration_name_with_its_description(project: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed: its completions were not checked")
    code = 'source; complete -C "archon-plan revert 0.1"'
    done = subprocess.run(["fish", "--no-config", "-c", code], input=script("fish"), cwd=project,
                          env=shell_env(), capture_output=True, text=True, timeout=60)
    assert sorted(done.stdout.splitlines()) == ["0.1.0/001_create_users\tUsers: who signs in",
                                                "0.1.0/002_create_posts"], done.stderr


def test_names_are_read_from_the_files_as_they_are_and_never_raise(tmp_path: Path) -> None:
    manifest = tmp_path / "migrations.toml"
    manifest.write_text('[[migration]]\nversion = "1.0"\nfile = "m/001_a.sql"\n'
                        'description = """Line one\\u001b' + "x" * 80 + '\nline two"""\n'
                        '[[migration]]\nversion = 2\nfile = "m/002_b.sql"\n'
                        '[[migration]]\nversion = "1.0"\nfile = "m/bad name.sql"\n', encoding="utf-8")
    names = migration_names(manifest)
    assert list(names) == ["1.0/001_a"]
    assert names["1.0/001_a"].startswith("Line one x") and len(names["1.0/001_a"]) == 60
    assert migration_names(tmp_path) == {} and migration_names(tmp_path / "none.toml") == {}
    (tmp_path / "fleet.toml").write_text('target = [{name = "a"}, {name = 3}, "b"]\n', encoding="utf-8")
    assert target_names(tmp_path / "fleet.toml") == ["a"]
    assert target_names(manifest) == []
