"""A fleet run killed (SIGKILL) or stopped (SIGTERM) at seeded random moments: after every
trial each tenant's migrations are whole or absent, and a rerun finishes each exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from random import Random

import pytest
from psycopg import sql

from archon_plan.project.loader import load_manifest
from tests.faults import (
    ENV,
    Conn,
    Ended,
    MigrationLike,
    check_invariant,
    signal_at_random_moment,
    wait_for_backends,
)
from tests.helpers import entry, run_in_process, write_project

SEED = int(os.environ.get("ARCHON_FAULT_SEED", "1200"))
TENANTS = [f"tenant_{i:02d}" for i in range(1, 9)]
COUNT = 4
WINDOW = 1.2  # seconds after the fleet connects: a whole run takes about 0.8


def project(root: Path) -> tuple[Path, tuple[MigrationLike, ...]]:
    rng, files, manifest = Random(SEED), {}, ""
    for n in range(1, COUNT + 1):
        stem = f"{n:03d}_tables_{n}"
        files[f"migrations/0.1.0/{stem}.sql"] = (
            f"CREATE TABLE t{n} (id int);\nSELECT pg_sleep({rng.uniform(0.02, 0.06):.3f});\n"
            f"CREATE TABLE t{n}_b (id int);\n")
        manifest += entry("0.1.0", stem, rollback=False)
    path = write_project(root, files, manifest)
    (root / "fleet.toml").write_text(
        '[fleet]\nparallel = 3\n\n[[target]]\nname = "saas"\nurl_env = "SAAS_URL"\n'
        "schemas = \"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\\\_%' ORDER BY 1\"\n",
        encoding="utf-8")
    return path, load_manifest(path).migrations


def reset(db: Conn) -> None:
    for schema in TENANTS:
        name = sql.Identifier(schema)
        db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
        db.execute(sql.SQL("CREATE SCHEMA {}").format(name))


def applied(db: Conn, migrations: tuple[MigrationLike, ...], context: str) -> dict[str, int]:
    """Per tenant, how many migrations are applied; the invariant holds in each, in order."""
    found = {}
    for schema in TENANTS:
        def present(m: MigrationLike, schema: str = schema) -> list[str]:
            n = int(m.stem[:3])
            return [f"to_regclass('{schema}.t{n}') IS NOT NULL",
                    f"to_regclass('{schema}.t{n}_b') IS NOT NULL"]

        done = check_invariant(db, migrations, present, f"{context}, {schema}", schema=schema)
        k = done.count(True)
        assert done == [True] * k + [False] * (COUNT - k), f"{context}, {schema}: out of order {done}"
        found[schema] = k
    return found


def events_per_migration(db: Conn) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for schema in TENANTS:
        query = sql.SQL("SELECT migration_name FROM {} WHERE event = 'apply'").format(
            sql.Identifier(schema, "archon_migrations_events"))
        seen.update((schema, str(name)) for name, in db.execute(query))
    return seen


def trial(tmp_path: Path, db: Conn, database_url: str, seed: int, signum: int
          ) -> tuple[Ended, dict[str, int]]:
    manifest, migrations = project(tmp_path)
    reset(db)
    env = {**ENV, "SAAS_URL": database_url}
    argv = [sys.executable, "-m", "archon_plan", "--manifest", str(manifest), "fleet", "apply"]
    runner = subprocess.Popen(argv, cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_backends(db, present=True, runner=runner)
    ended = signal_at_random_moment(runner, Random(seed), WINDOW, signum)
    context = f"seed {seed} (ARCHON_FAULT_SEED={seed}), exit {ended.returncode}, {ended.stderr[-400:]!r}"
    wait_for_backends(db, present=False)
    before = applied(db, migrations, context)
    if signum == signal.SIGTERM:  # 0 or -15: it landed once the run had ended, at its exit
        assert ended.returncode in (0, 143, -signal.SIGTERM), context
    if ended.returncode in (0, -signal.SIGTERM):
        assert before == dict.fromkeys(TENANTS, COUNT), context
    again = run_in_process(["--manifest", str(manifest), "fleet", "apply"], tmp_path, env)
    assert again.returncode == 0, f"{context}: the rerun failed:\n{again.stdout}{again.stderr}"
    assert applied(db, migrations, f"{context}, after the rerun") == dict.fromkeys(TENANTS, COUNT)
    repeated = {key: n for key, n in events_per_migration(db).items() if n != 1}
    assert not repeated, f"{context}: applied more than once: {repeated}"
    return ended, before


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_fleet_run_stopped_at_random_moments_is_finished_by_a_rerun_each_migration_once(
    tmp_path: Path, database_url: str, db: Conn, signum: int
) -> None:
    outcomes = [trial(tmp_path, db, database_url, seed, signum) for seed in range(SEED, SEED + 8)]
    partial = sum(any(0 < k < COUNT for k in before.values()) or len(set(before.values())) > 1
                  for _, before in outcomes)
    assert partial >= 3, [(e.returncode, b) for e, b in outcomes]  # the faults did land mid-run
