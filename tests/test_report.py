"""`archon-plan report`: one self-contained HTML page of a real database."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import psycopg

from archon_plan.web import draw
from archon_plan.web.page import split_location
from tests.dashboard import FAILED_AT, SVG, failed_project, with_password
from tests.helpers import entry, run_in_process, write_project

SECRET = "pa55-w0rd-never-shown"


class _Links(HTMLParser):
    """Every tag, and the URL attributes of each."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action", "data")]


def report(manifest: Path, database_url: str) -> str:
    out = run_in_process(["--manifest", str(manifest), "report", "--format", "html"], manifest.parent,
                         {"ARCHON_DATABASE_URL": database_url})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_report_lists_every_migration_and_the_failure_at_its_file_and_line(tmp_path: Path,
                                                                           database_url: str) -> None:
    page = report(failed_project(tmp_path, database_url), database_url)
    for name in ("001_create_users", "002_create_posts", "001_add_scores"):
        assert name in page
    assert page.count('class="pill st-applied"') == 2 and page.count('class="pill st-pending"') == 1
    assert f'<span class="where">{FAILED_AT}</span>: apply of 0.2.0/001_add_scores failed' in page
    assert "22012 division by zero" in page
    assert "The last apply of 0.2.0/001_add_scores failed" in page  # the headline says it first
    assert "its last apply failed: see Failures" in page  # and its line in the table


def test_report_charts_and_graph_are_well_formed_svg(tmp_path: Path, database_url: str) -> None:
    page = report(failed_project(tmp_path, database_url), database_url)
    charts = [ET.fromstring(chunk) for chunk in SVG.findall(page)]
    names = {chart.get("class") for chart in charts}
    assert names == {"chart graph", "chart timeline", "chart durations"}
    graph = next(chart for chart in charts if chart.get("class") == "chart graph")
    assert len(graph.findall("path[@class='edge']")) == 2  # 002 on 001, 0.2.0/001 on 002
    timeline = next(chart for chart in charts if chart.get("class") == "chart timeline")
    assert len(timeline.findall("circle")) == 3  # two applies, one failure


def test_report_loads_nothing_and_runs_no_script(tmp_path: Path, database_url: str) -> None:
    page = report(failed_project(tmp_path, database_url), database_url)
    parser = _Links()
    parser.feed(page)
    assert "script" not in parser.tags and "iframe" not in parser.tags
    assert [url for url in parser.urls if not url.startswith(("#", "data:"))] == []
    assert not re.search(r"url\((?!#)", page)  # no CSS or SVG reference outside the page
    assert "@import" not in page


def test_report_allows_exactly_its_own_stylesheet(tmp_path: Path, database_url: str) -> None:
    page = report(failed_project(tmp_path, database_url), database_url)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 1 and "style=" not in page  # inline style attributes would be refused
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    assert policy[1].replace("&#39;", "'").startswith(f"default-src 'none'; style-src 'sha256-{digest}';")


def test_report_never_shows_the_password(tmp_path: Path, database_url: str) -> None:
    url = with_password(database_url, SECRET)
    page = report(failed_project(tmp_path, url), url)
    assert SECRET not in page
    assert "password=***" in page or ":***@" in page


def test_report_of_a_database_never_migrated_shows_everything_pending(tmp_path: Path,
                                                                       database_url: str) -> None:
    manifest = write_project(tmp_path, {"migrations/0.1.0/001_t.sql": "CREATE TABLE t (id int);\n"},
                             entry("0.1.0", "001_t", rollback=False))
    page = report(manifest, database_url)
    assert "1 migration(s) pending" in page and "No events recorded yet" in page
    with psycopg.connect(database_url) as conn:  # and created nothing
        assert conn.execute("SELECT to_regclass('public.archon_migrations')").fetchone() == (None,)


def test_a_recorded_error_is_split_at_its_location() -> None:
    assert split_location("m/0.1.0/002_b.sql:2:1: apply failed\nHINT: x") == ("m/0.1.0/002_b.sql:2:1",
                                                                              "apply failed\nHINT: x")
    assert split_location("SIGINT (Ctrl-C)") == (None, "SIGINT (Ctrl-C)")


def test_durations_and_times_read_as_people_write_them() -> None:
    assert [draw.duration(ms) for ms in (7, 1234, 185_000, None)] == ["7 ms", "1.2 s", "3 min 5 s", ""]
    assert [draw.axis(v) for v in (4, 9, 12_345, 1, 0)] == [(4, 1), (10, 5), (15_000, 5000), (1, 1), (1, 1)]
    assert draw.when(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05 UTC"
