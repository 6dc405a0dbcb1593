"""Which database a run targets: never a silent embedded one in a deploy, never a secret printed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from archon_plan.cli import main
from archon_plan.db import embedded
from archon_plan.db.target import DATABASE_VARIABLES, Target
from archon_plan.errors import ExitCode
from tests.helpers import entry, table_exists, write_project

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture(autouse=True)
def no_database_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (*DATABASE_VARIABLES, "CI", "ARCHON_EMBEDDED", "PGPORT", "PGHOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def project(root: Path) -> Path:
    return write_project(root, {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n"},
                         entry("0.1.0", "001_t", rollback=False))


def apply(manifest: Path, *options: str) -> int:
    return main(["--manifest", str(manifest), *options, "apply"])


def embedded_would_start(monkeypatch: pytest.MonkeyPatch, database_url: str) -> list[Path]:
    """Stands in for starting the embedded server (tests have their own): records the call and
    hands back the test's database."""
    started: list[Path] = []

    def embedded_target(root: Path) -> Target:
        started.append(root)
        return Target(database_url, "embedded PostgreSQL (stand-in)")

    monkeypatch.setattr(embedded, "embedded_target", embedded_target)
    return started


@pytest.mark.parametrize("empty", ["DATABASE_URL", "ARCHON_DATABASE_URL", "SUPABASE_URL"])
def test_a_database_variable_set_but_empty_is_an_error_naming_it_never_a_fallback(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], empty: str,
) -> None:
    started = embedded_would_start(monkeypatch, database_url)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv(empty, "")
    if empty != "DATABASE_URL":
        monkeypatch.setenv("DATABASE_URL", database_url)  # a lower source must not be taken instead
    assert apply(project(tmp_path)) == ExitCode.UNREACHABLE
    assert f"{empty} is set but empty" in capsys.readouterr().err
    assert started == [] and not table_exists(db, "t")


def test_in_ci_with_nothing_configured_there_is_no_embedded_fallback(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = embedded_would_start(monkeypatch, database_url)
    monkeypatch.setenv("CI", "true")
    assert apply(project(tmp_path)) == ExitCode.UNREACHABLE
    err = capsys.readouterr().err
    assert "CI is set" in err and "ARCHON_DATABASE_URL" in err and "--embedded" in err
    assert started == []


@pytest.mark.parametrize(("ci", "options", "env"), [
    (False, [], {}), (True, ["--embedded"], {}), (True, [], {"ARCHON_EMBEDDED": "1"}),
], ids=["laptop", "flag-in-ci", "variable-in-ci"])
def test_the_embedded_database_is_used_on_a_laptop_or_when_chosen(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch, ci: bool,
    options: list[str], env: dict[str, str],
) -> None:
    started = embedded_would_start(monkeypatch, database_url)
    if ci:
        monkeypatch.setenv("CI", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert apply(project(tmp_path), *options) == ExitCode.OK
    assert started == [tmp_path.resolve()] or started == [tmp_path]
    assert table_exists(db, "t")


def test_embedded_and_a_configured_database_together_are_refused(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert apply(project(tmp_path), "--embedded") == ExitCode.UNREACHABLE
    assert "both choose a database" in capsys.readouterr().err


def test_a_dotenv_beside_the_manifest_is_read_and_the_working_directorys_wins(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = project(tmp_path / "sub")
    (tmp_path / "sub" / ".env").write_text(f"ARCHON_DATABASE_URL={database_url}\n")
    monkeypatch.setenv("CI", "true")  # so a missed .env would fail instead of going embedded
    assert apply(manifest) == ExitCode.OK
    assert table_exists(db, "t")
    (tmp_path / ".env").write_text("ARCHON_DATABASE_URL=postgresql://nobody@127.0.0.1:1/nothing\n")
    assert main(["--manifest", str(manifest), "status"]) == ExitCode.UNREACHABLE


def test_a_password_with_an_unencoded_at_sign_is_refused_without_printing_any_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://u:Hunter2@Secret99@db.example.com/x"
    assert apply(project(tmp_path), "--database-url", url) == ExitCode.UNREACHABLE
    captured = capsys.readouterr()
    assert "cannot be parsed" in captured.err and "%40" in captured.err
    for part in ("Hunter2", "Secret99", "db.example.com"):
        assert part not in captured.err + captured.out


def test_a_password_on_the_command_line_gets_one_warning_and_is_never_printed(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with_password = make_conninfo(database_url, password="s3cr3t-pw")
    if "://" in database_url:  # keep the URL form the user would type
        params = conninfo_to_dict(with_password)
        with_password = (f"postgresql://{params.get('user', '')}:s3cr3t-pw@{params.get('host', '')}:"
                         f"{params.get('port', 5432)}/{params.get('dbname', '')}")
    code = apply(project(tmp_path), "--database-url", with_password)
    captured = capsys.readouterr()
    # A server that checks passwords refuses this one (exit 6): the warning comes all the same.
    assert code in (ExitCode.OK, ExitCode.UNREACHABLE)
    assert captured.err.count("visible to other local users") == 1
    assert "s3cr3t-pw" not in captured.err + captured.out


@pytest.mark.parametrize(("url", "env", "said"), [
    ("postgresql://u:p@db.example.com/x", {"PGPORT": "6543"}, "from PGPORT"),
    ("postgresql://u:p@ep-cool-pooler.eu-central-1.aws.neon.tech/x", {},
     "use the direct host: ep-cool.eu-central-1.aws.neon.tech"),
])
def test_transaction_poolers_are_refused_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str,
    env: dict[str, str], said: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert apply(project(tmp_path), "--database-url", url) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert said in err and ":p@" not in err


@pytest.mark.parametrize("url", [
    "postgresql://u:Hunter2/x@127.0.0.1:1/db",  # a '/' in the password (base64 ones have them)
    "postgresql://u:Hunter2@Secret99@ep-x-pooler.eu-central-1.aws.neon.tech/x",  # '@' and a pooler
])
def test_no_part_of_an_awkward_password_is_ever_printed(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(project(tmp_path), "--database-url", url) in (ExitCode.UNREACHABLE, ExitCode.REFUSED)
    captured = capsys.readouterr()
    for part in ("Hunter2", "Secret99", "/x@"):
        assert part not in captured.err + captured.out
