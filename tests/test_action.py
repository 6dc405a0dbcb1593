"""The composite GitHub Action (action.yml): a valid composite action whose scripts, run here
with bash and a stand-in archon-plan, do what its inputs say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archon_plan.cli import main

ROOT = Path(__file__).resolve().parents[1]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
# A stand-in that records its arguments and the database URL it was given, and exits $EXIT.
STAND_IN = """#!/usr/bin/env bash
printf '%s\\n' "$@" >>"$CALLS"
echo "url=${ARCHON_DATABASE_URL-<unset>}" >>"$CALLS"
[ "$1" = --version ] || [ "${OUTPUT-}" = "" ] || echo "$OUTPUT"
exit "${EXIT:-0}"
"""


def expressions(value: object) -> list[str]:
    """Every ${{ }} expression anywhere in value."""
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions(v)]
    return re.findall(r"\$\{\{.*?\}\}", value) if isinstance(value, str) else []


def test_action_yml_is_a_composite_action() -> None:
    assert {"name", "description", "inputs", "runs"} <= ACTION.keys()
    assert ACTION["runs"]["using"] == "composite"
    for step in STEPS:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step["shell"] == "bash"  # a composite action's run step must name its shell
    assert STEPS[0]["uses"].startswith("actions/setup-python@")
    assert ACTION["inputs"]["python-version"]["default"] == "3.11"
    assert ACTION["inputs"]["command"]["required"] is True


def test_every_input_used_is_declared_and_every_input_declared_is_used() -> None:
    used = {m for e in expressions(ACTION) for m in INPUT.findall(e)}
    assert used == set(ACTION["inputs"])
    ids = {step.get("id") for step in STEPS}
    for output in ACTION["outputs"].values():
        assert re.fullmatch(r"\$\{\{ steps\.([a-z]+)\.outputs\.[a-z]+ \}\}", output["value"])
        assert output["value"].split(".")[1] in ids


def test_inputs_reach_the_scripts_only_through_the_environment() -> None:
    """An input interpolated into a script would run as shell code; the URL would show in ps."""
    for step in STEPS:
        assert "${{" not in step.get("run", "")
    urls = [(step.get("name"), key) for step in STEPS for key, value in step.get("env", {}).items()
            if "inputs.database-url" in value]
    assert urls == [("archon-plan ${{ inputs.command }}", "ARCHON_DATABASE_URL")]


def run_step(step: dict[str, Any], inputs: dict[str, str], tmp_path: Path, **env: str
             ) -> tuple[int, list[str]]:
    """The step's script with bash, as the runner would give it those inputs; the calls made."""
    values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | inputs
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in ("archon-plan", "python"):
        (bin_dir / program).write_text(STAND_IN, encoding="utf-8")
        (bin_dir / program).chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("", encoding="utf-8")
    step_env = {key: INPUT.sub(lambda m: values[m.group(1)], value) for key, value in step["env"].items()}
    done = subprocess.run(
        [shutil.which("bash") or "bash", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "RUNNER_TEMP": str(tmp_path),
             "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
             "GITHUB_ACTION_PATH": "/runner/_actions/owner/archon-plan/v1", **step_env, **env}, timeout=30)
    return done.returncode, calls.read_text(encoding="utf-8").splitlines()


def step_named(name: str) -> dict[str, Any]:
    (found,) = [step for step in STEPS if step.get("name", "").startswith(name)]
    return found


INSTALL, RUN = step_named("Install"), step_named("archon-plan ")


@pytest.mark.parametrize(("inputs", "argv"), [
    ({"command": "check"}, ["check", "--format", "github"]),
    ({"command": "check", "strict": "true"}, ["check", "--format", "github", "--strict"]),
    ({"command": "status"}, ["status", "--check"]),
    ({"command": "apply", "manifest": "db/migrations.toml"}, ["--manifest", "db/migrations.toml", "apply"]),
])
def test_each_command_runs_archon_plan_so(inputs: dict[str, str], argv: list[str], tmp_path: Path) -> None:
    code, calls = run_step(RUN, inputs, tmp_path)
    assert (code, calls) == (0, [*argv, "url=<unset>"])


def test_the_database_url_is_given_in_the_environment_and_a_failure_fails_the_step(tmp_path: Path) -> None:
    secret = "postgresql://deploy:s3cret@db.example:5432/app"
    code, calls = run_step(RUN, {"command": "status", "database-url": secret}, tmp_path, EXIT="8")
    assert (code, calls) == (8, ["status", "--check", f"url={secret}"])  # never an argument


def test_diff_writes_the_report_to_the_summary_and_an_output_then_fails_as_diff_did(tmp_path: Path) -> None:
    code, calls = run_step(RUN, {"command": "diff", "base": "origin/main"}, tmp_path,
                           EXIT="4", OUTPUT="| removed | 0.1.0/001_t |")
    assert (code, calls) == (4, ["diff", "origin/main", "--format", "markdown", "url=<unset>"])
    report = tmp_path / "archon-plan-diff.md"
    assert report.read_text(encoding="utf-8") == "| removed | 0.1.0/001_t |\n"
    assert (tmp_path / "summary").read_text(encoding="utf-8") == "| removed | 0.1.0/001_t |\n"
    assert (tmp_path / "output").read_text(encoding="utf-8") == f"report={report}\n"


@pytest.mark.parametrize("inputs", [{"command": "diff"}, {"command": "revert"},
                                    {"command": "check; rm -rf /"}])
def test_a_diff_without_base_or_an_unknown_command_is_a_usage_error(
    inputs: dict[str, str], tmp_path: Path
) -> None:
    assert run_step(RUN, inputs, tmp_path) == (2, [])


@pytest.mark.parametrize(("inputs", "requirement"), [
    ({}, "/runner/_actions/owner/archon-plan/v1"),
    ({"extras": "embedded"}, "/runner/_actions/owner/archon-plan/v1[embedded]"),
    ({"repository": "https://github.com/example/archon-plan", "ref": "v0.1.0", "extras": "embedded,serve"},
     "archon-plan[embedded,serve] @ git+https://github.com/example/archon-plan@v0.1.0"),
])
def test_archon_plan_is_installed_from_the_action_or_from_the_repository_given(
    inputs: dict[str, str], requirement: str, tmp_path: Path
) -> None:
    code, calls = run_step(INSTALL, inputs, tmp_path)
    pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement, "url=<unset>"]
    assert (code, calls) == (0, [*pip, "--version", "url=<unset>"])


@pytest.mark.parametrize("argv", [["check", "--format", "github", "--strict"],
                                  ["diff", "HEAD", "--format", "markdown"]])
def test_the_command_lines_the_action_builds_are_archon_plans(argv: list[str]) -> None:
    """The stand-in above proves the action's half; the CLI takes them (the example project)."""
    assert main(["--manifest", str(ROOT / "migrations.toml"), *argv]) == 0


def test_the_workflows_of_docs_review_md_give_the_action_inputs_it_has() -> None:
    text = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    steps = [step for block in re.findall(r"```yaml\n(.*?)```", text, re.S)
             for step in _steps(yaml.safe_load(block)) if "archon-plan@" in step.get("uses", "")]
    assert len(steps) == 3
    required = {name for name, spec in ACTION["inputs"].items() if spec.get("required")}
    for step in steps:
        assert required <= step["with"].keys() <= ACTION["inputs"].keys(), step


def _steps(document: object) -> list[dict[str, Any]]:
    """The steps of a workflow, or the list of steps a snippet is."""
    if isinstance(document, dict):
        return [step for job in document.get("jobs", {}).values() for step in job["steps"]]
    return [step for step in document if isinstance(step, dict)] if isinstance(document, list) else []
