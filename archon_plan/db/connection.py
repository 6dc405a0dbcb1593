"""Connecting to a target with keepalives, scratch databases, and driver errors with secrets kept out."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ..core.sqlfile import SqlFile
from ..errors import DatabaseError, ManifestError, Problem
from .target import Target, redact

Connection = psycopg.Connection[tuple[object, ...]]  # every connection of ours: autocommit, tuple rows

CONNECT_TIMEOUT_S = 10
# A link that goes silent (no reset) must not block a run for ever: TCP keepalives probe an
# idle connection after 10 s, every 5 s, and give up after 3 misses; data the peer does not
# acknowledge for 30 s breaks it too. A busy server answers the probes, so a long statement
# is never cut. libpq ignores them on a Unix socket.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
              "tcp_user_timeout": 30_000}
APPLICATION_NAME = "archon-plan"


def connect(target: Target) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection; the executor opens one transaction per migration."""
    if not target.parses:  # libpq's own message would quote the secret back
        raise DatabaseError(f"the database URL from {target.source} cannot be parsed (not shown)",
                            "write it as postgresql://user:password@host:5432/dbname, "
                            "percent-encoding special characters in the password (@ as %40)")
    try:
        return psycopg.connect(
            make_conninfo(target.url, **KEEPALIVES),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=APPLICATION_NAME,
            prepare_threshold=None,
        )
    except psycopg.Error as exc:
        message = redact(str(exc).strip().replace("\n", " "), target.secrets)
        raise DatabaseError(
            f"cannot connect to {target.redacted} ({target.source}): {message}",
            "check the URL, that the server runs, and that it accepts this user",
        ) from None


@contextmanager
def database_errors(target: Target) -> Iterator[None]:
    """Turn a raw driver error outside a migration (reading the tracking table, the
    lock) into a DatabaseError, with secrets scrubbed."""
    try:
        yield
    except psycopg.Error as exc:
        sqlstate = getattr(exc, "sqlstate", None) or "?"
        message = redact(str(exc).strip().replace("\n", " "), target.secrets)
        raise DatabaseError(f"database error on {target.redacted}: {sqlstate} {message}",
                            "check the tracking table and the user's privileges") from None


SCRATCH_PREFIX = "archon_rehearse_"


@contextmanager
def scratch_database(server: Target) -> Iterator[Target]:
    """A new database on server's cluster, dropped (WITH FORCE) afterwards; server's own
    database is only used to run CREATE DATABASE and DROP DATABASE."""
    import uuid  # here, not at the top: it imports platform, which `status` never needs

    name = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}"
    identifier = sql.Identifier(name)
    create = sql.SQL("CREATE DATABASE {}").format(identifier)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier)
    _administer(server, create, f"create the scratch database {name}")
    try:
        yield Target(url=make_conninfo(server.url, dbname=name), source=f"scratch database {name}")
    except BaseException:
        with contextlib.suppress(DatabaseError):  # the run's own error is the one to report
            _administer(server, drop, f"drop the scratch database {name}")
        raise
    _administer(server, drop, f"drop the scratch database {name}")


def _administer(server: Target, statement: sql.Composed, what: str) -> None:
    with connect(server) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            message = redact(str(exc).strip().replace("\n", " "), server.secrets)
            raise DatabaseError(f"cannot {what} on {server.redacted}: {message}",
                                "the user needs the CREATEDB privilege there; or omit --database-url "
                                "to rehearse on a throwaway embedded PostgreSQL") from None


def server_version(conn: Connection) -> str:
    """PostgreSQL's own `server_version` text, e.g. "15.19 (Debian 15.19-0+deb12u1)"."""
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def server_major(conn: Connection) -> int:
    """PostgreSQL's major version, e.g. 15: what the server's own wording of a definition depends on."""
    row = conn.execute("SHOW server_version_num").fetchone()
    return int(str(row[0])) // 10000 if row else 0


def run_script(conn: Connection, script: SqlFile, what: str) -> None:
    """Run a SQL file as psql -1 would: all of it in one transaction, or none; an error names
    its place in the file."""
    from ..sql import parse  # here: only rehearse --setup runs a script

    try:
        with conn.transaction():
            conn.execute(script.text.encode())
    except psycopg.Error as exc:
        position = exc.diag.statement_position
        where = parse.location(script, int(position) - 1 if position else None)
        raise ManifestError([Problem.at(where, f"{what}: {(exc.diag.message_primary or str(exc)).strip()}",
                                        "fix the script; it runs on each scratch database first")]) from None
