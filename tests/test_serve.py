"""`archon-plan serve`: the endpoints through Starlette's TestClient, on a real database."""

from __future__ import annotations

import base64
import json
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from starlette.testclient import TestClient

from archon_plan.cli.commands import Context
from archon_plan.cli.dashboard import build_app
from archon_plan.web.page import HEADER_POLICY, STYLE_SOURCE
from tests.dashboard import FAILED_AT, failed_project, reading_role, with_password
from tests.helpers import run_in_process

TOKEN = "s3cret-token-of-32-characters-xx"
LOCAL = "http://127.0.0.1:8080"


def client(manifest: Path, database_url: str, host: str = "127.0.0.1", token: str | None = None,
           fleet: Path | None = None) -> TestClient:
    env = {"ARCHON_DATABASE_URL": database_url, **({"ARCHON_SERVE_TOKEN": token} if token else {})}
    context = Context(manifest_path=manifest, database_url=None, lock_wait=None, env=env)
    app, _ = build_app(context, host, fleet, 10)
    return TestClient(app, base_url=LOCAL if host == "127.0.0.1" else f"http://{host}:8080")


def cli_json(manifest: Path, database_url: str, *argv: str) -> dict[str, object]:
    out = run_in_process(["--manifest", str(manifest), *argv, "--format", "json"], manifest.parent,
                         {"ARCHON_DATABASE_URL": database_url})
    assert out.returncode in (0, 8), out.stderr
    document: dict[str, object] = json.loads(out.stdout)
    return document


def test_api_status_and_history_are_the_documents_of_the_cli(tmp_path: Path, database_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    http = client(manifest, database_url)
    assert http.get("/api/status").json() == cli_json(manifest, database_url, "status")
    assert http.get("/api/history").json() == cli_json(manifest, database_url, "history")
    last = http.get("/api/history", params={"limit": "1"}).json()["events"]
    assert [(e["event"], e["error"].split(": ")[0]) for e in last] == [("apply-failed", FAILED_AT)]
    assert http.get("/api/history", params={"limit": "0"}).status_code == 400


def test_the_page_shows_the_migrations_and_the_failure_and_refreshes(tmp_path: Path,
                                                                      database_url: str) -> None:
    page = client(failed_project(tmp_path, database_url), database_url).get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "002_create_posts" in page.text and FAILED_AT in page.text
    assert '<meta http-equiv="refresh" content="10">' in page.text


def test_every_answer_carries_the_security_headers(tmp_path: Path, database_url: str) -> None:
    http = client(failed_project(tmp_path, database_url), database_url)
    answers = [http.get("/"), http.get("/api/status"), http.get("/healthz"), http.get("/nope"),
               http.post("/api/status"), http.delete("/")]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 405, 405]  # read-only: GET alone
    for answer in answers:
        assert answer.headers["content-security-policy"] == HEADER_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "server" not in answer.headers
    assert HEADER_POLICY.startswith(f"default-src 'none'; style-src {STYLE_SOURCE}; img-src data:;")
    assert "unsafe-inline" not in HEADER_POLICY and "frame-ancestors 'none'" in HEADER_POLICY


def test_on_loopback_a_request_for_another_host_name_is_refused(tmp_path: Path, database_url: str) -> None:
    http = client(failed_project(tmp_path, database_url), database_url)
    assert http.get("/api/status", headers={"host": "attacker.example"}).status_code == 400
    assert http.get("/api/status", headers={"host": "localhost:8080"}).status_code == 200


def test_off_loopback_every_request_but_healthz_needs_the_token(tmp_path: Path, database_url: str) -> None:
    http = client(failed_project(tmp_path, database_url), database_url, host="0.0.0.0", token=TOKEN)
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    refused: list[Mapping[str, str]] = [
        {}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN},
        {"authorization": f"Bearer {TOKEN[:-1]}"}, {"authorization": "Basic %%"}]
    for headers in refused:
        answer = http.get("/api/status", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"].startswith("Basic realm=")
        assert answer.headers["content-security-policy"] == HEADER_POLICY
    for headers in ({"authorization": f"Bearer {TOKEN}"}, {"authorization": f"Basic {basic}"}):
        assert http.get("/api/status", headers=headers).status_code == 200
        assert http.get("/", headers=headers).status_code == 200
    assert http.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("env", [{}, {"ARCHON_SERVE_TOKEN": ""}, {"ARCHON_SERVE_TOKEN": "short"}])
def test_serve_beyond_loopback_without_a_good_token_refuses_to_start(tmp_path: Path, database_url: str,
                                                                     env: dict[str, str]) -> None:
    manifest = failed_project(tmp_path, database_url)
    out = run_in_process(["--manifest", str(manifest), "serve", "--host", "0.0.0.0", "--port", "0"], tmp_path,
                         {"ARCHON_DATABASE_URL": database_url, **env})
    assert out.returncode == 4
    assert "ARCHON_SERVE_TOKEN" in out.stderr and out.stdout == ""


def test_api_fleet_is_fleet_status_json_and_404_without_a_fleet(tmp_path: Path, database_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    assert client(manifest, database_url).get("/api/fleet").status_code == 404
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[target]]\nname = "main"\nurl_env = "ARCHON_DATABASE_URL"\n', encoding="utf-8")
    served = client(manifest, database_url, fleet=fleet).get("/api/fleet").json()
    assert served == cli_json(manifest, database_url, "fleet", "status", "--fleet", str(fleet))
    assert served["totals"] == {"applied": 2, "pending": 1, "modified": 0, "failed": 0, "unknown": 0}


def test_a_user_with_only_the_documented_grants_sees_everything(tmp_path: Path, database_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    with reading_role(database_url) as url:
        http = client(manifest, url)
        status = http.get("/api/status").json()
        assert status["counts"]["applied"] == 2 and status["counts"]["pending"] == 1
        assert ":***@" in status["database"] or "password=***" in status["database"]
        assert len(http.get("/api/history").json()["events"]) == 3
        page = http.get("/").text
        assert FAILED_AT in page and "row level security hides" not in page


def test_a_user_without_the_policies_is_warned_rather_than_shown_all_pending(tmp_path: Path,
                                                                               database_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    with reading_role(database_url, policies=False) as url:
        page = client(manifest, url).get("/").text
    assert "row level security hides the rows of public.archon_migrations from this database user" in page


def test_a_database_that_goes_away_answers_503_without_the_password(tmp_path: Path, database_url: str,
                                                                     server_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    http = client(manifest, with_password(database_url, "hunter2-secret"))
    with psycopg.connect(server_url, autocommit=True) as conn:
        name = sql.Identifier(str(conninfo_to_dict(database_url)["dbname"]))
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
    answer = http.get("/api/status")
    assert answer.status_code == 503 and answer.json()["exit_code"] == 6
    page = http.get("/")
    assert page.status_code == 503 and "The database cannot be read" in page.text
    assert '<meta http-equiv="refresh" content="10">' in page.text  # and it keeps trying
    assert "hunter2-secret" not in answer.text + page.text


def test_serve_without_its_extra_says_how_to_install_it(tmp_path: Path, database_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import archon_plan.web

    manifest = failed_project(tmp_path, database_url)
    for name in ["starlette", *(n for n in sys.modules if n.startswith("starlette."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if `pip install archon-plan` alone
    monkeypatch.delitem(sys.modules, "archon_plan.web.app", raising=False)
    monkeypatch.delattr(archon_plan.web, "app", raising=False)
    out = run_in_process(["--manifest", str(manifest), "serve", "--port", "0"], tmp_path,
                         {"ARCHON_DATABASE_URL": database_url})
    assert out.returncode == 4
    assert "needs starlette" in out.stderr and "pip install 'archon-plan[serve]'" in out.stderr


def test_serve_on_a_port_in_use_says_so_before_serving(tmp_path: Path, database_url: str) -> None:
    manifest = failed_project(tmp_path, database_url)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        out = run_in_process(["--manifest", str(manifest), "serve", "--port", port], tmp_path,
                             {"ARCHON_DATABASE_URL": database_url})
    assert out.returncode == 4 and f"cannot listen on 127.0.0.1 port {port}" in out.stderr
