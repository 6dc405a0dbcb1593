"""The benchmark keeps working: its generator, its log reading, and a whole run at N = 20."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import run
from bench.generate import Project, plan_migrations, write_project
from bench.measure import Sample, Series
from bench.queries import _per_migration
from bench.statements import Counts, _messages, statement_count
from bench.suite import TARGET_N, lifecycle_figures

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
FLOOR = {"apply_all", "revert_all"}
# compared with the psycopg floor (Python, psycopg, one read of the rows), psql's read in detail
PSYCOPG_FLOOR = {"noop_apply", "status", "noop_apply_cold", "status_cold"}
LIFECYCLE = FLOOR | PSYCOPG_FLOOR


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
    for name in PSYCOPG_FLOOR:
        figure = figures[name]
        assert figure["baseline_name"] == "psycopg floor" and figure["baseline"] > 0, figure
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"], rel=0.01)
        assert figure["detail"]["baseline_peak_mb"] > 0
        assert ("psql_read_ms" in figure["detail"]) is floor
        assert figure["target"] is None  # judged at N = 1,000 only
    assert figures["apply_all"]["detail"]["psycopg_ratio"] > 0
    for name in ("apply_statements", "revert_statements"):  # reported, no longer judged
        assert figures[name]["target"] is None and figures[name]["met"] is None
    for name in ("apply_round_trips", "revert_round_trips"):
        figure = figures[name]
        assert figure["target"] == "<= 1" and figure["met"] is (figure["value"] <= 1 + 1e-6), figure
    assert figures["version"]["baseline"] > 0 and figures["version"]["target"] == "<= +60 ms"
    assert figures["apply_statements"]["detail"]["statements"][1] > figures["apply_statements"]["detail"][
        "own_statements"][1]
    assert all(count > 0 for count in figures["status_statements"]["detail"]["round_trips"])
    printed = capsys.readouterr()
    assert "apply all, N=20" in printed.out and "revert: round trips/migration" in printed.out
    assert "server:" in printed.err


@pytest.mark.slow  # the lifecycle alone at N = 20: a few seconds
def test_only_lifecycle_measures_just_its_figures(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    argv = ["--database-url", server_url, *SMALL_RUN, "--only", "lifecycle", "--json", str(out)]
    assert run.main(argv) == 0
    report = json.loads(out.read_text())
    assert {f["id"] for f in report["figures"]} == LIFECYCLE
    assert report["settings"]["only"] == ["lifecycle"]
    assert "figure groups: lifecycle only" in capsys.readouterr().out


def test_only_keeps_the_measuring_order_and_works_with_quick() -> None:
    args = run.build_parser().parse_args(["--quick", "--only", "statements, startup"])
    settings = run.settings_from(args)
    assert settings.only == ("startup", "statements") and settings.sizes == [100]
    assert run.settings_from(run.build_parser().parse_args([])).only == run.GROUPS


def test_only_refuses_an_unknown_group_and_names_the_close_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run.main(["--only", "lifecyle,planning"])
    assert exit_.value.code == 2
    assert "'lifecyle' is not a figure group (did you mean lifecycle?)" in capsys.readouterr().err


def _series(ms: float) -> Series:
    return Series((Sample(ms / 1000, 10_240),))


Judged = dict[str, dict[str, object]]


def _lifecycle(n: int, apply: float = 100, loop: float = 100, psql: bool = True) -> Judged:
    """lifecycle_figures from literal medians (ms): psql's apply and revert take 80, reads 20."""
    ms = {"apply": apply, "loop_apply": loop, "revert": 100, "loop_revert": 100, "noop": 115,
          "status": 116, "noop_cold": 300, "status_cold": 300, "psycopg_read": 100,
          **({"psql_apply": 80, "psql_revert": 80, "psql_read": 20} if psql else {})}
    figures = lifecycle_figures(n, {key: _series(value) for key, value in ms.items()})
    return {f.id: {"target": f.target, "met": f.met, "ratio": f.ratio, "note": f.note, **f.detail}
            for f in figures}


def test_lifecycle_targets_at_a_thousand_are_the_restated_ones() -> None:
    figures = _lifecycle(TARGET_N)
    assert figures["apply_all"]["target"] == "<= 1.0x psycopg loop, <= 1.25x floor"
    assert figures["apply_all"]["met"] is True  # 1.00x the loop, 1.25x the floor: both on the line
    assert figures["revert_all"]["target"] == "<= 1.30x floor" and figures["revert_all"]["met"] is True
    assert figures["noop_apply"] == {**figures["noop_apply"], "target": "<= 1.15x psycopg floor",
                                     "met": True, "ratio": 1.15, "psql_read_ratio": 5.75}
    assert figures["status"]["met"] is False  # 1.16x
    for cold in ("noop_apply_cold", "status_cold"):  # reported, not judged
        assert figures[cold]["target"] is None and figures[cold]["met"] is None


def test_apply_misses_when_slower_than_the_loop_or_the_floor() -> None:
    assert _lifecycle(TARGET_N, apply=101)["apply_all"]["met"] is False  # 1.01x the loop
    assert _lifecycle(TARGET_N, apply=110, loop=120)["apply_all"]["met"] is False  # 1.375x the floor
    assert _lifecycle(TARGET_N, apply=99)["apply_all"]["met"] is True


def test_without_psql_only_apply_and_revert_lose_their_ratio() -> None:
    figures = _lifecycle(TARGET_N, psql=False)
    assert figures["apply_all"]["ratio"] is None and figures["apply_all"]["met"] is None
    assert figures["apply_all"]["note"] and figures["noop_apply"]["note"] is None
    assert figures["noop_apply"]["met"] is True and "psql_read_ms" not in figures["noop_apply"]


def test_lifecycle_below_a_thousand_is_not_judged() -> None:
    assert all(f["target"] is None and f["met"] is None for f in _lifecycle(100).values())


def _round_trips(per_migration: int, fixed: int = 6) -> dict[str, object]:
    """apply's round trips/migration fitted from counts at 10 and 20 migrations."""
    def at(n: int) -> tuple[Project, dict[str, Counts]]:
        project = Project(Path("p"), Path("p/migrations.toml"), tuple(plan_migrations(n)))
        return project, {"apply": Counts(per_migration * n + fixed, 3 * n + fixed)}

    statements, trips = _per_migration("apply", (at(10), at(20)))
    assert statements.target is None and statements.met is None  # reported, not judged
    return {"value": trips.value, "target": trips.target, "met": trips.met}


def test_one_round_trip_per_migration_is_the_target() -> None:
    assert _round_trips(1) == {"value": 1.0, "target": "<= 1", "met": True}
    assert _round_trips(2)["met"] is False


def test_benchmark_refuses_a_single_count_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--count-sizes", "100"]) == 1
    assert "--count-sizes needs two different sizes" in capsys.readouterr().err


def test_unreachable_server_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://bench:s3cret@127.0.0.1:1/postgres?connect_timeout=2"
    assert run.main(["--database-url", url, *SMALL_RUN]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "s3cret" not in err
    assert err.strip().splitlines() == [err.strip()]


def test_the_baselines_tables_are_the_tracker_s_own(database_url: str, other_database_url: str) -> None:
    """The floors write the tables archon-plan writes (bench/loop.py, bench/fleet_setup.py keep
    plain-SQL copies of tracker.ensure_table's DDL, as a floor must): the copies must not drift."""
    import psycopg

    from archon_plan.core.model import Settings
    from archon_plan.db import tracker
    from bench.fleet_setup import EVENTS_DDL
    from bench.loop import TRACKING_DDL

    columns = ("SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
               "column_default, is_identity FROM information_schema.columns WHERE table_schema = 'public' "
               "AND table_name LIKE 'archon_migrations%' ORDER BY 1, ordinal_position")
    indexes = "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
    found = []
    for url, build in ((database_url, "ours"), (other_database_url, "copies")):
        with psycopg.connect(url, autocommit=True) as conn:
            if build == "ours":
                tracker.ensure_table(conn, Settings())
            else:
                conn.execute(TRACKING_DDL + EVENTS_DDL)
            found.append((conn.execute(columns).fetchall(), conn.execute(indexes).fetchall()))
    assert found[0] == found[1]
