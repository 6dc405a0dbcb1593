"""The fleet benchmark keeps working: its floor files, its refusals, and a whole small run."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from bench import fleet
from bench.fleet_setup import (
    SCHEMAS_QUERY,
    TENANTS_VARIABLE,
    floor_statements,
    tenant_names,
    write_fleet_files,
    write_floor_files,
)
from bench.generate import write_project
from bench.statements import statement_count

SMALL_RUN = ["--tenants", "3,6", "--databases", "2", "--repeat", "1", "--peer-repeat", "0"]
FIGURES = {
    "fleet_apply_parallel_1", "fleet_apply_parallel_4", "fleet_status", "django_tenants_1",
    "django_tenants_4", "fleet_apply_3", "fleet_status_3", "apply4_growth_time", "apply4_growth_memory",
    "status_growth_time", "status_growth_memory", "fleet_databases", "fleet_status_statements",
    "fleet_status_round_trips", "fleet_apply_statements", "fleet_apply_round_trips",
}


def test_floor_files_do_each_tenants_work_in_its_own_schema(tmp_path: Path) -> None:
    project = write_project(tmp_path, 10)
    floor_apply, floor_status = write_floor_files(project, 3)
    text = floor_apply.read_text()
    for schema in tenant_names(3):
        assert f'CREATE TABLE IF NOT EXISTS "{schema}".archon_migrations (' in text
        assert f'CREATE TABLE IF NOT EXISTS "{schema}".archon_migrations_events (' in text
        assert text.count(f'SET LOCAL search_path TO "{schema}", public;') == 10
        assert text.count(f'INSERT INTO "{schema}".archon_migrations ') == 10
    assert "public.archon_migrations" not in text
    per_tenant = floor_statements(project) + project.own_statements
    assert statement_count(text) == 3 * per_tenant
    assert statement_count(floor_status.read_text()) == 1 + 3


def test_fleet_files_name_one_variable_per_database(tmp_path: Path) -> None:
    tenants, databases = write_fleet_files(write_project(tmp_path, 10), 3)
    assert tomllib.loads(tenants.read_text())["target"] == [
        {"name": "app", "url_env": TENANTS_VARIABLE, "schemas": SCHEMAS_QUERY}]
    assert [t["url_env"] for t in tomllib.loads(databases.read_text())["target"]] == [
        f"ARCHON_BENCH_DB{i:02d}_URL" for i in (1, 2, 3)]


def test_fleet_benchmark_refuses_a_single_tenant_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.main(["--tenants", "100"]) == 1
    assert "--tenants needs two sizes or more" in capsys.readouterr().err


@pytest.mark.slow  # a whole fleet benchmark run: seconds; CI runs it with -m slow
def test_fleet_benchmark_at_six_tenants_reports_every_figure(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fleet.json"
    assert fleet.main(["--database-url", server_url, *SMALL_RUN, "--json", str(out)]) == 0
    figures = {f["id"]: f for f in json.loads(out.read_text())["figures"]}
    assert set(figures) == FIGURES
    floor = shutil.which("psql") is not None
    for id_ in ("fleet_apply_parallel_1", "fleet_apply_parallel_4", "fleet_status"):
        assert figures[id_]["value"] > 0 and figures[id_]["peak_mb"] > 0
        assert (figures[id_]["ratio"] is not None) is floor
    peer = figures["django_tenants_1"]
    assert peer["value"] is None and "--peer-repeat 0" in peer["note"]
    assert figures["fleet_databases"]["ratio"] > 0
    counted = figures["fleet_status_statements"]
    assert counted["note"] is not None or (counted["detail"]["sizes"] == [3, 6] and counted["value"] > 0)
    printed = capsys.readouterr()
    assert "fleet apply --parallel 4, 6 tenants x 10" in printed.out and "server:" in printed.err
