"""What the runners share: a run's connection and settings (`Run`), a prepared step, the
progress callback, recording a failure, and stopping when the session changed or the lock went."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import psycopg

from ..core.model import Actor, Event, Migration, Settings, Step
from ..errors import RefusedError
from . import events
from .connection import Connection

if TYPE_CHECKING:
    from ..sql import parse
    from .batch import Composer


class Reporter(Protocol):
    """Where progress goes; the executor itself never prints. A reporter may also have
    `statement_started(step, k, n)`, called before statement k of n of a non-transactional
    migration is sent."""

    def notice(self, text: str) -> None: ...
    def step_started(self, step: Step) -> None: ...
    def step_finished(self, step: Step, seconds: float) -> None: ...


@dataclass(frozen=True)
class Prepared:
    """A step with its statements, parsed and checked before anything runs."""

    step: Step
    statements: tuple[parse.Statement, ...]


@dataclass(frozen=True)
class Run:
    """What every step of one run shares."""

    conn: Connection
    settings: Settings
    reporter: Reporter
    actor: Actor
    backend_pid: int  # the session that holds the lock; another one means a pooler
    reconnect: Callable[[], Connection] | None = None  # to settle a step after a lost connection

    @functools.cached_property
    def composer(self) -> Composer:
        """The run's statements as text, each template rendered once per run."""
        from .batch import Composer  # here: a run with nothing to do never composes

        return Composer(self.conn, self.settings, self.backend_pid)

    @functools.cached_property
    def bookkeeping(self) -> Connection:
        """Where a non-transactional migration's progress is recorded: a connection of its own
        when the run can open one, so that what the file does to its session (SET ROLE, SET
        SESSION AUTHORIZATION, search_path) cannot break the bookkeeping. close() closes it."""
        return self.reconnect() if self.reconnect is not None else self.conn

    def close(self) -> None:
        extra = self.__dict__.get("bookkeeping")
        if extra is not None and extra is not self.conn:
            extra.close()


def record_failure(run: Run, event: Event) -> None:
    """Failures are recorded after the rollback, on their own; best effort, never masking."""
    with contextlib.suppress(psycopg.Error):
        events.record_event(run.conn, run.settings, event)


def refuse_lost_session(run: Run, migration: Migration, exc: psycopg.Error,
                        left: str | None = None) -> None:
    """Stop the run when a guard of the message found the session changed or the lock gone;
    `left` says what of the migration stayed, when something did."""
    from . import batch  # a message failed: batch sent it

    primary = exc.diag.message_primary or ""
    what = f"{migration.label}: {left}" if left else f"nothing of {migration.label} was applied"
    if batch.SESSION_GUARD in primary:
        raise RefusedError(
            f"the database session changed since the migration lock was taken (backend "
            f"{run.backend_pid}): a transaction-mode pooler is in the way; {what}",
            "connect directly (Supabase: db.<ref>.supabase.co:5432) or through a session pooler",
        ) from None
    if batch.LOCK_GUARD in primary:
        raise RefusedError(
            "the session no longer holds the migration lock, so another runner could start: "
            f"the run stops here; {what}",
            "a migration must not release advisory locks (pg_advisory_unlock_all(), DISCARD ALL)"
            + ("" if left else ": remove that statement, then run it again"),
        ) from None
