"""`archon-plan snapshot`, `drift`, `check --snapshot` and `fleet drift`: a schema written down
as text, and a database's schema compared with it or with what its migrations build."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

# Parsing imports this module: what the verbs need loads in them, as commands.py does.
from ..errors import ExitCode, UsageError
from .options import CONNECTION

if TYPE_CHECKING:
    from ..db.fleet import Result
    from ..db.target import Target
    from ..review.drift import Drift, Expected, FromMigrations
    from ..review.snapshot_file import SchemaFile
    from .commands import Context

FORMATS = ("text", "json", "markdown")


def add_parser(add: Callable[..., argparse.ArgumentParser], check: argparse.ArgumentParser) -> None:
    """The `snapshot` and `drift` verbs, and check's --snapshot."""
    snapshot = add("snapshot", help="write the schema of the database as sorted text, one object a line",
                   database=CONNECTION, example="archon-plan snapshot --output schema.snapshot",
                   description="The schemas the migrations write objects in, and public (or --schema), "
                   "read from the configured database's catalog without archon-plan's own tables: "
                   "deterministic text to commit and review. Nothing is changed.")
    snapshot.add_argument("--output", type=Path, metavar="FILE", help="write it to FILE (default: stdout)")
    _schema_option(snapshot)
    snapshot.add_argument("--tenant", metavar="SCHEMA", help="a tenant's snapshot: SCHEMA alone, written "
                          "{tenant}, to compare every tenant of a fleet with (`fleet drift`)")
    snapshot.add_argument("--from-migrations", action="store_true", help="apply every migration on a "
                          "scratch database and write its schema instead; the configured one is not read")
    scratch_options(snapshot)
    drift = add("drift", help="compare the database's schema with a snapshot, or with its migrations; "
                "exit 11 when they differ", database=CONNECTION,
                example=("archon-plan drift --snapshot schema.snapshot",
                         "archon-plan drift --format markdown"),
                description="Lists each schema object added, removed or changed by hand. Without "
                "--snapshot, the migrations the database has applied are built on a scratch database "
                "to compare with. The configured database is only read: its catalog and tracking table.")
    drift.add_argument("--snapshot", type=Path, metavar="FILE", help="the expected schema (`archon-plan "
                       "snapshot`); its schemas are the ones compared")
    drift.add_argument("--format", choices=FORMATS, default="text", help="markdown: a pull-request comment")
    _schema_option(drift)
    scratch_options(drift)
    check.add_argument("--snapshot", type=Path, metavar="FILE", help="also prove FILE is what the "
                       "migrations build, on a scratch database (exit 11 when it is stale)")
    scratch_options(check)


def _schema_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schema", action="append", default=[], metavar="NAME",
                        help="compare this schema (repeatable; default: public and those the migrations "
                        "write objects in)")


def scratch_options(parser: argparse.ArgumentParser) -> None:
    """Where a schema is built from the migrations: never on the configured database."""
    parser.add_argument("--scratch-url", metavar="URL", help="the server for scratch databases, created "
                        "and dropped there (default: a throwaway embedded PostgreSQL)")
    parser.add_argument("--setup", type=Path, metavar="FILE",
                        help="SQL run first on each scratch database: roles, schemas, extensions")


def snapshot(context: Context, args: argparse.Namespace) -> int:
    from ..db import connection
    from ..review import drift, snapshot_file
    from . import scratch
    from .commands import connected, load

    loaded, built = load(context)
    if args.tenant is not None and args.schema:
        raise UsageError("--tenant and --schema both choose the schemas", "keep one of them")
    scope = drift.migrations_scope(built, args.tenant, args.schema)
    if args.from_migrations:
        with scratch.server(context, args.scratch_url, "--scratch-url") as server:
            made = _built(context, args, server, args.schema).expect(
                loaded.settings, built, None, args.tenant is not None, scratch.QuietReporter())
        found, major = made.snapshot, made.major
    else:
        with connected(context, loaded.settings, loaded.root) as (conn, _):
            found, major = scope.read(conn, loaded.settings), connection.server_major(conn)
    text = snapshot_file.render(snapshot_file.SchemaFile(found, scope.schemas, major))
    if args.output is None:
        print(text, end="")
        return ExitCode.OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output: cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {len(found.objects)} schema object(s) of {', '.join(scope.schemas)} to {args.output}",
          file=sys.stderr)
    return ExitCode.OK


def drift(context: Context, args: argparse.Namespace) -> int:
    """Reads the configured database, then (without --snapshot) builds on a scratch database."""
    from ..db import connection, state
    from ..review import drift, drift_report
    from . import scratch
    from .commands import connected, load

    loaded, built = load(context)
    settings, reporter = loaded.settings, scratch.QuietReporter()
    if args.snapshot is not None and args.schema:
        raise UsageError("--schema goes without --snapshot", "the snapshot file names the schemas it covers")
    with _scratch_server(context, args) as server:
        expected = _expected(context, args, server)
        scope = expected.scope(built, None)
        with connected(context, settings, loaded.root) as (conn, target):
            statuses = state.read_state(conn, settings, built)
            found, major = scope.read(conn, settings), connection.server_major(conn)
        expectation = expected.expect(settings, built, statuses, False, reporter)
    if expectation.major != major:
        reporter.notice(drift.major_notice(expectation.major, major))
    result = drift.compare(expectation, scope, found)
    render = {"json": drift_report.drift_json, "markdown": drift_report.drift_markdown}.get(
        args.format, drift_report.drift_text)
    print(render(result, target.redacted))
    if result.differences and loaded.notify:
        from ..core.extensions import NotifyKind
        from .notify import Notifier

        told = Notifier(loaded.notify, context.env, target.redacted, context.actor,
                        settings.long_running_after)
        told.send(NotifyKind.DRIFT, detail=f"{len(result.differences)} object(s) differ from the expected")
    return ExitCode.DRIFT if result.differences else ExitCode.OK


def with_snapshot(context: Context, args: argparse.Namespace, report: str) -> tuple[str, Drift]:
    """check --snapshot: every migration built on a scratch database against the file; the
    check report with the comparison added in its format."""
    import json

    from ..review import drift, drift_report
    from . import scratch
    from .commands import load

    file = read_snapshot(args.snapshot)
    loaded, built = load(context)
    with scratch.server(context, args.scratch_url, "--scratch-url") as server:
        made = _built(context, args, server, () if file.tenant else file.schemas).expect(
            loaded.settings, built, None, file.tenant, scratch.QuietReporter())
    if made.major != file.major:
        scratch.QuietReporter().notice(drift.major_notice(file.major, made.major))
    expected = drift.Expectation(file.snapshot, str(args.snapshot), file.major)
    stale = drift.compare(expected, drift.Scope(file.schemas), made.snapshot)
    built_by = "what the migrations build"
    if args.format == "json":
        document = json.loads(report)
        document["snapshot"] = drift_report.drift_document(stale, None)
        return json.dumps(document, indent=2), stale
    if args.format == "markdown":
        return f"{report}\n\n{drift_report.drift_markdown(stale, built_by)}", stale
    return f"{report}\n{drift_report.drift_text(stale, built_by)}", stale


def fleet_drift(context: Context, args: argparse.Namespace) -> int:
    """`fleet drift`: drift on every chosen target; each target's differences in the report."""
    from ..core.fleet import OnError
    from ..db import fleet as runner
    from ..review import drift, drift_report
    from . import fleet

    fleet_file, projects = fleet.load_targets(context, args)
    chosen = fleet.choose(context, args, fleet_file, projects)
    found: dict[str, Drift] = {}
    with _scratch_server(context, args) as server:
        job = drift.fleet_job(_expected(context, args, server), found)
        fleet_run = runner.FleetRun(fleet_file.settings.parallel, OnError.CONTINUE, lambda _: None,
                                    lambda text: print(f"NOTICE: {text}", file=sys.stderr), context.actor)
        results = fleet_run.run(chosen, job, 0)
    interrupt = fleet_run.interrupt
    code = _fleet_code(results) if interrupt is None else runner.exit_code(results, interrupt)
    print(drift_report.fleet_json(results, found, fleet.where(chosen), fleet_file.path, code)
          if args.format == "json" else drift_report.fleet_text(results, found))
    return code


def _fleet_code(results: Sequence[Result]) -> int:
    """A target that could not be compared says more than one that differs."""
    codes = [r.exit_code for r in results if not r.ok]
    failed = [code for code in codes if code != ExitCode.DRIFT]
    return failed[0] if failed else ExitCode.DRIFT if codes else ExitCode.OK


def _scratch_server(context: Context, args: argparse.Namespace) -> AbstractContextManager[Target | None]:
    """The scratch server when the expected schema is built from the migrations; else none."""
    from . import scratch

    return nullcontext() if args.snapshot is not None else scratch.server(context, args.scratch_url,
                                                                         "--scratch-url")


def _expected(context: Context, args: argparse.Namespace, server: Target | None) -> Expected:
    from ..review import drift

    if server is None:
        return drift.FromFile(read_snapshot(args.snapshot), str(args.snapshot))
    return _built(context, args, server, getattr(args, "schema", ()))


def _built(context: Context, args: argparse.Namespace, server: Target,
           schemas: Sequence[str] = ()) -> FromMigrations:
    from ..review import drift
    from . import scratch

    return drift.FromMigrations(scratch.opener(server, "building the schema"),
                                scratch.read_file(args.setup, "--setup"), context.actor, tuple(schemas))


def read_snapshot(path: Path) -> SchemaFile:
    from ..review import snapshot_file
    from . import scratch

    read = scratch.read_file(path, "--snapshot")
    assert read is not None
    return snapshot_file.parse(read.text, str(path))
