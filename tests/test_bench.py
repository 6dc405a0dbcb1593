"""The benchmark keeps working: its generator, its log reading, and a whole run at N = 20."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import run
from bench.generate import plan_migrations, write_project
from bench.statements import _messages, statement_count

SMALL_RUN = ["--sizes", "20", "--plan-sizes", "20", "--linearity-sizes", "10,20",
             "--count-sizes", "10,20", "--repeat", "1", "--plan-repeat", "1", "--startup-runs", "1"]
FIGURES = {
    "version", "help", "show", "check", "show_growth_time", "show_growth_memory",
    "show_cold", "check_cold", "apply_all", "revert_all", "noop_apply", "status", "noop_apply_cold",
    "status_cold",
    "apply_statements", "apply_round_trips", "revert_statements", "revert_round_trips",
    "noop_apply_statements", "status_statements",
}
# compared with psql
FLOOR = {"apply_all", "revert_all", "noop_apply", "status", "noop_apply_cold", "status_cold"}


def test_generated_project_is_deterministic_with_earlier_dependencies_only() -> None:
    first, again = plan_migrations(300, seed=7), plan_migrations(300, seed=7)
    assert first == again
    assert first != plan_migrations(300, seed=8)
    position = {m.label: i for i, m in enumerate(first)}
    dependent = [m for m in first if m.depends_on]
    assert 0.05 < len(dependent) / len(first) < 0.15
    assert all(position[d] < position[m.label] for m in dependent for d in m.depends_on)
    assert len({m.version for m in first}) == 10
    assert all(1 <= m.number <= 100 for m in plan_migrations(10_000))


def test_generated_statement_counts_match_the_parser(tmp_path: Path) -> None:
    project = write_project(tmp_path, 60)
    for m in project.migrations:
        assert statement_count((tmp_path / m.file).read_text()) == m.statements
        assert statement_count((tmp_path / m.rollback_file).read_text()) == m.rollback_statements


def test_generated_project_passes_archon_plan_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archon_plan.cli import main

    project = write_project(tmp_path, 120)
    assert main(["--manifest", str(project.manifest), "check"]) == 0  # warnings are allowed
    assert "120 migration(s)" in capsys.readouterr().out


def test_log_entries_are_split_per_message_and_filtered_by_database() -> None:
    log = "\n".join([
        "2026-11-24 00:00:00.001 UTC [7] postgres@bench_a LOG:  statement: BEGIN; SELECT 1;",
        "CREATE TABLE t (",
        "    a int);",
        "2026-11-24 00:00:00.002 UTC [7] postgres@bench_a LOG:  execute <unnamed>: INSERT INTO t VALUES ($1)",
        "2026-11-24 00:00:00.002 UTC [7] postgres@bench_a DETAIL:  parameters: $1 = '1'",
        "2026-11-24 00:00:00.003 UTC [8] postgres@other LOG:  statement: SELECT 2",
        "2026-11-24 00:00:00.004 UTC [9] LOG:  checkpoint starting: time",
        "2026-11-24 00:00:00.005 UTC [7] postgres@bench_a ERROR:  boom",
        "2026-11-24 00:00:00.005 UTC [7] postgres@bench_a STATEMENT:  SELECT 3",
    ])
    messages = _messages(log, "bench_a")
    assert messages == ["BEGIN; SELECT 1;\nCREATE TABLE t (\n    a int);", "INSERT INTO t VALUES ($1)"]
    assert [statement_count(m) for m in messages] == [3, 1]
    assert len(_messages(log, None)) == 3


@pytest.mark.slow  # a whole benchmark run: seconds; CI runs it with -m slow
def test_benchmark_at_twenty_migrations_reports_every_figure(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert run.main(["--database-url", server_url, *SMALL_RUN, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    figures = {f["id"]: f for f in report["figures"]}
    assert set(figures) == FIGURES
    for figure in report["figures"]:
        assert figure["value"] is not None and figure["value"] > 0, figure
        assert figure["note"] is None or shutil.which("psql") is None, figure
        assert figure["met"] in (True, False, None)
        if figure["unit"] == "ms":
            assert figure["peak_mb"] > 0
    floor = shutil.which("psql") is not None
    for name in FLOOR:
        assert (figures[name]["ratio"] is not None and figures[name]["ratio"] > 0) is floor
    assert figures["apply_all"]["detail"]["psycopg_ratio"] > 0
    assert figures["version"]["baseline"] > 0 and figures["version"]["target"] == "<= +60 ms"
    assert figures["apply_statements"]["detail"]["statements"][1] > figures["apply_statements"]["detail"][
        "own_statements"][1]
    assert all(count > 0 for count in figures["status_statements"]["detail"]["round_trips"])
    printed = capsys.readouterr()
    assert "apply all, N=20" in printed.out and "revert: round trips/migration" in printed.out
    assert "server:" in printed.err


def test_benchmark_refuses_a_single_count_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--count-sizes", "100"]) == 1
    assert "--count-sizes needs two different sizes" in capsys.readouterr().err


def test_unreachable_server_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://bench:s3cret@127.0.0.1:1/postgres?connect_timeout=2"
    assert run.main(["--database-url", url, *SMALL_RUN]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "s3cret" not in err
    assert err.strip().splitlines() == [err.strip()]
