"""The manifest's extension points (docs/manifest.md): programs run at points of a run
(`[[hook]]`), and who is told what happened (`[[notify]]`). Values only; running them is
the CLI's business."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HookPoint(StrEnum):
    """Where in a run a hook's program runs."""

    BEFORE_APPLY = "before_apply"  # under the lock, the plan known, before anything changes
    AFTER_APPLY = "after_apply"  # every migration of the plan applied
    BEFORE_MIGRATION = "before_migration"
    AFTER_MIGRATION = "after_migration"
    ON_FAILURE = "on_failure"  # the run stopped on an error

    @property
    def stops_the_run(self) -> bool:
        """A `before_*` hook that fails stops the run; the others only warn."""
        return self.value.startswith("before_")


@dataclass(frozen=True)
class Hook:
    """One `[[hook]]`: an argv (never a shell string) run at a point."""

    when: HookPoint
    run: tuple[str, ...]
    timeout: str = "10min"
    line: int | None = None  # of its [[hook]] header, for messages


class NotifyFormat(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    JSON = "json"


class NotifyKind(StrEnum):
    """What a notification is about; one POST per run and kind."""

    APPLIED = "applied"
    REVERTED = "reverted"
    REPAIRED = "repaired"
    FAILED = "failed"
    REFUSED = "refused"  # a modified applied file, a failed migration awaiting repair, a pooler
    DRIFT = "drift"
    LONG_RUNNING = "long_running"  # a migration still running after long_running_after


DEFAULT_NOTIFY_ON = (NotifyKind.FAILED, NotifyKind.REFUSED, NotifyKind.DRIFT, NotifyKind.LONG_RUNNING)


@dataclass(frozen=True)
class Notify:
    """One `[[notify]]`: where to POST (the URL comes from the environment) and about what."""

    url_env: str
    format: NotifyFormat = NotifyFormat.JSON
    on: tuple[NotifyKind, ...] = DEFAULT_NOTIFY_ON
    secret_env: str | None = None  # HMAC-SHA256 of the body in X-Archon-Signature
    line: int | None = None
