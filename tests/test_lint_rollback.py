"""AP403 (rollback-incomplete): the replay of a migration and its rollback, judged against the
generated cases of bench/rollback_cases.py, whose verdicts rehearse confirms on a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.sql.undo import not_undone
from bench.rollback_agreement import generated_project
from bench.rollback_cases import CASES, UNSEEN, Case


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in UNSEEN], ids=lambda c: c.name)
def test_ap403_flags_exactly_the_rollbacks_that_do_not_restore_the_schema(case: Case) -> None:
    assert (not_undone(case.forward, case.rollback) == []) is case.restores


@pytest.mark.parametrize("case", [c for c in CASES if c.name in UNSEEN], ids=lambda c: c.name)
def test_what_ap403_cannot_see_stays_documented(case: Case) -> None:
    assert (not_undone(case.forward, case.rollback) == []) is not case.restores


@pytest.mark.parametrize(("forward", "rollback", "left"), [
    ("ALTER TABLE t RENAME TO u;\nALTER TABLE u RENAME COLUMN a TO b;", "SELECT 1;",
     ["the renaming of table t to u", "the renaming of column u.a to b"]),
    ("DROP INDEX s.i;\nALTER TABLE t DROP COLUMN c;", "SELECT 1;",
     ["the dropped index s.i", "the dropped column t.c"]),
    ("ALTER TABLE t ALTER COLUMN a TYPE bigint, ALTER COLUMN a SET NOT NULL;\nGRANT SELECT ON t TO app;",
     "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;",
     ["the changed type of column t.a", "the changed grants of table t"]),
    ("CREATE TABLE n (id int PRIMARY KEY);\nCREATE INDEX n_id ON n (id);\nALTER TABLE n ADD COLUMN c int;",
     "SELECT 1;", ["table n"]),  # the parts of a new table go with it
    ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", "SELECT 1;", ["function f"]),
])
def test_the_message_names_what_is_left_and_how(forward: str, rollback: str, left: list[str]) -> None:
    assert not_undone(forward, rollback) == left


def test_archon_plan_own_tables_are_not_asked_to_be_dropped() -> None:
    forward = ("CREATE TABLE IF NOT EXISTS archon_migrations (id int);\n"
               "CREATE INDEX archon_migrations_id ON archon_migrations (id);\n"
               "ALTER TABLE archon_migrations ENABLE ROW LEVEL SECURITY;\nCREATE TABLE other (id int);")
    own = [("public", "archon_migrations"), ("public", "archon_migrations_events")]
    assert not_undone(forward, "SELECT 1;", own) == ["table other"]


def test_a_rollback_that_does_not_parse_is_left_to_ap402() -> None:
    assert not_undone("CREATE TABLE n (id int);", "DROP TABL n;") == []


@pytest.mark.slow
def test_rehearse_confirms_every_generated_case(tmp_path: Path, server_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    manifest = generated_project(tmp_path)
    main(["--manifest", str(manifest), "rehearse", "--database-url", server_url, "--format", "json"])
    rehearsed = json.loads(capsys.readouterr().out)["migrations"]
    outcomes = {m["name"].split("_", 1)[1]: m["outcome"] for m in rehearsed
                if m["outcome"] in ("restored", "differs")}
    assert outcomes == {case.name: "restored" if case.restores else "differs" for case in CASES}
