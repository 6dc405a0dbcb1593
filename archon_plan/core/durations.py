"""PostgreSQL durations as its timeout settings take them: 500ms, 5s, 2min, 1h, or 0 (off)."""

from __future__ import annotations

import re

DURATION_RE = re.compile(r"(?P<amount>[0-9]+)(?P<unit>ms|s|min|h)?")
_UNIT_MS = {None: 1, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
MAX_DURATION_MS = 2_147_483_647  # PostgreSQL's timeouts are int milliseconds


def duration_problem(text: str) -> str | None:
    """Why text is not a PostgreSQL timeout (500ms, 5s, 2min, 1h, or 0), if it is not."""
    match = DURATION_RE.fullmatch(text)
    if not match:
        return f"{text!r} is not a duration: write it like 500ms, 5s, 2min or 1h"
    if int(match["amount"]) * _UNIT_MS[match["unit"]] > MAX_DURATION_MS:
        return f"{text!r} is longer than PostgreSQL allows (about 24 days)"
    return None


def duration_seconds(text: str) -> float:
    """A valid duration in seconds."""
    match = DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(duration_problem(text))
    return int(match["amount"]) * _UNIT_MS[match["unit"]] / 1000


def duration_is_off(text: str) -> bool:
    """Whether a valid duration turns its timeout off: "0", "0s", "00ms" ..."""
    match = DURATION_RE.fullmatch(text)
    return match is not None and int(match["amount"]) == 0
