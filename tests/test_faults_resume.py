"""Seeded kill -9 trials during a non-transactional migration: after every trial the history
says where it stopped (never `pending` once a statement may have run), and at most `apply`,
`repair --retry` (with `--resume-at` only where the message asks) and `apply` finish it."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from random import Random

import psycopg
import pytest

from archon_plan.errors import ExitCode
from tests.faults import ENV, signal_at_random_moment, start_apply, wait_for_backends
from tests.helpers import entry, run_in_process, tracking_rows, write_project
from tests.test_faults import SEED

Conn = psycopg.Connection[tuple[object, ...]]
INDEXES = ("items_a", "items_b", "Items_AB")


def project(tmp_path: Path) -> Path:
    files = {
        "migrations/0.1.0/001_items.sql": "CREATE TABLE items (a int, b int);\n"
        "INSERT INTO items SELECT i, i % 97 FROM generate_series(1, 200000) AS i;\n",
        "migrations/0.1.0/002_indexes.sql": "CREATE INDEX CONCURRENTLY items_a ON items (a);\n"
        "SELECT pg_sleep(0.05);\nCREATE INDEX CONCURRENTLY items_b ON items (b);\n"
        'CREATE INDEX CONCURRENTLY "Items_AB" ON items (a, b);\n',
    }
    return write_project(tmp_path, files, entry("0.1.0", "001_items", rollback=False)
                         + entry("0.1.0", "002_indexes", rollback=False) + "transactional = false\n")


def cli(manifest: Path, database_url: str, *args: str) -> tuple[int, str]:
    result = run_in_process(["--manifest", str(manifest), "--database-url", database_url, *args],
                            manifest.parent, ENV)
    return result.returncode, result.stdout + result.stderr


def indexes(db: Conn) -> dict[str, bool]:
    rows = db.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
                      "ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass('public.items')")
    return {str(name): bool(valid) for name, valid in rows}


def check(db: Conn, manifest: Path, database_url: str, context: str) -> str:
    """The invariant after a kill: 002's row means its three indexes are all there and valid;
    without the row, status says `failed` once any of its statements may have run. Its state."""
    rows = [n for _, n in tracking_rows(db)]
    code, out = cli(manifest, database_url, "status", "--format", "json")
    state = json.loads(out[out.index("{"):])["migrations"][1]["state"] if code in (0, 8) else "?"
    started = db.execute("SELECT count(*) FROM archon_migrations_events WHERE event = 'statement-started'"
                         ) if rows else None
    if "002_indexes.sql" in rows:
        assert indexes(db) == dict.fromkeys(INDEXES, True) and state == "applied", context
    elif started is not None and started.fetchone() != (0,):
        assert state == "failed", f"{context}: a statement may have run, yet it is {state}"
    return state


def recover(db: Conn, manifest: Path, database_url: str, context: str) -> list[str]:
    """apply; if it stopped part-way, repair --retry (as the message says); apply. The steps."""
    steps = []
    code, out = cli(manifest, database_url, "apply")
    steps.append(f"apply {code}")
    if code == ExitCode.REFUSED and "stopped part-way" in out:
        code, out = cli(manifest, database_url, "repair", "--retry", "002_indexes")
        steps.append(f"retry {code}")
        asked = re.search(r"--resume-at (\d+)", out)
        if code == ExitCode.REFUSED and asked:  # a statement in doubt the catalog cannot settle
            code, out = cli(manifest, database_url, "repair", "--retry", "002_indexes", "--resume-at",
                            asked.group(1))
            steps.append(f"retry --resume-at {asked.group(1)} {code}")
        assert code == 0, f"{context}: {steps}: {out}"
        code, out = cli(manifest, database_url, "apply")
        steps.append(f"apply {code}")
    assert code == 0, f"{context}: {steps}: {out}"
    assert indexes(db) == dict.fromkeys(INDEXES, True), f"{context}: {steps}: {indexes(db)}"
    assert [n for _, n in tracking_rows(db)] == ["001_items.sql", "002_indexes.sql"], context
    return steps


def clean_run_seconds(db: Conn, manifest: Path, database_url: str) -> float:
    """How long a run takes from its first session to its end, on this machine."""
    runner = start_apply(manifest, database_url)
    wait_for_backends(db, present=True, runner=runner)
    started = time.monotonic()
    assert runner.wait(timeout=60) == 0, runner.communicate()
    return time.monotonic() - started


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_non_transactional_migration_never_leaves_it_stuck(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    manifest = project(tmp_path)
    window = clean_run_seconds(db, manifest, database_url)  # kills land anywhere in a run
    states: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    for seed in range(SEED, SEED + 20):
        db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        runner = start_apply(manifest, database_url)
        wait_for_backends(db, present=True, runner=runner)
        ended = signal_at_random_moment(runner, Random(seed), window)
        context = f"seed {seed} (ARCHON_FAULT_SEED={seed}), exit {ended.returncode}"
        wait_for_backends(db, present=False)
        states[check(db, manifest, database_url, context)] += 1
        paths[" -> ".join(recover(db, manifest, database_url, context))] += 1
    print(f"\n20 kills: 002's state after the kill {dict(states)}; recoveries {dict(paths)}")
    assert states["failed"] >= 5, states  # kills did land inside the non-transactional migration
