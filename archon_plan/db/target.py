"""Which database a run targets, from the flag, the variables or Supabase's settings; what in
its URL is secret, and how to show it without the secret."""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import DatabaseError, RefusedError

URL_VARIABLES = ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL")
# Every variable that configures the target database (docs/cli.md, "Finding the database").
DATABASE_VARIABLES = (*URL_VARIABLES, "SUPABASE_URL", "SUPABASE_DB_PASSWORD", "SUPABASE_SERVICE_KEY")
NEON_POOLER_MARK = "-pooler."  # ep-name-pooler.region.aws.neon.tech is the pooled endpoint


SUPABASE_POOLER_PORT = "6543"


POOLER_REFUSAL = (
    "port 6543 is Supabase's transaction pooler, which hands each transaction to any "
    "server session: it breaks the migration lock and session settings a migrator relies on"
)


POOLER_HINT = "use the direct connection (db.<ref>.supabase.co:5432) or the session pooler (port 5432)"


# The secret runs to the last '@' of the authority: an unencoded '@' in it must not cut it short.
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>\S*?)(?=@[^@/\s]*(?:$|[/?\s]))", re.I)


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
        """Whether libpq reads it as written. Not a URL whose authority holds two '@': libpq
        splits at the first, and the rest of the password would be taken (and shown) as host."""
        if "://" in self.url and self.url.split("://", 1)[1].split("/", 1)[0].count("@") > 1:
            return False
        try:
            conninfo_to_dict(self.url)
        except psycopg.Error:
            return False
        return True

    @functools.cached_property
    def redacted(self) -> str:  # cached: a fleet's tenants share one Target
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


def resolve_target(database_url: str | None, env: Mapping[str, str],
                   flag: str = "--database-url") -> Target | None:
    """The configured database in order of precedence, or None when nothing is configured;
    `flag` names the option database_url comes from.

    A variable set but empty is an error, never a reason to look further: in CI a secret
    that is not defined expands to an empty string, and the run must not go elsewhere."""
    if database_url is not None:
        if not database_url.strip():
            raise DatabaseError(f"{flag} is empty", "give the URL, or leave the option out")
        return _checked(database_url, flag, env)
    empty = [name for name in DATABASE_VARIABLES if name in env and not env[name].strip()]
    if empty:
        raise DatabaseError(f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but empty",
                            "a CI secret that is not defined expands to an empty string: define it, "
                            "or unset the variable")
    for name in URL_VARIABLES:
        if env.get(name):
            return _checked(env[name], name, env)
    if env.get("SUPABASE_URL"):
        return _supabase(env)
    if env.get("SUPABASE_SERVICE_KEY"):
        raise DatabaseError(
            "SUPABASE_SERVICE_KEY is an API key, not a database password",
            "set SUPABASE_DB_URL to the direct connection string, or SUPABASE_URL and "
            "SUPABASE_DB_PASSWORD (Project Settings > Database)",
        )
    return None


# libpq's own variables, for a program (a [[hook]]) that connects on its own: pg_dump, psql.
_LIBPQ_VARIABLES = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "user": "PGUSER",
                    "password": "PGPASSWORD", "dbname": "PGDATABASE", "sslmode": "PGSSLMODE",
                    "options": "PGOPTIONS", "application_name": "PGAPPNAME"}


def libpq_environment(target: Target) -> dict[str, str]:
    """The target as ARCHON_DATABASE_URL and PG* variables: never on a command line."""
    try:
        params = conninfo_to_dict(target.url)
    except psycopg.Error:
        params = {}
    env = {variable: str(params[key]) for key, variable in _LIBPQ_VARIABLES.items() if params.get(key)}
    return {"ARCHON_DATABASE_URL": target.url, **env}


def named_target(variable: str, env: Mapping[str, str]) -> Target:
    """The database whose URL is in the environment variable `variable` (a fleet's target)."""
    url = env.get(variable)
    if url is None or not url.strip():
        raise DatabaseError(f"{variable} is {'not set' if url is None else 'set but empty'}",
                            "the fleet file names the variable that holds the target's URL: set it")
    return _checked(url, variable, env)


def _checked(url: str, source: str, env: Mapping[str, str]) -> Target:
    """Refuse a transaction pooler before connecting: Supabase's port 6543 (in the URL, or in
    libpq's PGPORT when the URL names none) and Neon's pooled host names."""
    if not Target(url, source).parses:  # connect() refuses it without showing any of it
        return Target(url, source)
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        params = {}
    port = str(params.get("port") or env.get("PGPORT") or "")
    if SUPABASE_POOLER_PORT in port.split(","):
        where = "" if params.get("port") else " (from PGPORT)"
        raise RefusedError(f"{source}{where}: {POOLER_REFUSAL}", POOLER_HINT)
    for host in str(params.get("host") or env.get("PGHOST") or "").split(","):
        if NEON_POOLER_MARK in host:
            raise RefusedError(
                f"{source}: {host} is Neon's pooled endpoint, a transaction pooler, which breaks the "
                "migration lock and session settings a migrator relies on",
                f"use the direct host: {host.replace(NEON_POOLER_MARK, '.', 1)}")
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
