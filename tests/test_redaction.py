"""Passwords never reach the output: CLI errors and tracebacks, environment, .env, and the resolver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from archon_plan.db.target import Target, redact, resolve_target
from archon_plan.errors import DatabaseError, ExitCode, RefusedError
from tests.helpers import entry, run_in_process, write_project

DATABASE_VARIABLES = (
    "ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL",
    "SUPABASE_DB_PASSWORD", "SUPABASE_SERVICE_KEY",
)
PASSWORD = "s3cretPW"
SUPABASE_URL = "https://abcdefghijklmnop.supabase.co"

# Each URL points at port 1, where nothing listens; with the secrets that must not be printed.
URLS = [
    pytest.param("postgresql://user:s3cretPW@127.0.0.1:1/db", ("s3cretPW",), id="url-userinfo"),
    pytest.param("postgresql://user@127.0.0.1:1/db?password=s3cretPW", ("s3cretPW",), id="url-query"),
    pytest.param("host=127.0.0.1 port=1 user=u password=s3cretPW dbname=d", ("s3cretPW",),
                 id="keyword-value"),
    pytest.param("postgresql://user:p%40ss%3Aword@127.0.0.1:1/db", ("p%40ss%3Aword", "p@ss:word"),
                 id="percent-encoded"),
    pytest.param("postgresql://user:s3cretPW@127.0.0.1:1/db?sslmode", ("s3cretPW",),
                 id="unparseable-query"),
    pytest.param("postgresql://user:s3cret PW@127.0.0.1:1/db", ("s3cret PW", "s3cret"),
                 id="unparseable-space-in-password"),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}
    env.update(extra)
    return env


def project(tmp_path: Path) -> Path:
    files = {"migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int);\n",
             "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n"}
    return write_project(tmp_path, files, entry("0.1.0", "001_create_users"))


def status(
    tmp_path: Path, *flags: str, env: dict[str, str] | None = None, fmt: str = "text", process: bool = False
) -> subprocess.CompletedProcess[str]:
    """`status` through cli.main in this process; with process, through `python -m archon_plan`."""
    manifest = project(tmp_path)
    arguments = ["--manifest", str(manifest), *flags, "status", "--format", fmt]
    env = env if env is not None else clean_env()
    if not process:
        return run_in_process(arguments, tmp_path, env)
    return subprocess.run([sys.executable, "-m", "archon_plan", *arguments], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def assert_unreachable_without(result: subprocess.CompletedProcess[str], secrets: tuple[str, ...]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == ExitCode.UNREACHABLE, output
    # A URL that cannot be parsed is refused before connecting, without quoting it.
    assert "cannot connect" in result.stderr or "cannot be parsed (not shown)" in result.stderr
    for secret in secrets:
        assert secret not in output, f"{secret!r} leaked: {output!r}"


# --- through the CLI --------------------------------------------------------------------------


@pytest.mark.parametrize("url, secrets", URLS)
def test_unreachable_database_error_never_shows_the_password(
    tmp_path: Path, url: str, secrets: tuple[str, ...]
) -> None:
    result = status(tmp_path, "--database-url", url)
    assert_unreachable_without(result, secrets)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url, secrets", URLS)
def test_traceback_of_an_unreachable_database_never_shows_the_password(
    tmp_path: Path, url: str, secrets: tuple[str, ...]
) -> None:
    result = status(tmp_path, "--traceback", "--database-url", url)
    assert_unreachable_without(result, secrets)
    assert "Traceback" in result.stderr  # asked for, so shown: but redacted


@pytest.mark.parametrize("variable", ["ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL"])
@pytest.mark.parametrize("url, secrets", URLS[:4])
def test_url_from_the_environment_is_redacted_and_its_source_named(
    tmp_path: Path, variable: str, url: str, secrets: tuple[str, ...]
) -> None:
    result = status(tmp_path, "--traceback", env=clean_env(**{variable: url}))
    assert_unreachable_without(result, secrets)
    assert f"({variable})" in result.stderr


def test_url_from_a_dotenv_file_is_redacted(tmp_path: Path) -> None:
    """End to end, through the real executable: a .env file, libpq's error and a traceback."""
    (tmp_path / ".env").write_text(
        "# local settings\nDATABASE_URL=postgresql://user:s3cretPW@127.0.0.1:1/db\n", encoding="utf-8"
    )
    for flags in ((), ("--traceback",)):
        result = status(tmp_path, *flags, process=True)
        assert_unreachable_without(result, (PASSWORD,))
        assert "(DATABASE_URL)" in result.stderr  # proves the .env file was read


def test_dotenv_password_with_special_characters_is_redacted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ARCHON_DATABASE_URL='host=127.0.0.1 port=1 user=u password=p@ss:word dbname=d'\n", encoding="utf-8"
    )
    result = status(tmp_path, "--traceback")
    assert_unreachable_without(result, ("p@ss:word",))
    assert "(ARCHON_DATABASE_URL)" in result.stderr


def test_transaction_pooler_port_is_refused_and_stays_redacted(tmp_path: Path) -> None:
    result = status(tmp_path, "--database-url", "postgresql://user:s3cretPW@127.0.0.1:6543/db")
    assert result.returncode == ExitCode.REFUSED, result.stderr
    assert "--database-url: port 6543 is Supabase's transaction pooler" in result.stderr
    assert "db.<ref>.supabase.co:5432" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_successful_status_shows_the_database_without_its_password(tmp_path: Path, database_url: str) -> None:
    url = make_conninfo(database_url, password=PASSWORD)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        pytest.skip("the test server checks passwords; this one is not the server's")
    for fmt in ("text", "json"):
        result = status(tmp_path, "--database-url", url, fmt=fmt)
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert "password=***" in document["database"]


def test_wrong_password_is_refused_without_echoing_it(tmp_path: Path, database_url: str) -> None:
    url = make_conninfo(database_url, password=PASSWORD)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        pass
    else:
        pytest.skip("the test server trusts its clients (no password auth): no wrong password to test")
    for flags in ((), ("--traceback",)):
        result = status(tmp_path, *flags, "--database-url", url)
        output = result.stdout + result.stderr
        assert result.returncode == ExitCode.UNREACHABLE, output
        assert PASSWORD not in output


# --- redact and Target ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw1@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:pw1@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db?password=pw2&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("host=h password=pw3 user=u", "host=h password=*** user=u"),
        ("host=h password = 'a b\\' c' user=u", "host=h password = *** user=u"),
        ("no secrets in here", "no secrets in here"),
    ],
)
def test_redact_masks_passwords_in_urls_and_keyword_strings(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_removes_known_secret_values_wherever_they_appear() -> None:
    assert redact('FATAL: near "hunter2" in hunter2', ("hunter2",)) == 'FATAL: near "***" in ***'


def test_target_knows_the_encoded_and_decoded_password() -> None:
    target = Target(url="postgresql://u:p%40ss%3Aword@h:5432/db", source="--database-url")
    assert {"p@ss:word", "p%40ss%3Aword"} <= set(target.secrets)
    for text in (target.redacted, repr(target), redact("libpq said p@ss:word", target.secrets)):
        assert "p@ss:word" not in text and "p%40ss%3Aword" not in text


# --- resolve_target -----------------------------------------------------------------------------


FLAG_URL = "postgresql://flag@flag.example/db"
FULL_ENV = {
    "ARCHON_DATABASE_URL": "postgresql://archon@archon.example/db",
    "DATABASE_URL": "postgresql://plain@plain.example/db",
    "SUPABASE_DB_URL": "postgresql://supa@supa.example/db",
    "SUPABASE_URL": SUPABASE_URL,
    "SUPABASE_DB_PASSWORD": "dbpw",
    "SUPABASE_SERVICE_KEY": "eyJhbGciOiJIUzI1NiJ9.service.key",
}


def test_database_url_flag_wins_over_every_variable() -> None:
    target = resolve_target(FLAG_URL, FULL_ENV)
    assert target is not None and (target.url, target.source) == (FLAG_URL, "--database-url")


@pytest.mark.parametrize("winner", ["ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL"])
def test_url_variables_take_precedence_in_order(winner: str) -> None:
    order = ["ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL"]
    env = {k: v for k, v in FULL_ENV.items() if k not in order[: order.index(winner)]}
    target = resolve_target(None, env)
    assert target is not None and (target.url, target.source) == (FULL_ENV[winner], winner)


def test_an_empty_variable_is_an_error_not_skipped() -> None:
    """Issue 12: an empty variable is a CI secret that is missing, never 'not set'."""
    with pytest.raises(DatabaseError, match="ARCHON_DATABASE_URL is set but empty"):
        resolve_target(None, {"ARCHON_DATABASE_URL": "", "DATABASE_URL": FULL_ENV["DATABASE_URL"]})


def test_supabase_url_and_password_make_the_direct_connection() -> None:
    env = {"SUPABASE_URL": SUPABASE_URL + "/", "SUPABASE_DB_PASSWORD": "p@ss/w:rd%"}
    target = resolve_target(None, env)
    assert target is not None and target.source == "SUPABASE_URL + SUPABASE_DB_PASSWORD"
    params = conninfo_to_dict(target.url)
    assert params["host"] == "db.abcdefghijklmnop.supabase.co"
    assert params["port"] == "5432"
    assert params["user"] == "postgres"
    assert params["dbname"] == "postgres"
    assert params["password"] == "p@ss/w:rd%"
    assert params["sslmode"] == "require"
    assert "p@ss/w:rd%" not in target.redacted and "p%40ss" not in target.redacted


def test_supabase_url_loses_to_any_url_variable() -> None:
    env = {**FULL_ENV}
    del env["ARCHON_DATABASE_URL"], env["DATABASE_URL"]
    target = resolve_target(None, env)
    assert target is not None and target.source == "SUPABASE_DB_URL"


def test_nothing_configured_means_the_embedded_database() -> None:
    assert resolve_target(None, {}) is None
    assert resolve_target(None, {"HOME": "/root", "PGHOST": "elsewhere"}) is None


def test_supabase_service_key_with_the_url_is_refused_as_an_api_key() -> None:
    env = {"SUPABASE_URL": SUPABASE_URL, "SUPABASE_SERVICE_KEY": FULL_ENV["SUPABASE_SERVICE_KEY"]}
    with pytest.raises(DatabaseError) as caught:
        resolve_target(None, env)
    text = str(caught.value)
    assert "API key" in text and "SUPABASE_DB_PASSWORD" in text
    assert FULL_ENV["SUPABASE_SERVICE_KEY"] not in text
    assert caught.value.exit_code == ExitCode.UNREACHABLE


def test_supabase_service_key_alone_is_refused_as_an_api_key() -> None:
    # Only the service key: not silently the embedded database, but a clear error.
    with pytest.raises(DatabaseError) as caught:
        resolve_target(None, {"SUPABASE_SERVICE_KEY": FULL_ENV["SUPABASE_SERVICE_KEY"]})
    assert "API key" in str(caught.value)
    assert FULL_ENV["SUPABASE_SERVICE_KEY"] not in str(caught.value)


def test_supabase_url_without_any_password_says_what_to_set() -> None:
    with pytest.raises(DatabaseError, match="SUPABASE_DB_PASSWORD"):
        resolve_target(None, {"SUPABASE_URL": SUPABASE_URL})


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
        "host=aws-0-eu-central-1.pooler.supabase.com port=6543 user=postgres password=pw",
    ],
)
def test_transaction_pooler_port_6543_is_refused(url: str) -> None:
    with pytest.raises(RefusedError, match=r"^--database-url: port 6543") as refused:
        resolve_target(url, {})
    assert "pw" not in str(refused.value).replace("pooler", "")
    with pytest.raises(RefusedError, match=r"^DATABASE_URL: port 6543"):
        resolve_target(None, {"DATABASE_URL": url})


def test_direct_port_is_accepted() -> None:
    target = resolve_target("postgresql://postgres:pw@db.abc.supabase.co:5432/postgres", {})
    assert target is not None and target.source == "--database-url"
