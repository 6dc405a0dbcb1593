"""Places in SQL files as Location values, and run-breaking problems that name their rule; pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_plan.core.model import Migration
from archon_plan.core.sqlfile import SqlFile
from archon_plan.errors import Location, Problem
from archon_plan.review import lint_report
from archon_plan.sql import parse
from archon_plan.sql.lint import Finding, LintResult, Severity, lint_migrations
from archon_plan.sql.rules import BY_CODE


def sql_file(name: str, text: str) -> SqlFile:
    return SqlFile(Path(name), name, text)


def migration(sql: str, rollback: str | None = None) -> Migration:
    return Migration("0.1.0", 1, "001_x", sql_file("m/001_x.sql", sql),
                     rollback=None if rollback is None else sql_file("m/rollbacks/001_x.sql", rollback))


def test_findings_carry_the_file_line_and_column_as_a_location() -> None:
    found = lint_migrations([migration("SELECT 1;\n  DROP TABLE users;\n")])
    assert [(f.code, f.location) for f in found] == [
        ("AP101", Location("m/001_x.sql", 2, 3)), ("AP401", Location("m/001_x.sql")),
    ]
    assert [f.where for f in found] == ["m/001_x.sql:2:3", "m/001_x.sql"]


def test_a_run_breaking_finding_keeps_the_location_parse_gave_it() -> None:
    (finding,) = lint_migrations([migration("SELECT 1;\nselec 2;\n", rollback="SELECT 1;\n")])
    (problem,) = parse.problems(sql_file("m/001_x.sql", "SELECT 1;\nselec 2;\n"), "sql")
    assert finding.code == "AP501" and finding.location == problem.location == Location("m/001_x.sql", 2, 1)


def test_a_github_annotation_reads_line_and_column_from_the_location() -> None:
    # A file name that looks like `file:line:column` is still only a file: nothing parses it back.
    findings = (
        Finding("AP101", Severity.WARNING, "0.1.0/001_x", Location("m/001_x.sql", 3, 4), "m", "h"),
        Finding("AP401", Severity.WARNING, "0.1.0/001_x", Location("m/odd:7:8.sql"), "m", "h"),
    )
    lines = lint_report.github(LintResult(findings, ()), "migrations.toml", 1).splitlines()
    assert lines[0].startswith("::warning file=m/001_x.sql,line=3,col=4,title=AP101 drop-table::")
    assert lines[1].startswith("::warning file=m/odd%3A7%3A8.sql,title=AP401 missing-rollback::")
    document = lint_report.finding_dict(findings[1])
    assert (document["file"], document["line"], document["column"]) == ("m/odd:7:8.sql", None, None)


@pytest.mark.parametrize(("sql", "transactional", "code"), [
    ("CREATE TABL users (id int);", True, "AP501"),
    ("SELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (a);", True, "AP502"),
    ("SELECT 1;\nROLLBACK;", True, "AP503"),
    ("BEGIN;\nVACUUM t;", False, "AP504"),
    ("-- nothing yet\n", True, "AP505"),
    ("COPY t FROM STDIN;", True, "AP500"),
])
def test_each_run_breaking_problem_carries_its_rule_code_and_location(
    sql: str, transactional: bool, code: str
) -> None:
    (problem, *_) = parse.problems(sql_file("m.sql", sql), "m", transactional)
    assert problem.code == code and code in BY_CODE
    assert problem.location is not None and problem.location.file == "m.sql"
    assert problem.where == str(problem.location)


def test_a_problem_at_a_location_prints_as_before() -> None:
    problem = Problem.at(Location("m.sql", 2, 5), "m: broken", "fix it", "AP501")
    assert str(problem) == "m.sql:2:5: m: broken\n  HINT: fix it"
    assert problem == Problem("m.sql:2:5", "m: broken", "fix it", "AP501", Location("m.sql", 2, 5))


def test_a_problem_whose_text_disagrees_with_its_location_is_refused() -> None:
    with pytest.raises(ValueError, match="is not the location"):
        Problem("m.sql:1:1", "m: broken", location=Location("m.sql", 2, 5))
