"""The rules added from squawk and strong_migrations: what each leaves alone as much as what it flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.sql import lint
from archon_plan.sql.lint import lint_migrations
from archon_plan.sql.rules import BY_CODE
from tests.test_lint import codes, migration

ROOT = Path(__file__).resolve().parents[1]
NEW_TABLE = "CREATE TABLE t (id int PRIMARY KEY, a int);\n"


@pytest.mark.parametrize(("sql", "rollback", "flagged"), [
    ("DROP INDEX i;", "SELECT 1;", True),
    (NEW_TABLE + "CREATE INDEX t_a ON t (a);\nDROP INDEX t_a;", "DROP TABLE t;", False),  # new index
    ("SELECT 1;", "DROP INDEX i;\nDROP TABLE t;", True),  # which table i is on is not known here...
    ("CREATE INDEX i ON t (a);", "DROP INDEX i;\nDROP TABLE t;", False),  # ...here it is, and dropped
    ("CREATE INDEX i ON t (a);", "DROP INDEX i;\nALTER TABLE t DROP COLUMN a;", False),
    ("CREATE INDEX i ON t (a);", "DROP INDEX i;", False),  # the migration built it plainly: AP201
])
def test_drop_index_is_flagged_only_where_concurrently_would_spare_a_busy_table(
    sql: str, rollback: str, flagged: bool
) -> None:
    found = [f.code for f in lint_migrations([migration(sql, rollback)])]
    assert ("AP208" in found) is flagged


def test_the_rollback_of_an_index_built_concurrently_should_drop_it_concurrently() -> None:
    built = migration("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", "DROP INDEX IF EXISTS i;",
                      transactional=False)
    [finding] = [f for f in lint_migrations([built]) if f.code == "AP208"]
    assert finding.message.startswith("DROP INDEX i takes an ACCESS EXCLUSIVE lock on t")
    assert finding.where == "m/rollbacks/001_x.sql:1:1"


@pytest.mark.parametrize(("sql", "flagged"), [
    ("REINDEX INDEX i;", True), ("REINDEX SCHEMA app;", True), ("REINDEX (CONCURRENTLY) INDEX i;", False),
    (NEW_TABLE + "REINDEX TABLE t;", False),
    (NEW_TABLE + "CREATE INDEX t_a ON t (a);\nREINDEX INDEX t_a;", False),
])
def test_reindex_is_flagged_without_concurrently_on_what_existed(sql: str, flagged: bool) -> None:
    assert ("AP209" in codes(sql, transactional=False)) is flagged


@pytest.mark.parametrize(("sql", "flagged"), [
    ("ALTER TABLE u ADD CONSTRAINT u_pkey PRIMARY KEY (id);", True),
    ("ALTER TABLE u ADD COLUMN code text UNIQUE;", True),
    ("ALTER TABLE u ADD CONSTRAINT u_pkey PRIMARY KEY USING INDEX u_id_idx;", False),
    ("ALTER TABLE u ADD CONSTRAINT u_a_check CHECK (a > 0) NOT VALID;", False),
    (NEW_TABLE + "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);", False),
])
def test_unique_and_primary_keys_on_a_busy_table_should_use_a_concurrent_index(
    sql: str, flagged: bool
) -> None:
    assert ("AP210" in codes(sql)) is flagged


@pytest.mark.parametrize(("sql", "code", "flagged"), [
    ("VACUUM (FULL, ANALYZE) u;", "AP211", True), ("VACUUM FULL;", "AP211", True),
    ("VACUUM (FULL false) u;", "AP211", False), ("VACUUM (ANALYZE) u;", "AP211", False),
    (NEW_TABLE + "VACUUM FULL t;", "AP211", False),
    ("CLUSTER;", "AP212", True), ("CLUSTER VERBOSE u;", "AP212", True),
    ("ALTER TABLE p DETACH PARTITION p1 FINALIZE;", "AP213", False),
    ("CREATE TABLE p (id int) PARTITION BY LIST (id);\nALTER TABLE p DETACH PARTITION p1;", "AP213", False),
])
def test_rewrites_and_partition_detaches_of_busy_tables_are_flagged(
    sql: str, code: str, flagged: bool
) -> None:
    assert (code in codes(sql, transactional=False)) is flagged


@pytest.mark.parametrize(("sql", "flagged"), [
    ("CREATE TABLE IF NOT EXISTS t (id int);", False),
    ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", False),
    ("DROP INDEX CONCURRENTLY IF EXISTS i;", False),
    ("ALTER TABLE u ADD COLUMN IF NOT EXISTS c int, DROP COLUMN IF EXISTS d;", False),
    ("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'sad';", False),
    ("DROP POLICY IF EXISTS p ON u;\nCREATE POLICY p ON u USING (true);", False),
    ("ALTER TABLE u DROP CONSTRAINT IF EXISTS k;\nALTER TABLE u ADD CONSTRAINT k CHECK (a > 0);", False),
    ("ALTER TABLE u ADD CHECK (a > 0);", False),  # added again under a new name: it does not fail
    ("VACUUM u;\nUPDATE u SET a = 1;", False),
    ("CREATE TABLE t (id int);", True),
    ("CREATE TYPE mood AS ENUM ('ok');", True),
    ("CREATE POLICY p ON u USING (true);", True),
    ("ALTER TABLE u ADD COLUMN c int;", True),
    ("ALTER TABLE u ADD CONSTRAINT k CHECK (a > 0);", True),
    ("ALTER TYPE mood ADD VALUE 'sad';", True),
    ("ALTER INDEX i RENAME TO j;", True),
    ("DROP INDEX CONCURRENTLY i;", True),
])
def test_non_transactional_statements_that_fail_when_run_again_are_flagged(sql: str, flagged: bool) -> None:
    assert ("AP303" in codes(sql, transactional=False)) is flagged
    assert "AP303" not in codes(sql, transactional=True)  # one transaction: nothing half-done to retry


def test_the_not_rerunnable_message_names_the_statement_or_the_command() -> None:
    found = lint_migrations([migration("ALTER TABLE u ADD COLUMN c int;\nCREATE TYPE mood AS ENUM ('ok');",
                                       transactional=False)])
    heads = [f.message.split(" fails")[0] for f in found if f.code == "AP303"]
    assert heads == ["ADD COLUMN c", "CREATE TYPE mood"]


@pytest.mark.parametrize(("column", "flagged"), [
    ("c int NOT NULL", True), ("c int PRIMARY KEY", True), ("c int NOT NULL DEFAULT 0", False),
    ("c int", False), ("c bigint GENERATED ALWAYS AS IDENTITY", False), ("c bigserial NOT NULL", False),
    ("c int NOT NULL GENERATED ALWAYS AS (a + 1) STORED", False),
])
def test_a_not_null_column_without_default_is_flagged_on_a_busy_table(column: str, flagged: bool) -> None:
    assert ("AP507" in codes(f"ALTER TABLE u ADD COLUMN {column};")) is flagged
    assert "AP507" not in codes(f"{NEW_TABLE}ALTER TABLE t ADD COLUMN {column};")


LONG = "é" * 32  # 64 bytes in 32 characters


@pytest.mark.parametrize(("sql", "flagged"), [
    (f'CREATE TABLE "{LONG}" (id int);', True),
    (f"CREATE TABLE t (id int, {'c' * 64} int);", True),
    (f"ALTER TABLE u ADD CONSTRAINT {'k' * 64} CHECK (a > 0);", True),
    (f"CREATE INDEX {'i' * 64} ON u (a);", True),
    (f"ALTER TABLE u RENAME TO {'u' * 64};", True),
    (f"CREATE TABLE {'x' * 63} (id int);", False),
    (f"DROP TABLE {'x' * 64};", False),  # a reference is cut the same way: it still matches
    (f"COMMENT ON TABLE u IS '{'long words ' * 20}';", False),
])
def test_names_over_63_bytes_are_flagged_where_they_are_given(sql: str, flagged: bool) -> None:
    assert ("AP508" in codes(sql)) is flagged


def test_the_long_name_message_shows_the_name_postgresql_keeps() -> None:
    found = lint_migrations([migration(f'CREATE TABLE "{LONG}x" (id int);')])
    [finding] = [f for f in found if f.code == "AP508"]
    assert finding.message == f"the name {LONG}x is 65 bytes: PostgreSQL silently shortens it to {'é' * 31}"


def test_every_new_warning_can_be_allowed_and_the_example_project_stays_clean(
    capsys: pytest.CaptureFixture[str]
) -> None:
    added = ["AP208", "AP209", "AP210", "AP211", "AP212", "AP213", "AP303", "AP507", "AP508"]
    assert all(BY_CODE[code].allowable for code in added)
    allowed = migration("DROP INDEX i;\nALTER TABLE u ADD COLUMN c int NOT NULL;", allow=frozenset(added))
    result = lint.lint([allowed])
    assert [f.code for f in result.suppressed if f.code in added] == ["AP208", "AP507"]
    assert not [f for f in result.findings if f.code in added]
    assert main(["--manifest", str(ROOT / "migrations.toml"), "check", "--strict"]) == 0
    assert capsys.readouterr().out.strip().endswith("6 migration(s), no problems found (1 allowed).")


def test_a_migration_that_does_not_parse_leaves_its_rollback_checked() -> None:
    found = lint_migrations([migration("CREATE TABL t (id int);", rollback="SET work_mem = '1GB';")])
    assert [(f.code, f.where) for f in found] == [("AP501", "m/001_x.sql:1:8"),
                                                  ("AP302", "m/rollbacks/001_x.sql:1:1")]
