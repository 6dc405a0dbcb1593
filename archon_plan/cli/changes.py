"""`apply` and `revert`: the verbs that change the schema, with the manifest's hooks around them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..core import planning
from ..core.extensions import HookPoint, NotifyKind
from ..core.model import Manifest, MigrationStatus, Plan, State
from ..core.text import SCHEMA_VERSION
from ..errors import ArchonPlanError, ExitCode
from ..project import cache
from . import render
from .commands import Context, connected, load, target_named
from .notify import Notifier
from .progress import Progress

if TYPE_CHECKING:
    from ..db.state import Selector


def apply(context: Context, args: argparse.Namespace) -> int:
    from ..db import connection, executor, state
    from ..db.target import libpq_environment
    from .hooks import HookReporter, Hooks, HookStopped, dry_run_lines

    phase = _Phases(context.verbose)
    loaded, built = load(context)
    phase("load the manifest")
    kept = _kept_splits(context)
    target = target_named(built, args.target) if args.target else None
    with _told(context, loaded) as notifier, connected(context, loaded.settings, loaded.root) as (conn, db):
        phase("connect")
        notifier.database = db.redacted
        if args.dry_run:
            plan = state.plan_forwards(conn, loaded.settings, built, target)
            for line in () if context.json else dry_run_lines(loaded.hooks, plan):
                print(f"Dry run: would run {line}")
            return _dry_run(plan, "apply", context.json)
        hooks = Hooks(loaded.hooks, libpq_environment(db), loaded.settings, context.actor, conn)
        progress = Progress(context.quiet, lines=not context.json)

        def before(plan: Plan) -> None:
            progress.plan(len(plan))
            hooks.before_apply(plan)

        try:
            plan = executor.apply(conn, loaded.settings, built,
                                  HookReporter(hooks, notifier, progress, context.verbose), target,
                                  context.actor, reconnect=lambda: connection.connect(db), before=before,
                                  kept=kept)
            phase(f"lock, plan and apply {len(plan)} migration(s)")
        except ArchonPlanError as exc:
            if not isinstance(exc, HookStopped) and not conn.broken:
                hooks.failed(exc)
            raise
        finally:
            progress.close()
            _keep(kept, loaded)
        if plan:
            hooks.run(HookPoint.AFTER_APPLY)
            notifier.send(NotifyKind.APPLIED)
        for migration, why in () if context.quiet or context.json else plan.deferred:
            print(f"  deferred {migration.label}: {why}")
        if context.json:
            return _document("apply", plan, notifier, state.read_state(conn, loaded.settings, built))
        if not plan and target is not None:  # "all up to date" would hide the others pending
            pending = sum(s.state is State.PENDING for s in state.read_state(conn, loaded.settings, built))
            print(f"Nothing to apply: {target.label} and what it depends on are applied; "
                  f"{pending} other migration(s) pending.")
            return ExitCode.OK
    if not context.quiet and not context.json:
        _summary(plan, "applied", len(built.order))
    return ExitCode.OK


def revert(context: Context, args: argparse.Namespace) -> int:
    from ..db import connection, executor, state
    from .hooks import HookReporter, Hooks

    loaded, built = load(context)
    if args.name:
        chosen = target_named(built, args.name)
        select: Selector = lambda statuses: planning.revert_named(statuses, chosen)  # noqa: E731
    elif args.to:
        keep = target_named(built, args.to)
        select = lambda statuses: planning.revert_to(built, statuses, keep)  # noqa: E731
    else:
        select = lambda statuses: planning.revert_last(statuses, args.last)  # noqa: E731
    with _told(context, loaded) as notifier, connected(context, loaded.settings, loaded.root) as (conn, db):
        notifier.database = db.redacted
        if args.dry_run:
            plan = state.plan_backwards(conn, loaded.settings, built, select, args.cascade)
            return _dry_run(plan, "revert", context.json)
        none = Hooks((), {}, loaded.settings, context.actor)  # hooks are apply's; progress and timers only
        progress = Progress(context.quiet, lines=not context.json)
        kept = _kept_splits(context)
        try:
            reporter = HookReporter(none, notifier, progress, context.verbose)
            plan = executor.revert(conn, loaded.settings, built, reporter, select, args.cascade,
                                   context.actor, reconnect=lambda: connection.connect(db), kept=kept)
        finally:
            progress.close()
            _keep(kept, loaded)
        if plan:
            notifier.send(NotifyKind.REVERTED)
        if context.json:
            return _document("revert", plan, notifier, state.read_state(conn, loaded.settings, built))
    if not context.quiet and not context.json:
        _summary(plan, "reverted", len(built.order))
    return ExitCode.OK


def _kept_splits(context: Context) -> cache.Memo:
    """Each file's checked split from earlier runs, so that it is not parsed again."""
    return cache.Memo(cache.folder(context.env), context.manifest_path, "splits")


def _keep(kept: cache.Memo, loaded: Manifest) -> None:
    """Keep the splits of the manifest's files as they are now, and no others."""
    files = {f.checksum for m in loaded.migrations for f in (m.sql, m.rollback) if f is not None}
    kept.save(lambda key: key.partition(":")[0] in files)


@contextmanager
def _told(context: Context, loaded: Manifest) -> Iterator[Notifier]:
    """The run's notifier; a run that ends on an error sends `refused` or `failed`."""
    from ..db.target import redact
    from ..errors import MigrationFailedError, RefusedError

    notifier = Notifier(loaded.notify, context.env, "(not connected)", context.actor,
                        loaded.settings.long_running_after)
    context.ran = notifier.done  # the same list: what committed, should the run fail
    try:
        yield notifier
    except ArchonPlanError as exc:
        notifier.stop()
        where = str(exc.location) if isinstance(exc, MigrationFailedError) else None
        notifier.send(NotifyKind.REFUSED if isinstance(exc, RefusedError) else NotifyKind.FAILED,
                      redact(exc.message, context.secrets), where)
        raise
    finally:
        notifier.stop()


def _document(verb: str, plan: Plan, notifier: Notifier, statuses: Sequence[MigrationStatus]) -> int:
    """`--format json`: what ran, what waits, and the state after it."""
    document = {
        "schema_version": SCHEMA_VERSION, "command": verb, "database": notifier.database, "dry_run": False,
        "ran": notifier.done, "deferred": [{"migration": m.label, "reason": why} for m, why in plan.deferred],
        "counts": render.counts(statuses), "exit_code": 0}
    print(json.dumps(document, indent=2))
    return ExitCode.OK


class _Phases:
    """--verbose: how long each phase of a run took, on stderr."""

    def __init__(self, verbose: bool) -> None:
        self.verbose, self.last = verbose, time.perf_counter()

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        if self.verbose:
            print(f"archon-plan: {what}: {(now - self.last) * 1000:.0f} ms", file=sys.stderr, flush=True)
        self.last = now


def _dry_run(plan: Plan, verb: str, as_json: bool = False) -> int:
    from ..db import executor

    executor.prepare(plan)  # the same refusals a real run would give
    if as_json:
        document = {"schema_version": SCHEMA_VERSION, "command": verb, "dry_run": True,
                    "would_run": [step.migration.label for step in plan.steps],
                    "deferred": [{"migration": m.label, "reason": why} for m, why in plan.deferred]}
        print(json.dumps(document, indent=2))
        return ExitCode.OK
    if not plan:
        print(f"Dry run: nothing to {verb}.")
        return ExitCode.OK
    print(render.plan_preview(plan))
    done = "applied" if verb == "apply" else "reverted"
    print(f"Dry run: {len(plan)} migration(s) would be {done}; nothing was changed.")
    return ExitCode.OK


def _summary(plan: Plan, verb: str, total: int) -> None:
    later = f"; {len(plan.deferred)} deferred (--ignore-windows applies them now)" if plan.deferred else ""
    if plan:
        print(f"{len(plan)} migration(s) {verb}{later}.")
    elif later:
        print(f"Nothing to apply now{later}.")
    elif verb == "applied":
        print(f"Nothing to apply: all {total} migration(s) are up to date.")
    else:
        print("Nothing to revert.")
