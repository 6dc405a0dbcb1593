"""Baseline (b): the least a psycopg 3 program can do to apply or revert a project.

Run as a script (`python bench/loop.py apply|revert URL MANIFEST`), so it imports nothing
but the standard library and psycopg. One connection; per migration one transaction with
the file's SQL and the tracking row's INSERT (or DELETE), as archon-plan writes them.
"""

from __future__ import annotations

import hashlib
import sys
import tomllib
from pathlib import Path

import psycopg

# tracker.ensure_table's seed table and the three columns it adds, for the default table.
TRACKING_DDL = """CREATE SCHEMA IF NOT EXISTS public;
CREATE TABLE IF NOT EXISTS public.archon_migrations (
    id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
    version VARCHAR(20) NOT NULL,
    migration_name VARCHAR(255) NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    checksum VARCHAR(32),
    UNIQUE(version, migration_name));
CREATE INDEX IF NOT EXISTS idx_archon_migrations_version ON public.archon_migrations(version);
CREATE INDEX IF NOT EXISTS idx_archon_migrations_applied_at ON public.archon_migrations(applied_at DESC);
ALTER TABLE public.archon_migrations
    ADD COLUMN IF NOT EXISTS execution_ms INTEGER,
    ADD COLUMN IF NOT EXISTS applied_by TEXT,
    ADD COLUMN IF NOT EXISTS rollback_checksum VARCHAR(32);
"""

# recording.record_applied's row and record_reverted's DELETE (either name form).
INSERT_ROW = """INSERT INTO public.archon_migrations (version, migration_name, applied_at, checksum,
    execution_ms, applied_by, rollback_checksum)
VALUES (%s, %s, clock_timestamp(), %s,
    (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer, current_user, %s)"""
DELETE_ROW = "DELETE FROM public.archon_migrations WHERE version = %s AND migration_name IN (%s, %s)"


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def main(argv: list[str]) -> int:
    direction, url, manifest = argv
    root = Path(manifest).parent
    entries = tomllib.loads(Path(manifest).read_text(encoding="utf-8"))["migration"]
    # archon-plan's own connection settings: autocommit, no server-side prepared statements.
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        if direction == "apply":
            conn.execute(TRACKING_DDL)
        for entry in entries if direction == "apply" else reversed(entries):
            stem = Path(entry["file"]).stem
            forward = (root / entry["file"]).read_text(encoding="utf-8")
            rollback = (root / entry["rollback"]).read_text(encoding="utf-8")
            with conn.transaction():
                if direction == "apply":
                    conn.execute(forward)  # no parameters: one simple query, every statement
                    conn.execute(INSERT_ROW, (entry["version"], f"{stem}.sql", md5(forward), md5(rollback)))
                else:
                    conn.execute(rollback)
                    conn.execute(DELETE_ROW, (entry["version"], stem, f"{stem}.sql"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
