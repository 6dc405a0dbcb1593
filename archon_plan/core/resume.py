"""The resume protocol of `transactional = false` migrations, in one place.

Such a migration commits one statement at a time. Before each statement the runner appends
a committed `statement-started` event, after it a `statement` event, and when one fails or is
interrupted an event that says where it stopped; each carries `progress_detail`. Reading the
history turns the last of them back into a `Failure` (`Failure.from_detail`), so a run killed
at any moment leaves the migration `failed`, never `pending`: stopped after statement k, with
the outcome of statement k+1 known (it failed, or never started) or `in_doubt` (it was sent
and nobody saw its answer). Planning refuses to run past it, `status` shows it, and
`repair --retry` checks that the statements that ran are unchanged (`Failure.edited`) and
resumes at `Failure.resumes_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Direction

# The event `detail` keys of the protocol; the history keeps them, so they never change.
_DIRECTION, _DONE, _CHECKSUMS = "direction", "statements_done", "done_checksums"
_FAILED, _TOTAL, _IN_DOUBT = "failed_statement", "statements", "in_doubt"
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
    in_doubt: bool = False  # statement statements_done + 1 was sent; whether it committed is unknown
    statements: int | None = None  # how many the file had when it stopped (None in older histories)

    @property
    def key(self) -> tuple[str, str]:
        return (self.version, self.stem)

    @property
    def resumes_at(self) -> int:
        """The statement (from 1) that `repair --retry` runs first."""
        return self.statements_done + 1

    def describe(self) -> str:
        doubt = f", statement {self.resumes_at} in doubt" if self.in_doubt else ""
        return f"{self.direction} stopped after statement {self.statements_done}{doubt}"

    def edited(self, checksums_now: Sequence[str]) -> bool:
        """Whether the statements that already ran differ from the file's now."""
        return list(checksums_now[: self.statements_done]) != list(self.done_checksums)

    @classmethod
    def from_detail(cls, version: str, stem: str, detail: Mapping[str, Any], error: str | None) -> Failure:
        """Raises KeyError, TypeError or ValueError for a detail that is not the protocol's."""
        if not isinstance(detail.get(_DONE), int) or detail[_DONE] < 0:
            raise ValueError(f"{_DONE} is not a count: {detail.get(_DONE)!r}")
        return cls(version, stem, Direction(str(detail[_DIRECTION])), int(detail[_DONE]),
                   tuple(str(c) for c in detail[_CHECKSUMS]), error, bool(detail.get(_IN_DOUBT)),
                   int(detail[_TOTAL]) if isinstance(detail.get(_TOTAL), int) else None)


def progress_detail(direction: Direction, done_checksums: Sequence[str], statements: int,
                    next_statement: str | None = None, in_doubt: bool = False) -> dict[str, object]:
    """The `detail` of a protocol event: how many statements committed (with their checksums),
    the one after them (`next_statement`: about to run, failed or interrupted) and whether its
    outcome is unknown (`in_doubt`: a `statement-started` event). from_detail reads it back."""
    detail: dict[str, object] = {_DIRECTION: direction.value, _DONE: len(done_checksums),
                                 _CHECKSUMS: list(done_checksums), _TOTAL: statements}
    if next_statement is not None:
        detail[_FAILED] = next_statement[:_STATEMENT_CHARS]
    if in_doubt:
        detail[_IN_DOUBT] = True
    return detail


# What reading the history looks for: an event with this key is a stop of the protocol.
STOP_KEY = _DONE
