"""What a person sees while migrations run: heartbeats in logs, a live line on a terminal,
nothing with --quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_plan.cli import main, progress
from archon_plan.core.model import Direction, Step
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, write_project


def project(root: Path, sleep: float) -> Path:
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n",
             "migrations/0.1.0/002_slow.sql": f"SELECT pg_sleep({sleep});\n"}
    return write_project(root, files, entry("0.1.0", "001_a", rollback=False)
                         + entry("0.1.0", "002_slow", rollback=False))


def test_without_a_terminal_a_running_migration_beats_until_it_ends(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.3)
    manifest = project(tmp_path, 1.1)
    assert main(["--manifest", str(manifest), "--database-url", database_url, "apply"]) == 0
    captured = capsys.readouterr()
    beats = [line for line in captured.err.splitlines() if "still running" in line]
    assert 2 <= len(beats) <= 4 and all("0.1.0/002_slow still running" in b for b in beats)
    assert "applied  0.1.0/002_slow" in captured.out


def test_quiet_prints_nothing_but_errors(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.1)
    manifest = project(tmp_path, 0.3)
    assert main(["--manifest", str(manifest), "--database-url", database_url, "--quiet", "apply"]) == 0
    assert capsys.readouterr() == ("", "")


def test_on_a_terminal_the_live_line_counts_statements_of_a_non_transactional_one(tmp_path: Path) -> None:
    manifest = project(tmp_path, 0)
    step = Step(load_manifest(manifest).migrations[1], Direction.APPLY)
    shown = progress.Progress(terminal=True)
    shown.plan(3)
    shown.started(step)
    shown.statement(step, 2, 5)
    descriptions = [task.description for task in shown._bar.tasks]
    assert descriptions == ["migrations", "apply 0.1.0/002_slow: statement 2 of 5"]
    shown.finished(step)
    assert [task.completed for task in shown._bar.tasks] == [1]
    shown.close()


def test_verbose_shows_each_steps_sql_and_each_phases_time(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, 0)
    assert main(["--manifest", str(manifest), "--database-url", database_url, "apply", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "apply 0.1.0/001_a (migrations/0.1.0/001_a.sql):\n    | CREATE TABLE a (id int);" in err
    for phase in ("load the manifest: ", "connect: ", "lock, plan and apply 2 migration(s): "):
        assert f"archon-plan: {phase}" in err
