"""Only regular files of a bounded size are read, and a NUL byte never reaches the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, table_exists, write_project

Conn = psycopg.Connection[tuple[object, ...]]


def project(tmp_path: Path, text: str = "CREATE TABLE a (id int);\n") -> Path:
    files = {"migrations/0.1.0/001_a.sql": text}
    return write_project(tmp_path, files, entry("0.1.0", "001_a", rollback=False))


def test_a_nul_byte_is_refused_with_its_place_by_check_and_apply(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, "CREATE TABLE a (id int);\n\x00CREATE TABLE b (id int);\n")
    assert main(["--manifest", str(manifest), "check"]) == ExitCode.INVALID
    assert "migrations/0.1.0/001_a.sql:2:1" in capsys.readouterr().out
    assert main(["--manifest", str(manifest), "--database-url", database_url, "apply"]) == ExitCode.INVALID
    assert "a NUL byte" in capsys.readouterr().err
    assert not table_exists(db, "a") and not table_exists(db, "public.archon_migrations")


@pytest.mark.parametrize("which", ["migration", "manifest"])
def test_a_fifo_is_refused_at_once_instead_of_hanging(tmp_path: Path, which: str) -> None:
    manifest = project(tmp_path)
    fifo = tmp_path / "migrations/0.1.0/001_a.sql" if which == "migration" else tmp_path / "fifo.toml"
    if which == "migration":
        fifo.unlink()
    os.mkfifo(fifo)
    argv = ["--manifest", str(manifest if which == "migration" else fifo), "check"]
    # A real process: a FIFO opened for reading would block this one for ever.
    out = subprocess.run([sys.executable, "-m", "archon_plan", *argv], cwd=tmp_path, capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == ExitCode.INVALID, out.stderr
    assert "not a regular file" in out.stderr and "Errno" not in out.stderr


def test_a_device_as_the_manifest_is_refused_instead_of_eating_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--manifest", "/dev/zero", "show"]) == ExitCode.INVALID
    assert "not a regular file" in capsys.readouterr().err


def test_a_file_past_the_size_limit_is_refused_and_the_limit_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, "SELECT 1;\n" + "-- padding\n" * 200_000)  # about 2.2 MB
    monkeypatch.setenv("ARCHON_MAX_FILE_MB", "1")
    assert main(["--manifest", str(manifest), "check"]) == ExitCode.INVALID
    assert "larger than 1 MiB (ARCHON_MAX_FILE_MB)" in capsys.readouterr().err
    monkeypatch.setenv("ARCHON_MAX_FILE_MB", "4")
    assert main(["--manifest", str(manifest), "check"]) in (ExitCode.OK, ExitCode.LINT_WARNINGS)
