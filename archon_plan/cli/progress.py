"""What a person sees while migrations run.

On a terminal: a live line (rich) with the running migration, how long it has run and, for a
non-transactional one, which statement of how many; for a run of several, the count and the
time left. Elsewhere (CI logs): a heartbeat line every HEARTBEAT_S while a migration runs, so
a 20-minute index build does not look like a hang. rich honours NO_COLOR; `--quiet` shows none.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from ..core.model import Step

HEARTBEAT_S = 30.0


class Progress:
    def __init__(self, quiet: bool = False, terminal: bool | None = None, lines: bool = True) -> None:
        self.quiet = quiet
        self.lines = lines and not quiet  # a line per migration on stdout (not with --format json)
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None  # rich.progress.Progress, on a terminal once a run starts
        self._tasks: dict[str, Any] = {}
        # Without a terminal: one thread for the whole run beats while a migration runs. A
        # thread per migration cost about 0.8 ms each to start (docs/performance.md).
        self._running: tuple[str, float] | None = None  # the migration and when it started
        self._stop: threading.Event | None = None
        self._told: tuple[tuple[str, float], int] | None = None

    def plan(self, total: int) -> None:
        """The run's size, once known: a run of several shows a count and the time left."""
        if self.quiet or not self.terminal or total < 1:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            redirect_stdout=False, redirect_stderr=False)  # `apply | tee log` keeps its lines
        self._bar.start()
        if total > 1:
            self._tasks["run"] = self._bar.add_task("migrations", total=total)

    def started(self, step: Step) -> None:
        if self.quiet:
            return
        if self.terminal:
            if self._bar is None:
                self.plan(1)
            description = f"{step.direction.value} {step.migration.label}"
            self._tasks["step"] = self._bar.add_task(description, total=None)
            return
        self._running = (step.migration.label, time.monotonic())
        if self._stop is None:
            self._stop = threading.Event()
            threading.Thread(target=self._heartbeat, args=(self._stop,), daemon=True).start()

    def statement(self, step: Step, number: int, count: int) -> None:
        if self._bar is not None and "step" in self._tasks:
            description = f"{step.direction.value} {step.migration.label}: statement {number} of {count}"
            self._bar.update(self._tasks["step"], description=description)

    def finished(self, step: Step) -> None:
        self._running = None
        if self._bar is not None:
            self._bar.remove_task(self._tasks.pop("step"))
            if "run" in self._tasks:
                self._bar.advance(self._tasks["run"])

    def close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _heartbeat(self, stop: threading.Event) -> None:
        """Every HEARTBEAT_S, a line for a migration that has run at least that long."""
        while not stop.wait(HEARTBEAT_S / 3):
            running = self._running
            if running is None:
                continue
            label, started = running
            elapsed = time.monotonic() - started
            beat = (running, int(elapsed / HEARTBEAT_S))  # one line per migration and period
            if elapsed >= HEARTBEAT_S and beat != self._told:
                self._told = beat
                whole = int(elapsed)
                print(f"archon-plan: {label} still running ({whole // 60}m{whole % 60:02d}s)",
                      file=sys.stderr, flush=True)
