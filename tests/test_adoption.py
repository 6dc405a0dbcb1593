"""The pure part of adopting another tool's project: versions, names, and history mapping."""

from __future__ import annotations

import pytest

from archon_plan.core.adoption import (
    ForeignMigration,
    HistoryRow,
    Tool,
    Versions,
    applied_originals,
    flyway_version,
    place,
    slug,
)
from archon_plan.errors import RefusedError, UsageError


def foreign(original: str, stamp: str = "", title: str = "x") -> ForeignMigration:
    return ForeignMigration(original, title, original, "SELECT 1;\n", stamp=stamp)


@pytest.mark.parametrize(("title", "expected"), [
    ("Create users", "create_users"), ("addUserEmail", "add_user_email"), ("Ünïcode—naïve", "unicode_naive"),
    ("---", "migration"), ("日本", "migration"), ("x" * 200, "x" * 80),
])
def test_slug_is_always_a_snake_case_name(title: str, expected: str) -> None:
    assert slug(title) == expected


def test_names_stay_unique_within_a_version_and_numbers_restart_per_year() -> None:
    placed, notice = place([foreign("a", "20221231000000"), foreign("b", "20230101000000"),
                            foreign("c", "20230102000000")], Versions.YEAR)
    assert notice is None
    assert [p.label for p in placed] == ["2022.0.0/001_x", "2023.0.0/001_x", "2023.0.0/002_x_2"]


def test_an_undated_first_migration_joins_the_first_year() -> None:
    placed, _ = place([foreign("00000000000000_diesel_initial_setup", "00000000000000"),
                       foreign("b", "20230101000000")], Versions.YEAR)
    assert [p.version for p in placed] == ["2023.0.0", "2023.0.0"]


def test_one_version_refuses_more_than_999_migrations() -> None:
    with pytest.raises(UsageError, match="more than 999"):
        place([foreign(str(n)) for n in range(1000)], Versions.ONE)


def test_flyway_versions_compare_as_numbers() -> None:
    ordered = sorted(["1.10", "1.9", "1.2.1", "2", "1_11"], key=flyway_version)
    assert ordered == ["1.2.1", "1.9", "1.10", "1_11", "2"]
    assert flyway_version("1.0") == flyway_version("1")


def test_golang_migrate_history_applies_everything_up_to_its_version() -> None:
    names = ["9_a.up.sql", "10_b.up.sql", "11_c.up.sql"]
    assert applied_originals(Tool.GOLANG_MIGRATE, "t", [HistoryRow("10")], names) == names[:2]
    with pytest.raises(RefusedError, match="dirty"):
        applied_originals(Tool.GOLANG_MIGRATE, "t", [HistoryRow("10", success=False)], names)


def test_flyway_history_follows_baseline_undo_and_scripts() -> None:
    names = ["V1__a.sql", "V2__b.sql", "V3__c.sql"]
    rows = [HistoryRow("2", kind="BASELINE", script="<< Flyway Baseline >>"),
            HistoryRow("3", kind="SQL", script="V3__c.sql"),
            HistoryRow("3", kind="UNDO_SQL", script="U3__c.sql")]
    assert applied_originals(Tool.FLYWAY, "t", rows, names) == names[:2]
