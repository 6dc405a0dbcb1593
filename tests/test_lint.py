"""The lint rules of `check`: each with an offending and a clean example; formats, --strict, allow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.core.model import Migration
from archon_plan.core.sqlfile import SqlFile
from archon_plan.errors import ExitCode, Location, Problem
from archon_plan.sql import lint, parse
from archon_plan.sql.lint import Severity, lint_migrations
from archon_plan.sql.rules import BY_CODE, RULES
from tests.conftest import CORPUS
from tests.helpers import write_project

ROOT = Path(__file__).resolve().parents[1]
Capsys = pytest.CaptureFixture[str]
NOTHING = "SELECT 1;\n"


def sql_file(name: str, text: str) -> SqlFile:
    return SqlFile(Path(name), name, text)


def migration(
    sql: str, rollback: str | None = NOTHING, transactional: bool = True, stem: str = "001_x",
    allow: frozenset[str] = frozenset(),
) -> Migration:
    return Migration("0.1.0", int(stem[:3]), stem, sql_file(f"m/{stem}.sql", sql),
                     rollback=None if rollback is None else sql_file(f"m/rollbacks/{stem}.sql", rollback),
                     transactional=transactional, allow=allow)


def codes(sql: str, rollback: str | None = NOTHING, transactional: bool = True) -> list[str]:
    return [f.code for f in lint_migrations([migration(sql, rollback, transactional)])]


# (code, offending SQL, clean SQL); the rollback is a harmless SELECT.
RULE_CASES = [
    ("AP101", "DROP TABLE users;", "CREATE TABLE scratch (id int);\nDROP TABLE scratch;"),
    ("AP102", "ALTER TABLE users DROP COLUMN email;", "ALTER TABLE users ADD COLUMN email text;"),
    ("AP103", "TRUNCATE users;", "DELETE FROM users WHERE id < 0;"),
    ("AP104", "DROP SCHEMA old CASCADE;", "CREATE SCHEMA new;"),
    ("AP201", "CREATE INDEX users_email ON users (email);",
     "CREATE TABLE t (id int);\nCREATE INDEX t_id ON t (id);"),
    ("AP202", "ALTER TABLE users ALTER COLUMN id TYPE bigint;",
     "CREATE TABLE t (id int);\nALTER TABLE t ALTER COLUMN id TYPE bigint;"),
    ("AP203", "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
     "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT now();"),
    ("AP204", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
     "ALTER TABLE users ADD COLUMN nick text DEFAULT '';\nALTER TABLE users ALTER COLUMN nick SET NOT NULL;"),
    ("AP205", "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
     "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"),
    ("AP205", "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0);",
     "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0) NOT VALID;"),
    ("AP206", "ALTER TABLE users RENAME TO people;", "CREATE TABLE t (id int);\nALTER TABLE t RENAME TO u;"),
    ("AP207", "ALTER TABLE users RENAME COLUMN email TO mail;",
     "CREATE TABLE t (id int);\nALTER TABLE t RENAME COLUMN id TO key;"),
    ("AP208", "DROP INDEX users_email;", "DROP INDEX CONCURRENTLY IF EXISTS users_email;"),
    ("AP209", "REINDEX TABLE users;", "REINDEX TABLE CONCURRENTLY users;"),
    ("AP210", "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
     "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"),
    ("AP211", "VACUUM FULL users;", "VACUUM users;"),
    ("AP212", "CLUSTER users USING users_pkey;",
     "CREATE TABLE t (id int PRIMARY KEY);\nCLUSTER t USING t_pkey;"),
    ("AP213", "ALTER TABLE events DETACH PARTITION events_2020;",
     "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;"),
    ("AP301", "BEGIN;\nUPDATE users SET a = 1;\nCOMMIT;", "UPDATE users SET a = 1;"),
    ("AP302", "SET statement_timeout = '5min';", "SET LOCAL statement_timeout = '5min';"),
    ("AP303", "CREATE INDEX CONCURRENTLY users_email ON users (email);",
     "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);"),
    ("AP501", "CREATE TABL users (id int);", "CREATE TABLE users (id int);"),
    ("AP502", "CREATE INDEX CONCURRENTLY users_email ON users (email);",
     "CREATE INDEX CONCURRENTLY users_email ON users (email);"),  # clean with transactional = false
    ("AP503", "UPDATE users SET a = 1;\nROLLBACK;", "SAVEPOINT s;\nUPDATE users SET a = 1;\nROLLBACK TO s;"),
    ("AP504", "BEGIN;\nVACUUM users;\nCOMMIT;", "VACUUM users;"),
    ("AP505", "-- to be written\n", NOTHING),
    ("AP507", "ALTER TABLE users ADD COLUMN tier int NOT NULL;",
     "ALTER TABLE users ADD COLUMN tier int NOT NULL DEFAULT 0;"),
    ("AP508", f"CREATE TABLE {'x' * 64} (id int);", f"CREATE TABLE {'x' * 63} (id int);"),
]
# `transactional` of the offending and the clean example, where it is not true for both.
TRANSACTIONAL = {"AP502": (True, False), "AP504": (False, False), "AP208": (True, False),
                 "AP209": (True, False), "AP211": (False, False), "AP213": (True, False),
                 "AP303": (False, False)}


@pytest.mark.parametrize(("code", "offending", "clean"), RULE_CASES, ids=[case[0] for case in RULE_CASES])
def test_each_statement_rule_flags_its_offending_example_and_not_its_clean_one(
    code: str, offending: str, clean: str
) -> None:
    offending_mode, clean_mode = TRANSACTIONAL.get(code, (True, True))
    assert code in codes(offending, transactional=offending_mode)
    assert code not in codes(clean, transactional=clean_mode)


def test_missing_rollback_is_a_warning_on_the_forward_file() -> None:
    [finding] = lint_migrations([migration(NOTHING, rollback=None)])
    assert (finding.code, finding.severity, finding.where) == ("AP401", Severity.WARNING, "m/001_x.sql")
    assert "AP401" not in codes(NOTHING, rollback=NOTHING)


def test_rollback_that_does_not_parse_is_an_error_located_in_the_rollback() -> None:
    [finding] = lint_migrations([migration(NOTHING, rollback="DROP TABLE x;\nDROP TABL y;\n")])
    assert (finding.code, finding.severity) == ("AP402", Severity.ERROR)
    assert finding.where == "m/rollbacks/001_x.sql:2:6"
    assert "AP402" not in codes(NOTHING, rollback="DROP TABLE x;\n")


CREATES = """CREATE TABLE public.projects (id int);
CREATE INDEX projects_id ON public.projects (id);
ALTER TABLE tasks ADD COLUMN due date;
CREATE INDEX tasks_due ON tasks (due);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TYPE mood AS ENUM ('ok');
"""


def test_rollback_that_leaves_created_objects_behind_names_each_of_them() -> None:
    found = lint_migrations([migration(CREATES, rollback="DROP INDEX tasks_due;\n")])
    [finding] = [f for f in found if f.code == "AP403"]
    assert (finding.code, finding.where) == ("AP403", "m/rollbacks/001_x.sql")
    # The index of the new table goes with the table, so only the table is named.
    assert finding.message == ("the rollback does not undo table public.projects, column tasks.due, "
                               "function public.touch, type mood")


def test_rollback_that_drops_everything_created_is_clean_whatever_the_case_and_qualification() -> None:
    rollback = """DROP TYPE public.MOOD;
        DROP FUNCTION touch();
        DROP INDEX public.tasks_due;
        ALTER TABLE public.tasks DROP COLUMN due;
        DROP TABLE Projects;
    """
    assert "AP403" not in codes(CREATES, rollback=rollback)


@pytest.mark.parametrize(("forward", "rollback", "undone"), [
    ("CREATE TABLE s1.t (id int);", "DROP TABLE s2.t;", False),  # another schema
    ("CREATE TABLE s1.t (id int);", "DROP SCHEMA s1 CASCADE;", True),
    ("ALTER TABLE t ADD COLUMN c int;", "DROP TABLE t;", True),  # the column goes with its table
    ("CREATE INDEX i ON t (c);", "DROP TABLE t;", True),
    ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
     "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 0';", True),  # restored
    ("CREATE TABLE tmp (id int);\nDROP TABLE tmp;", NOTHING, True),  # gone by the end of the file
    ("CREATE DOMAIN positive AS int CHECK (VALUE > 0);", "DROP DOMAIN positive;", True),
])
def test_rollback_completeness_matches_names_by_schema_table_and_kind(
    forward: str, rollback: str, undone: bool
) -> None:
    assert ("AP403" not in codes(forward, rollback=rollback)) is undone


@pytest.mark.parametrize(("default", "volatile"), [
    ("gen_random_uuid()", True), ("uuid_generate_v4()", True), ("clock_timestamp()", True),
    ("random()", True), ("nextval('s')", True), ("timeofday()", True),
    ("lower(gen_random_uuid()::text)", True),
    ("now()", False), ("current_timestamp", False), ("0", False), ("'x'::text", False),
    ("'{}'::jsonb", False), ("now() + interval '1 day'", False),
])
def test_add_column_default_rewrites_only_when_volatile(default: str, volatile: bool) -> None:
    found = codes(f"ALTER TABLE t ADD COLUMN c text DEFAULT {default};")
    assert ("AP203" in found) is volatile


@pytest.mark.parametrize("column", ["c serial", "c bigint GENERATED ALWAYS AS IDENTITY",
                                    "c int GENERATED ALWAYS AS (a + 1) STORED"])
def test_add_column_of_serial_identity_or_stored_generated_kind_rewrites(column: str) -> None:
    assert "AP203" in codes(f"ALTER TABLE t ADD COLUMN {column};")


@pytest.mark.parametrize(("sql", "flagged"), [
    ("SELECT set_config('search_path', 'app', false);", True),
    ("SELECT set_config('search_path', 'app', true);", False),
    ("SET ROLE admin;", True),
    ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;", False),
    ("RESET statement_timeout;", False),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = app AS 'SELECT 1';", False),
])
def test_session_settings_are_flagged_only_when_they_outlive_the_transaction(sql: str, flagged: bool) -> None:
    assert ("AP302" in codes(sql)) is flagged


@pytest.mark.parametrize(("sql", "expected"), [
    # Read from the parse tree wherever they are: nested calls, other select lists, any form of false.
    ("SELECT f(set_config('a', 'b', 'off')), set_config('c', 'd', 0);", ["AP302", "AP302"]),
    ("SELECT set_config('a', 'b', NULL), set_config('a', 'b', 1), set_config('a', 'b', '');", []),
    ("ALTER TABLE t ADD COLUMN c text DEFAULT coalesce(now(), f(g()));", ["AP203"]),
    ('ALTER TABLE "S".t DROP COLUMN "C", ALTER COLUMN d TYPE int, ALTER COLUMN e SET NOT NULL;',
     ["AP202", "AP204", "AP102"]),
    ("DROP TABLE a, s.b;\nDROP SCHEMA x, y;\nTRUNCATE c, ONLY s.d;",
     ["AP101", "AP101", "AP104", "AP104", "AP103", "AP103"]),
    ("ALTER VIEW v RENAME TO w;\nALTER INDEX i RENAME TO j;\nALTER TABLE t RENAME CONSTRAINT a TO b;", []),
])
def test_rules_read_every_part_of_a_statement(sql: str, expected: list[str]) -> None:
    assert [code for code in codes(sql) if code != "AP403"] == expected


def test_the_first_volatile_call_of_a_default_is_named() -> None:
    sql = "ALTER TABLE t ADD COLUMN c text DEFAULT coalesce(now(), f(g()));"
    [finding, _] = lint_migrations([migration(sql)])
    assert finding.message == "ADD COLUMN t.c with the volatile default f() rewrites the table"


def test_transaction_control_in_a_non_transactional_migration_is_an_error_not_a_warning() -> None:
    found = codes("BEGIN;\nVACUUM t;\nCOMMIT;", transactional=False)
    assert found == ["AP504", "AP504"]


def test_rollbacks_get_the_locking_and_session_rules_but_not_the_destructive_ones() -> None:
    findings = lint_migrations([migration("CREATE TABLE t (id int);",
                                          rollback="SET work_mem = '1GB';\nDROP TABLE t;\nDROP TABLE u;")])
    assert [(f.code, f.where) for f in findings] == [("AP302", "m/rollbacks/001_x.sql:1:1")]


def test_findings_come_in_plan_order_then_by_position_with_file_line_and_column() -> None:
    first = migration("SELECT 1;\n  DROP TABLE a;\nSET x = 1;\n", rollback=None, stem="001_a")
    second = migration("TRUNCATE b;\n", rollback="SET y = 2;\n", stem="002_b")
    found = [(f.migration, f.code, f.where) for f in lint_migrations([first, second])]
    assert found == [
        ("0.1.0/001_a", "AP101", "m/001_a.sql:2:3"),
        ("0.1.0/001_a", "AP302", "m/001_a.sql:3:1"),
        ("0.1.0/001_a", "AP401", "m/001_a.sql"),
        ("0.1.0/002_b", "AP103", "m/002_b.sql:1:1"),
        ("0.1.0/002_b", "AP302", "m/rollbacks/002_b.sql:1:1"),
    ]


def test_allowed_warnings_are_suppressed_but_errors_never_are() -> None:
    allowed = migration("DROP TABLE a;\nROLLBACK;\n", allow=frozenset({"AP101", "AP403", "AP503"}))
    result = lint.lint([allowed])
    assert [f.code for f in result.suppressed] == ["AP101", "AP403"]
    assert [f.code for f in result.findings] == ["AP503"]


def test_an_unknown_sql_problem_still_gets_a_code_and_stays_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def problems(sql: SqlFile, context: str, transactional: bool = True,
                 rollback: bool = False) -> list[Problem]:
        return [Problem.at(Location(sql.display, 1, 1), f"{context}: something new", "do something")]

    monkeypatch.setattr(parse, "problems", problems)
    found = [(f.code, f.severity, f.where, f.message) for f in lint_migrations([migration(NOTHING)])]
    assert found == [("AP500", Severity.ERROR, "m/001_x.sql:1:1", "something new"),
                     ("AP500", Severity.ERROR, "m/rollbacks/001_x.sql:1:1", "something new")]


def test_every_rule_is_documented_in_docs_lint_md() -> None:
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### (AP\d{3}) `([a-z-]+)` \((error|warning)\)$", text, re.M)
    assert documented == [(r.code, r.name, r.severity.value) for r in RULES]


# --- the command line --------------------------------------------------------------------------

FILES = {
    "m/001_users.sql": "CREATE TABLE users (id int, email text);\n",
    "m/rollbacks/001_users.sql": "DROP TABLE users;\n",
    "m/002_index.sql": "CREATE INDEX users_email ON users (email);\n",
    "m/rollbacks/002_index.sql": "DROP INDEX users_email;\n",
}
ENTRIES = """[[migration]]
version = "0.1.0"
file = "m/001_users.sql"
rollback = "m/rollbacks/001_users.sql"

[[migration]]
version = "0.1.0"
file = "m/002_index.sql"
rollback = "m/rollbacks/002_index.sql"
"""


def check(
    tmp_path: Path, capsys: Capsys, *args: str, entries: str = ENTRIES,
    files: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    manifest = write_project(tmp_path, files or FILES, entries)
    code = main(["--manifest", str(manifest), "check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_warnings_with_hints_and_exits_0(tmp_path: Path, capsys: Capsys) -> None:
    code, out, err = check(tmp_path, capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("m/002_index.sql:1:1: warning AP201 [migration 0.1.0/002_index] "
                        "CREATE INDEX users_email blocks writes to users while it builds")
    assert lines[1].startswith("  HINT: CREATE INDEX CONCURRENTLY")
    assert lines[2].endswith("migrations.toml: 2 migration(s), 0 error(s), 1 warning(s).")


def test_strict_turns_warnings_into_exit_9_and_leaves_a_clean_project_at_0(
    tmp_path: Path, capsys: Capsys
) -> None:
    assert check(tmp_path / "warned", capsys, "--strict")[0] == ExitCode.LINT_WARNINGS == 9
    clean = {**FILES, "m/002_index.sql": "SELECT 1;\n", "m/rollbacks/002_index.sql": "SELECT 1;\n"}
    code, out, _ = check(tmp_path / "clean", capsys, "--strict", files=clean)
    assert code == 0 and out.strip().endswith("2 migration(s), no problems found.")


def test_errors_exit_4_with_the_report_on_stdout_and_the_first_error_on_stderr(
    tmp_path: Path, capsys: Capsys
) -> None:
    index = "CREATE INDEX CONCURRENTLY users_email ON users (email);\n"
    files = {**FILES, "m/002_index.sql": "SELECT 1;\n" + index}
    code, out, err = check(tmp_path, capsys, "--format", "json", files=files)
    assert code == ExitCode.INVALID
    document = json.loads(out)
    # The rollback of an index built CONCURRENTLY should drop it so too (AP208).
    found = [(f["code"], f["severity"], f["file"], f["line"]) for f in document["findings"]]
    assert found == [("AP502", "error", "m/002_index.sql", 2),
                     ("AP208", "warning", "m/rollbacks/002_index.sql", 1)]
    assert err.splitlines()[0] == ("archon-plan: error: m/002_index.sql:2:1: migration 0.1.0/002_index: "
                                   "CREATE INDEX CONCURRENTLY cannot run inside a transaction [AP502]")


def test_json_lists_findings_with_rule_names_and_counts_suppressed_ones(
    tmp_path: Path, capsys: Capsys
) -> None:
    entries = ENTRIES.replace('file = "m/001_users.sql"\n', 'file = "m/001_users.sql"\nallow = ["AP401"]\n'
                              'allow_reason = "a test"\n')
    files = {**FILES, "m/rollbacks/002_index.sql": "SELECT 1;\n"}
    code, out, _ = check(tmp_path, capsys, "--format", "json", entries=entries, files=files)
    document = json.loads(out)
    assert (code, document["schema_version"]) == (0, 1)
    assert document["counts"] == {"migrations": 2, "errors": 0, "warnings": 2, "suppressed": 0}
    assert document["findings"][1] == {
        "code": "AP403", "name": "rollback-incomplete", "severity": "warning",
        "migration": "0.1.0/002_index", "file": "m/rollbacks/002_index.sql", "line": None, "column": None,
        "message": "the rollback does not undo index users_email", "hint": BY_CODE["AP403"].fix,
        "explanation": BY_CODE["AP403"].explanation,
    }


def test_allowed_warnings_are_left_out_and_counted(tmp_path: Path, capsys: Capsys) -> None:
    entries = ENTRIES + 'allow = ["AP201"]\nallow_reason = "users is tiny"\n'
    code, out, _ = check(tmp_path, capsys, "--strict", entries=entries)
    assert code == 0
    assert out.strip().endswith("2 migration(s), no problems found (1 allowed).")


@pytest.mark.parametrize(("allow", "expected"), [
    ('allow = ["AP-201"]\nallow_reason = "x"\n',
     "allow: 'AP-201' is not a lint rule\n  HINT: did you mean 'AP201'?"),
    ('allow = ["AP201"]\n', "allow needs allow_reason"),
    ('allow = ["AP502"]\nallow_reason = "x"\n',
     "allow: AP502 (needs-non-transactional) is an error and cannot be allowed"),
])
def test_bad_allow_entries_are_manifest_errors_with_their_line(
    tmp_path: Path, capsys: Capsys, allow: str, expected: str
) -> None:
    code, out, err = check(tmp_path, capsys, entries=ENTRIES + allow)
    assert (code, out) == (ExitCode.INVALID, "")
    assert "migrations.toml:10: migration #2: " + expected in err


def test_manifest_problems_and_sql_errors_are_reported_together(
    tmp_path: Path, capsys: Capsys
) -> None:
    files = {**FILES, "m/001_users.sql": "CREATE TABL users (id int);\n"}
    code, _, err = check(tmp_path, capsys, entries=ENTRIES + 'depends_on = ["009_nope"]\n', files=files)
    assert code == ExitCode.INVALID
    assert "no migration named '009_nope'" in err
    assert "m/001_users.sql:1:8: migration 0.1.0/001_users: syntax error" in err


def test_github_format_writes_escaped_workflow_annotations(
    tmp_path: Path, capsys: Capsys
) -> None:
    code, out, _ = check(tmp_path, capsys, "--format", "github")
    annotation = out.splitlines()[0]
    assert code == 0
    assert annotation.startswith("::warning file=m/002_index.sql,line=1,col=1,"
                                 "title=AP201 index-without-concurrently::[0.1.0/002_index] CREATE INDEX")
    assert "%0AHINT: CREATE INDEX CONCURRENTLY" in annotation and "\n" not in annotation


def test_markdown_format_is_a_table_for_a_pull_request_comment(
    tmp_path: Path, capsys: Capsys
) -> None:
    code, out, _ = check(tmp_path, capsys, "--format", "markdown")
    assert code == 0
    assert "| | code | migration | where | problem | fix |" in out
    row = "| ⚠️ warning | `AP201` index-without-concurrently | 0.1.0/002_index | `m/002_index.sql:1:1` |"
    assert row in out


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpora/archon-v1 is absent")
def test_archon_corpus_passes_check_with_warnings_only(tmp_path: Path, capsys: Capsys) -> None:
    from tests.test_archon import archon_project

    manifest = archon_project(tmp_path)
    capsys.readouterr()
    code = main(["--manifest", str(manifest), "check", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["counts"]["errors"] == 0 and document["counts"]["warnings"] > 0
    assert {f["code"] for f in document["findings"]} >= {"AP201", "AP301", "AP302", "AP401"}
