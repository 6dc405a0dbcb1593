"""Comparing the graph with tracking rows (planning.compare), from literals: no files, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archon_plan.core.graph import MigrationGraph
from archon_plan.core.model import AppliedRow, Direction, Migration, SqlFile, State
from archon_plan.core.planning import compare
from archon_plan.core.resume import Failure

AT = datetime(2026, 1, 1, tzinfo=UTC)


def migration(version: str, number: int, name: str) -> Migration:
    stem = f"{number:03d}_{name}"
    return Migration(version, number, stem, SqlFile(Path(f"{stem}.sql"), f"{stem}.sql", f"-- {stem}\n"))


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
