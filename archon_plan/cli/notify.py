"""`[[notify]]`: one POST per run and kind of event to the webhooks the manifest names.

The URL comes from the environment (a webhook URL is a secret, so it is never printed); a
short timeout and a few retries; a notification that cannot be delivered is one warning line
and never changes the exit code. `long_running` is sent once, from a timer, while a migration
is still running after `long_running_after`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core.durations import duration_seconds
from ..core.extensions import Notify, NotifyFormat, NotifyKind
from ..core.model import Actor, Step

TIMEOUT_S = 5.0
RETRY_WAITS_S = (0.5, 2.0)  # after the first try and the second: three tries in all
SIGNATURE_HEADER = "X-Archon-Signature"


class Notifier:
    """The notifications of one run."""

    def __init__(self, notify: Sequence[Notify], env: Mapping[str, str], database: str, actor: Actor,
                 long_running_after: str) -> None:
        self.notify, self.env, self.database, self.actor = notify, env, database, actor
        self.after_s = duration_seconds(long_running_after)
        self.done: list[dict[str, Any]] = []  # the migrations run so far, with their durations
        self._timer: threading.Timer | None = None

    def started(self, step: Step) -> None:
        if any(NotifyKind.LONG_RUNNING in n.on for n in self.notify) and self.after_s > 0:
            label = step.migration.label
            self._timer = threading.Timer(self.after_s, self.send, (NotifyKind.LONG_RUNNING,),
                                          {"running": label})
            self._timer.daemon = True
            self._timer.start()

    def finished(self, step: Step, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.done.append({"migration": step.migration.label, "direction": step.direction.value,
                          "duration_ms": round(seconds * 1000)})

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def send(self, kind: NotifyKind, error: str | None = None, where: str | None = None,
             running: str | None = None, detail: str | None = None) -> None:
        """One POST to each webhook that asked for `kind`; failures are warnings."""
        for target in (n for n in self.notify if kind in n.on):
            url = self.env.get(target.url_env, "").strip()
            if not url:
                _warn(f"{target.url_env} is not set, so the {kind} notification was not sent")
                continue
            body = json.dumps(self._body(target.format, kind, error, where, running, detail)).encode()
            headers = {"Content-Type": "application/json",
                       "User-Agent": f"archon-plan/{self.actor.tool_version}"}
            secret = self.env.get(target.secret_env or "", "")
            if target.secret_env and secret:
                import hashlib
                import hmac  # here: most runs send nothing

                signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                headers[SIGNATURE_HEADER] = f"sha256={signature}"
            problem = _post(url, body, headers)
            if problem:
                _warn(f"the {kind} notification to {target.url_env} was not delivered: {problem}")

    def _body(self, form: NotifyFormat, kind: NotifyKind, error: str | None, where: str | None,
              running: str | None, detail: str | None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "event": str(kind), "database": self.database, "migrations": self.done, "detail": detail,
            "running": running, "error": None if error is None else {"message": error, "where": where},
            "os_user": self.actor.os_user, "host": self.actor.host, "tool_version": self.actor.tool_version,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if form is NotifyFormat.JSON:
            return document
        text = _text(document)
        return {"text": text} if form is NotifyFormat.SLACK else {"content": text[:2000]}


def _text(document: Mapping[str, Any]) -> str:
    """The one message Slack and Discord show."""
    lines = [f"archon-plan: {document['event']} on {document['database']} "
             f"(by {document['os_user'] or '?'} on {document['host'] or '?'})"]
    if document["running"]:
        lines.append(f"still running: {document['running']}")
    if document["detail"]:
        lines.append(document["detail"])
    lines += [f"- {m['migration']} ({m['duration_ms']} ms)" for m in document["migrations"]]
    if document["error"]:
        where = document["error"]["where"]
        lines.append(f"error{f' at {where}' if where else ''}: {document['error']['message']}")
    return "\n".join(lines)


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """None when delivered; else why not, without the URL (a secret)."""
    import httpx  # here: only a run that notifies pays for it

    problem = "?"
    for attempt in range(len(RETRY_WAITS_S) + 1):
        if attempt:
            time.sleep(RETRY_WAITS_S[attempt - 1])
        try:
            response = httpx.post(url, content=body, headers=dict(headers), timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__  # its text may quote the URL
            continue
        if response.status_code < 300:
            return None
        problem = f"HTTP {response.status_code}"
        if response.status_code < 500 and response.status_code != 429:
            return problem  # the server refused it: trying again would not help
    return f"{problem} after {len(RETRY_WAITS_S) + 1} tries"


def _warn(text: str) -> None:
    print(f"archon-plan: warning: {text}", file=sys.stderr)
