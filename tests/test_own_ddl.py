"""archon-plan's own DDL (creating or adopting the tracking tables) never queues in front of
production queries, and two projects creating one new schema at once both succeed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import ARCHON_SEED, FakeClock, entry, write_project

Conn = psycopg.Connection[tuple[object, ...]]

def project(root: Path, settings: str) -> Path:
    files = {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n"}
    return write_project(root, files, f"[settings]\n{settings}\n\n" + entry("0.1.0", "001_t", rollback=False))


def test_adopting_a_table_a_reader_holds_gives_up_within_its_lock_timeout_and_readers_never_wait(
    tmp_path: Path, database_url: str, db: Conn, fake_clock: FakeClock
) -> None:
    db.execute(ARCHON_SEED)
    manifest = project(tmp_path, 'lock_timeout = "1s"\nlock_retries = 2')
    with psycopg.connect(database_url) as reader, psycopg.connect(database_url, autocommit=True) as other:
        reader.execute("SELECT count(*) FROM public.archon_migrations")  # ACCESS SHARE, transaction open
        waits: list[float] = []
        done = threading.Event()

        def read_meanwhile() -> None:
            other.execute("SET statement_timeout = '5s'")
            while not done.is_set():
                started = time.monotonic()
                other.execute("SELECT count(*) FROM public.archon_migrations")
                waits.append(time.monotonic() - started)
                time.sleep(0.05)

        thread = threading.Thread(target=read_meanwhile)
        thread.start()
        started = time.monotonic()
        try:
            code = main(["--manifest", str(manifest), "--database-url", database_url, "apply"])
        finally:
            done.set()
            thread.join()
        elapsed = time.monotonic() - started
        reader.rollback()
    assert code == ExitCode.LOCK_TIMEOUT
    assert elapsed < 3 * 1 + 5  # three tries of 1 s, the backoff on a fake clock
    assert len(fake_clock.slept) == 2  # backoff before each retry
    assert waits and max(waits) < 1.5, waits  # no reader waited longer than the lock_timeout
    columns = db.execute("SELECT count(*) FROM information_schema.columns "
                         "WHERE table_name = 'archon_migrations'").fetchone()
    assert columns == (5,)  # nothing was changed
    assert db.execute("SELECT to_regclass('public.t')").fetchone() == (None,)


@pytest.mark.parametrize("round_", range(4))
def test_two_projects_creating_one_new_schema_at_once_both_succeed(
    tmp_path: Path, database_url: str, db: Conn, round_: int
) -> None:
    runners = []
    for name in ("a", "b"):
        root = tmp_path / name
        project(root, f'tracking_table = "shared_schema.{name}_migrations"')
        (root / "migrations/0.1.0/001_t.sql").write_text(f"CREATE TABLE {name}_t (id int);\n")
        runners.append(subprocess.Popen(
            [sys.executable, "-m", "archon_plan", "--database-url", database_url, "apply"], cwd=root,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(r.wait(timeout=60), r.stderr.read() if r.stderr else "") for r in runners]
    assert [code for code, _ in results] == [0, 0], results
    rows = db.execute("SELECT count(*) FROM shared_schema.a_migrations, shared_schema.b_migrations")
    assert rows.fetchone() == (1,)


def test_the_longest_allowed_tracking_table_gets_every_derived_name_whole(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    name = "t" * 48
    manifest = project(tmp_path, f'tracking_table = "{name}"')
    assert main(["--manifest", str(manifest), "--database-url", database_url, "apply"]) == ExitCode.OK
    found = {str(r[0]) for r in db.execute("SELECT relname FROM pg_class WHERE relname LIKE %s",
                                           (f"%{name}%",))}
    assert {name, f"{name}_events", f"idx_{name}_version", f"idx_{name}_applied_at"} <= found
    too_long = project(tmp_path / "long", f'tracking_table = "{name}t"')
    assert main(["--manifest", str(too_long), "check"]) == ExitCode.INVALID
