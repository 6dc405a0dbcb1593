"""Global options: --lock-wait (waiting for another runner) and its deprecated 0.1 name."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.db import lock
from archon_plan.errors import ExitCode
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, table_exists, write_project

DEPRECATED = "--lock-timeout is deprecated"


def one_migration(tmp_path: Path) -> Path:
    files = {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n",
             "migrations/0.1.0/rollbacks/001_t.sql": "DROP TABLE t;\n"}
    return write_project(tmp_path, files, entry("0.1.0", "001_t"))


@pytest.mark.parametrize("option", ["--lock-wait", "--lock-timeout"])
def test_lock_wait_bounds_the_wait_for_another_runners_lock(
    tmp_path: Path, database_url: str, db: psycopg.Connection[tuple[object, ...]], option: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = one_migration(tmp_path)
    db.execute("SELECT pg_advisory_lock(%s)", (lock.lock_key(load_manifest(manifest).settings),))
    code = main(["--manifest", str(manifest), "--database-url", database_url, option, "1", "apply"])
    assert code == ExitCode.LOCK_TIMEOUT
    assert not table_exists(db, "t")
    assert (DEPRECATED in capsys.readouterr().err) == (option == "--lock-timeout")


def test_the_deprecated_name_warns_once_however_often_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = one_migration(tmp_path)
    argv = ["--lock-timeout", "2", "--manifest", str(manifest), "show", "--lock-timeout", "3"]
    assert main(argv) == ExitCode.OK
    assert capsys.readouterr().err.count(DEPRECATED) == 1


def test_lock_wait_is_listed_in_help_and_the_deprecated_name_is_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--lock-wait SECONDS" in out and "--lock-timeout" not in out
