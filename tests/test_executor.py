"""apply, status and revert against a real PostgreSQL, through the library API."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from archon_plan.core import planning
from archon_plan.core.graph import build_graph, resolve
from archon_plan.core.model import Manifest, State, Step
from archon_plan.db import connection, executor, state
from archon_plan.db.target import Target
from archon_plan.errors import (
    DriftError,
    LockTimeoutError,
    ManifestError,
    MigrationFailedError,
    RefusedError,
)
from archon_plan.project.loader import load_manifest
from tests.helpers import ARCHON_SEED, FakeClock, entry, table_exists, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]

BASIC = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id serial PRIMARY KEY, name text);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.1.0/002_add_email.sql": "ALTER TABLE users ADD COLUMN email text;\n",
    "migrations/0.1.0/rollbacks/002_add_email.sql": "ALTER TABLE users DROP COLUMN email;\n",
    "migrations/0.1.0/003_create_posts.sql": (
        "CREATE TABLE posts (id serial PRIMARY KEY, user_id int REFERENCES users(id));\n"
    ),
    "migrations/0.1.0/rollbacks/003_create_posts.sql": "DROP TABLE posts;\n",
}
BASIC_MANIFEST = (
    entry("0.1.0", "001_create_users")
    + entry("0.1.0", "002_add_email", ("001_create_users",))
    + entry("0.1.0", "003_create_posts", ("001_create_users",))
)


class Recorder:
    """Collects what the executor reports."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.finished: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def step_started(self, step: Step) -> None:
        pass

    def step_finished(self, step: Step, seconds: float) -> None:
        self.finished.append(step.migration.label)


def project(tmp_path: Path, files: dict[str, str] = BASIC, manifest: str = BASIC_MANIFEST) -> Manifest:
    return load_manifest(write_project(tmp_path, files, manifest))


def connect(url: str) -> Conn:
    return connection.connect(Target(url=url, source="test"))


def apply(url: str, loaded: Manifest, target: str | None = None) -> Recorder:
    graph = build_graph(loaded.migrations)
    recorder = Recorder()
    chosen = resolve(target, graph.order) if target else None
    with connect(url) as conn:
        executor.apply(conn, loaded.settings, graph, recorder, chosen)
    return recorder


def statuses(url: str, loaded: Manifest) -> dict[str, State]:
    graph = build_graph(loaded.migrations)
    with connect(url) as conn:
        found = state.read_state(conn, loaded.settings, graph)
    return {s.label: s.state for s in found}


def revert(url: str, loaded: Manifest, select: state.Selector, cascade: bool = False) -> Recorder:
    graph = build_graph(loaded.migrations)
    recorder = Recorder()
    with connect(url) as conn:
        executor.revert(conn, loaded.settings, graph, recorder, select, cascade)
    return recorder


def test_apply_runs_every_migration_in_order_and_records_each(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    loaded = project(tmp_path)
    recorder = apply(database_url, loaded)
    assert recorder.finished == ["0.1.0/001_create_users", "0.1.0/002_add_email", "0.1.0/003_create_posts"]
    assert tracking_rows(db) == [
        ("0.1.0", "001_create_users.sql"), ("0.1.0", "002_add_email.sql"), ("0.1.0", "003_create_posts.sql")
    ]
    row = db.execute(
        "SELECT checksum, applied_by IS NOT NULL, execution_ms >= 0, rollback_checksum"
        " FROM archon_migrations WHERE migration_name = '001_create_users.sql'"
    ).fetchone()
    assert row == (loaded.migrations[0].checksum, True, True, loaded.migrations[0].rollback.checksum)  # type: ignore[union-attr]
    assert set(statuses(database_url, loaded).values()) == {State.APPLIED}


def test_second_apply_runs_nothing(tmp_path: Path, database_url: str) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    assert apply(database_url, loaded).finished == []


def test_target_applies_only_it_and_its_dependencies(tmp_path: Path, database_url: str, db: Conn) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded, target="003_create_posts")
    assert [n for _, n in tracking_rows(db)] == ["001_create_users.sql", "003_create_posts.sql"]
    assert statuses(database_url, loaded)["0.1.0/002_add_email"] is State.PENDING


def test_out_of_order_pending_migration_is_applied_with_a_notice(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded, target="003_create_posts")
    recorder = apply(database_url, loaded)
    assert recorder.finished == ["0.1.0/002_add_email"]
    assert any("0.1.0/002_add_email" in n and "merged late" in n for n in recorder.notices)
    assert len(tracking_rows(db)) == 3


def test_failed_migration_records_nothing_and_keeps_earlier_ones(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/002_add_email.sql"] = (
        "-- adds a column, then fails\n"
        "ALTER TABLE users ADD COLUMN email text;\n"
        "CREATE TABLE half_done (id int);\n"
        "SELECT * FROM users WHERE no_such_column = 1;\n"
    )
    loaded = project(tmp_path, files)
    with pytest.raises(MigrationFailedError) as failure:
        apply(database_url, loaded)
    message = str(failure.value)
    assert "migrations/0.1.0/002_add_email.sql:4:" in message
    assert "42703" in message and "no_such_column" in message
    assert failure.value.exit_code == 3
    assert [n for _, n in tracking_rows(db)] == ["001_create_users.sql"]
    assert not table_exists(db, "half_done")
    columns = db.execute("SELECT column_name FROM information_schema.columns WHERE table_name='users'")
    assert "email" not in {c for (c,) in columns}
    assert not table_exists(db, "posts")


def test_error_without_a_position_names_the_statement_line(tmp_path: Path, database_url: str) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/002_add_email.sql"] = "SELECT 1;\n\n  ALTER TABLE missing ADD COLUMN x int;\n"
    with pytest.raises(MigrationFailedError, match=r"002_add_email\.sql:3:3: .*42P01"):
        apply(database_url, project(tmp_path, files))


def test_file_with_its_own_begin_commit_stays_atomic_with_its_row(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/002_add_email.sql"] = (
        "SET maintenance_work_mem = '64MB';\n"
        "BEGIN;\nALTER TABLE users ADD COLUMN email text;\nCOMMIT;\n"
        "SELECT 'done' AS status;\n"
    )
    loaded = project(tmp_path, files)
    apply(database_url, loaded)
    assert len(tracking_rows(db)) == 3

    failing = dict(files)
    failing["migrations/0.1.0/004_break.sql"] = (
        "BEGIN;\nCREATE TABLE should_vanish (id int);\nCOMMIT;\nSELECT 1/0;\n"
    )
    loaded = project(tmp_path, failing, BASIC_MANIFEST + entry("0.1.0", "004_break", rollback=False))
    with pytest.raises(MigrationFailedError, match="22012"):
        apply(database_url, loaded)
    assert not table_exists(db, "should_vanish")
    assert len(tracking_rows(db)) == 3


def test_session_settings_of_a_file_do_not_leak_into_the_next(tmp_path: Path, database_url: str) -> None:
    files = {
        "migrations/0.1.0/001_slow_settings.sql": (
            "SET statement_timeout = '20ms';\nSET search_path = pg_catalog;\nSELECT 1;\n"
        ),
        "migrations/0.1.0/002_sleepy.sql": (
            "SELECT pg_sleep(0.05);\nCREATE TABLE public.after_sleep (id int);\n"
            "DO $$ BEGIN IF current_setting('statement_timeout') <> '0' THEN "
            "RAISE EXCEPTION 'leaked %', current_setting('statement_timeout'); END IF; END $$;\n"
        ),
    }
    manifest = entry("0.1.0", "001_slow_settings", rollback=False)
    manifest += entry("0.1.0", "002_sleepy", rollback=False)
    recorder = apply(database_url, project(tmp_path, files, manifest))
    assert recorder.finished == ["0.1.0/001_slow_settings", "0.1.0/002_sleepy"]


def test_set_role_in_a_file_does_not_reach_its_row_or_the_next_file(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    role = f"r_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    try:
        files = {
            "migrations/0.1.0/001_as_role.sql": (
                f"GRANT CREATE ON SCHEMA public TO {role};\nSET ROLE {role};\n"
                "CREATE TABLE owned_by_role (id int);\n"
            ),
            "migrations/0.1.0/002_after.sql": "CREATE TABLE owned_by_session (id int);\n",
        }
        manifest = entry("0.1.0", "001_as_role", rollback=False)
        manifest += entry("0.1.0", "002_after", rollback=False)
        apply(database_url, project(tmp_path, files, manifest))
        owners = dict(db.execute(
            "SELECT tablename::text, tableowner::text FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall())
        applied_by = {str(u) for (u,) in db.execute("SELECT applied_by FROM archon_migrations")}
        assert owners["owned_by_role"] == role
        assert owners["owned_by_session"] != role and applied_by == {owners["owned_by_session"]}
    finally:
        db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_non_transactional_statement_is_refused_before_anything_runs(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/003_create_posts.sql"] = (
        "CREATE TABLE posts (id int);\n\nCREATE INDEX CONCURRENTLY posts_id ON posts (id);\n"
    )
    with pytest.raises(ManifestError, match=r"003_create_posts\.sql:3:1: .*CREATE INDEX CONCURRENTLY"):
        apply(database_url, project(tmp_path, files))
    assert not table_exists(db, "public.archon_migrations")
    assert not table_exists(db, "users")


def test_drift_stops_the_run_before_it_changes_anything(tmp_path: Path, database_url: str, db: Conn) -> None:
    loaded = project(tmp_path, manifest=entry("0.1.0", "001_create_users"))
    apply(database_url, loaded)
    files = dict(BASIC)
    files["migrations/0.1.0/001_create_users.sql"] = "CREATE TABLE users (id bigserial PRIMARY KEY);\n"
    edited = project(tmp_path, files)
    with pytest.raises(DriftError) as drift:
        apply(database_url, edited)
    assert loaded.migrations[0].checksum in str(drift.value)
    assert edited.migrations[0].checksum in str(drift.value)
    assert "001_create_users.sql" in str(drift.value) and drift.value.exit_code == 5
    assert len(tracking_rows(db)) == 1
    assert statuses(database_url, edited)["0.1.0/001_create_users"] is State.MODIFIED


def test_crlf_and_bom_checkouts_are_not_drift(tmp_path: Path, database_url: str) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    for m in loaded.migrations:
        m.sql.path.write_bytes(b"\xef\xbb\xbf" + m.sql.text.replace("\n", "\r\n").encode())
    assert set(statuses(database_url, project_reload(loaded)).values()) == {State.APPLIED}


def project_reload(loaded: Manifest) -> Manifest:
    return load_manifest(loaded.path)


def test_dry_run_path_changes_nothing(tmp_path: Path, database_url: str, db: Conn) -> None:
    loaded = project(tmp_path)
    graph = build_graph(loaded.migrations)
    with connect(database_url) as conn:
        found = state.read_state(conn, loaded.settings, graph)
        plan = planning.forwards_plan(graph, found)
        executor.prepare(plan)
    assert len(plan) == 3
    assert not table_exists(db, "public.archon_migrations")


def test_revert_named_refuses_when_applied_dependents_exist(tmp_path: Path, database_url: str) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    users = loaded.migrations[0]
    with pytest.raises(RefusedError, match=r"(?s)002_add_email.*--cascade"):
        revert(database_url, loaded, lambda s: planning.revert_named(s, users))


def test_revert_cascade_takes_dependents_along_in_reverse_order(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    users = loaded.migrations[0]
    recorder = revert(database_url, loaded, lambda s: planning.revert_named(s, users), cascade=True)
    assert recorder.finished == ["0.1.0/003_create_posts", "0.1.0/002_add_email", "0.1.0/001_create_users"]
    assert tracking_rows(db) == []
    assert not table_exists(db, "users")


def test_revert_to_keeps_the_named_migration(tmp_path: Path, database_url: str, db: Conn) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    graph = build_graph(loaded.migrations)
    keep = loaded.migrations[0]
    recorder = revert(database_url, loaded, lambda s: planning.revert_to(graph, s, keep))
    assert recorder.finished == ["0.1.0/003_create_posts", "0.1.0/002_add_email"]
    assert tracking_rows(db) == [("0.1.0", "001_create_users.sql")]


def test_revert_last_n(tmp_path: Path, database_url: str, db: Conn) -> None:
    loaded = project(tmp_path)
    apply(database_url, loaded)
    revert(database_url, loaded, lambda s: planning.revert_last(s, 1))
    assert len(tracking_rows(db)) == 2
    assert not table_exists(db, "posts")


def test_revert_refuses_a_missing_rollback_before_touching_the_database(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = entry("0.1.0", "001_create_users") + entry("0.1.0", "002_add_email", rollback=False)
    loaded = project(tmp_path, manifest=manifest)
    apply(database_url, loaded)
    with pytest.raises(RefusedError, match=r"no rollback file for 0\.1\.0/002_add_email"):
        revert(database_url, loaded, lambda s: planning.revert_last(s, 2))
    assert len(tracking_rows(db)) == 2


def test_failed_rollback_keeps_the_row_and_the_schema(tmp_path: Path, database_url: str, db: Conn) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/rollbacks/003_create_posts.sql"] = "DROP TABLE posts;\nDROP TABLE nope;\n"
    loaded = project(tmp_path, files)
    apply(database_url, loaded)
    with pytest.raises(MigrationFailedError, match=r"rollbacks/003_create_posts\.sql:2:1"):
        revert(database_url, loaded, lambda s: planning.revert_last(s, 1))
    assert len(tracking_rows(db)) == 3 and table_exists(db, "posts")


def test_existing_tracking_table_is_adopted_without_losing_rows(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    db.execute(ARCHON_SEED)
    db.execute("CREATE TABLE users (id serial PRIMARY KEY, name text)")
    db.execute("INSERT INTO archon_migrations (version, migration_name) VALUES ('0.1.0', '001_create_users')")
    db.execute("INSERT INTO archon_migrations (version, migration_name) VALUES ('0.0.9', 'legacy_thing')")
    loaded = project(tmp_path)
    found = statuses(database_url, loaded)
    assert found["0.1.0/001_create_users"] is State.APPLIED_UNKNOWN_CHECKSUM
    assert found["0.0.9/legacy_thing"] is State.UNKNOWN
    assert apply(database_url, loaded).finished == ["0.1.0/002_add_email", "0.1.0/003_create_posts"]
    names = [n for _, n in tracking_rows(db)]
    assert names == ["legacy_thing", "001_create_users", "002_add_email.sql", "003_create_posts.sql"]


def test_rows_a_file_inserts_for_itself_are_not_duplicated(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = dict(BASIC)
    files["migrations/0.1.0/003_create_posts.sql"] = (
        "CREATE TABLE posts (id int);\n"
        "INSERT INTO archon_migrations (version, migration_name) VALUES\n"
        "  ('0.1.0', '001_create_users'), ('0.1.0', '002_add_email'), ('0.1.0', '003_create_posts')\n"
        "ON CONFLICT (version, migration_name) DO NOTHING;\n"
    )
    loaded = project(tmp_path, files)
    apply(database_url, loaded)
    # The rows in the other name form stay: Archon's application looks those up.
    assert [n for _, n in tracking_rows(db)] == [
        "001_create_users", "001_create_users.sql", "002_add_email", "002_add_email.sql",
        "003_create_posts", "003_create_posts.sql"]
    assert set(statuses(database_url, loaded).values()) == {State.APPLIED}
    stem_form = replace(loaded, settings=replace(loaded.settings, name_form=loaded.settings.name_form.STEM))
    revert(database_url, stem_form, lambda s: planning.revert_last(s, 1))
    apply(database_url, stem_form)
    names = [n for _, n in tracking_rows(db)]
    assert names == ["001_create_users", "001_create_users.sql", "002_add_email", "002_add_email.sql",
                     "003_create_posts"]
    row = db.execute("SELECT checksum FROM archon_migrations WHERE migration_name = '003_create_posts'")
    assert row.fetchone() == (loaded.migrations[2].checksum,)


def test_lock_held_by_another_runner_times_out_naming_the_holder(
    tmp_path: Path, database_url: str, db: Conn, fake_clock: FakeClock
) -> None:
    from archon_plan.db import lock

    loaded = project(tmp_path)
    settings = replace(loaded.settings, lock_wait_s=0.5)
    db.execute("SET application_name = 'other-runner'")
    db.execute("SELECT pg_advisory_lock(%s)", (lock.lock_key(settings),))
    graph = build_graph(loaded.migrations)
    with connect(database_url) as conn, pytest.raises(LockTimeoutError, match="other-runner"):
        executor.apply(conn, settings, graph, Recorder())
    assert not table_exists(db, "public.archon_migrations")
    assert fake_clock.slept == [lock.POLL_INTERVAL_S] * 3  # polled at 0, 0.2 and 0.4 s; 0.6 s is past


def test_custom_tracking_table_in_its_own_schema(tmp_path: Path, database_url: str, db: Conn) -> None:
    manifest = '[settings]\ntracking_table = "ops.schema_history"\n\n' + BASIC_MANIFEST
    apply(database_url, project(tmp_path, manifest=manifest))
    assert db.execute("SELECT count(*) FROM ops.schema_history").fetchone() == (3,)
    assert not table_exists(db, "public.archon_migrations")


def test_savepoints_in_a_file_run_inside_its_transaction(tmp_path: Path, database_url: str, db: Conn) -> None:
    files = {"migrations/0.1.0/001_savepoints.sql": """
        CREATE TABLE t (x int);
        SAVEPOINT a;
        INSERT INTO t VALUES (1);
        ROLLBACK TO SAVEPOINT a;
        INSERT INTO t VALUES (2);
        RELEASE SAVEPOINT a;
        """,
             "migrations/0.1.0/002_fails.sql":
                 "SAVEPOINT b;\nINSERT INTO t VALUES (3);\nINSERT INTO nope VALUES (1);\n"}
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_savepoints", rollback=False)
                             + entry("0.1.0", "002_fails", rollback=False))
    loaded = load_manifest(manifest)
    with pytest.raises(MigrationFailedError, match=r"002_fails.sql:3:\d+"):
        apply(database_url, loaded)
    assert [row[0] for row in db.execute("SELECT x FROM t")] == [2]
    assert [r[1] for r in tracking_rows(db)] == ["001_savepoints.sql"]


def test_a_setting_changed_through_a_function_does_not_leak_into_the_next_migration(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    files = {"migrations/0.1.0/001_sets.sql": """
        CREATE FUNCTION nowhere() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN EXECUTE 'SET search_path = nowhere'; EXECUTE 'SET statement_timeout = 1'; END $$;
        SELECT nowhere();
        """,
             "migrations/0.1.0/002_table.sql": "CREATE TABLE after_it (x int);\nSELECT pg_sleep(0.01);\n"}
    manifest = write_project(tmp_path, files, entry("0.1.0", "001_sets", rollback=False)
                             + entry("0.1.0", "002_table", rollback=False))
    apply(database_url, load_manifest(manifest))
    assert table_exists(db, "after_it")


_SETUP = "CREATE SCHEMA other;\nCREATE TABLE one_row (id int);\nINSERT INTO one_row VALUES (1);\n"


@pytest.mark.parametrize(("setup", "run"), [
    # PREPARE in the same file: a prepared statement no longer outlives its migration
    (_SETUP, "PREPARE p AS SELECT set_config('search_path', 'other', false);\n"
     "CREATE TABLE probe AS EXECUTE p;\n"),
    (_SETUP + "CREATE VIEW v AS SELECT set_config('search_path', 'other', false) AS s;\n",
     "CREATE TABLE probe AS SELECT * FROM v;\n"),
    (_SETUP + "CREATE FUNCTION switch(one_row) RETURNS text LANGUAGE sql AS "
     "$$ SELECT set_config('search_path', 'other', false) $$;\n",
     "CREATE TABLE probe AS SELECT o.switch FROM one_row AS o;\n"),  # a call written as a column
], ids=["nested-execute", "view", "functional-notation"])
def test_code_no_reading_of_the_file_shows_still_leaves_no_setting_behind(
    tmp_path: Path, database_url: str, db: Conn, setup: str, run: str
) -> None:
    """A view, a prepared statement, a call written as a column: none shows as a SET or a
    function call in the file's parse, so the RESETs follow every file (found by a review)."""
    files = {"migrations/0.1.0/001_setup.sql": setup, "migrations/0.1.0/002_run.sql": run,
             "migrations/0.1.0/003_create.sql": "CREATE TABLE t3 (id int);\n"}
    manifest = write_project(tmp_path, files, "".join(
        entry("0.1.0", stem, rollback=False) for stem in ("001_setup", "002_run", "003_create")))
    apply(database_url, load_manifest(manifest))
    found = db.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 't3'")
    assert found.fetchall() == [("public",)]
