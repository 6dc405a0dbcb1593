"""Baseline (c), the psycopg floor: the least a Python program can do to read the tracking rows.

Run as a script (`python bench/read_rows.py URL`), so it imports nothing but the standard
library and psycopg. Python's start and `import psycopg` are a floor no Python tool can go
below; status and a no-op apply must also connect and read every tracking row, so this is
the whole of what they cannot avoid: one connection, one SELECT, every row fetched.
"""

from __future__ import annotations

import sys

import psycopg

# What status and the no-op apply must read at least: every row they compare with the manifest.
READ_ROWS = ("SELECT version, migration_name, applied_at, checksum FROM public.archon_migrations "
             "ORDER BY applied_at, id")


def main(argv: list[str]) -> int:
    (url,) = argv
    # archon-plan's own connection settings: autocommit, no server-side prepared statements.
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute(READ_ROWS).fetchall()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
