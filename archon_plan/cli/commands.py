"""One function per CLI verb (review.py holds check, diff, rehearse, schema); with review.py,
the only place besides app.py that prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what every verb needs at import. psycopg (connection, tracker, the executor with batch,
# sql.parse and the lock), repair, pydantic (manifest), packaging (releases, scaffold) and the
# review verbs (review.py) load in the verbs that use them: `show` and `check` never connect.
from ..core import durations, graph, planning
from ..core.model import NOBODY, Actor, Manifest, Migration, Settings, State, Step
from ..errors import DatabaseError, ExitCode, RefusedError, UsageError
from ..project import cache, loader
from . import render

if TYPE_CHECKING:  # psycopg (connection, tracker, executor) loads only for verbs that connect
    from ..db.connection import Connection
    from ..db.target import Target


@dataclass
class Context:
    manifest_path: Path
    database_url: str | None
    lock_wait: float | None
    env: Mapping[str, str]
    migration_lock_timeout: str | None = None
    statement_timeout: str | None = None
    actor: Actor = NOBODY
    secrets: tuple[str, ...] = field(default=())
    embedded: bool = False  # --embedded: the embedded PostgreSQL, chosen on purpose
    quiet: bool = False  # --quiet: errors only
    verbose: bool = False  # --verbose: each step's SQL and each phase's time, on stderr
    json: bool = False  # --format json: stdout holds one JSON document, errors included
    ran: list[dict[str, object]] | None = None  # apply/revert: what committed, for an error's document
    ignore_windows: bool = False  # apply --ignore-windows


class PrintReporter:
    """Progress of a run, one line per migration with its duration."""

    def notice(self, text: str) -> None:
        print(f"NOTICE: {text}", file=sys.stderr)

    def step_started(self, step: Step) -> None:
        pass

    def step_finished(self, step: Step, seconds: float) -> None:
        verb = "applied " if step.direction.value == "apply" else "reverted"
        print(f"  {verb} {step.migration.label}  ({seconds * 1000:.0f} ms)", flush=True)


def run(context: Context, args: argparse.Namespace) -> int:
    if args.command in ("apply", "revert"):
        from . import changes

        return changes.apply(context, args) if args.command == "apply" else changes.revert(context, args)
    handler = {"show": show, "status": status, "create": create, "init": init, "history": history,
               "repair": repair_history}[args.command]
    return handler(context, args)


def load(context: Context, path: Path | None = None) -> tuple[Manifest, graph.MigrationGraph]:
    """Manifest and graph, with every problem of both reported at once; cached when unchanged."""
    loaded, built = loader.load_project(path or context.manifest_path, cache.folder(context.env))
    overrides: dict[str, Any] = {}
    if context.lock_wait is not None:
        overrides["lock_wait_s"] = context.lock_wait
    if context.ignore_windows:
        overrides["ignore_windows"] = True
    for name in ("migration_lock_timeout", "statement_timeout"):
        value = getattr(context, name)
        if value is not None:
            problem = durations.duration_problem(value)
            if problem:
                raise UsageError(f"--{name.replace('_', '-')}: {problem}")
            overrides[name.removeprefix("migration_")] = value
    return replace(loaded, settings=replace(loaded.settings, **overrides)), built


@contextmanager
def connected(context: Context, settings: Settings, root: Path, chosen: Target | None = None
              ) -> Iterator[tuple[Connection, Target]]:
    from ..db import connection

    target = chosen or target_database(context, root)
    context.secrets = tuple(dict.fromkeys((*context.secrets, *target.secrets)))  # serve reads often
    conn = connection.connect(target)
    try:
        with connection.database_errors(target):
            yield conn, target
    finally:
        conn.close()


def target_database(context: Context, root: Path) -> Target:
    """The configured database; the embedded one only when chosen, or on a laptop with
    nothing configured. Never silently in CI, where a missing secret must fail the deploy."""
    from ..db.target import resolve_target

    target = resolve_target(context.database_url, context.env)
    chosen = context.embedded or context.env.get("ARCHON_EMBEDDED") == "1"
    if target is not None and chosen:
        raise DatabaseError(f"--embedded (or ARCHON_EMBEDDED=1) and {target.source} both choose a "
                            "database", "keep one of them")
    if target is not None:
        if target.source == "--database-url" and target.secrets:
            print("archon-plan: warning: a password given with --database-url is visible to other "
                  "local users (ps) while archon-plan runs; set ARCHON_DATABASE_URL or put it in "
                  ".env instead", file=sys.stderr)
        return target
    if not chosen and context.env.get("CI"):
        raise DatabaseError(
            "no database configured, and CI is set: archon-plan does not fall back to an embedded "
            "database in CI, where a missing secret would otherwise migrate a throwaway one",
            "set --database-url, ARCHON_DATABASE_URL, DATABASE_URL, SUPABASE_DB_URL, or SUPABASE_URL "
            "with SUPABASE_DB_PASSWORD; --embedded (or ARCHON_EMBEDDED=1) chooses the embedded one")
    from ..db import embedded

    target = embedded.embedded_target(root)
    if not chosen:
        print(f"archon-plan: no database configured; using the {target.source} "
              "(set --database-url or ARCHON_DATABASE_URL for yours)", file=sys.stderr)
    return target


def show(context: Context, args: argparse.Namespace) -> int:
    from ..core import releases

    _, built = load(context)
    only = None if args.release is None else releases.release(built, args.release)
    formatter = {"text": render.show_text, "json": render.show_json, "mermaid": render.show_mermaid,
                 "dot": render.show_dot, "markdown": releases.release_notes}[args.format]
    print(formatter(built, only))
    return ExitCode.OK


def status(context: Context, args: argparse.Namespace) -> int:
    from ..db import state

    loaded, built = load(context)
    with connected(context, loaded.settings, loaded.root) as (conn, target):
        statuses = state.read_state(conn, loaded.settings, built)
    later = planning.forwards_plan(built, statuses, None, loaded.settings, datetime.now(UTC)).deferred
    formatter = render.status_json if args.format == "json" else render.status_text
    print(formatter(statuses, target.redacted, {m.key: why for m, why in later}))
    behind = any(s.state in (State.PENDING, State.MODIFIED, State.FAILED) for s in statuses)
    return ExitCode.NOT_UP_TO_DATE if args.check and behind else ExitCode.OK


def target_named(built: graph.MigrationGraph, name: str) -> Migration:
    return graph.resolve(name, built.order)


def history(context: Context, args: argparse.Namespace) -> int:
    from ..db import events

    loaded, _ = load(context)
    with connected(context, loaded.settings, loaded.root) as (conn, target):
        history = events.read_events(conn, loaded.settings, args.limit)
    formatter = render.history_json if args.format == "json" else render.history_text
    print(formatter(history, target.redacted))
    return ExitCode.OK


def repair_history(context: Context, args: argparse.Namespace) -> int:
    from ..db import connection, repair

    loaded, built = load(context)
    flag, value = next((f, getattr(args, f)) for f in ("retry", "accept_checksum", "mark_applied",
                                                          "mark_reverted") if getattr(args, f) is not None)
    if not (value or args.name):
        raise UsageError(f"repair --{flag.replace('_', '-')} needs the migration's NAME")
    migration = target_named(built, value or args.name)
    how = "resume-at" if args.resume_at is not None else "resume-after"
    chosen = args.resume_at if args.resume_at is not None else args.resume_after
    if flag == "retry":
        choice = repair.Choice(how, chosen) if chosen is not None else None
        with connected(context, loaded.settings, loaded.root) as (conn, db):
            from .scratch import QuietReporter

            reporter = QuietReporter() if context.json else PrintReporter()
            resumed = repair.retry(conn, loaded.settings, built, reporter, migration,
                                   context.actor, choice, reconnect=lambda: connection.connect(db))
        return _said(context, f"retried {migration.label} from statement {resumed}: done.",
                     action="retry", migration=migration.label, resumed_from=resumed)
    if chosen is not None:
        raise UsageError(f"--{how} goes with --retry",
                         f"archon-plan repair --retry {migration.label} --{how} K")
    action = repair.Repair(flag.replace("_", "-"))
    if not args.yes:
        confirm(f"{action} {migration.label}: this changes the recorded history. Proceed?")
    with connected(context, loaded.settings, loaded.root) as (conn, db):
        before = repair.repair(conn, loaded.settings, built, PrintReporter(), action, migration,
                               context.actor, cascade=args.cascade)
    told = f"{action}: {migration.label} (was {before.state}); the event history records it."
    if loaded.notify:
        from ..core.extensions import NotifyKind
        from .notify import Notifier

        Notifier(loaded.notify, context.env, db.redacted, context.actor, loaded.settings.long_running_after
                 ).send(NotifyKind.REPAIRED, detail=told)
    return _said(context, told, action=str(action), migration=migration.label, was=str(before.state))


def _said(context: Context, text: str, **fields: object) -> int:
    """What a repair did: a line, or with --format json a document."""
    if context.json:
        import json

        from ..core.text import SCHEMA_VERSION

        document = {"schema_version": SCHEMA_VERSION, "command": "repair", **fields, "exit_code": 0}
        print(json.dumps(document, indent=2))
    else:
        print(text)
    return ExitCode.OK


def confirm(question: str, what: str = "change history") -> None:
    if not sys.stdin.isatty():
        raise RefusedError(f"refusing to {what} without confirmation",
                           "pass --yes to confirm when no one can answer a prompt")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise RefusedError("cancelled; nothing was changed")


def create(context: Context, args: argparse.Namespace) -> int:
    if context.manifest_path.exists():
        loaded, built = load(context)  # a broken manifest is reported, not appended to
    else:
        loaded = Manifest(context.manifest_path, Settings(), ())
        built = graph.build_graph(())
    depends = [graph.resolve(name, built.order).label for name in args.depends_on]
    from ..project import scaffold

    made = scaffold.create(loaded, args.name, args.release, depends)
    print(f"created {_shown(made.sql)}")
    print(f"created {_shown(made.rollback)}")
    print(f"added {made.version}/{made.stem} to {context.manifest_path}")
    _merge_by_union(context.manifest_path)
    return ExitCode.OK


def _merge_by_union(manifest: Path) -> None:
    """Two branches that each append an entry then merge without a conflict (docs/cli.md)."""
    from ..project import layout

    added = layout.ensure_union_merge(manifest)
    if added:
        print(f"added `{added}` to {_shown(manifest.parent / '.gitattributes')}")


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def init(context: Context, args: argparse.Namespace) -> int:
    from ..project import scaffold

    count, archon = scaffold.init(args.folder, context.manifest_path, args.release)
    print(f"wrote {context.manifest_path} with {count} migration(s)")
    _merge_by_union(context.manifest_path)
    if archon:
        print("Archon layout found: rows are recorded without .sql (recorded_name = \"stem\"),"
              " as Archon's application expects")
    return ExitCode.OK


