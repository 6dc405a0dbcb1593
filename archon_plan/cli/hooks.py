"""Running the manifest's `[[hook]]` programs at the points of an `apply` (docs/manifest.md).

A program gets its point, the migration or the plan, and the database in ARCHON_DATABASE_URL
and libpq's PG* variables: never on its command line, where `ps` would show the password.
A `before_*` hook that fails or times out stops the run before anything changes (exit code 5,
its output shown); an `after_*` or `on_failure` hook that fails is a warning. Each run of a
hook is an event in the history, written once the events table exists.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.durations import duration_seconds
from ..core.extensions import Hook, HookPoint
from ..core.model import Actor, Event, EventKind, Migration, Plan, Settings, Step
from ..errors import ArchonPlanError, RefusedError
from .commands import PrintReporter
from .progress import Progress

if TYPE_CHECKING:
    from ..db.connection import Connection
    from .notify import Notifier

OUTPUT_LIMIT = 4000  # characters of a failed hook's output shown


class HookStopped(RefusedError):
    """A before_* hook failed: the run stopped before anything (more) changed (exit code 5)."""


@dataclass
class Hooks:
    """The hooks of one run, and the events they owe the history."""

    hooks: Sequence[Hook]
    environment: dict[str, str]  # ARCHON_DATABASE_URL and PG*: the run's target
    settings: Settings
    actor: Actor
    conn: Connection | None = None  # the run's connection, for the events
    plan: tuple[str, ...] = ()
    _owed: list[Event] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def run(self, point: HookPoint, migration: Migration | None = None) -> None:
        for hook in (h for h in self.hooks if h.when is point):
            self._one(hook, migration)
        self.settle()

    def before_apply(self, plan: Plan) -> None:
        self.plan = tuple(step.migration.label for step in plan.steps)
        self.run(HookPoint.BEFORE_APPLY)

    def failed(self, error: ArchonPlanError) -> None:
        """on_failure, with the error in ARCHON_ERROR; a failing hook here only warns."""
        label = getattr(error, "migration", None)  # a migration's failure names it
        self.environment = {**self.environment, "ARCHON_ERROR": error.message,
                            "ARCHON_MIGRATION": label if isinstance(label, str) else ""}
        self.run(HookPoint.ON_FAILURE)

    def _one(self, hook: Hook, migration: Migration | None) -> None:
        label = migration.label if migration else self.environment.get("ARCHON_MIGRATION", "")
        env = {**os.environ, **self.environment, "ARCHON_HOOK": str(hook.when), "ARCHON_MIGRATION": label,
               "ARCHON_MIGRATIONS": "\n".join(self.plan)}
        started = time.monotonic()
        code, output = _execute(hook, env)
        took = time.monotonic() - started
        failed = code != 0
        what = f"hook {hook.when} ({hook.run[0]})"
        why = ("timed out after " + hook.timeout if code is None else
               f"could not start: {output}" if code == -1 else f"exited with {code}")
        self._owed.append(Event(EventKind.HOOK, self.actor, migration, took, why if failed else None,
                                {"when": str(hook.when), "program": hook.run[0],
                                 "exit_code": code, "ok": not failed}))
        if not failed:
            return
        from ..db.target import redact

        secret = self.environment.get("PGPASSWORD")  # a hook that echoes its environment
        shown = redact(output.strip()[-OUTPUT_LIMIT:], (secret,) if secret else ())
        if hook.when.stops_the_run:
            self.settle()
            raise HookStopped(f"{what} {why}; the run stops before "
                               + (f"{migration.label}" if migration else "anything changes")
                               + (f"\n{shown}" if shown and code != -1 else ""),
                               "fix the hook's program, or remove the [[hook]] entry")
        print(f"archon-plan: warning: {what} {why}" + (f"\n{shown}" if shown and code != -1 else ""),
              file=sys.stderr)

    def settle(self) -> None:
        """Write the hook events owed, once the events table is there (a first apply creates
        it after before_apply); best effort: a hook's event never fails the run."""
        if self._owed and self.conn is not None:
            from ..db import events

            events.record_owed(self.conn, self.settings, self._owed)


def _execute(hook: Hook, env: dict[str, str]) -> tuple[int | None, str]:
    """(exit code, output); None on a timeout (the program's whole process group is killed),
    -1 when the program cannot start. The output goes to a file, not a pipe: a program that
    leaves a child behind holding its output (`pg_dump ... &`) must not keep the run waiting."""
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(hook.run, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return -1, exc.strerror or str(exc)
        try:
            code: int | None = process.wait(timeout=duration_seconds(hook.timeout))
        except subprocess.TimeoutExpired:
            code = None
        except BaseException:  # Ctrl-C or SIGTERM: the program goes with the run
            _kill(process)
            raise
        if code is None:
            _kill(process)
        output.seek(0)
        return code, output.read().decode("utf-8", errors="replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


class HookReporter(PrintReporter):
    """Progress lines, with the per-migration hooks and the notifier's timer around each
    migration."""

    def __init__(self, hooks: Hooks, notifier: Notifier | None = None,
                 progress: Progress | None = None, verbose: bool = False) -> None:
        self.hooks, self.notifier, self.verbose = hooks, notifier, verbose
        self.progress = progress or Progress(quiet=True)

    def step_started(self, step: Step) -> None:
        if self.verbose:
            text = "\n".join(f"    | {line}" for line in step.sql.text.rstrip().splitlines())
            print(f"archon-plan: {step.direction.value} {step.migration.label} ({step.sql.display}):\n{text}",
                  file=sys.stderr, flush=True)
        self.hooks.run(HookPoint.BEFORE_MIGRATION, step.migration)
        if self.notifier is not None:
            self.notifier.started(step)
        self.progress.started(step)

    def statement_started(self, step: Step, number: int, count: int) -> None:
        self.progress.statement(step, number, count)

    def step_finished(self, step: Step, seconds: float) -> None:
        self.progress.finished(step)
        if self.notifier is not None:
            self.notifier.finished(step, seconds)
        if self.progress.lines:
            super().step_finished(step, seconds)
        self.hooks.run(HookPoint.AFTER_MIGRATION, step.migration)


def dry_run_lines(hooks: Sequence[Hook], plan: Plan) -> list[str]:
    """What `apply --dry-run` says it would run: each hook once per point it would reach."""
    lines = []
    for hook in hooks:
        times = len(plan) if hook.when in (HookPoint.BEFORE_MIGRATION, HookPoint.AFTER_MIGRATION) else 1
        if plan and hook.when is not HookPoint.ON_FAILURE:
            lines.append(f"hook {hook.when}: {' '.join(hook.run)}" + (f" ({times}x)" if times > 1 else ""))
    return lines
