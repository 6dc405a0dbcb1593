"""Maintenance windows (`[settings] windows`) and `not_before`: when `apply` may start a
migration. A window is a weekday set and a time range in a time zone: "Sat 02:00-04:00 UTC",
"Mon-Fri 22:00-02:00 Europe/Berlin" (a range past midnight ends the next day), "daily
03:00-05:00 UTC". Pure: the clock is an argument."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW_RE = re.compile(r"(?P<days>[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*|daily)\s+"
                       r"(?P<start>[0-2][0-9]:[0-5][0-9])-(?P<end>[0-2][0-9]:[0-5][0-9])\s+(?P<zone>\S+)")
WINDOW_RULE = ('"DAYS HH:MM-HH:MM ZONE": DAYS like Sat, Mon-Fri, Sat,Sun or daily; ZONE like UTC or '
               "Europe/Berlin; e.g. \"Sat 02:00-04:00 UTC\"")


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday: the days the window opens on
    start: time
    end: time  # at or before start: the window ends the next day
    zone: ZoneInfo

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        for opened_on in (local.date(), local.date() - timedelta(days=1)):
            if opened_on.weekday() not in self.days:
                continue
            opens = datetime.combine(opened_on, self.start, self.zone)
            closes = datetime.combine(opened_on, self.end, self.zone)
            if closes <= opens:
                closes += timedelta(days=1)
            if opens <= local < closes:
                return True
        return False


@cache
def parse_window(text: str) -> Window:
    """The window `text` names; ValueError with what is wrong."""
    match = WINDOW_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a window: write {WINDOW_RULE}")
    try:
        zone = ZoneInfo(match["zone"])
        start, end = (time.fromisoformat(match[k]) for k in ("start", "end"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return Window(_days(text, match["days"].lower()), start, end, zone)


def _days(text: str, spec: str) -> frozenset[int]:
    if spec == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{text!r}: {part!r} is not a day or a range of days (Mon ... Sun)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_instant(text: str) -> datetime:
    """`not_before`: an ISO 8601 instant with its offset ("2026-12-10T02:00:00Z")."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time, e.g. 2026-12-10T02:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or an offset such as +01:00")
    return moment


def deferral(windows: tuple[str, ...], not_before: str | None, now: datetime) -> str | None:
    """Why a migration may not start now, or None when it may."""
    if not_before is not None and now < parse_instant(not_before):
        return f"not before {not_before}"
    if windows and not any(parse_window(w).is_open(now) for w in windows):
        return f"outside the maintenance windows ({'; '.join(windows)})"
    return None
