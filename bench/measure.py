"""Whole-process timings, each process's own peak memory, and their medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    """A measured command failed, or the benchmark cannot go on; one line, no traceback."""


@dataclass(frozen=True)
class Command:
    """A command to time; `name` is what messages show (the argv may hold a password).
    Each variable in `fresh_dirs` points at a new empty folder for each run: a cold cache."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] | None = None
    fresh_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One run: wall-clock seconds from spawn to exit, and the process's peak RSS."""

    seconds: float
    peak_kb: int

    @property
    def ms(self) -> float:
        return self.seconds * 1000


GNU_TIME = "/usr/bin/time"
# Used when GNU time is missing: a small interpreter (-S, no site) that forks, runs the
# command and writes the rusage of that child alone.
WRAPPER = """import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def memory_method() -> str:
    return GNU_TIME if os.access(GNU_TIME, os.X_OK) else "python -S wrapper (os.wait4)"


def _wrapped(argv: Sequence[str], report: str) -> list[str]:
    """The command under a small wrapper that reports its peak RSS in kilobytes.

    Linux keeps a process's peak across exec, and a child forked straight from this
    (large) benchmark process would start with our pages counted as its own; the
    wrapper is small, so the peak it reports is the command's."""
    if os.access(GNU_TIME, os.X_OK):
        return [GNU_TIME, "-f", "%M", "-o", report, *argv]
    return [sys.executable, "-S", "-c", WRAPPER, report, *argv]


def run(command: Command) -> Sample:
    """Run once, stdout and stderr to temporary files; raise BenchError unless it exits 0."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as report, \
            tempfile.TemporaryDirectory(prefix="archon-plan-bench-cold-") as empty:
        env = dict(os.environ if command.env is None else command.env)
        env.update({name: str(Path(empty) / name.lower()) for name in command.fresh_dirs})
        started = time.perf_counter()
        code = subprocess.call(_wrapped(command.argv, report.name), cwd=command.cwd, env=env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        seconds = time.perf_counter() - started
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise BenchError(f"{command.name} exited with {code}: {' | '.join(tail)}")
        lines = report.read().split()
    return Sample(seconds, int(lines[-1]) if lines else 0)


@dataclass(frozen=True)
class Series:
    """The samples of one command, taken interleaved with the others of its figure."""

    samples: tuple[Sample, ...]

    @property
    def ms(self) -> float:
        return statistics.median(s.ms for s in self.samples)

    @property
    def peak_mb(self) -> float:
        return max(s.peak_kb for s in self.samples) / 1024

    @property
    def all_ms(self) -> list[float]:
        return [round(s.ms, 2) for s in self.samples]


def interleaved(commands: Sequence[Command], repeat: int) -> list[Series]:
    """ABAB...: each round runs every command once, so drift on a shared machine hits all alike."""
    runs: list[list[Sample]] = [[] for _ in commands]
    for _ in range(repeat):
        for index, command in enumerate(commands):
            runs[index].append(run(command))
    return [Series(tuple(samples)) for samples in runs]
