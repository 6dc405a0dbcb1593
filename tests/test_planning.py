"""Planning from literals, with no files and no database: states, forwards and backwards plans,
the selection of what to revert, drift and failed migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archon_plan.core.graph import MigrationGraph, build_graph
from archon_plan.core.model import AppliedRow, Direction, Migration, Plan, State
from archon_plan.core.planning import (
    backwards_plan,
    check_drift,
    check_failed,
    compare,
    forwards_plan,
    revert_last,
    revert_named,
    revert_to,
)
from archon_plan.core.resume import Failure
from archon_plan.core.sqlfile import SqlFile
from archon_plan.errors import DriftError, RefusedError, UsageError

AT = datetime(2026, 1, 1, tzinfo=UTC)


def migration(
    version: str, number: int, name: str, depends_on: tuple[str, ...] = (), rollback: bool = True
) -> Migration:
    stem = f"{number:03d}_{name}"
    undo = SqlFile(Path(f"rollbacks/{stem}.sql"), f"rollbacks/{stem}.sql", f"-- undo {stem}\n")
    return Migration(version, number, stem, SqlFile(Path(f"{stem}.sql"), f"{stem}.sql", f"-- {stem}\n"),
                     undo if rollback else None, depends_on)


A, B, C = migration("0.1.0", 1, "a"), migration("0.1.0", 2, "b"), migration("0.2.0", 1, "c")
GRAPH = MigrationGraph((A, B, C), {})


def row(m: Migration, checksum: str | None, name: str | None = None) -> AppliedRow:
    return AppliedRow(m.version, name or m.migration_name, AT, checksum)


def test_a_row_with_a_checksum_wins_over_archons_null_row_in_either_order() -> None:
    null_row, our_row = row(A, None, A.stem), row(A, A.checksum)
    for rows in ([null_row, our_row], [our_row, null_row]):
        first = compare(GRAPH, rows)[0]
        assert (first.state, first.row) == (State.APPLIED, our_row)


def test_states_in_plan_order_then_unknown_rows() -> None:
    stray = AppliedRow("0.0.1", "001_gone.sql", AT, "f" * 32)
    statuses = compare(GRAPH, [row(C, "0" * 32), stray, row(B, None)])
    assert [(s.label, s.state, s.out_of_order) for s in statuses] == [
        ("0.1.0/001_a", State.PENDING, True),  # sorts before applied ones
        ("0.1.0/002_b", State.APPLIED_UNKNOWN_CHECKSUM, False),
        ("0.2.0/001_c", State.MODIFIED, False),
        ("0.0.1/001_gone", State.UNKNOWN, False),
    ]
    assert statuses[-1].row == stray and statuses[-1].migration is None


def test_a_pending_migration_after_the_last_applied_one_is_in_order() -> None:
    statuses = compare(GRAPH, [row(A, A.checksum)])
    assert [(s.state, s.out_of_order) for s in statuses] == [
        (State.APPLIED, False), (State.PENDING, False), (State.PENDING, False)]


def test_a_failure_marks_its_migration_failed() -> None:
    failure = Failure(B.version, B.stem, Direction.APPLY, 1, ("x",), "boom")
    statuses = compare(GRAPH, [row(A, A.checksum)], [failure])
    assert (statuses[1].state, statuses[1].failure) == (State.FAILED, failure)
    assert [s.state for s in statuses] == [State.APPLIED, State.FAILED, State.PENDING]


# --- plans: users <- email, users <- posts; tags alone; notes has no rollback ---------------------

USERS = migration("0.1.0", 1, "users")
EMAIL = migration("0.1.0", 2, "email", ("001_users",))
POSTS = migration("0.1.0", 3, "posts", ("001_users",))
TAGS = migration("0.2.0", 1, "tags")
NOTES = migration("0.2.0", 2, "notes", ("0.1.0/003_posts",), rollback=False)
PLAN = build_graph((USERS, EMAIL, POSTS, TAGS, NOTES))


def applied(*migrations: Migration) -> list[AppliedRow]:
    return [row(m, m.checksum) for m in migrations]


def labels(plan: Plan) -> list[str]:
    return [step.migration.label for step in plan.steps]


def test_forwards_plan_takes_every_pending_migration_in_plan_order() -> None:
    plan = forwards_plan(PLAN, compare(PLAN, applied(USERS)))
    assert labels(plan) == ["0.1.0/002_email", "0.1.0/003_posts", "0.2.0/001_tags", "0.2.0/002_notes"]
    assert {step.direction for step in plan.steps} == {Direction.APPLY}


def test_forwards_plan_with_a_target_takes_it_and_only_what_it_depends_on() -> None:
    assert labels(forwards_plan(PLAN, compare(PLAN, []), NOTES)) == [
        "0.1.0/001_users", "0.1.0/003_posts", "0.2.0/002_notes"]
    assert labels(forwards_plan(PLAN, compare(PLAN, applied(USERS)), EMAIL)) == ["0.1.0/002_email"]


def test_forwards_plan_of_an_up_to_date_database_is_empty() -> None:
    assert not forwards_plan(PLAN, compare(PLAN, applied(USERS, EMAIL, POSTS, TAGS, NOTES)))


def test_a_pending_migration_that_sorts_before_applied_ones_is_planned_and_flagged_out_of_order() -> None:
    plan = forwards_plan(PLAN, compare(PLAN, applied(USERS, POSTS)))
    assert [(step.migration.label, step.out_of_order) for step in plan.steps] == [
        ("0.1.0/002_email", True), ("0.2.0/001_tags", False), ("0.2.0/002_notes", False)]


def test_revert_of_a_migration_with_applied_dependents_is_refused_without_cascade() -> None:
    statuses = compare(PLAN, applied(USERS, EMAIL, POSTS, TAGS))
    with pytest.raises(RefusedError, match=r"0\.1\.0/002_email, 0\.1\.0/003_posts") as refused:
        backwards_plan(PLAN, statuses, [USERS])
    assert refused.value.hint is not None and "--cascade" in refused.value.hint


def test_revert_with_cascade_takes_applied_dependents_first_in_reverse_plan_order() -> None:
    statuses = compare(PLAN, applied(USERS, EMAIL, POSTS, TAGS))
    plan = backwards_plan(PLAN, statuses, [USERS], cascade=True)
    assert labels(plan) == ["0.1.0/003_posts", "0.1.0/002_email", "0.1.0/001_users"]
    assert {step.direction for step in plan.steps} == {Direction.REVERT}
    assert [step.sql.display for step in plan.steps][-1] == "rollbacks/001_users.sql"


def test_dependents_that_are_not_applied_do_not_block_a_revert() -> None:
    plan = backwards_plan(PLAN, compare(PLAN, applied(USERS, TAGS)), [USERS])
    assert labels(plan) == ["0.1.0/001_users"]


def test_revert_of_a_migration_without_a_rollback_is_refused_even_through_cascade() -> None:
    statuses = compare(PLAN, applied(USERS, POSTS, NOTES))
    with pytest.raises(RefusedError, match=r"no rollback file for 0\.2\.0/002_notes"):
        backwards_plan(PLAN, statuses, [NOTES])
    with pytest.raises(RefusedError, match=r"no rollback file for 0\.2\.0/002_notes"):
        backwards_plan(PLAN, statuses, [USERS], cascade=True)


def test_revert_named_refuses_a_migration_that_is_not_applied() -> None:
    statuses = compare(PLAN, applied(USERS))
    assert revert_named(statuses, USERS) == [USERS]
    with pytest.raises(UsageError, match=r"0\.1\.0/002_email is not applied"):
        revert_named(statuses, EMAIL)


def test_revert_to_selects_what_is_applied_after_the_named_migration_and_keeps_it() -> None:
    statuses = compare(PLAN, applied(USERS, EMAIL, POSTS, TAGS))
    assert revert_to(PLAN, statuses, EMAIL) == [POSTS, TAGS]
    assert revert_to(PLAN, statuses, TAGS) == []


def test_revert_last_selects_the_last_applied_in_plan_order_and_at_most_all() -> None:
    statuses = compare(PLAN, applied(USERS, POSTS, TAGS))  # 002_email is pending between them
    assert revert_last(statuses, 2) == [POSTS, TAGS]
    assert revert_last(statuses, 9) == [USERS, POSTS, TAGS]
    with pytest.raises(UsageError, match="positive"):
        revert_last(statuses, 0)


def test_an_archon_row_without_a_checksum_counts_as_applied_for_a_revert() -> None:
    statuses = compare(PLAN, [row(USERS, None, USERS.stem)])
    assert labels(backwards_plan(PLAN, statuses, revert_last(statuses, 1))) == ["0.1.0/001_users"]


def test_drift_of_an_applied_file_is_refused_naming_the_file_and_both_checksums() -> None:
    check_drift(compare(PLAN, applied(USERS, EMAIL)))  # nothing changed: no error
    with pytest.raises(DriftError) as drift:
        check_drift(compare(PLAN, [*applied(USERS), row(EMAIL, "0" * 32)]))
    assert "1 applied migration(s) changed" in drift.value.message
    assert f"002_email.sql: recorded {'0' * 32}, file now {EMAIL.checksum}" in drift.value.message


def test_a_migration_that_stopped_part_way_blocks_every_run_until_repaired() -> None:
    check_failed(compare(PLAN, applied(USERS)))  # no failure: no error
    failure = Failure(EMAIL.version, EMAIL.stem, Direction.APPLY, 2, ("x", "y"), "boom")
    with pytest.raises(RefusedError, match=r"0\.1\.0/002_email: apply stopped after statement 2") as failed:
        check_failed(compare(PLAN, applied(USERS), [failure]))
    assert failed.value.hint is not None and "repair --retry" in failed.value.hint
