"""Edits of the history by hand keep it consistent, and small defects found by the input sweep."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.helpers import entry, tracking_rows, write_project
from tests.test_reliability import concurrent_index_project, events, run

Conn = psycopg.Connection[tuple[object, ...]]


def chain(tmp_path: Path) -> Path:
    """001 <- 002 (depends on it), and 003 on its own."""
    files = {f"migrations/0.1.0/{s}.sql": f"CREATE TABLE {s[4:]} (id int);\n"
             for s in ("001_users", "002_posts", "003_tags")}
    files |= {f"migrations/0.1.0/rollbacks/{s}.sql": f"DROP TABLE {s[4:]};\n"
              for s in ("001_users", "002_posts", "003_tags")}
    return write_project(tmp_path, files, entry("0.1.0", "001_users")
                         + entry("0.1.0", "002_posts", ("001_users",)) + entry("0.1.0", "003_tags"))


def test_mark_reverted_refuses_applied_dependents_unless_cascade(tmp_path: Path, database_url: str,
                                                                  db: Conn) -> None:
    chain(tmp_path)
    assert run(tmp_path, database_url, "apply").returncode == 0
    refused = run(tmp_path, database_url, "repair", "--mark-reverted", "001_users", "--yes")
    assert refused.returncode == 5 and "0.1.0/002_posts depend(s) on 0.1.0/001_users" in refused.stderr
    assert len(tracking_rows(db)) == 3
    done = run(tmp_path, database_url, "repair", "--mark-reverted", "001_users", "--yes", "--cascade")
    assert done.returncode == 0, done.stderr
    assert [n for _, n in tracking_rows(db)] == ["003_tags.sql"]
    assert events(db)[-2:] == [("mark-reverted", "002_posts.sql"), ("mark-reverted", "001_users.sql")]


def test_mark_applied_refuses_a_migration_whose_dependencies_are_not_applied(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    chain(tmp_path)
    refused = run(tmp_path, database_url, "repair", "--mark-applied", "002_posts", "--yes")
    assert refused.returncode == 5 and "depends on 0.1.0/001_users, not applied" in refused.stderr
    assert tracking_rows(db) == []


@pytest.mark.parametrize("argv", [["history", "--limit", "0"], ["revert", "--last", "0"]])
def test_a_count_of_zero_is_one_usage_error_everywhere(tmp_path: Path, database_url: str,
                                                       argv: list[str]) -> None:
    chain(tmp_path)
    result = run(tmp_path, database_url, *argv)
    assert result.returncode == 2 and "must be greater than 0" in result.stderr


def test_apply_of_an_applied_target_says_so_and_counts_the_others_pending(
    tmp_path: Path, database_url: str
) -> None:
    chain(tmp_path)
    assert run(tmp_path, database_url, "apply", "--target", "001_users").returncode == 0
    again = run(tmp_path, database_url, "apply", "--target", "001_users")
    assert again.returncode == 0
    assert "0.1.0/001_users and what it depends on are applied; 2 other migration(s) pending" in again.stdout


def test_retry_refuses_cleanly_when_the_failed_statement_left_the_file(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    concurrent_index_project(tmp_path)
    assert run(tmp_path, database_url, "apply").returncode == 3  # statement 2 of 3 fails
    path = tmp_path / "migrations/0.1.0/002_indexes.sql"
    path.write_text(path.read_text().split("\n")[0] + "\n")  # only statement 1 is left
    refused = run(tmp_path, database_url, "repair", "--retry", "002_indexes")
    assert refused.returncode == 5, refused.stderr
    assert "statement 2 of 0.1.0/002_indexes, where it stopped, is no longer in its file" in refused.stderr
    assert [n for _, n in tracking_rows(db)] == ["001_items.sql"]
