"""The review verbs: check (lint), diff against a base, rehearse rollbacks, the manifest's schema.

Kept apart from commands.py so the verbs of every deploy (status, apply) do not import
what only review needs (pglast's trees, pydantic's schema, catalog reading)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import diff
from ..core.model import Migration
from ..errors import ArchonPlanError, ExitCode, LintError, Location, ManifestError, Problem
from ..project import cache, loader, revision
from ..review import diff_report
from ..sql.rules import Severity
from . import drift, scratch
from .commands import Context, load

if TYPE_CHECKING:  # rehearse, and psycopg with the connection, are imported where they are used
    from ..review.rehearse import Outcome
    from ..sql.lint import Finding

def run(context: Context, args: argparse.Namespace) -> int:
    return HANDLERS[args.command](context, args)


def check(context: Context, args: argparse.Namespace) -> int:
    from ..review import lint_report  # here: the other verbs need no lint rules
    from ..sql import lint

    folder = cache.folder(context.env)
    loaded, built, problems = loader.read_project(context.manifest_path, folder)
    known = cache.load_memo(folder, context.manifest_path, "lint")
    memo = {key: tuple(map(_finding, found)) for key, found in known.items()}
    settings = loaded.settings
    result = lint.lint(built.order, memo, [(settings.tracking_schema, settings.tracking_table)])
    if result.memo.keys() != known.keys():  # else every finding came from the memo as it is
        cache.store_memo(folder, context.manifest_path, "lint",
                             {key: [_plain(f) for f in found] for key, found in result.memo.items()})
    result = replace(result, findings=(*result.findings, *_unlisted(built.order, context.manifest_path)))
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    if problems:  # with the SQL errors of the valid entries: all at once
        document = lint_report.broken(result, str(context.manifest_path), len(built.order), args.format,
                                      problems)
        if document is not None:  # a machine reading stdout gets a document, not nothing
            print(document)
        raise ManifestError([*problems, *map(_as_problem, errors)])
    report = lint_report.render(result, str(context.manifest_path), len(built.order), args.format)
    stale = None
    if args.snapshot is not None and not errors:  # only a project that lints can be built
        report, stale = drift.with_snapshot(context, args, report)
    print(report)
    if errors:  # the report above has them all; the error line names the first
        first, more = _as_problem(errors[0]), len(errors) - 1
        tail = f" (and {more} more error(s) in the report)" if more else ""
        raise LintError(f"{first.where}: {first.message}{tail}", first.hint)
    if stale is not None and stale.differences:
        raise stale.error("what the migrations build", f"the snapshot is stale: write it again with "
                          f"`archon-plan snapshot --from-migrations --output {args.snapshot}`")
    strict = args.strict and result.count(Severity.WARNING)
    return ExitCode.LINT_WARNINGS if strict else ExitCode.OK


def _unlisted(migrations: Sequence[Migration], manifest: Path) -> list[Finding]:
    from ..project.unlisted import unlisted_files
    from ..sql.lint import Finding
    from ..sql.rules import BY_CODE

    rule = BY_CODE["AP601"]
    return [Finding(rule.code, rule.severity, "(none)", Location(shown), "no manifest entry names this file",
                    rule.fix) for shown in unlisted_files(migrations, manifest.resolve().parent)]


def _plain(finding: Finding) -> list[Any]:
    at = finding.location
    return [finding.code, finding.severity.value, finding.migration, [at.file, at.line, at.column],
            finding.message, finding.hint]


def _finding(stored: list[Any]) -> Finding:
    from ..sql.lint import Finding

    code, severity, migration, (file, line, column), message, hint = stored
    return Finding(code, Severity(severity), migration, Location(file, line, column), message, hint)


def _as_problem(finding: Finding) -> Problem:
    return Problem.at(finding.location, f"migration {finding.migration}: {finding.message} [{finding.code}]",
                      finding.hint, finding.code)


def diff_base(context: Context, args: argparse.Namespace) -> int:
    """The report is printed in full; removed or edited migrations of the base then fail (exit 4)."""
    head, _ = load(context)
    base = revision.load_base(context.manifest_path, args.base)
    base_file = args.base if Path(args.base).is_file() else f"{args.base}:{context.manifest_path.name}"
    changes = diff.compare_manifests(base, head, args.base, base_file)
    if args.format == "markdown":
        from ..sql import lint  # here: lint loads pglast, which the other formats do without

        print(diff_report.diff_markdown(changes, lint.lint_migrations(changes.new)))
    else:
        print((diff_report.diff_json if args.format == "json" else diff_report.diff_text)(changes))
    problems = changes.problems()
    if problems:
        raise ManifestError(problems)
    return ExitCode.OK


def schema(context: Context, args: argparse.Namespace) -> int:
    from ..project import fleet, manifest  # here: a `check` with the plan cached needs no pydantic

    print(json.dumps(fleet.fleet_json_schema() if args.fleet else manifest.manifest_json_schema(), indent=2))
    return ExitCode.OK


class RehearseReporter(scratch.QuietReporter):
    """A rehearsal's progress: one outcome per migration; its applies and reverts stay quiet."""

    def __init__(self, text: bool) -> None:
        self.text = text

    def rehearsed(self, outcome: Outcome) -> None:
        from ..review.rehearse_report import outcome_text

        if self.text:
            print(outcome_text(outcome), flush=True)


def rehearse_rollbacks(context: Context, args: argparse.Namespace) -> int:
    """Never on the configured database: --database-url names the server that holds the scratch
    databases, and the environment's database variables are not read."""
    from ..db.target import redact
    from ..review import rehearse, rehearse_report  # only here: psycopg, catalog reading

    if args.server_version:
        return _server_version(context)
    try:
        loaded, built = load(context)
        base = None
        if args.changed_since is not None:
            base = {m.key for m in revision.load_base(context.manifest_path, args.changed_since).migrations}
        setup = scratch.read_file(args.setup, "--setup")
        with scratch.server(context, context.database_url, "--database-url") as server:
            result = rehearse.rehearse(scratch.opener(server, "rehearsing"), loaded.settings, built,
                                       RehearseReporter(args.format == "text"), base, context.actor, setup)
    except ArchonPlanError as exc:
        if args.format == "json":  # a tool reading stdout gets a document, with the error in it
            print(redact(rehearse_report.stopped_json(exc, None), context.secrets))
        raise
    if args.format == "json":
        shown = server.source if context.database_url is None else server.redacted
        print(rehearse_report.rehearsal_json(result, shown))
    else:
        print(rehearse_report.summary_text(result))
    return ExitCode.OK if result.ok else ExitCode.REHEARSAL_FAILED


def _server_version(context: Context) -> int:
    """`rehearse --server-version`: which PostgreSQL a rehearsal would run on, and nothing else."""
    from ..db import connection

    with scratch.server(context, context.database_url, "--database-url") as server:
        with connection.connect(server) as conn, connection.database_errors(server):
            version = connection.server_version(conn)
        shown = server.source if context.database_url is None else server.redacted
    print(f"PostgreSQL {version} ({shown})")
    return ExitCode.OK


# app.REVIEW_VERBS routes these here (tests/test_layering.py keeps the two in step).
HANDLERS = {"check": check, "diff": diff_base, "schema": schema, "rehearse": rehearse_rollbacks,
            "snapshot": drift.snapshot, "drift": drift.drift}
