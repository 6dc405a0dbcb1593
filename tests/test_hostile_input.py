"""Hostile input: broken manifests, files and names are refused cleanly, and the database is left alone.

Every case goes through the command line (`check` with no usable database, `apply` against the
test's fresh database): exit code 4, no traceback, one short error that points at the manifest
line or the file:line:column, and not one object created in the database. Commands run through
cli.main in the test's process; the cases that once crashed run the real executable.
Two hypothesis tests then throw random manifests (TOML documents, raw bytes) at the loader and
the graph: they either load or raise archon-plan's own errors, never anything else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from archon_plan.core.graph import build_graph
from archon_plan.errors import ArchonPlanError, ExitCode
from archon_plan.project.loader import load_manifest
from archon_plan.project.manifest import read_manifest
from tests.helpers import run_in_process, table_exists, tracking_rows

Conn = psycopg.Connection[tuple[object, ...]]

ROOT = Path(__file__).resolve().parents[1]
# Nothing listens on port 1: `check` must never need a database, so it must not notice.
BOGUS_URL = "postgresql://nobody@127.0.0.1:1/nowhere"
DATABASE_VARIABLES = (
    "ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL",
    "SUPABASE_DB_PASSWORD", "SUPABASE_SERVICE_KEY",
)
MAX_FIRST_LINE = 300


# --- running the CLI and looking into the database ------------------------------------------------


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}


def _arguments(args: tuple[str, ...], database_url: str | None) -> list[str]:
    return [*args, "--database-url", database_url] if database_url is not None else [*args]


def cli(
    cwd: Path, *args: str, database_url: str | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """`archon-plan ARGS` in cwd, reading cwd/migrations.toml unless told otherwise: through
    cli.main in this process, or with process, through `python -m archon_plan`."""
    arguments = _arguments(args, database_url)
    if not process:
        return run_in_process(arguments, cwd, clean_env())
    return subprocess.run([sys.executable, "-m", "archon_plan", *arguments], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, errors="replace", timeout=180, check=False)


def refusal_problems(
    result: subprocess.CompletedProcess[str], code: int, names: tuple[str, ...]
) -> list[str]:
    """What is wrong with result as a refusal: exit code, traceback, length, names missing."""
    shown = (f"`{' '.join(result.args)}` exited {result.returncode}\n"
             f"stdout: {result.stdout[:1000]!r}\nstderr: {result.stderr[:2000]!r}")
    if result.returncode != code:
        return [f"expected exit {code}; {shown}"]
    problems = []
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        problems.append(f"a traceback; {shown}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("archon-plan: error: ")]
    if len(errors) != 1:
        problems.append(f"{len(errors)} error lines; {shown}")
    elif len(errors[0]) >= MAX_FIRST_LINE:
        problems.append(f"first line is {len(errors[0])} characters: {errors[0]!r}")
    problems += [f"{name!r} not in the error; {shown}" for name in names if name not in result.stderr]
    return problems


def assert_refused(result: subprocess.CompletedProcess[str], code: int, names: tuple[str, ...]) -> None:
    """The exit code, no traceback, and one short error that names every one of names."""
    problems = refusal_problems(result, code, names)
    assert not problems, "\n".join(problems)


def relations(db: Conn) -> set[tuple[str, str]]:
    """Every table, view, sequence, index, ... outside the system schemas."""
    rows = db.execute(
        """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"""
    ).fetchall()
    return {(str(schema), str(name)) for schema, name in rows}


def schemas(db: Conn) -> set[str]:
    rows = db.execute(
        """SELECT nspname FROM pg_namespace
           WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"""
    ).fetchall()
    return {str(name) for (name,) in rows}


# --- the sweep of bad inputs ---------------------------------------------------------------------

GOOD_FILES: dict[str, str | bytes] = {
    "m/001_a.sql": "CREATE TABLE a (id int);\n",
    "m/rollbacks/001_a.sql": "DROP TABLE a;\n",
    "m/002_b.sql": "CREATE TABLE b (id int);\n",
    "m/003_c.sql": "CREATE TABLE c (id int);\n",
}


def block(file: str, *extra: str, version: str = '"0.1.0"') -> str:
    """A [[migration]] entry: header on its first line, version on the 2nd, file on the 3rd."""
    return "\n".join(["[[migration]]", f"version = {version}", f'file = "{file}"', *extra]) + "\n"


FIRST = block("m/001_a.sql")  # lines 1-3
TWO = FIRST + "\n" + block("m/002_b.sql")  # the second entry's header is on line 5
INJECTED = "x';drop table y;--"


def _outside(root: Path) -> Path:
    """A real SQL file beside the project folder, so only its place is wrong."""
    path = root.parent / "x" / "001_a.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("CREATE TABLE outside (id int);\n", encoding="utf-8")
    return path


def _symlink_outside(root: Path) -> None:
    link = root / "m" / "001_a.sql"
    link.unlink()
    link.symlink_to(_outside(root))


def _symlink_to_itself(root: Path) -> None:
    link = root / "m" / "001_a.sql"
    link.unlink()
    link.symlink_to("001_a.sql")


def _symlink_loop(root: Path) -> None:
    first, second = root / "m" / "001_a.sql", root / "m" / "009_z.sql"
    first.unlink()
    first.symlink_to("009_z.sql")
    second.symlink_to("001_a.sql")


@dataclass(frozen=True)
class Case:
    id: str
    manifest: str | bytes | Callable[[Path], str]
    names: tuple[str, ...]  # each must appear in the error
    files: Mapping[str, str | bytes] = field(default_factory=dict)  # over GOOD_FILES
    setup: Callable[[Path], Any] | None = None
    check: bool = True  # also run `check` (no database)
    apply_args: tuple[str, ...] = ()
    seed: bool = False  # a table `y` exists beforehand and must survive
    process: bool = False  # through the real executable: exit code and stderr end to end


CASES = [
    # The manifest itself.
    Case("malformed_toml", TWO + "\n[[migration\nversion = 1\n",
         ("migrations.toml", "invalid TOML", "line 9")),
    Case("manifest_not_utf8", b"\xff\xfe" + FIRST.encode(), ("migrations.toml", "cannot read manifest")),
    Case("toml_nested_2000_deep", FIRST + "description = " + "[" * 2000 + "]" * 2000 + "\n",
         ("migrations.toml", "invalid TOML"), process=True),  # once a RecursionError, exit 1
    Case("settings_and_migration_of_the_wrong_kind", 'settings = 3\nmigration = "x"\n',
         ("migrations.toml", "[settings] must be a table", "must be an array of tables")),
    Case("migration_items_not_tables", "migration = [1, 2]\n",
         ("migrations.toml", "migration #2: must be a table")),
    # Wrong types.
    Case("version_is_an_integer", block("m/001_a.sql", version="1"),
         ("migrations.toml:2: migration #1", "version", "valid string")),
    Case("depends_on_is_a_string", block("m/001_a.sql", 'depends_on = "x"'),
         ("migrations.toml:4: migration #1", "depends_on", "valid list")),
    Case("rollback_is_an_integer", block("m/001_a.sql", "rollback = 3"),
         ("migrations.toml:4: migration #1", "rollback", "valid string")),
    Case("description_is_a_table", block("m/001_a.sql", "description = { text = 1 }"),
         ("migrations.toml:4: migration #1", "description")),
    Case("transactional_is_a_string", block("m/001_a.sql", 'transactional = "no"'),
         ("migrations.toml:4: migration #1", "transactional")),
    Case("lock_retries_is_a_string", '[settings]\nlock_retries = "3"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "lock_retries")),
    Case("missing_file_key", '[[migration]]\nversion = "0.1.0"\n',
         ("migrations.toml:1: migration #1", "file")),
    Case("version_not_a_release", block("m/001_a.sql", version='"banana"'),
         ("migrations.toml:2: migration #1", "not a release number")),
    Case("version_longer_than_varchar_20", block("m/001_a.sql", version='"1.' + "0" * 30 + '"'),
         ("migrations.toml:2: migration #1", "longer than 20 characters")),
    Case("lock_timeout_not_a_duration", block("m/001_a.sql", 'lock_timeout = "5 seconds"'),
         ("migrations.toml:4: migration #1", "lock_timeout")),
    Case("lock_timeout_with_non_ascii_digit", block("m/001_a.sql", 'lock_timeout = "\u0663s"'),
         ("migrations.toml:4: migration #1", "lock_timeout")),  # once passed check, apply exit 3
    # Durations PostgreSQL refuses (over INT_MAX milliseconds): check must catch them, not apply.
    Case("lock_timeout_beyond_postgresql_range", block("m/001_a.sql", 'lock_timeout = "99999999999h"'),
         ("migrations.toml:4: migration #1", "lock_timeout")),
    Case("statement_timeout_beyond_postgresql_range",
         '[settings]\nstatement_timeout = "99999999999999999999"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "statement_timeout")),
    Case("migration_lock_timeout_flag_beyond_postgresql_range", TWO, ("--migration-lock-timeout",),
         apply_args=("--migration-lock-timeout", "99999999999h"), check=False),
    # Unknown keys, with "did you mean".
    Case("entry_key_depend_on", block("m/001_a.sql", 'depend_on = ["001_a"]'),
         ("migrations.toml:4: migration #1", "unknown key 'depend_on'", "did you mean 'depends_on'?")),
    Case("settings_key_trackin_table", '[settings]\ntrackin_table = "t"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "unknown key 'trackin_table'", "did you mean 'tracking_table'?")),
    Case("top_level_key_migrations", FIRST.replace("[[migration]]", "[[migrations]]", 1),
         ("migrations.toml", "unknown top-level key 'migrations'", "did you mean 'migration'?")),
    # The SQL files.
    Case("sql_file_not_utf8", FIRST, ("migrations.toml:3: migration #1", "m/001_a.sql", "not UTF-8"),
         files={"m/001_a.sql": b"CREATE TABLE a (id int); -- caf\xe9\n"}),
    Case("rollback_file_not_utf8", block("m/001_a.sql", 'rollback = "m/rollbacks/001_a.sql"'),
         ("migrations.toml:4: migration #1", "m/rollbacks/001_a.sql", "not UTF-8"),
         files={"m/rollbacks/001_a.sql": b"\xff\xfeD\x00R\x00O\x00P\x00"}),
    Case("sql_file_empty", FIRST, ("migrations.toml:3: migration #1", "m/001_a.sql", "is empty"),
         files={"m/001_a.sql": ""}),
    Case("sql_file_whitespace_only", FIRST, ("migrations.toml:3: migration #1", "m/001_a.sql", "is empty"),
         files={"m/001_a.sql": " \n\t\r\n"}),
    Case("sql_file_comments_only", TWO, ("m/002_b.sql", "no SQL statements"),
         files={"m/002_b.sql": "-- to be written\n/* later */\n"}),
    Case("sql_syntax_error", TWO, ("m/002_b.sql:3:24", "migration 0.1.0/002_b", "syntax error"),
         files={"m/002_b.sql": "CREATE TABLE b (id int);\n\nCREATE TABLE c (id int,,);\n"}),
    Case("create_index_concurrently", TWO, ("m/002_b.sql:2:1", "CREATE INDEX CONCURRENTLY"),
         files={"m/002_b.sql": "CREATE TABLE b (id int);\nCREATE INDEX CONCURRENTLY b_id ON b (id);\n"}),
    Case("top_level_rollback", TWO, ("m/002_b.sql:2:1", "ROLLBACK"),
         files={"m/002_b.sql": "CREATE TABLE b (id int);\nROLLBACK;\nCREATE TABLE c (id int);\n"}),
    Case("transaction_control_in_a_non_transactional_file",
         FIRST + "\n" + block("m/002_b.sql", "transactional = false"), ("m/002_b.sql:2:1", "0.1.0/002_b"),
         files={"m/002_b.sql": "CREATE TABLE b (id int);\nBEGIN;\nCREATE TABLE c (id int);\nCOMMIT;\n"}),
    # Paths.
    Case("path_escapes_the_project", block("../x/001_a.sql"),
         ("migrations.toml:3: migration #1", "../x/001_a.sql", "outside the project folder"), setup=_outside),
    Case("absolute_path_outside_the_project", lambda root: block(str(_outside(root))),
         ("migrations.toml:3: migration #1", "outside the project folder")),
    Case("symlink_out_of_the_project", FIRST,
         ("migrations.toml:3: migration #1", "m/001_a.sql", "outside the project folder"),
         setup=_symlink_outside),
    Case("symlink_to_itself", FIRST, ("migrations.toml:3: migration #1", "m/001_a.sql"),
         setup=_symlink_to_itself),
    Case("symlink_loop_of_two", FIRST, ("migrations.toml:3: migration #1", "m/001_a.sql"),
         setup=_symlink_loop),
    Case("nul_byte_in_file_path", block("m/001_a.sql\\u0000"),
         ("migrations.toml:3: migration #1",), process=True),  # once a ValueError, exit 1
    Case("nul_byte_in_rollback_path", block("m/001_a.sql", 'rollback = "m/rollbacks/\\u0000.sql"'),
         ("migrations.toml:4: migration #1",)),  # likewise
    # Names.
    Case("file_name_with_quotes_and_semicolons", block(f"m/001_{INJECTED}.sql"),
         ("migrations.toml:3: migration #1", "does not follow the rule"),
         files={f"m/001_{INJECTED}.sql": "CREATE TABLE z (id int);\n"}, seed=True),
    Case("file_name_with_non_ascii_digits", block("m/\u0660\u0660\u0661_a.sql"),
         ("migrations.toml:3: migration #1", "does not follow the rule"),
         files={"m/\u0660\u0660\u0661_a.sql": "CREATE TABLE z (id int);\n"}),  # once accepted (\d)
    Case("file_name_with_trailing_newline", block("m/001_a.sql\\n"),
         ("migrations.toml:3: migration #1", "does not follow the rule"),
         files={"m/001_a.sql\n": "CREATE TABLE z (id int);\n"}),  # once accepted ($)
    Case("depends_on_with_quotes_and_semicolons",
         FIRST + "\n" + block("m/002_b.sql", f'depends_on = ["{INJECTED}"]'),
         ("migrations.toml:5: migration #2", "no migration named", INJECTED), seed=True),
    Case("depends_on_itself", block("m/001_a.sql", 'depends_on = ["001_a"]'),
         ("migrations.toml:1: migration #1", "depends on itself")),
    Case("target_with_quotes_and_semicolons", TWO, ("no migration named", "001_a';drop table y;--"),
         apply_args=("--target", "001_a';drop table y;--"), check=False, seed=True),
    Case("tracking_table_with_a_statement",
         '[settings]\ntracking_table = "public.x; drop table y"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "not a valid table name"), seed=True),
    Case("tracking_table_of_three_parts", '[settings]\ntracking_table = "a.b.c"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "not a valid table name")),
    Case("tracking_table_empty", '[settings]\ntracking_table = ""\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "not a valid table name")),
    Case("tracking_table_quoted", '[settings]\ntracking_table = \'"Weird".t\'\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "not a valid table name")),
    Case("tracking_table_with_trailing_newline", '[settings]\ntracking_table = "x\\n"\n\n' + FIRST,
         ("migrations.toml:1: [settings]", "not a valid table name")),  # once created "x\n"
]


def build(case: Case, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for relative, content in {**GOOD_FILES, **case.files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    if case.setup is not None:
        case.setup(root)
    manifest = case.manifest(root) if callable(case.manifest) else case.manifest
    data = manifest if isinstance(manifest, bytes) else manifest.encode("utf-8")
    (root / "migrations.toml").write_bytes(data)
    return root


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_exits_4_with_a_short_located_error_and_leaves_the_database_untouched(
    case: Case, tmp_path: Path, database_url: str, db: Conn
) -> None:
    root = build(case, tmp_path)
    if case.seed:
        db.execute("CREATE TABLE y (id int)")
    expected = {("public", "y")} if case.seed else set()
    assert relations(db) == expected

    runs: list[tuple[tuple[str, ...], str | None]] = [(("apply", *case.apply_args), database_url)]
    if case.check:  # check never needs a database: one that cannot be reached must not matter
        runs.append((("check",), BOGUS_URL))
    failures = []
    for args, url in runs:
        result = cli(root, *args, database_url=url, process=case.process)
        failures += refusal_problems(result, ExitCode.INVALID, case.names)
    if relations(db) != expected:
        failures.append(f"apply changed the database: {sorted(relations(db) - expected)}")
    if schemas(db) != {"public"}:
        failures.append(f"apply created schemas: {sorted(schemas(db) - {'public'})}")
    assert not failures, "\n".join(failures)


def test_a_runtime_failure_in_the_second_of_three_keeps_the_first_and_leaves_nothing_of_the_second(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    case = Case("runtime", TWO + "\n" + block("m/003_c.sql"), (),
                files={"m/002_b.sql": "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1 / 0);\n"})
    root = build(case, tmp_path)
    result = cli(root, "apply", database_url=database_url)
    assert_refused(result, ExitCode.MIGRATION_FAILED, ("m/002_b.sql:2:", "0.1.0/002_b", "22012"))
    assert "applied  0.1.0/001_a" in result.stdout
    assert tracking_rows(db) == [("0.1.0", "001_a.sql")]
    assert table_exists(db, "public.a")
    assert not table_exists(db, "public.b") and not table_exists(db, "public.c")


def test_the_settings_example_of_docs_manifest_md_is_a_valid_settings_table(tmp_path: Path) -> None:
    """The first TOML block of docs/manifest.md, up to its first entry, must load cleanly."""
    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    found = re.search(r"```toml\n(.*?)```", text, re.S)
    assert found is not None
    settings_part = found[1].split("[[migration]]")[0]
    path = tmp_path / "migrations.toml"
    path.write_text(settings_part, encoding="utf-8")
    _, problems = read_manifest(path)
    assert problems == [], "\n".join(map(str, problems))


# --- 10,000 entries ------------------------------------------------------------------------------

BIG = 10_000


@dataclass(frozen=True)
class BigProject:
    root: Path
    blocks: list[str]  # one [[migration]] block per entry, each ending in a blank line


@pytest.fixture(scope="module")
def big_project(tmp_path_factory: pytest.TempPathFactory) -> BigProject:
    """10 versions of 1,000 migrations each, every one depending on the one before it."""
    root = tmp_path_factory.mktemp("big")
    blocks: list[str] = []
    previous = ""
    for index in range(BIG):
        version, number = f"0.{index // 1000}.0", index % 1000
        stem = f"{number:03d}_t{index}"
        path = root / "m" / version / f"{stem}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"CREATE TABLE t{index} (id int);\n", encoding="utf-8")
        depends = f'depends_on = ["{previous}"]\n' if number else ""
        blocks.append(f'[[migration]]\nversion = "{version}"\nfile = "m/{version}/{stem}.sql"\n{depends}\n')
        previous = f"{version}/{stem}"
    return BigProject(root, blocks)


@pytest.mark.slow
def test_ten_thousand_entries_show_and_check_within_a_minute(big_project: BigProject) -> None:
    (big_project.root / "valid.toml").write_text("".join(big_project.blocks), encoding="utf-8")
    for command in ("show", "check"):
        started = time.monotonic()
        result = cli(big_project.root, "--manifest", "valid.toml", command, database_url=BOGUS_URL,
                     process=True)  # cold, as a deploy runs it
        seconds = time.monotonic() - started
        assert result.returncode == 0, result.stderr[:2000]
        assert "Traceback" not in result.stderr
        assert f"{BIG} migration(s)" in result.stdout
        assert seconds < 60, f"{command} took {seconds:.1f}s"


@pytest.mark.slow
def test_ten_thousand_entries_with_one_broken_name_that_entry_and_apply_changes_nothing(
    big_project: BigProject, database_url: str, db: Conn
) -> None:
    broken = 5432  # 0-based; migration #5433 in messages
    blocks = list(big_project.blocks)
    blocks[broken] = blocks[broken].replace("version = ", "verison = ", 1)
    header_line = 1 + sum(block.count("\n") for block in blocks[:broken])
    (big_project.root / "broken.toml").write_text("".join(blocks), encoding="utf-8")
    names = (f"broken.toml:{header_line + 1}: migration #{broken + 1}", "unknown key 'verison'",
             "did you mean 'version'?")
    for args, url in ((("check",), BOGUS_URL), (("apply",), database_url)):
        started = time.monotonic()
        result = cli(big_project.root, "--manifest", "broken.toml", *args, database_url=url, process=True)
        assert time.monotonic() - started < 60
        assert_refused(result, ExitCode.INVALID, names)
        assert len(result.stderr) < 2000, "one broken entry should not flood the terminal"
    assert relations(db) == set()


# --- property: the loader and the graph raise only archon-plan's errors --------------------------

FUZZ_FILES: dict[str, str | bytes] = {
    "m/001_a.sql": "CREATE TABLE a (id int);\n",
    "m/002_b.sql": "CREATE TABLE b (id int);\n",
    "m/003_c.sql": "CREATE TABLE c (id int);\n",
    "m/rollbacks/001_a.sql": "DROP TABLE a;\n",
    "m/004_empty.sql": "",
    "m/005_latin1.sql": b"SELECT 'caf\xe9';\n",
    "m/006_comment.sql": "-- nothing\n",
    "m/1_bad.sql": "SELECT 1;\n",
}
# Each field draws a good value most of the time, so that many entries get past the type checks
# to the files and the graph; then a bad one; then anything TOML can hold.
GOOD_PATHS = ["m/001_a.sql", "m/002_b.sql", "m/003_c.sql", "m/rollbacks/001_a.sql", "./m/../m/002_b.sql"]
BAD_PATHS = [
    "m/004_empty.sql", "m/005_latin1.sql", "m/006_comment.sql", "m/1_bad.sql", "m/007_loop.sql",
    "m/missing.sql", "m", "", ".", "..", "../x/001_a.sql", "x/001_a.sql", "/etc/passwd", "/",
    "m/001_a.sql/", "m/001_a.sql\x00", "m/\x00", "m/" + "a" * 300 + ".sql", "m/" + "d/" * 100 + "001_a.sql",
]
GOOD_NAMES = ["001_a", "001_a.sql", "0.1.0/001_a", "0.1.0/002_b", "002_b", "003_c", "0.2.0/001_a"]
BAD_NAMES = ["/", "", "0.1.0/", INJECTED, "001_A", "1.0/001_a.sql.sql", "999_zzz"]
GOOD_VERSIONS = ["0.1.0", "0.2.0", "0.1", "1.0.0rc1", "0.10.0"]
BAD_VERSIONS = ["banana", "", " 0.1.0", "1." + "0" * 30, "v1", "0.1.0\n"]
GOOD_DURATIONS = ["5s", "0", "500ms", "2min", "1h"]
BAD_DURATIONS = ["5 s", "\u0663s", "-1s", "5s\n", "1d", ""]
GOOD_TABLES = ["public.archon_migrations", "t", "a.b", "_" * 48, "_" * 63 + "." + "_" * 48]
# A table name over 48 characters: its derived names (idx_<table>_applied_at) would not fit 63.
BAD_TABLES = ["a.b.c", "", ".", "public.x; drop table y", "x\n", "_" * 49, "_" * 64, '"Q".t']

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
keys = texts | st.sampled_from(["depend_on", "versoin", "File", "trackin_table", "migrations", "setting"])
scalars = texts | st.booleans() | st.integers() | st.floats() | st.dates()
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)


def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as often as its weight (st.one_of would pick them evenly)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


def _mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[Any]:
    return _weighted((6, st.sampled_from(good)), (2, st.sampled_from(bad)), (1, values))


extras = _weighted((6, st.just({})), (1, st.dictionaries(keys, values, max_size=2)))


def _with(
    extra: st.SearchStrategy[dict[str, Any]], known: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda unknown, table: {**unknown, **table}, extra, known)


entry_fields = {
    "rollback": _mostly(GOOD_PATHS, BAD_PATHS),
    "depends_on": _weighted((4, st.lists(_mostly(GOOD_NAMES, BAD_NAMES), max_size=2)), (1, values)),
    "description": _weighted((3, texts), (1, values)),
    "lock_timeout": _mostly(GOOD_DURATIONS, BAD_DURATIONS),
    "statement_timeout": _mostly(GOOD_DURATIONS, BAD_DURATIONS),
    "transactional": _weighted((4, st.booleans()), (1, values)),
}
version_and_file = {"version": _mostly(GOOD_VERSIONS, BAD_VERSIONS), "file": _mostly(GOOD_PATHS, BAD_PATHS)}
entries = _weighted(
    (6, _with(extras, st.fixed_dictionaries(version_and_file, optional=entry_fields))),
    (1, _with(extras, st.fixed_dictionaries({}, optional={**version_and_file, **entry_fields}))),
    (1, values),
)
settings_tables = _with(extras, st.fixed_dictionaries({}, optional={
    "tracking_table": _mostly(GOOD_TABLES, BAD_TABLES),
    "recorded_name": _mostly(["file", "stem"], ["FILE", ""]),
    "lock_wait": st.floats() | st.integers() | values,
    "lock_timeout": _mostly(GOOD_DURATIONS, BAD_DURATIONS),
    "statement_timeout": _mostly(GOOD_DURATIONS, BAD_DURATIONS),
    "lock_retries": st.integers() | values,
}))
top_level = {
    "settings": _weighted((4, settings_tables), (1, values)),
    "migration": _weighted((6, st.lists(entries, max_size=6)), (1, values)),
}
documents = _with(extras, _weighted(
    (4, st.fixed_dictionaries({"migration": top_level["migration"]},
                              optional={"settings": top_level["settings"]})),
    (1, st.fixed_dictionaries({}, optional=top_level)),
))
DEEP = ["deep = " + "[" * 1500 + "]" * 1500, "deep = " + "{a=" * 1500 + "1" + "}" * 1500]
FRAGMENTS = [
    "[[migration]]", "[settings]", "[[migration", "[migration]", 'version = "0.1.0"', "version = 1",
    'file = "m/001_a.sql"', 'file = "m/002_b.sql"', 'depends_on = ["001_a"]', "depends_on = [", "]", '"',
    "= =", "'''", '"""', "\\u0000", 'tracking_table = "x"', "a.b.c = 1", "x = 1979-05-27T07:32:00Z", *DEEP,
]


def _toml(document: dict[str, Any]) -> bytes:
    return tomli_w.dumps(document).encode("utf-8")


raw_texts = st.one_of(
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS) | texts, max_size=12).map(lambda parts: "\n".join(parts).encode()),
    # A valid document with something deeply nested at its end: Python's TOML parser recurses.
    st.tuples(documents.map(_toml), st.sampled_from(DEEP)).map(
        lambda pair: pair[0] + b"\n" + pair[1].encode()
    ),
)


def _write_fuzz_project(root: Path) -> None:
    for relative, content in FUZZ_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    (root / "m" / "007_loop.sql").symlink_to("007_loop.sql")
    outside = root.parent / f"{root.name}-x" / "001_a.sql"
    outside.parent.mkdir()
    outside.write_text("SELECT 1;\n", encoding="utf-8")
    (root / "x").symlink_to(outside.parent)  # x/001_a.sql leads out of the project


def _load_and_build(manifest: bytes) -> None:
    """load_manifest then build_graph, in a fresh project: they succeed or raise our errors."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        root.mkdir()
        _write_fuzz_project(root)
        path = root / "migrations.toml"
        path.write_bytes(manifest)
        try:
            loaded = load_manifest(path)
            built = build_graph(loaded.migrations, str(path))
        except ArchonPlanError as exc:
            assert exc.exit_code == ExitCode.INVALID
            assert str(exc)
        else:
            assert len(built.order) == len(loaded.migrations)


# No shrinking: with these strategies it can take minutes; the failing example is printed as drawn.
FUZZ_SETTINGS = settings(
    deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
# A few examples in every run, the full 200 in CI's slow set.
EXAMPLES = [pytest.param(20, id="20-examples"), pytest.param(200, id="200-examples", marks=pytest.mark.slow)]


@pytest.mark.parametrize("examples", EXAMPLES)
def test_any_toml_manifest_loads_or_raises_an_archon_plan_error_never_anything_else(
    examples: int,
) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(document=documents)
    @example(document={"migration": [{"version": "0.1.0", "file": "m/001_a.sql\x00"}]})
    @example(document={"migration": [{"version": "0.1.0", "file": "m/001_a.sql", "rollback": "m/\x00"}]})
    def trial(document: dict[str, Any]) -> None:
        _load_and_build(_toml(document))

    trial()


@pytest.mark.parametrize("examples", EXAMPLES)
def test_any_bytes_as_a_manifest_load_or_raise_an_archon_plan_error_never_anything_else(
    examples: int,
) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(manifest=raw_texts)
    @example(manifest=b'[[migration]]\nversion = "0.1.0"\nfile = "m/001_a.sql"\n' + DEEP[0].encode())
    def trial(manifest: bytes) -> None:
        _load_and_build(manifest)

    trial()
