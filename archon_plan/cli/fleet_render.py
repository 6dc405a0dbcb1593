"""What the fleet verbs print: a line per target as it finishes, then a summary; or JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.model import State
from ..core.text import SCHEMA_VERSION, table
from ..db.fleet import Result
from ..errors import ExitCode

Where = Mapping[str, tuple[str | None, str | None]]  # target name -> (redacted database, schema)


class Progress:
    """One line per finished target; on a terminal with a count and the time left."""

    def __init__(self, total: int, show: bool, dry_run: bool) -> None:
        self.total, self.show, self.dry_run = total, show, dry_run
        self.done = 0
        self.started = time.monotonic()
        self.terminal = sys.stdout.isatty()

    def __call__(self, result: Result) -> None:
        self.done += 1
        if not self.show:
            return
        count = f"[{self.done}/{self.total}] " if self.terminal else ""
        left = eta(self.done, self.total, time.monotonic() - self.started) if self.terminal else ""
        print(f"{count}{line(result, self.dry_run)}{f'  (about {left} left)' if left else ''}", flush=True)


def eta(done: int, total: int, elapsed: float) -> str:
    """Time left at the average pace so far."""
    if not done or done >= total:
        return ""
    left = elapsed / done * (total - done)
    return f"{int(left // 60)}m{int(left % 60):02d}s" if left >= 60 else f"{left:.0f}s"


def result_word(result: Result) -> str:
    if result.ok:
        return "ok"
    if not result.started:
        return "not-started"
    return "interrupted" if result.exit_code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED) else "failed"


def line(result: Result, dry_run: bool = False) -> str:
    if result.ok:
        verb = "would run" if dry_run else "ran"
        idle = "nothing now" if result.deferred else "up to date"
        what = f"{verb} {len(result.ran)}" if result.ran else idle
        what += f", {len(result.deferred)} deferred" if result.deferred else ""
        return f"ok      {result.name}  {what}  ({result.seconds * 1000:.0f} ms)"
    first = (result.error or "").splitlines()[0] if result.error else ""
    return f"{result_word(result).upper():<7} {result.name}  exit {result.exit_code}: {first}"


def run_text(verb: str, results: Sequence[Result], dry_run: bool) -> str:
    done = [r for r in results if r.ok]
    ran = sum(len(r.ran) for r in done)
    unfinished = [r for r in results if not r.ok]
    word = "would run" if dry_run else "applied" if verb == "apply" else "reverted"
    lines = [f"{len(results)} target(s): {len(done)} ok ({ran} migration(s) {word}), "
             f"{sum(r.started for r in unfinished)} failed or stopped, "
             f"{sum(not r.started for r in unfinished)} not started"]
    if unfinished:
        rows = [(r.name, result_word(r), str(r.exit_code), (r.error or "").splitlines()[0] if r.error else "")
                for r in unfinished]
        lines.append(table(("TARGET", "RESULT", "EXIT", "ERROR"), rows))
        lines += [f"HINT ({r.name}): {r.hint}" for r in unfinished[:1] if r.hint]
    return "\n".join(lines)


def run_json(verb: str, results: Sequence[Result], where: Where, fleet: Path, dry_run: bool,
             code: int) -> str:
    items = [{**_identity(r, where), "result": result_word(r), "exit_code": r.exit_code,
              "ran": list(r.ran), "deferred": list(r.deferred), "seconds": round(r.seconds, 3),
              "error": r.error, "hint": r.hint}
             for r in results]
    totals = {word: sum(result_word(r) == word for r in results)
              for word in ("ok", "failed", "interrupted", "not-started")}
    document = {"schema_version": SCHEMA_VERSION, "command": f"fleet {verb}", "fleet": str(fleet),
                "dry_run": dry_run, "exit_code": int(code), "totals": totals, "targets": items}
    return json.dumps(document, indent=2)


def _identity(result: Result, where: Where) -> dict[str, Any]:
    database, schema = where.get(result.name, (None, None))
    return {"name": result.name, "database": database, "schema": schema}


def counts(result: Result) -> dict[str, int]:
    found = {state.value: 0 for state in State}
    for status in result.statuses:
        found[status.state.value] += 1
    found["applied"] += found.pop(State.APPLIED_UNKNOWN_CHECKSUM.value)
    return found


def last_applied(result: Result) -> str | None:
    times = [s.row.applied_at for s in result.statuses if s.row is not None and s.row.applied_at]
    return max(times).isoformat(" ", "seconds") if times else None


def status_text(results: Sequence[Result]) -> str:
    rows = []
    for r in results:
        if not r.ok:
            rows.append((r.name, "-", "-", "-", "-", "", f"exit {r.exit_code}: {r.error or ''}"))
            continue
        n = counts(r)
        rows.append((r.name, str(n["applied"]), str(n["pending"]), str(n["failed"]), str(n["modified"]),
                     last_applied(r) or "", ""))
    header = ("TARGET", "APPLIED", "PENDING", "FAILED", "MODIFIED", "LAST APPLIED", "ERROR")
    behind = sum(1 for r in results if r.ok and any(counts(r)[k] for k in ("pending", "failed", "modified")))
    unread = sum(not r.ok for r in results)
    summary = (f"{len(results)} target(s): {len(results) - behind - unread} up to date, {behind} behind"
               + (f", {unread} could not be read" if unread else ""))
    return "\n".join(part for part in (table(header, rows) if rows else "", summary) if part)


def status_json(results: Sequence[Result], where: Where, fleet: Path) -> str:
    return json.dumps(status_document(results, where, fleet), indent=2)


def status_document(results: Sequence[Result], where: Where, fleet: Path) -> dict[str, Any]:
    """`fleet status --format json`, also served as /api/fleet."""
    items = [{**_identity(r, where), "exit_code": r.exit_code, "error": r.error,
              "counts": counts(r) if r.ok else None, "last_applied": last_applied(r)} for r in results]
    totals: dict[str, int] = {}
    for r in results:
        for key, value in (counts(r) if r.ok else {}).items():
            totals[key] = totals.get(key, 0) + value
    return {"schema_version": SCHEMA_VERSION, "command": "fleet status", "fleet": str(fleet),
            "totals": totals, "targets": items}
