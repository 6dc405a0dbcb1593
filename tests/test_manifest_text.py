"""Versions follow one grammar, and descriptions carry no control or bidirectional characters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from archon_plan.cli import main
from archon_plan.errors import ExitCode
from tests.helpers import write_project


def check(tmp_path: Path, version: str, description: str = "plain") -> int:
    entry = {"version": version, "file": "m/001_a.sql", "description": description}
    text = tomli_w.dumps({"migration": [entry]})  # escapes what TOML needs escaped
    manifest = write_project(tmp_path, {"m/001_a.sql": "CREATE TABLE a (id int);\n"}, text)
    return main(["--manifest", str(manifest), "check"])


@pytest.mark.parametrize("version", ["0.1.0 ", " 0.1.0", "1.0\u00a0", "0.1.0\t", "0\u0661.1", "0.1.0\u200b"])
def test_a_version_with_space_control_or_non_ascii_characters_is_refused(
    tmp_path: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(tmp_path, version) == ExitCode.INVALID
    assert "outside ASCII letters, digits" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["evil \u202e txt", "bell \x07", "esc \x1b[31m red", "c1 \x9b"])
def test_a_description_with_control_or_bidirectional_characters_is_refused(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(tmp_path, "0.1.0", text) == ExitCode.INVALID
    assert "bidirectional override" in capsys.readouterr().err


def test_plain_descriptions_with_line_breaks_and_release_suffixes_stay_valid(tmp_path: Path) -> None:
    code = check(tmp_path, "1.0.0rc1", "two lines\nand a tab\t, é and 日本")
    assert code in (ExitCode.OK, ExitCode.LINT_WARNINGS)


@pytest.mark.parametrize("form", ["json", "github"])
def test_check_for_machines_prints_a_document_with_the_problems_of_a_manifest_that_does_not_load(
    tmp_path: Path, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"version": "0.1.0 ", "file": "m/001_a.sql"}
    manifest = write_project(tmp_path, {"m/001_a.sql": "SELECT 1;\n"}, tomli_w.dumps({"migration": [entry]}))
    assert main(["--manifest", str(manifest), "check", "--format", form]) == ExitCode.INVALID
    out = capsys.readouterr().out
    if form == "json":
        document = json.loads(out)
        assert document["problems"][0]["message"].startswith("version '0.1.0 '")
        assert document["schema_version"] == 1 and document["findings"] == []
    else:
        assert out.startswith("::error file=") and "stop the manifest from loading" in out


def test_rehearse_for_machines_prints_a_document_with_the_error_when_it_cannot_run(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"version": "0.1.0", "file": "m/001_a.sql", "rollback": "m/rollbacks/001_a.sql"}
    files = {"m/001_a.sql": "CREATE TABLE a (id int);\nSELECT 1/0;\n",
             "m/rollbacks/001_a.sql": "DROP TABLE a;\n"}
    manifest = write_project(tmp_path, files, tomli_w.dumps({"migration": [entry]}))
    code = main(["--manifest", str(manifest), "rehearse", "--format", "json", "--database-url", database_url])
    document = json.loads(capsys.readouterr().out)
    assert code == ExitCode.MIGRATION_FAILED and document["ok"] is False
    assert document["error"]["exit_code"] == code and "22012" in document["error"]["message"]
    (tmp_path / "m/001_a.sql").write_text("")  # a manifest that does not load
    assert main(["--manifest", str(manifest), "rehearse", "--format", "json"]) == ExitCode.INVALID
    assert json.loads(capsys.readouterr().out)["error"]["exit_code"] == ExitCode.INVALID
