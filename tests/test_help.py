"""Every command's --help: a description, an example, and the database options only where a
database is used; those options still work before any command, and after one with a warning."""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.cli.options import DATABASE, unused_database_options
from archon_plan.cli.parser import COMMON_VERBS, build_parser
from tests.helpers import entry, write_project

CONNECTION = {"--database-url", "--embedded"}
RUN = {"--lock-wait", "--lock-timeout", "--migration-lock-timeout", "--statement-timeout"}
# What each command uses (docs/cli.md#database-options); every other command uses none.
USES = {
    "status": CONNECTION, "history": CONNECTION, "snapshot": CONNECTION, "drift": CONNECTION,
    "renumber": CONNECTION,
    "report": CONNECTION, "serve": CONNECTION,
    "apply": CONNECTION | RUN, "revert": CONNECTION | RUN, "repair": CONNECTION | RUN,
    "adopt": CONNECTION | RUN, "import": CONNECTION | RUN,
    "rehearse": {"--database-url"},  # the server of its scratch databases
    "fleet apply": RUN, "fleet revert": RUN,  # the fleet's databases come from fleet.toml
}
# The least each command parses with.
ARGUMENTS = {
    "show": [], "status": [], "apply": [], "revert": ["--last", "1"], "create": ["add_x"], "init": [],
    "history": [], "repair": ["--retry", "001_t"], "check": [], "diff": ["HEAD"], "schema": [],
    "rehearse": [], "fleet status": [], "fleet apply": [], "fleet revert": ["--last", "1"],
    "fleet drift": [], "snapshot": [], "drift": [], "import": ["--from", "flyway", "src"],
    "adopt": ["--from", "flyway"], "report": [], "serve": [], "completion": ["bash"],
    "renumber": ["001_t"],
}
NO_DATABASE = ("show", "check", "create", "init", "schema", "diff")
VALUES = {"--database-url": "postgresql://u@h/db", "--lock-wait": "5", "--lock-timeout": "5",
          "--migration-lock-timeout": "5s", "--statement-timeout": "1min"}
STORED = {"--database-url": ("database_url", "postgresql://u@h/db"), "--embedded": ("embedded", True),
          "--lock-wait": ("lock_wait", 5.0), "--lock-timeout": ("lock_wait", 5.0),
          "--migration-lock-timeout": ("migration_lock_timeout", "5s"),
          "--statement-timeout": ("statement_timeout", "1min")}


def commands(parser: argparse.ArgumentParser,
             path: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command, and each fleet verb, with its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{path} {name}".strip(), sub
                yield from commands(sub, f"{path} {name}".strip())


COMMANDS = dict(commands(build_parser()))
LEAVES = sorted(ARGUMENTS)


def given(flag: str) -> list[str]:
    return [flag] if flag == "--embedded" else [flag, VALUES[flag]]


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_the_tables_here_name_every_command() -> None:
    assert {path for path in COMMANDS if path != "fleet"} == set(ARGUMENTS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_and_fleet_verb_has_a_description_and_an_example(path: str) -> None:
    parser = COMMANDS[path]
    assert parser.description and parser.description.strip()
    assert parser.epilog and re.search(rf"^examples?:\n(  archon-plan {path}\b.*\n?)+", parser.epilog, re.M)
    text = parser.format_help()
    assert parser.description.split()[0] in text
    assert re.search(rf"^examples?:\n  archon-plan {path}\b", text, re.M), text  # kept as written


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_a_command_lists_exactly_the_database_options_it_uses(path: str) -> None:
    text = COMMANDS[path].format_help()
    listed = {flag for flag in DATABASE if re.search(rf"^\s+{flag}\b", text, re.M)}
    assert listed == USES.get(path, set()) - {"--lock-timeout"}  # the deprecated name is never listed
    assert "--lock-timeout" not in text


@pytest.mark.parametrize("command", NO_DATABASE)
def test_the_help_of_a_command_without_a_database_names_no_database_option(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert not [flag for flag in DATABASE if flag in out]


@pytest.mark.parametrize("path", LEAVES)
@pytest.mark.parametrize("flag", DATABASE)
def test_a_database_option_before_any_command_is_accepted_silently(path: str, flag: str) -> None:
    args = parse([*given(flag), *path.split(), *ARGUMENTS[path]])
    assert getattr(args, STORED[flag][0]) == STORED[flag][1]
    assert unused_database_options(args) == []


@pytest.mark.parametrize("path", LEAVES)
@pytest.mark.parametrize("flag", DATABASE)
def test_a_database_option_after_a_command_works_where_used_and_is_flagged_where_not(
    path: str, flag: str
) -> None:
    """0.1 took every option after every command (fleet's verbs excepted): still so, and the
    commands that do not use it are named for the warning."""
    argv = [*path.split(), *given(flag), *ARGUMENTS[path]]
    if path.startswith("fleet ") and flag not in USES.get(path, ()):
        with pytest.raises(SystemExit) as exited:  # never taken there: a usage error, as in 0.1
            parse(argv)
        assert exited.value.code == 2
        return
    args = parse(argv)
    assert getattr(args, STORED[flag][0]) == STORED[flag][1]
    assert unused_database_options(args) == ([] if flag in USES.get(path, ()) else [flag])


@pytest.mark.parametrize(("flag", "verb", "unused"), [
    ("--lock-wait", "apply", []), ("--lock-wait", "status", ["--lock-wait"]),
    ("--database-url", "apply", ["--database-url"]),
])
def test_between_fleet_and_its_verb_an_option_is_judged_by_the_verb(
    flag: str, verb: str, unused: list[str]
) -> None:
    assert unused_database_options(parse(["fleet", *given(flag), verb])) == unused


def test_a_database_option_after_show_warns_and_show_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, {"migrations/0.1.0/001_t.sql": "SELECT 1;\n"},
                             entry("0.1.0", "001_t", rollback=False))
    assert main(["--manifest", str(manifest), "show", "--database-url", "postgresql://u@h/db"]) == 0
    out, err = capsys.readouterr()
    assert "001_t" in out
    assert err.count("warning") == 1
    assert "`show` does not take --database-url" in err and "future release will refuse it" in err
    assert main(["--manifest", str(manifest), "--database-url", "postgresql://u@h/db", "show"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("flag", ["--release", "--version"])
def test_create_and_init_take_the_release_as_release_or_as_version(
    tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "001_a.sql").write_text("SELECT 1;\n", encoding="utf-8")
    manifest = tmp_path / "migrations.toml"
    assert main(["--manifest", str(manifest), "init", str(folder), flag, "0.2.0"]) == 0
    assert main(["--manifest", str(manifest), "create", "add_b", flag, "0.3.0"]) == 0
    versions = [m["version"] for m in tomllib.loads(manifest.read_text(encoding="utf-8"))["migration"]]
    assert versions == ["0.2.0", "0.3.0"]
    assert "archon-plan" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["create", "init"])
def test_the_help_says_that_version_there_means_the_release(command: str) -> None:
    text = " ".join(COMMANDS[command].format_help().split())
    assert re.search(r"--release( V)?, --version V", text)  # Python 3.13 names the metavar once
    assert "also means the release, not archon-plan's version" in text


def test_the_database_options_table_of_the_docs_says_what_the_commands_do() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Database options", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for row in re.findall(r"^\| (`.*?) \| (.*?) \|$", section, re.M):
        commands_cell, options_cell = (re.sub(r"\(.*?\)", "", cell) for cell in row)
        flags = (set(DATABASE) if options_cell.startswith("all of them")
                 else set(re.findall(r"`(--[a-z-]+)`", options_cell)))
        for command in re.findall(r"`([a-z ]+)`", commands_cell):
            documented[command] = flags
    assert set(documented) == set(ARGUMENTS)
    listed = {command: flags - {"--lock-timeout"} for command, flags in documented.items() if flags}
    assert listed == {command: flags - {"--lock-timeout"} for command, flags in USES.items()}


def _outcome(parse_argv: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, ...]:
    """What parsing argv gives: the namespace, or the exit code and what was printed."""
    assert callable(parse_argv)
    try:
        result: object = vars(parse_argv(argv))
    except SystemExit as exc:
        result = exc.code
    out = capsys.readouterr()
    return result, out.out, out.err


COMMON_LINES = [
    *([*path.split(), *ARGUMENTS[path]] for path in LEAVES),
    *([*path.split(), *ARGUMENTS[path], *given(flag)]
      for path in LEAVES for flag in sorted(USES.get(path, ()))),
    ["--database-url", "postgresql://u@h/db", "status", "--check"], ["--manifest", "status", "check"],
    ["status", "--bogus"], ["status", "--help"], ["--help", "status"], ["status", "-h"],
    ["--version", "apply"], ["apply", "--ta", "x"], ["revert"], ["repair"],
    ["repair", "--through", "x", "--mark-applied"], ["show", "extra"], ["status", "--format", "xml"],
    ["apply", "--embedded", "--lock-wait", "x"], [], ["statu"], ["history", "--limit", "0"],
]


@pytest.mark.parametrize("argv", COMMON_LINES, ids=" ".join)
def test_the_common_verbs_own_parser_says_exactly_what_the_whole_parser_says(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from archon_plan.cli.parser import parse as parse_fast

    assert _outcome(parse_fast, argv, capsys) == _outcome(parse, argv, capsys)


@pytest.mark.parametrize("path", sorted(COMMON_VERBS))
def test_a_common_verb_is_parsed_by_the_common_verbs_parser_alone(path: str) -> None:
    """The fast path is taken, not merely fallen back from: the verb's own parser parses it."""
    assert build_parser(only=path).parse_args([path, *ARGUMENTS[path]]).command == path


def test_parsing_a_common_verb_loads_none_of_the_other_verbs_modules() -> None:
    import subprocess
    import sys

    probe = ("import sys; from archon_plan.cli.parser import parse; parse(['status']); "
             "print(sorted(m for m in sys.modules if m.rsplit('.', 1)[-1] in "
             "('fleet', 'drift', 'adopt', 'dashboard', 'renumber')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
