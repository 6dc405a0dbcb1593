"""The baselines archon-plan is compared with: the psql floor, a psycopg loop, the psycopg floor.

The psql floor and the loop write the tracking table archon-plan writes, with the same DDL
(tracker.ensure_table's seed table and added columns) and the same row INSERT / DELETE
(recording.record_applied / record_reverted without their bookkeeping), so the comparison is of
the tool, not the work. The psycopg floor only reads the rows, as status must.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from psycopg import sql

from .generate import Generated, Project
from .loop import DELETE_ROW, INSERT_ROW, TRACKING_DDL, md5
from .measure import Command
from .read_rows import READ_ROWS as READ_ROWS  # re-exported: the psql read and fleets take it here

LOOP_SCRIPT = Path(__file__).with_name("loop.py")
READ_SCRIPT = Path(__file__).with_name("read_rows.py")


def insert_params(m: Generated) -> tuple[str, str, str, str]:
    return (m.version, f"{m.stem}.sql", md5(m.forward), md5(m.rollback))


def delete_params(m: Generated) -> tuple[str, str, str]:
    return (m.version, m.stem, f"{m.stem}.sql")


def _bound(template: str, params: tuple[str, ...]) -> str:
    """The template with its %s bound as SQL literals (psycopg.sql, never str formatting)."""
    query = sql.SQL(template.replace("%s", "{}")).format(*(sql.Literal(p) for p in params))
    return query.as_string(None)


def write_floor_files(project: Project) -> tuple[Path, Path]:
    """floor_apply.sql: the DDL, then each migration in BEGIN/COMMIT with its INSERT;
    floor_revert.sql: each rollback, last first, in BEGIN/COMMIT with its DELETE."""
    forward = [TRACKING_DDL] + [
        f"BEGIN;\n{m.forward}{_bound(INSERT_ROW, insert_params(m))};\nCOMMIT;\n"
        for m in project.migrations
    ]
    backward = [
        f"BEGIN;\n{m.rollback}{_bound(DELETE_ROW, delete_params(m))};\nCOMMIT;\n"
        for m in reversed(project.migrations)
    ]
    apply_path, revert_path = project.root / "floor_apply.sql", project.root / "floor_revert.sql"
    apply_path.write_text("".join(forward), encoding="utf-8")
    revert_path.write_text("".join(backward), encoding="utf-8")
    return apply_path, revert_path


def psql_path() -> str | None:
    return shutil.which("psql")


def psql(url: str, root: Path, file: Path | None = None, query: str | None = None) -> Command:
    """psql -X -q -v ON_ERROR_STOP=1 over one file (or one query): the floor."""
    psql_bin = psql_path() or "psql"
    what = ["-f", str(file)] if file else ["-c", query or "SELECT 1"]
    name = f"psql {file.name if file else '-c'}"
    return Command(name, (psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *what), root)


def loop(url: str, project: Project, direction: str) -> Command:
    """The minimal psycopg 3 loop, a process of its own like the others."""
    argv = (sys.executable, str(LOOP_SCRIPT), direction, url, str(project.manifest))
    return Command(f"psycopg loop {direction}", argv, project.root)


def psycopg_read(url: str, root: Path) -> Command:
    """The psycopg floor: start Python, import psycopg, read the tracking rows once, exit."""
    return Command("psycopg floor", (sys.executable, str(READ_SCRIPT), url), root)
