"""The `archon-plan` command line end to end on a real PostgreSQL: each command through cli.main,
and the executable itself (python -m, the console script, exit codes, imports) in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import psycopg
import pytest

import archon_plan
from tests.helpers import entry, run_in_process, table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).parent / "archon-plan"
PYTHON_M = (sys.executable, "-m", "archon_plan")
# Nothing listens on port 1: a command that needs the database fails fast there.
BOGUS_URL = "postgresql://nobody@127.0.0.1:1/nowhere"
DATABASE_VARIABLES = (
    "ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL",
    "SUPABASE_DB_PASSWORD", "SUPABASE_SERVICE_KEY",
)

FILES = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id serial PRIMARY KEY, name text);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.1.0/002_add_email.sql": "ALTER TABLE users ADD COLUMN email text;\n",
    "migrations/0.1.0/rollbacks/002_add_email.sql": "ALTER TABLE users DROP COLUMN email;\n",
    "migrations/0.1.0/003_create_posts.sql": (
        "CREATE TABLE posts (id serial PRIMARY KEY, user_id int REFERENCES users (id));\n"
    ),
    "migrations/0.1.0/rollbacks/003_create_posts.sql": "DROP TABLE posts;\n",
    "migrations/0.2.0/001_create_tags.sql": "CREATE TABLE tags (id serial PRIMARY KEY, label text);\n",
    "migrations/0.2.0/rollbacks/001_create_tags.sql": "DROP TABLE tags;\n",
}
MANIFEST = (
    "# a hand-written comment that must survive\n\n"
    + entry("0.1.0", "001_create_users")
    + entry("0.1.0", "002_add_email", ("001_create_users",))
    + entry("0.1.0", "003_create_posts", ("001_create_users",))
    + entry("0.2.0", "001_create_tags")
)
ALL_ROWS = [
    ("0.1.0", "001_create_users.sql"), ("0.1.0", "002_add_email.sql"),
    ("0.1.0", "003_create_posts.sql"), ("0.2.0", "001_create_tags.sql"),
]


def clean_env() -> dict[str, str]:
    """The environment without any database configuration, so only the flags count."""
    return {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}


def run(
    cwd: Path, *args: str, manifest: Path | None = None, database_url: str | None = None,
    program: tuple[str, ...] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command through cli.main in this process; with program, through that executable."""
    command = []
    if manifest is not None:
        command += ["--manifest", str(manifest)]
    if database_url is not None:
        command += ["--database-url", database_url]
    if program is None:
        return run_in_process([*command, *args], cwd, clean_env())
    return subprocess.run([*program, *command, *args], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=120, check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def assert_error(result: subprocess.CompletedProcess[str], code: int, *names: str) -> None:
    """Exit code, no traceback, and one clean message naming each of names."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "archon-plan: error:" in result.stderr
    for name in names:
        assert name in result.stderr, f"{name!r} not in {result.stderr!r}"


def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, FILES, MANIFEST)


def example(tmp_path: Path) -> Path:
    """A copy of the repository's own example project."""
    shutil.copy(ROOT / "migrations.toml", tmp_path / "migrations.toml")
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations")
    return tmp_path / "migrations.toml"


def statements_in(text: str) -> str:
    """The text with SQL line comments removed."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()


def public_objects(db: Conn) -> set[tuple[str, str]]:
    """Relations (not indexes), user types and functions in the public schema."""
    rows = db.execute(
        """SELECT 'relation', c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
           UNION ALL
           SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm')
           UNION ALL
           SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'"""
    ).fetchall()
    return {(str(kind), str(name)) for kind, name in rows}


# --- --version, python -m and the console script ------------------------------------------


def test_version_flag_prints_the_package_version(tmp_path: Path) -> None:
    result = run(tmp_path, "--version")
    assert_ok(result)
    assert result.stdout.strip() == f"archon-plan {archon_plan.__version__}"


def test_python_m_and_the_console_script_both_run_the_cli(tmp_path: Path) -> None:
    manifest = project(tmp_path)
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} is not installed"
    outputs = []
    for program in (PYTHON_M, (str(CONSOLE_SCRIPT),)):
        version = run(tmp_path, "--version", program=program)
        assert_ok(version)
        assert version.stdout.strip() == f"archon-plan {archon_plan.__version__}"
        shown = run(tmp_path, "show", "--format", "json", manifest=manifest, database_url=BOGUS_URL,
                    program=program)
        assert_ok(shown)
        outputs.append(shown.stdout)
    assert outputs[0] == outputs[1]


def test_the_executable_runs_without_the_cyclic_collector_and_main_leaves_it_alone(tmp_path: Path) -> None:
    """The console script's target turns the collector off for its own short process only."""
    manifest = project(tmp_path)
    target = tomllib.loads(Path(archon_plan.__file__).parent.parent.joinpath("pyproject.toml")
                           .read_text())["project"]["scripts"]["archon-plan"]
    module, function = target.split(":")
    code = (f"import gc, sys, {module} as m; path = sys.argv[1]; "
            f"sys.argv = ['archon-plan', '--manifest', path, 'show']; code = m.{function}(); "
            "print('gc:', code, gc.isenabled()); gc.enable(); "
            "code = m.main(['--manifest', path, 'show']); print('gc:', code, gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code, str(manifest)], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True, timeout=120, check=True)
    collector = [line for line in out.stdout.splitlines() if line.startswith("gc:")]
    assert collector == ["gc: 0 False", "gc: 0 True"]


def test_missing_manifest_exits_4_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    # Through the real executable: its exit code and stderr, without a traceback.
    result = run(tmp_path, "status", manifest=missing, database_url=BOGUS_URL, program=PYTHON_M)
    assert_error(result, 4, str(missing), "manifest not found")


# --- create -----------------------------------------------------------------------------------


def test_create_in_an_empty_folder_writes_numbered_files_and_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "migrations.toml"
    first = run(tmp_path, "create", "add_users", manifest=manifest)
    assert_ok(first)
    sql = tmp_path / "migrations" / "0.1.0" / "001_add_users.sql"
    rollback = tmp_path / "migrations" / "0.1.0" / "rollbacks" / "001_add_users.sql"
    assert sql.is_file() and rollback.is_file()
    for path in (sql, rollback):
        text = path.read_text(encoding="utf-8")
        assert "0.1.0/001_add_users" in text
        assert not re.search(r"\b(BEGIN|COMMIT)\b", statements_in(text), re.I), text
    assert "001_add_users" in first.stdout

    second = run(tmp_path, "create", "add email", "--depends-on", "001_add_users", manifest=manifest)
    assert_ok(second)
    assert (tmp_path / "migrations" / "0.1.0" / "002_add_email.sql").is_file()
    assert (tmp_path / "migrations" / "0.1.0" / "rollbacks" / "002_add_email.sql").is_file()

    entries = tomllib.loads(manifest.read_text(encoding="utf-8"))["migration"]
    assert entries == [
        {"version": "0.1.0", "file": "migrations/0.1.0/001_add_users.sql",
         "rollback": "migrations/0.1.0/rollbacks/001_add_users.sql"},
        {"version": "0.1.0", "file": "migrations/0.1.0/002_add_email.sql",
         "rollback": "migrations/0.1.0/rollbacks/002_add_email.sql", "depends_on": ["0.1.0/001_add_users"]},
    ]
    # The templates hold only comments: `check` wants them written before anything runs. The first
    # error is on stderr; all four (AP505) are in the report on stdout.
    checked = run(tmp_path, "check", manifest=manifest)
    assert_error(checked, 4, "migrations/0.1.0/001_add_users.sql", "AP505")
    assert "migrations/0.1.0/rollbacks/002_add_email.sql: error AP505" in checked.stdout


def test_created_migrations_once_written_apply_and_revert(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = tmp_path / "migrations.toml"
    assert_ok(run(tmp_path, "create", "add_users", manifest=manifest))
    assert_ok(run(tmp_path, "create", "add_email", "--depends-on", "001_add_users", manifest=manifest))
    folder = tmp_path / "migrations" / "0.1.0"
    for name, forwards, backwards in [
        ("001_add_users", "CREATE TABLE users (id int);", "DROP TABLE users;"),
        ("002_add_email", "ALTER TABLE users ADD COLUMN email text;", "ALTER TABLE users DROP COLUMN email;"),
    ]:
        pairs = ((folder / f"{name}.sql", forwards), (folder / "rollbacks" / f"{name}.sql", backwards))
        for path, sql in pairs:
            path.write_text(path.read_text(encoding="utf-8") + sql + "\n", encoding="utf-8")
    assert_ok(run(tmp_path, "check", manifest=manifest))
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    assert tracking_rows(db) == [("0.1.0", "001_add_users.sql"), ("0.1.0", "002_add_email.sql")]
    refused = run(tmp_path, "revert", "001_add_users", manifest=manifest, database_url=database_url)
    assert_error(refused, 5, "0.1.0/002_add_email")
    assert_ok(run(tmp_path, "revert", "--last", "2", manifest=manifest, database_url=database_url))
    assert tracking_rows(db) == [] and not table_exists(db, "public.users")


def test_create_on_the_example_keeps_comments_and_numbers_on_in_the_latest_version(tmp_path: Path) -> None:
    manifest = example(tmp_path)
    before = manifest.read_text(encoding="utf-8")
    result = run(tmp_path, "create", "add_comments", "--depends-on", "0.1.0/004_create_notes",
                 "--depends-on", "002_add_task_priority_and_summary", manifest=manifest)
    assert_ok(result)
    folder = tmp_path / "migrations" / "0.2.0"
    assert (folder / "003_add_comments.sql").is_file()
    assert (folder / "rollbacks" / "003_add_comments.sql").is_file()
    after = manifest.read_text(encoding="utf-8")
    assert after.startswith(before)  # comments and layout untouched: only appended
    assert "# Example archon-plan project" in after and "# --- 0.2.0 ---" in after
    last = tomllib.loads(after)["migration"][-1]
    assert last == {
        "version": "0.2.0",
        "file": "migrations/0.2.0/003_add_comments.sql",
        "rollback": "migrations/0.2.0/rollbacks/003_add_comments.sql",
        "depends_on": ["0.1.0/004_create_notes", "0.2.0/002_add_task_priority_and_summary"],
    }

    assert_ok(run(tmp_path, "create", "add_reactions", manifest=manifest))
    assert (folder / "004_add_reactions.sql").is_file()
    assert_ok(run(tmp_path, "create", "add_teams", "--version", "0.3.0", manifest=manifest))
    assert (tmp_path / "migrations" / "0.3.0" / "001_add_teams.sql").is_file()
    assert (tmp_path / "migrations" / "0.3.0" / "rollbacks" / "001_add_teams.sql").is_file()
    assert tomllib.loads(manifest.read_text(encoding="utf-8"))["migration"][-1]["version"] == "0.3.0"
    # The manifest stays valid TOML whose entries `show` reads, in plan order.
    shown = run(tmp_path, "show", manifest=manifest, database_url=BOGUS_URL)
    assert_ok(shown)
    assert re.findall(r"^\d+\s+(\S+)\s+(\S+)", shown.stdout, re.M)[-3:] == [
        ("0.2.0", "003_add_comments"), ("0.2.0", "004_add_reactions"), ("0.3.0", "001_add_teams"),
    ]


def test_create_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    manifest = project(tmp_path)
    stray = tmp_path / "migrations" / "0.2.0" / "002_stray.sql"
    stray.write_text("-- someone's work in progress\nSELECT 1;\n", encoding="utf-8")
    before = manifest.read_text(encoding="utf-8")
    result = run(tmp_path, "create", "stray", manifest=manifest)
    assert_error(result, 5, "002_stray.sql", "already exists")
    assert stray.read_text(encoding="utf-8") == "-- someone's work in progress\nSELECT 1;\n"
    assert manifest.read_text(encoding="utf-8") == before


def test_create_refused_for_an_existing_rollback_leaves_no_half_created_migration(tmp_path: Path) -> None:
    manifest = project(tmp_path)
    stray = tmp_path / "migrations" / "0.2.0" / "rollbacks" / "002_stray.sql"
    stray.write_text("DROP TABLE stray;\n", encoding="utf-8")
    before = manifest.read_text(encoding="utf-8")
    result = run(tmp_path, "create", "stray", manifest=manifest)
    assert_error(result, 5, "002_stray.sql", "already exists")
    assert stray.read_text(encoding="utf-8") == "DROP TABLE stray;\n"
    assert manifest.read_text(encoding="utf-8") == before
    # A refused command changes nothing: no orphan forward file that the next try trips over.
    assert not (tmp_path / "migrations" / "0.2.0" / "002_stray.sql").exists()


def test_create_with_an_unknown_dependency_exits_4_and_writes_nothing(tmp_path: Path) -> None:
    manifest = project(tmp_path)
    before = manifest.read_text(encoding="utf-8")
    result = run(tmp_path, "create", "add_likes", "--depends-on", "009_nope", manifest=manifest)
    assert_error(result, 4, "009_nope")
    assert manifest.read_text(encoding="utf-8") == before
    assert not list(tmp_path.rglob("*add_likes*"))


# --- apply and status -------------------------------------------------------------------------


def test_status_and_apply_in_text_and_json(tmp_path: Path, database_url: str, db: Conn) -> None:
    manifest = project(tmp_path)

    text = run(tmp_path, "status", manifest=manifest, database_url=database_url)
    assert_ok(text)
    assert re.search(r"^pending\s+0\.1\.0\s+001_create_users", text.stdout, re.M)
    assert "0 applied, 4 pending, 0 modified, 0 unknown" in text.stdout

    pending = run(tmp_path, "status", "--format", "json", manifest=manifest, database_url=database_url)
    assert_ok(pending)
    document = json.loads(pending.stdout)
    assert document["schema_version"] == 1
    assert document["counts"]["pending"] == 4 and document["counts"]["applied"] == 0
    assert [(m["version"], m["name"], m["state"]) for m in document["migrations"]] == [
        ("0.1.0", "001_create_users", "pending"), ("0.1.0", "002_add_email", "pending"),
        ("0.1.0", "003_create_posts", "pending"), ("0.2.0", "001_create_tags", "pending"),
    ]

    applied = run(tmp_path, "apply", manifest=manifest, database_url=database_url)
    assert_ok(applied)
    labels = re.findall(r"applied\s+(\S+)", applied.stdout)
    assert labels == ["0.1.0/001_create_users", "0.1.0/002_add_email", "0.1.0/003_create_posts",
                      "0.2.0/001_create_tags"]
    assert "4 migration(s) applied." in applied.stdout
    assert tracking_rows(db) == ALL_ROWS

    done = run(tmp_path, "status", "--format", "json", manifest=manifest, database_url=database_url)
    assert_ok(done)
    document = json.loads(done.stdout)
    assert document["schema_version"] == 1
    assert document["counts"] == {"applied": 4, "applied-unknown-checksum": 0, "pending": 0,
                                  "modified": 0, "failed": 0, "unknown": 0}
    assert all(m["state"] == "applied" and m["applied_at"] for m in document["migrations"])
    assert all(m["recorded_checksum"] == m["file_checksum"] for m in document["migrations"])

    text = run(tmp_path, "status", manifest=manifest, database_url=database_url)
    assert_ok(text)
    assert "4 applied, 0 pending, 0 modified, 0 unknown" in text.stdout

    again = run(tmp_path, "apply", manifest=manifest, database_url=database_url)
    assert_ok(again)
    assert "Nothing to apply" in again.stdout
    assert tracking_rows(db) == ALL_ROWS


# What each verb of every deploy must not load: `status` only reads; a no-op `apply` has no
# file to parse, so neither pglast nor the message builder; neither loads the other verbs.
UNWANTED = {
    "status": ["db.executor", "db.batch", "sql.parse", "db.lock", "db.repair", "project.manifest",
               "review", "uuid", "difflib"],
    "apply": ["db.batch", "sql.parse", "core.windows", "cli.fleet", "cli.drift", "cli.adopt",
              "cli.dashboard", "review"],
}


@pytest.mark.parametrize("verb", sorted(UNWANTED))
def test_status_and_a_no_op_apply_load_only_what_they_need(
    tmp_path: Path, database_url: str, verb: str
) -> None:
    manifest = project(tmp_path)
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    unwanted = [m if m in ("uuid", "difflib") else f"archon_plan.{m}" for m in UNWANTED[verb]]
    unwanted += ["pglast", "pydantic", "networkx"]
    code = ("import sys; from archon_plan.cli import main; "
            f"code = main(['--manifest', sys.argv[1], '--database-url', sys.argv[2], '{verb}']); "
            f"print(code, sorted(set(sys.modules) & {set(unwanted)!r}))")
    out = subprocess.run([sys.executable, "-c", code, str(manifest), database_url], cwd=tmp_path,
                         env=clean_env(), capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines()[-1] == "0 []"


@pytest.mark.parametrize("verb", ["show", "check"])
def test_verbs_without_a_database_do_not_load_psycopg(tmp_path: Path, verb: str) -> None:
    """`show` and `check` run in every pull request: psycopg's import alone is about 120 ms."""
    manifest = project(tmp_path)
    code = ("import sys; from archon_plan.cli import main; "
            f"code = main(['--manifest', sys.argv[1], '{verb}']); "
            "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))")
    out = subprocess.run([sys.executable, "-c", code, str(manifest)], cwd=tmp_path,
                         env=clean_env(), capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines()[-1] == "0 []"


def test_status_check_exits_8_while_pending_and_0_when_up_to_date(tmp_path: Path, database_url: str) -> None:
    manifest = project(tmp_path)
    behind = run(tmp_path, "status", "--check", manifest=manifest, database_url=database_url)
    assert behind.returncode == 8 and "Traceback" not in behind.stderr
    assert "4 pending" in behind.stdout

    assert_ok(run(tmp_path, "apply", "--target", "0.1.0/002_add_email", manifest=manifest,
                  database_url=database_url))
    partly = run(tmp_path, "status", "--check", manifest=manifest, database_url=database_url)
    assert partly.returncode == 8 and "2 applied, 2 pending" in partly.stdout

    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    assert_ok(run(tmp_path, "status", "--check", manifest=manifest, database_url=database_url))


def test_apply_dry_run_previews_the_sql_and_creates_nothing(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    result = run(tmp_path, "apply", "--dry-run", manifest=manifest, database_url=database_url)
    assert_ok(result)
    assert "would apply 0.1.0/001_create_users (migrations/0.1.0/001_create_users.sql)" in result.stdout
    assert "| CREATE TABLE users (id serial PRIMARY KEY, name text);" in result.stdout
    assert "would apply 0.2.0/001_create_tags" in result.stdout
    assert "nothing was changed" in result.stdout
    assert not table_exists(db, "public.archon_migrations")
    assert public_objects(db) == set()


def test_apply_dry_run_summary_says_would_be_applied(tmp_path: Path, database_url: str) -> None:
    manifest = project(tmp_path)
    result = run(tmp_path, "apply", "--dry-run", manifest=manifest, database_url=database_url)
    assert_ok(result)
    assert "4 migration(s) would be applied; nothing was changed." in result.stdout


def test_failed_migration_exits_3_with_file_line_and_sqlstate(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {
        "migrations/0.1.0/001_create_users.sql": FILES["migrations/0.1.0/001_create_users.sql"],
        "migrations/0.1.0/002_seed_users.sql": (
            "CREATE TABLE audit (id int);\n"
            "\n"
            "INSERT INTO users (id, name)\n"
            "    VALUES ('not a number', 'x');\n"
        ),
    }
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_create_users", rollback=False)
                             + entry("0.1.0", "002_seed_users", rollback=False))
    result = run(tmp_path, "apply", manifest=manifest, database_url=database_url)
    # 'not a number' starts on line 4, column 13; 22P02 is invalid_text_representation.
    assert_error(result, 3, "migrations/0.1.0/002_seed_users.sql:4:13", "22P02", "0.1.0/002_seed_users")
    assert "applied  0.1.0/001_create_users" in result.stdout
    assert tracking_rows(db) == [("0.1.0", "001_create_users.sql")]
    assert table_exists(db, "public.users") and not table_exists(db, "public.audit")


# --- revert -----------------------------------------------------------------------------------


def test_revert_with_dependents_is_refused_with_exit_5_unless_cascade(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))

    refused = run(tmp_path, "revert", "0.1.0/001_create_users", manifest=manifest,
                  database_url=database_url)
    assert_error(refused, 5, "0.1.0/002_add_email", "0.1.0/003_create_posts", "--cascade")
    assert tracking_rows(db) == ALL_ROWS and table_exists(db, "public.users")

    cascaded = run(tmp_path, "revert", "0.1.0/001_create_users", "--cascade", manifest=manifest,
                   database_url=database_url)
    assert_ok(cascaded)
    assert re.findall(r"reverted\s+(\S+)", cascaded.stdout) == [
        "0.1.0/003_create_posts", "0.1.0/002_add_email", "0.1.0/001_create_users",
    ]
    assert tracking_rows(db) == [("0.2.0", "001_create_tags.sql")]
    assert not table_exists(db, "public.users") and not table_exists(db, "public.posts")


def test_revert_named_migration_without_dependents(tmp_path: Path, database_url: str, db: Conn) -> None:
    manifest = project(tmp_path)
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    result = run(tmp_path, "revert", "002_add_email", manifest=manifest, database_url=database_url)
    assert_ok(result)
    assert "1 migration(s) reverted." in result.stdout
    assert ("0.1.0", "002_add_email.sql") not in tracking_rows(db)
    assert len(tracking_rows(db)) == 3


def test_revert_of_a_migration_that_is_not_applied_exits_4_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    manifest = project(tmp_path)
    result = run(tmp_path, "revert", "0.2.0/001_create_tags", manifest=manifest, database_url=database_url)
    assert_error(result, 4, "0.2.0/001_create_tags", "not applied")


def test_revert_to_keeps_the_named_migration_and_everything_before(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    preview = run(tmp_path, "revert", "--to", "0.1.0/002_add_email", "--dry-run", manifest=manifest,
                  database_url=database_url)
    assert_ok(preview)
    assert ("would revert 0.2.0/001_create_tags (migrations/0.2.0/rollbacks/001_create_tags.sql)"
            in preview.stdout)
    assert tracking_rows(db) == ALL_ROWS

    result = run(tmp_path, "revert", "--to", "0.1.0/002_add_email", manifest=manifest,
                 database_url=database_url)
    assert_ok(result)
    reverted = re.findall(r"reverted\s+(\S+)", result.stdout)
    assert reverted == ["0.2.0/001_create_tags", "0.1.0/003_create_posts"]
    assert tracking_rows(db) == ALL_ROWS[:2]


def test_revert_last_n_reverts_the_most_recent_n(tmp_path: Path, database_url: str, db: Conn) -> None:
    manifest = project(tmp_path)
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    result = run(tmp_path, "revert", "--last", "2", manifest=manifest, database_url=database_url)
    assert_ok(result)
    assert "2 migration(s) reverted." in result.stdout
    assert tracking_rows(db) == ALL_ROWS[:2]
    assert table_exists(db, "public.users") and not table_exists(db, "public.tags")


def test_example_project_applies_and_revert_last_6_leaves_only_the_tracking_table(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = example(tmp_path)
    before = public_objects(db)
    applied = run(tmp_path, "apply", manifest=manifest, database_url=database_url)
    assert_ok(applied)
    assert "6 migration(s) applied." in applied.stdout
    assert_ok(run(tmp_path, "status", "--check", manifest=manifest, database_url=database_url))
    assert len(tracking_rows(db)) == 6

    reverted = run(tmp_path, "revert", "--last", "6", manifest=manifest, database_url=database_url)
    assert_ok(reverted)
    assert "6 migration(s) reverted." in reverted.stdout
    assert tracking_rows(db) == []
    history = {("relation", "archon_migrations_events"), ("relation", "archon_migrations_events_id_seq")}
    assert public_objects(db) == before | {("relation", "archon_migrations")} | history


# --- show and check: no database ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", ["1  0.1.0    001_create_users", "0.1.0/001_create_users", "4 migration(s)"]),
        ("mermaid", ["graph TD", 'm_0_1_0__001_create_users["0.1.0/001_create_users"]',
                     "m_0_1_0__001_create_users --> m_0_1_0__002_add_email"]),
        ("dot", ["digraph migrations {", '"0.1.0/001_create_users" -> "0.1.0/003_create_posts";']),
    ],
)
def test_show_prints_the_plan_without_a_database(tmp_path: Path, fmt: str, expected: list[str]) -> None:
    manifest = project(tmp_path)
    result = run(tmp_path, "show", "--format", fmt, manifest=manifest, database_url=BOGUS_URL)
    assert_ok(result)
    for fragment in expected:
        assert fragment in result.stdout, f"{fragment!r} not in {result.stdout!r}"


def test_show_json_without_a_database(tmp_path: Path) -> None:
    manifest = project(tmp_path)
    result = run(tmp_path, "show", "--format", "json", manifest=manifest, database_url=BOGUS_URL)
    assert_ok(result)
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    by_label = {f"{m['version']}/{m['name']}": m for m in document["migrations"]}
    assert list(by_label) == ["0.1.0/001_create_users", "0.1.0/002_add_email", "0.1.0/003_create_posts",
                              "0.2.0/001_create_tags"]
    assert by_label["0.1.0/003_create_posts"]["depends_on"] == ["0.1.0/001_create_users"]
    assert by_label["0.1.0/002_add_email"]["file"] == "migrations/0.1.0/002_add_email.sql"
    assert by_label["0.1.0/002_add_email"]["rollback"] == "migrations/0.1.0/rollbacks/002_add_email.sql"


def test_check_passes_on_the_example_project(tmp_path: Path) -> None:
    manifest = example(tmp_path)
    result = run(tmp_path, "check", manifest=manifest, database_url=BOGUS_URL)
    assert_ok(result)
    # 0.2.0/002 indexes the existing tasks table without CONCURRENTLY (AP201), allowed with a reason.
    assert "6 migration(s), no problems found (1 allowed)." in result.stdout
    assert "AP201" not in result.stdout


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("CREATE TABLE u (id int);\n\nCREATE TABL v (id int);\n", "3:8"),  # at "TABL"
        ("SELEC 1;\n", "1:1"),  # the very first character
    ],
)
def test_check_reports_a_syntax_error_with_file_line_and_column(tmp_path: Path, sql: str, where: str) -> None:
    files = {**FILES, "migrations/0.2.0/002_broken.sql": sql}
    manifest = write_project(tmp_path, files, MANIFEST + entry("0.2.0", "002_broken", rollback=False))
    result = run(tmp_path, "check", manifest=manifest, database_url=BOGUS_URL)
    assert_error(result, 4, f"migrations/0.2.0/002_broken.sql:{where}: migration 0.2.0/002_broken",
                 "syntax error")


def test_check_refuses_create_index_concurrently_with_file_line_and_column(tmp_path: Path) -> None:
    files = {**FILES, "migrations/0.2.0/002_index_tags.sql": (
        "SELECT 1;\n  CREATE INDEX CONCURRENTLY tags_label_idx ON tags (label);\n"
    )}
    manifest = write_project(tmp_path, files, MANIFEST + entry("0.2.0", "002_index_tags", rollback=False))
    result = run(tmp_path, "check", manifest=manifest, database_url=BOGUS_URL)
    assert_error(result, 4, "migrations/0.2.0/002_index_tags.sql:2:3", "CREATE INDEX CONCURRENTLY",
                 "0.2.0/002_index_tags")


# --- init ---------------------------------------------------------------------------------------


def test_init_on_a_folder_of_numbered_files_writes_a_manifest_that_applies(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    folder = tmp_path / "migrations"
    (folder / "rollbacks").mkdir(parents=True)
    (folder / "001_create_users.sql").write_text(
        "-- Description: the users table\nCREATE TABLE users (id int);\n", encoding="utf-8")
    (folder / "rollbacks" / "001_create_users.sql").write_text("DROP TABLE users;\n", encoding="utf-8")
    (folder / "002_create_posts.sql").write_text("CREATE TABLE posts (id int);\n", encoding="utf-8")
    manifest = tmp_path / "migrations.toml"

    result = run(tmp_path, "init", manifest=manifest)
    assert_ok(result)
    assert "2 migration(s)" in result.stdout
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    assert data["settings"].get("recorded_name", "file") == "file"
    assert data["migration"] == [
        {"version": "0.1.0", "file": "migrations/001_create_users.sql",
         "rollback": "migrations/rollbacks/001_create_users.sql", "description": "the users table"},
        {"version": "0.1.0", "file": "migrations/002_create_posts.sql"},
    ]
    assert_ok(run(tmp_path, "check", manifest=manifest))
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    assert tracking_rows(db) == [("0.1.0", "001_create_users.sql"), ("0.1.0", "002_create_posts.sql")]

    written = manifest.read_text(encoding="utf-8")
    again = run(tmp_path, "init", manifest=manifest)
    assert_error(again, 5, str(manifest), "already exists")
    assert manifest.read_text(encoding="utf-8") == written


def test_init_on_version_folders_records_names_without_sql(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    folder = tmp_path / "migration"
    for version, stem, table in [("0.1.0", "001_create_accounts", "accounts"),
                                 ("0.1.0", "002_create_sessions", "sessions"),
                                 ("0.2.0", "001_create_settings", "settings")]:
        (folder / version / "rollbacks").mkdir(parents=True, exist_ok=True)
        (folder / version / f"{stem}.sql").write_text(f"CREATE TABLE {table} (id int);\n", encoding="utf-8")
        (folder / version / "rollbacks" / f"{stem}.sql").write_text(f"DROP TABLE {table};\n",
                                                                      encoding="utf-8")
    manifest = tmp_path / "migrations.toml"

    result = run(tmp_path, "init", "migration", manifest=manifest)
    assert_ok(result)
    assert "3 migration(s)" in result.stdout and 'recorded_name = "stem"' in result.stdout
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    assert data["settings"]["recorded_name"] == "stem"
    assert [(m["version"], m["file"]) for m in data["migration"]] == [
        ("0.1.0", "migration/0.1.0/001_create_accounts.sql"),
        ("0.1.0", "migration/0.1.0/002_create_sessions.sql"),
        ("0.2.0", "migration/0.2.0/001_create_settings.sql"),
    ]
    assert_ok(run(tmp_path, "apply", manifest=manifest, database_url=database_url))
    assert tracking_rows(db) == [("0.1.0", "001_create_accounts"), ("0.1.0", "002_create_sessions"),
                                 ("0.2.0", "001_create_settings")]


def test_init_on_version_folders_of_short_names_writes_a_valid_manifest(tmp_path: Path) -> None:
    # Short entries without rollbacks or descriptions: the manifest must still be valid TOML
    # whose [[migration]] entries are not swallowed by the [settings] table.
    for version, stem in [("0.1.0", "001_a"), ("0.1.0", "002_b"), ("0.2.0", "001_c")]:
        path = tmp_path / "migration" / version / f"{stem}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"CREATE TABLE t_{stem} (id int);\n", encoding="utf-8")
    manifest = tmp_path / "migrations.toml"
    assert_ok(run(tmp_path, "init", "migration", manifest=manifest))
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    assert set(data["settings"]) == {"tracking_table", "recorded_name"}
    assert len(data["migration"]) == 3
    checked = run(tmp_path, "check", manifest=manifest)
    assert_ok(checked)
    assert "3 migration(s), 0 error(s), 3 warning(s)." in checked.stdout  # no rollbacks: AP401
