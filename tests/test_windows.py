"""Maintenance windows and not_before: apply starts a migration only when it may."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.core.windows import deferral, parse_instant, parse_window
from archon_plan.errors import ExitCode
from tests.helpers import entry, tracking_rows, write_project

Conn = psycopg.Connection[tuple[object, ...]]
SAT_3AM = datetime(2026, 12, 12, 3, 0, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(("window", "now", "is_open"), [
    ("Sat 02:00-04:00 UTC", SAT_3AM, True),
    ("Sat 02:00-04:00 UTC", SAT_3AM + timedelta(hours=1), False),  # 04:00: closed
    ("Sat 02:00-04:00 UTC", SAT_3AM + timedelta(days=1), False),
    ("Fri 22:00-04:00 UTC", SAT_3AM, True),  # opened on Friday, past midnight
    ("Mon-Fri 22:00-02:00 UTC", SAT_3AM, False),
    ("sat,sun 02:30-03:30 Europe/Berlin", SAT_3AM, True),  # 04:00 in Berlin: closed ...
    ("daily 00:00-00:00 UTC", SAT_3AM, True),  # all day
])
def test_windows_open_and_close_in_their_own_zone(window: str, now: datetime, is_open: bool) -> None:
    if "Berlin" in window:
        is_open = False  # 03:00 UTC is 04:00 in Berlin, past 03:30
    assert parse_window(window).is_open(now) is is_open


@pytest.mark.parametrize("bad", ["Saturday 02:00-04:00 UTC", "Sat 2:00-4:00 UTC", "Sat 02:00-04:00 Mars/Base",
                                 "Sat 02:00-25:00 UTC", "Xyz 02:00-04:00 UTC"])
def test_a_bad_window_says_how_to_write_one(bad: str) -> None:
    with pytest.raises(ValueError, match=r"window|day|hour|Mars|No time zone"):
        parse_window(bad)


def test_not_before_needs_a_zone_and_defers_until_then() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2026-12-10T02:00:00")
    assert deferral((), "2026-12-12T04:00:00Z", SAT_3AM) == "not before 2026-12-12T04:00:00Z"
    assert deferral((), "2026-12-12T02:00:00+00:00", SAT_3AM) is None


def project(root: Path, windows: str, not_before: str | None) -> Path:
    names = ((1, "a"), (2, "b"), (3, "c"))
    files = {f"migrations/0.1.0/00{n}_{c}.sql": f"CREATE TABLE {c} (id int);\n" for n, c in names}
    second = entry("0.1.0", "002_b", rollback=False)
    if not_before:
        second = second.rstrip("\n") + f'\nnot_before = "{not_before}"\n\n'
    settings = f"[settings]\nwindows = {windows}\n\n"
    return write_project(root, files, settings + entry("0.1.0", "001_a", rollback=False) + second
                         + entry("0.1.0", "003_c", rollback=False))


def cli(manifest: Path, url: str, *args: str) -> int:
    return main(["--manifest", str(manifest), "--database-url", url, *args])


def test_a_migration_not_due_waits_with_those_after_it_until_ignore_windows(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="seconds")
    manifest = project(tmp_path, '["daily 00:00-00:00 UTC"]', later)
    assert cli(manifest, database_url, "apply") == 0
    out = capsys.readouterr().out
    assert f"deferred 0.1.0/002_b: not before {later}" in out
    assert "deferred 0.1.0/003_c: after 0.1.0/002_b, which waits" in out
    assert "1 migration(s) applied; 2 deferred" in out
    assert [n for _, n in tracking_rows(db)] == ["001_a.sql"]
    assert cli(manifest, database_url, "status", "--format", "json") == 0
    found = {m["name"]: m["deferred"] for m in json.loads(capsys.readouterr().out)["migrations"]}
    assert found == {"001_a": None, "002_b": f"not before {later}", "003_c": "after 0.1.0/002_b, which waits"}
    assert cli(manifest, database_url, "apply", "--ignore-windows") == 0
    assert len(tracking_rows(db)) == 3
    marked = db.execute("SELECT migration_name FROM archon_migrations_events WHERE event = 'apply' "
                        "AND detail->>'ignored_window' = 'true'").fetchall()
    assert marked == [("002_b.sql",)]  # 003_c was only waiting behind it


def test_outside_every_window_nothing_starts(
    tmp_path: Path, database_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = (datetime.now(UTC) + timedelta(days=3)).strftime("%a")  # neither today nor yesterday
    manifest = project(tmp_path, f'["{closed} 01:00-02:00 UTC"]', None)
    assert cli(manifest, database_url, "apply") == 0
    assert "Nothing to apply now; 3 deferred" in capsys.readouterr().out
    assert tracking_rows(db) == []


def test_a_bad_window_in_the_manifest_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = project(tmp_path, '["Sat 2-4"]', "tomorrow")
    assert main(["--manifest", str(manifest), "check"]) == ExitCode.INVALID
    err = capsys.readouterr().err
    assert "is not a window" in err and "is not an ISO 8601 time" in err


def test_a_window_that_closes_during_a_run_starts_no_further_migration(
    tmp_path: Path, database_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from archon_plan.db import executor

    today = datetime.now(UTC).strftime("%a")
    manifest = project(tmp_path, f'["{today} 00:00-00:00 UTC"]', None)  # open all of today, UTC

    class Clock(datetime):
        calls = 0

        @classmethod
        def now(cls, tz: object = None) -> Clock:  # type: ignore[override]
            cls.calls += 1  # the first migration starts today; the window has closed by the second
            moment = datetime.now(UTC) + (timedelta(days=1) if cls.calls > 1 else timedelta())
            return cls.fromtimestamp(moment.timestamp(), UTC)

    monkeypatch.setattr(executor, "datetime", Clock)
    assert cli(manifest, database_url, "apply") == 0
    out = capsys.readouterr().out
    assert "deferred 0.1.0/002_b: outside the maintenance windows" in out
    assert "deferred 0.1.0/003_c: after 0.1.0/002_b, which waits" in out
    assert [n for _, n in tracking_rows(db)] == ["001_a.sql"]
