"""The resume protocol of `transactional = false` migrations, in one place.

Such a migration commits one statement at a time. When a statement fails or is interrupted,
the runner appends an event whose `detail` says where it stopped (`Failure.detail`); reading
the history turns the last such event back into a `Failure` (`Failure.from_detail`); planning
refuses to run past it, `status` shows it, and `repair --retry` checks that the statements
that ran are unchanged (`Failure.edited`) and resumes at `Failure.resumes_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Direction

# The event `detail` keys of the protocol; the history keeps them, so they never change.
_DIRECTION, _DONE, _CHECKSUMS = "direction", "statements_done", "done_checksums"
_FAILED, _TOTAL = "failed_statement", "statements"
# The longest failed statement an event keeps (the whole file is in the repository).
_STATEMENT_CHARS = 2000


@dataclass(frozen=True)
class Failure:
    """Where a non-transactional migration stopped, as its last failed or interrupted event says."""

    version: str
    stem: str
    direction: Direction
    statements_done: int  # statements 1..statements_done committed
    done_checksums: tuple[str, ...]  # of the statements that did run, to detect edits
    error: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.version, self.stem)

    @property
    def resumes_at(self) -> int:
        """The statement (from 1) that `repair --retry` runs first."""
        return self.statements_done + 1

    def describe(self) -> str:
        return f"{self.direction} stopped after statement {self.statements_done}"

    def edited(self, checksums_now: Sequence[str]) -> bool:
        """Whether the statements that already ran differ from the file's now."""
        return list(checksums_now[: self.statements_done]) != list(self.done_checksums)

    @classmethod
    def from_detail(cls, version: str, stem: str, detail: Mapping[str, Any], error: str | None) -> Failure:
        return cls(version, stem, Direction(str(detail[_DIRECTION])), int(detail[_DONE]),
                   tuple(str(c) for c in detail[_CHECKSUMS]), error)


def stop_detail(direction: Direction, done_checksums: Sequence[str], failed_statement: str,
                statements: int) -> dict[str, object]:
    """The `detail` of the event that records where a run stopped: what from_detail reads back."""
    return {_DIRECTION: direction.value, _DONE: len(done_checksums), _CHECKSUMS: list(done_checksums),
            _FAILED: failed_statement[:_STATEMENT_CHARS], _TOTAL: statements}


# What reading the history looks for: an event with this key is a stop of the protocol.
STOP_KEY = _DONE
