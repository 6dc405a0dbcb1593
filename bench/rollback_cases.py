"""Generated migrations with known-good and known-bad rollbacks, for measuring AP403 against rehearse.

Each case runs in a schema of its own (`SET LOCAL search_path`), after a setup migration
without rollback that creates what the case finds already there. `restores` is what the case
was written to show; `rehearse` is the judge, and the measurement reports any case where the
two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    setup: str  # what exists before the migration
    forward: str
    rollback: str
    restores: bool  # the rollback gives back the schema the migration started from


TABLE = "CREATE TABLE t (id int PRIMARY KEY, a int, b text);\n"
FUNCTION = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
TRIGGER_FUNCTION = ("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql\n"
                    "AS $$ BEGIN RETURN NEW; END $$;\n")
NOTHING = "SELECT 1;\n"
REFERRING = TABLE + "CREATE TABLE c (id int, t_id int CONSTRAINT c_t_fkey REFERENCES t (id));\n"


def _case(name: str, forward: str, rollback: str, restores: bool, setup: str = TABLE) -> Case:
    return Case(name, setup, forward, rollback, restores)


_DROPPED_WITH_A_COLUMN = [
    _case("index_on_added_column_dropped_with_it",
          "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX t_c ON t (c);",
          "ALTER TABLE t DROP COLUMN c;", True),
    _case("multicolumn_index_dropped_with_one_column",
          "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX t_a_c ON t (a, c);",
          "ALTER TABLE t DROP COLUMN c;", True),
    _case("expression_and_partial_indexes_dropped_with_their_column",
          "ALTER TABLE t ADD COLUMN c text;\nCREATE INDEX t_lower_c ON t (lower(c));\n"
          "CREATE INDEX t_a_where_c ON t (a) WHERE c IS NOT NULL;",
          "ALTER TABLE t DROP COLUMN c;", True),
    _case("check_constraint_dropped_with_its_column",
          "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t ADD CONSTRAINT t_c_positive CHECK (c > 0);",
          "ALTER TABLE t DROP COLUMN c;", True),
    _case("unique_constraint_dropped_with_its_column",
          "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t ADD CONSTRAINT t_c_key UNIQUE (c);",
          "ALTER TABLE t DROP COLUMN c;", True),
    _case("index_on_another_column_outlives_the_drop",
          "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX t_a ON t (a);",
          "ALTER TABLE t DROP COLUMN c;", False),
]

_MATERIALIZED_VIEWS = [
    _case("matview_index_dropped_with_the_matview",
          "CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;\nCREATE UNIQUE INDEX mv_id ON mv (id);",
          "DROP MATERIALIZED VIEW mv;", True),
    _case("matview_left_when_only_its_index_is_dropped",
          "CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;\nCREATE INDEX mv_a ON mv (a);",
          "DROP INDEX mv_a;", False),
    _case("matview_left_behind",
          "CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;", NOTHING, False),
]

_RENAMES = [
    _case("renamed_new_index_dropped_by_its_new_name",
          "CREATE INDEX t_a_tmp ON t (a);\nALTER INDEX t_a_tmp RENAME TO t_a;", "DROP INDEX t_a;", True),
    _case("table_renamed_and_renamed_back",
          "ALTER TABLE t RENAME TO u;", "ALTER TABLE u RENAME TO t;", True),
    _case("table_rename_not_undone", "ALTER TABLE t RENAME TO u;", NOTHING, False),
    _case("column_renamed_and_renamed_back",
          "ALTER TABLE t RENAME COLUMN a TO amount;", "ALTER TABLE t RENAME COLUMN amount TO a;", True),
    _case("column_rename_not_undone", "ALTER TABLE t RENAME COLUMN a TO amount;", NOTHING, False),
    _case("existing_index_renamed_and_renamed_back",
          "ALTER INDEX t_a RENAME TO t_a_idx;", "ALTER INDEX t_a_idx RENAME TO t_a;", True,
          setup=TABLE + "CREATE INDEX t_a ON t (a);\n"),
    _case("new_table_renamed_then_dropped_by_its_new_name",
          "CREATE TABLE n (id int);\nALTER TABLE n RENAME TO m;\nALTER TABLE m ADD COLUMN c int;",
          "DROP TABLE m;", True),
    _case("renamed_table_gets_a_column_both_undone",
          "ALTER TABLE t RENAME TO u;\nALTER TABLE u ADD COLUMN c int;",
          "ALTER TABLE u DROP COLUMN c;\nALTER TABLE u RENAME TO t;", True),
    _case("renamed_table_keeps_the_added_column",
          "ALTER TABLE t RENAME TO u;\nALTER TABLE u ADD COLUMN c int;",
          "ALTER TABLE u RENAME TO t;", False),
    _case("constraint_renamed_and_renamed_back",
          "ALTER TABLE t RENAME CONSTRAINT t_pkey TO t_primary;",
          "ALTER TABLE t RENAME CONSTRAINT t_primary TO t_pkey;", True),
    _case("function_renamed_and_renamed_back",
          "ALTER FUNCTION f() RENAME TO g;", "ALTER FUNCTION g() RENAME TO f;", True, setup=FUNCTION),
    _case("type_rename_not_undone",
          "ALTER TYPE mood RENAME TO feeling;", NOTHING, False,
          setup="CREATE TYPE mood AS ENUM ('ok');\n"),
    _case("column_added_then_renamed_dropped_by_its_new_name",
          "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t RENAME COLUMN c TO d;\nCREATE INDEX t_d ON t (d);",
          "ALTER TABLE t DROP COLUMN d;", True),
]

_CREATED = [
    _case("table_dropped", "CREATE TABLE n (id int);", "DROP TABLE n;", True),
    _case("function_left_behind",
          "CREATE TABLE n (id int);\n" + FUNCTION.replace(" f(", " n_count("), "DROP TABLE n;", False),
    _case("enum_and_table_dropped",
          "CREATE TYPE mood AS ENUM ('ok');\nCREATE TABLE n (m mood);",
          "DROP TABLE n;\nDROP TYPE mood;", True),
    _case("enum_left_behind", "CREATE TYPE mood AS ENUM ('ok');", NOTHING, False),
    _case("replaced_function_restored",
          "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';",
          "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", True, setup=FUNCTION),
    _case("new_function_redefined_instead_of_dropped",
          FUNCTION, "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 0';", False),
    _case("columns_dropped", "ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int;",
          "ALTER TABLE t DROP COLUMN d, DROP COLUMN c;", True),
    _case("one_of_two_columns_left", "ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int;",
          "ALTER TABLE t DROP COLUMN c;", False),
    _case("view_left_behind", "CREATE VIEW v AS SELECT id FROM t;", NOTHING, False),
    _case("view_dropped", "CREATE VIEW v AS SELECT id FROM t;", "DROP VIEW v;", True),
    _case("sequence_left_behind", "CREATE SEQUENCE s;", NOTHING, False),
    _case("sequence_dropped", "CREATE SEQUENCE s;", "DROP SEQUENCE s;", True),
    _case("trigger_left_behind",
          "CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();", NOTHING, False,
          setup=TABLE + TRIGGER_FUNCTION),
    _case("trigger_dropped",
          "CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();",
          "DROP TRIGGER t_touch ON t;", True, setup=TABLE + TRIGGER_FUNCTION),
    _case("policy_left_behind", "CREATE POLICY t_all ON t USING (true);", NOTHING, False),
    _case("policy_dropped", "CREATE POLICY t_all ON t USING (true);", "DROP POLICY t_all ON t;", True),
    _case("constraint_left_behind", "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0);",
          NOTHING, False),
    _case("constraint_dropped", "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0);",
          "ALTER TABLE t DROP CONSTRAINT t_a_positive;", True),
    _case("schema_left_behind", "CREATE SCHEMA extra;", NOTHING, False),
    _case("schema_dropped_with_its_table", "CREATE SCHEMA extra2;\nCREATE TABLE extra2.n (id int);",
          "DROP SCHEMA extra2 CASCADE;", True),
    _case("extension_left_behind", "CREATE EXTENSION citext;", NOTHING, False),
    _case("table_created_in_a_do_block_dropped",
          "DO $$ BEGIN CREATE TABLE n (id int); END $$;", "DROP TABLE n;", True),
]

_DROPPED = [
    _case("dropped_index_not_restored", "DROP INDEX t_a;", NOTHING, False,
          setup=TABLE + "CREATE INDEX t_a ON t (a);\n"),
    _case("dropped_index_restored", "DROP INDEX t_a;", "CREATE INDEX t_a ON t (a);", True,
          setup=TABLE + "CREATE INDEX t_a ON t (a);\n"),
    _case("dropped_column_not_restored", "ALTER TABLE t DROP COLUMN b;", NOTHING, False),
    _case("dropped_column_restored",
          "ALTER TABLE t DROP COLUMN b;", "ALTER TABLE t ADD COLUMN b text;", True),
    _case("dropped_table_not_restored", "DROP TABLE t;", NOTHING, False),
    _case("dropped_table_restored", "DROP TABLE t;",
          "CREATE TABLE t (id int PRIMARY KEY, a int, b text);", True),
    _case("dropped_function_not_restored", "DROP FUNCTION f();", NOTHING, False, setup=FUNCTION),
    _case("foreign_key_replaced_and_restored",
          "ALTER TABLE c DROP CONSTRAINT IF EXISTS c_t_fkey;\n"
          "ALTER TABLE c ADD CONSTRAINT c_t_fkey FOREIGN KEY (t_id) REFERENCES t (id) ON DELETE CASCADE;",
          "ALTER TABLE c DROP CONSTRAINT c_t_fkey;\n"
          "ALTER TABLE c ADD CONSTRAINT c_t_fkey FOREIGN KEY (t_id) REFERENCES t (id);", True,
          setup=REFERRING),
    _case("foreign_key_replaced_not_restored",
          "ALTER TABLE c DROP CONSTRAINT IF EXISTS c_t_fkey;\n"
          "ALTER TABLE c ADD CONSTRAINT c_t_fkey FOREIGN KEY (t_id) REFERENCES t (id) ON DELETE CASCADE;",
          NOTHING, False, setup=REFERRING),
    _case("index_rebuilt_differently_and_restored",
          "DROP INDEX t_a;\nCREATE INDEX t_a ON t (a, b);",
          "DROP INDEX t_a;\nCREATE INDEX t_a ON t (a);", True,
          setup=TABLE + "CREATE INDEX t_a ON t (a);\n"),
]

_CHANGED = [
    _case("column_type_not_restored", "ALTER TABLE t ALTER COLUMN a TYPE bigint;", NOTHING, False),
    _case("column_type_restored", "ALTER TABLE t ALTER COLUMN a TYPE bigint;",
          "ALTER TABLE t ALTER COLUMN a TYPE int;", True),
    _case("default_not_restored", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;", NOTHING, False),
    _case("default_restored", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;",
          "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;", True),
    _case("not_null_not_restored", "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", NOTHING, False),
    _case("not_null_restored", "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
          "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", True),
    _case("row_security_not_restored", "ALTER TABLE t ENABLE ROW LEVEL SECURITY;", NOTHING, False),
    _case("row_security_restored", "ALTER TABLE t ENABLE ROW LEVEL SECURITY;",
          "ALTER TABLE t DISABLE ROW LEVEL SECURITY;", True),
    _case("comment_not_restored", "COMMENT ON TABLE t IS 'the t';", NOTHING, False),
    _case("comment_restored", "COMMENT ON TABLE t IS 'the t';", "COMMENT ON TABLE t IS NULL;", True),
    _case("grant_not_revoked", "GRANT SELECT ON t TO PUBLIC;", NOTHING, False),
    _case("grant_revoked", "GRANT SELECT ON t TO PUBLIC;", "REVOKE SELECT ON t FROM PUBLIC;", True),
    _case("enum_value_cannot_be_removed", "ALTER TYPE mood ADD VALUE 'sad';", NOTHING, False,
          setup="CREATE TYPE mood AS ENUM ('ok');\n"),
    _case("enum_rebuilt_without_the_value",
          "ALTER TYPE mood ADD VALUE 'sad';",
          "ALTER TYPE mood RENAME TO mood_old;\nCREATE TYPE mood AS ENUM ('ok');\nDROP TYPE mood_old;", True,
          setup="CREATE TYPE mood AS ENUM ('ok');\n"),
    _case("data_only", "UPDATE t SET a = 1;\nINSERT INTO t VALUES (1000, 1, 'x');",
          "DELETE FROM t WHERE id = 1000;", True),
]

_CASCADES = [
    _case("type_dropped_with_cascade_takes_the_column",
          "CREATE TYPE mood AS ENUM ('ok');\nALTER TABLE t ADD COLUMN m mood;",
          "DROP TYPE mood CASCADE;", True),
    _case("function_dropped_with_cascade_takes_the_trigger",
          TRIGGER_FUNCTION + "CREATE TRIGGER t_touch BEFORE UPDATE ON t\n"
          "FOR EACH ROW EXECUTE FUNCTION touch();",
          "DROP FUNCTION touch() CASCADE;", True),
    _case("table_dropped_with_cascade_takes_the_view",
          "CREATE TABLE n (id int);\nCREATE VIEW nv AS SELECT id FROM n;", "DROP TABLE n CASCADE;", True),
    _case("partitions_dropped_with_their_table",
          "CREATE TABLE p (id int) PARTITION BY LIST (id);\n"
          "CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);",
          "DROP TABLE p;", True),
    _case("trigger_recreated_idempotently_then_dropped",
          "DROP TRIGGER IF EXISTS t_touch ON t;\n"
          "CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();",
          "DROP TRIGGER t_touch ON t;", True, setup=TABLE + TRIGGER_FUNCTION),
    _case("policy_recreated_idempotently_then_dropped",
          "DROP POLICY IF EXISTS t_all ON t;\nCREATE POLICY t_all ON t USING (true);",
          "DROP POLICY t_all ON t;", True),
]

# Patterns of real migrations: swapping a table in, rebuilding a view around a type change,
# a constraint that takes over an index, a sequence that belongs to a column.
_PATTERNS = [
    _case("table_swapped_in_and_swapped_back",
          "CREATE TABLE t_new (id bigint PRIMARY KEY, a int, b text);\nINSERT INTO t_new SELECT * FROM t;\n"
          "DROP TABLE t;\nALTER TABLE t_new RENAME TO t;\nALTER INDEX t_new_pkey RENAME TO t_pkey;",
          "CREATE TABLE t_old (id int PRIMARY KEY, a int, b text);\nINSERT INTO t_old SELECT * FROM t;\n"
          "DROP TABLE t;\nALTER TABLE t_old RENAME TO t;\nALTER INDEX t_old_pkey RENAME TO t_pkey;", True),
    _case("table_swapped_in_without_a_way_back",
          "CREATE TABLE t_new (id bigint PRIMARY KEY, a int, b text);\nDROP TABLE t;\n"
          "ALTER TABLE t_new RENAME TO t;",
          NOTHING, False),
    _case("view_rebuilt_around_a_type_change_and_back",
          "DROP VIEW v;\nALTER TABLE t ALTER COLUMN a TYPE bigint;\nCREATE VIEW v AS SELECT id, a FROM t;",
          "DROP VIEW v;\nALTER TABLE t ALTER COLUMN a TYPE int;\nCREATE VIEW v AS SELECT id, a FROM t;", True,
          setup=TABLE + "CREATE VIEW v AS SELECT id, a FROM t;\n"),
    _case("view_dropped_for_a_type_change_not_rebuilt",
          "DROP VIEW v;\nALTER TABLE t ALTER COLUMN a TYPE bigint;\nCREATE VIEW v AS SELECT id, a FROM t;",
          "DROP VIEW v;\nALTER TABLE t ALTER COLUMN a TYPE int;", False,
          setup=TABLE + "CREATE VIEW v AS SELECT id, a FROM t;\n"),
    _case("unique_constraint_using_an_index_dropped_with_it",
          "CREATE UNIQUE INDEX t_b_idx ON t (b);\n"
          "ALTER TABLE t ADD CONSTRAINT t_b_key UNIQUE USING INDEX t_b_idx;",
          "ALTER TABLE t DROP CONSTRAINT t_b_key;", True),
    _case("foreign_key_column_and_its_index_dropped_with_the_column",
          "CREATE TABLE u (id int PRIMARY KEY);\nALTER TABLE t ADD COLUMN u_id int REFERENCES u (id);\n"
          "CREATE INDEX t_u_id ON t (u_id);",
          "ALTER TABLE t DROP COLUMN u_id;\nDROP TABLE u;", True),
    _case("owned_sequence_dropped_with_its_column",
          "ALTER TABLE t ADD COLUMN n int;\nCREATE SEQUENCE t_n_seq OWNED BY t.n;\n"
          "ALTER TABLE t ALTER COLUMN n SET DEFAULT nextval('t_n_seq');",
          "ALTER TABLE t DROP COLUMN n;", True),
    _case("rls_and_policies_undone",
          "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\nCREATE POLICY t_read ON t FOR SELECT USING (true);",
          "DROP POLICY t_read ON t;\nALTER TABLE t DISABLE ROW LEVEL SECURITY;", True),
    _case("policy_dropped_but_rls_left_on",
          "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\nCREATE POLICY t_read ON t FOR SELECT USING (true);",
          "DROP POLICY t_read ON t;", False),
]

# What AP403 cannot see: work in DO blocks, IF NOT EXISTS on what already exists, and whether
# what DROP ... IF EXISTS names existed.
_LIMITS = [
    _case("table_created_in_a_do_block_left_behind",
          "DO $$ BEGIN CREATE TABLE n (id int); END $$;", NOTHING, False),
    _case("column_that_already_existed_dropped_by_the_rollback",
          "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int;", "ALTER TABLE t DROP COLUMN a;", False),
    _case("extension_declared_if_not_exists_left_behind",
          "CREATE EXTENSION IF NOT EXISTS hstore;", NOTHING, False),
    _case("guarded_drop_of_an_existing_index_not_restored",
          "DROP INDEX IF EXISTS t_a;", NOTHING, False, setup=TABLE + "CREATE INDEX t_a ON t (a);\n"),
]

CASES: tuple[Case, ...] = (*_DROPPED_WITH_A_COLUMN, *_MATERIALIZED_VIEWS, *_RENAMES, *_CREATED, *_DROPPED,
                           *_CHANGED, *_CASCADES, *_PATTERNS,
                           *_LIMITS)
UNSEEN = frozenset(case.name for case in _LIMITS)  # cases AP403 is known to get wrong
