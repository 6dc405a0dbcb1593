"""`[[notify]]` webhooks, against an HTTP server on 127.0.0.1 and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archon_plan.cli import main, notify
from archon_plan.errors import ExitCode
from tests.helpers import entry, write_project


class Hook(ThreadingHTTPServer):
    """Records each POST; answers with the next of `statuses` (then 200), or never (`hang`)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.hang = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook/secret-path"


class _Handler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append((dict(self.headers), body))
        if self.server.hang.is_set():
            time.sleep(2)
            return
        self.send_response(self.server.statuses.pop(0) if self.server.statuses else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    monkeypatch.setattr(notify, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(notify, "RETRY_WAITS_S", (0.05, 0.05))
    server = Hook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def project(root: Path, second: str, notify_on: str = '["applied", "failed", "refused"]') -> Path:
    files = {"migrations/0.1.0/001_a.sql": "CREATE TABLE a (id int);\n", "migrations/0.1.0/002_b.sql": second}
    manifest = ('[settings]\nlong_running_after = "500ms"\n\n'
                + entry("0.1.0", "001_a", rollback=False) + entry("0.1.0", "002_b", rollback=False)
                + f'[[notify]]\nurl_env = "HOOK_URL"\nformat = "json"\non = {notify_on}\n'
                'secret_env = "HOOK_SECRET"\n\n'
                + '[[notify]]\nurl_env = "SLACK_URL"\nformat = "slack"\non = ["failed"]\n')
    return write_project(root, files, manifest)


def apply(root: Path, url: str) -> int:
    return main(["--manifest", str(root / "migrations.toml"), "--database-url", url, "apply"])


def test_a_failure_is_posted_once_signed_with_its_place_and_slack_gets_text(
    tmp_path: Path, database_url: str, webhook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", webhook.url)
    monkeypatch.setenv("SLACK_URL", webhook.url)
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    project(tmp_path, "SELECT 1/0;\n")
    assert apply(tmp_path, database_url) == ExitCode.MIGRATION_FAILED
    assert len(webhook.bodies) == 2  # one per webhook: the run's one failure
    (headers, body), (_, slack) = webhook.bodies
    document = json.loads(body)
    assert document["event"] == "failed"
    assert document["migrations"][0]["migration"] == "0.1.0/001_a"
    assert document["error"]["where"].endswith("migrations/0.1.0/002_b.sql:1:1")
    assert "division by zero" in document["error"]["message"]
    assert "***" in document["database"] or "@" not in document["database"]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Archon-Signature"] == f"sha256={expected}"
    assert "division by zero" in json.loads(slack)["text"]


def test_a_server_error_is_retried_and_a_dead_server_is_only_a_warning(
    tmp_path: Path, database_url: str, webhook: Hook, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOOK_URL", webhook.url)
    project(tmp_path, "CREATE TABLE b (id int);\n")
    webhook.statuses = [503, 502]
    assert apply(tmp_path, database_url) == 0
    assert [json.loads(b)["event"] for _, b in webhook.bodies] == ["applied"] * 3  # two retries
    webhook.hang.set()
    (tmp_path / "migrations/0.1.0/003_c.sql").write_text("CREATE TABLE c (id int);\n")
    with (tmp_path / "migrations.toml").open("a") as out:
        out.write(entry("0.1.0", "003_c", rollback=False))
    started = time.monotonic()
    assert apply(tmp_path, database_url) == 0  # never changes the exit code
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "warning: the applied notification to HOOK_URL was not delivered: ReadTimeout after 3 tries" in err
    assert "secret-path" not in err  # the URL is a secret


def test_a_long_running_migration_is_told_once_while_it_runs(
    tmp_path: Path, database_url: str, webhook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", webhook.url)
    project(tmp_path, "SELECT pg_sleep(1.5);\n", notify_on='["long_running"]')
    assert apply(tmp_path, database_url) == 0
    events = [json.loads(b) for _, b in webhook.bodies]
    assert [(e["event"], e["running"]) for e in events] == [("long_running", "0.1.0/002_b")]


def test_a_refusal_is_told_as_refused(
    tmp_path: Path, database_url: str, webhook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", webhook.url)
    project(tmp_path, "CREATE TABLE b (id int);\n")
    assert apply(tmp_path, database_url) == 0
    (tmp_path / "migrations/0.1.0/001_a.sql").write_text("CREATE TABLE a (id bigint);\n")  # modified
    assert apply(tmp_path, database_url) == ExitCode.REFUSED
    assert json.loads(webhook.bodies[-1][1])["event"] == "refused"


def test_a_repair_is_told_as_repaired(
    tmp_path: Path, database_url: str, webhook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", webhook.url)
    project(tmp_path, "CREATE TABLE b (id int);\n", notify_on='["repaired"]')
    assert main(["--manifest", str(tmp_path / "migrations.toml"), "--database-url", database_url,
                 "repair", "--mark-applied", "001_a", "--yes"]) == 0
    (told,) = [json.loads(b) for _, b in webhook.bodies]
    assert told["event"] == "repaired" and "mark-applied: 0.1.0/001_a" in told["detail"]
