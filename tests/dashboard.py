"""A project for the dashboard's tests: two migrations applied, the third failed at line 3."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.helpers import entry, run_in_process, write_project

FILES = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.1.0/002_create_posts.sql": "CREATE TABLE posts (id int, user_id int REFERENCES users);\n",
    "migrations/0.1.0/rollbacks/002_create_posts.sql": "DROP TABLE posts;\n",
    "migrations/0.2.0/001_add_scores.sql": "-- scores\nALTER TABLE posts ADD COLUMN score int;\n"
                                           "SELECT 1/0;\n",
    "migrations/0.2.0/rollbacks/001_add_scores.sql": "ALTER TABLE posts DROP COLUMN score;\n",
}
MANIFEST = (entry("0.1.0", "001_create_users") + entry("0.1.0", "002_create_posts", ("001_create_users",))
            + entry("0.2.0", "001_add_scores", ("0.1.0/002_create_posts",)))
FAILED_AT = "migrations/0.2.0/001_add_scores.sql:3:1"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def failed_project(root: Path, database_url: str) -> Path:
    """The project, applied to the database: 001 and 002 applied, 0.2.0/001 failed (exit 3).

    001 and 002 in a run of their own: a run that fails leaves row level security as it was, and
    the read-only user's tests need it on, as any successful run leaves it."""
    manifest = write_project(root, FILES, MANIFEST)
    env = {"ARCHON_DATABASE_URL": database_url}
    first = run_in_process(["--manifest", str(manifest), "apply", "--target", "002_create_posts"], root, env)
    assert first.returncode == 0, first.stderr
    out = run_in_process(["--manifest", str(manifest), "apply"], root, env)
    assert out.returncode == 3, out.stderr
    return manifest


def with_password(url: str, password: str) -> str:
    """The URL with a password (the test server trusts local connections and ignores it)."""
    return make_conninfo(url, password=password)


DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
GRANTS_HEADING = "### A read-only database user"


def documented_grants() -> list[str]:
    """The GRANT and CREATE POLICY statements of docs/cli.md, for the role `archon_dashboard`
    and the database `app`: the test runs exactly what the documentation says."""
    text = DOCS.read_text(encoding="utf-8")
    block = text[text.index(GRANTS_HEADING):].split("```sql\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith(("GRANT ", "CREATE POLICY "))]


@contextmanager
def reading_role(database_url: str, policies: bool = True) -> Iterator[str]:
    """A new login role with only the documented grants (and, unless told, the policies); its
    URL. Roles belong to the whole cluster: a unique name, dropped afterwards."""
    role, password = f"archon_ro_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    database = str(conninfo_to_dict(database_url)["dbname"])
    statements = [s for s in documented_grants() if policies or not s.startswith("CREATE POLICY")]
    with psycopg.connect(database_url, autocommit=True) as conn:
        names = {"archon_dashboard": sql.Identifier(role).as_string(conn),
                 "app": sql.Identifier(database).as_string(conn)}
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
        try:
            for statement in statements:
                named = re.sub(r"\b(archon_dashboard|(?<=DATABASE )app)\b", lambda m: names[m[1]], statement)
                conn.execute(named.encode())
            yield make_conninfo(database_url, user=role, password=password)
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
