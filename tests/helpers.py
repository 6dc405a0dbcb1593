"""Helpers for tests: project files on disk and looks into a database."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import psycopg

# The tracking table as the seed's migrate.py and Archon's own 008 create it.
ARCHON_SEED = """CREATE TABLE public.archon_migrations (
    id UUID DEFAULT gen_random_uuid() PRIMARY KEY, version VARCHAR(20) NOT NULL,
    migration_name VARCHAR(255) NOT NULL, applied_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    checksum VARCHAR(32), UNIQUE(version, migration_name))"""


def write_project(root: Path, files: Mapping[str, str], manifest: str) -> Path:
    """Write SQL files and a manifest (dedented) under root; return the manifest path."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "migrations.toml"
    manifest_path.write_text(textwrap.dedent(manifest), encoding="utf-8")
    return manifest_path


def entry(version: str, stem: str, depends_on: tuple[str, ...] = (), rollback: bool = True) -> str:
    """A [[migration]] entry for files laid out as migrations/<version>/<stem>.sql."""
    lines = ["[[migration]]", f'version = "{version}"', f'file = "migrations/{version}/{stem}.sql"']
    if rollback:
        lines.append(f'rollback = "migrations/{version}/rollbacks/{stem}.sql"')
    if depends_on:
        lines.append("depends_on = [" + ", ".join(f'"{d}"' for d in depends_on) + "]")
    return "\n".join(lines) + "\n\n"


def git(root: Path, *args: str) -> str:
    """git in the repository at root, as a user with a name and no signing; its stdout."""
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com",
               "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def table_exists(conn: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def tracking_rows(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[str, str]]:
    if not table_exists(conn, "public.archon_migrations"):
        return []
    return [
        (str(v), str(n))
        for v, n in conn.execute(
            "SELECT version, migration_name FROM public.archon_migrations ORDER BY version, migration_name"
        )
    ]


def run_in_process(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """`archon-plan ARGV` as archon_plan.cli.main in this process, in cwd with exactly env.

    What a subprocess would give (exit code, stdout, stderr) without starting a Python for
    each command; the few tests that prove the real executable still start one."""
    from archon_plan.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (mock.patch.dict(os.environ, env, clear=True), contextlib.chdir(cwd),
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(err)):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: --version, --help and usage errors
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


@dataclass
class FakeClock:
    """Stands in for time.monotonic and time.sleep: a sleep moves the clock on at once."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
