"""The `archon-plan` command line: arguments, environment, and where errors become exit codes."""

from __future__ import annotations

import argparse
import functools
import gc
import getpass
import os
import signal
import socket
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..core.model import Actor
from ..errors import ArchonPlanError, ExitCode, Terminated
from . import adopt, dashboard, drift, fleet, renumber
from .options import add_global_options, non_negative_int, positive

if TYPE_CHECKING:
    from .commands import Context

# review.VERBS, spelled here so that parsing need not import review.py
REVIEW_VERBS = ("check", "diff", "schema", "rehearse", "snapshot", "drift")
FORMATS_SHOW = ("text", "json", "mermaid", "dot", "markdown")
FORMATS_DIFF = ("text", "json", "markdown")
FORMATS_STATUS = ("text", "json")
OWN_ERROR_DOCUMENT = ("check", "diff", "rehearse")  # put an error inside their own JSON document
FORMATS_CHECK = ("text", "json", "github", "markdown")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archon-plan",
        description="Declarative, manifest-driven PostgreSQL migrations.",
        epilog="Exit codes: 0 ok, 3 migration failed, 4 invalid manifest or plan, "
        "5 refused for safety, 6 database unreachable, 7 lock timeout, "
        "8 not up to date (status --check), 9 lint warnings (check --strict), "
        "10 a rollback does not restore the schema (rehearse), 11 the schema differs (drift, "
        "check --snapshot), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"archon-plan {__version__}")
    add_global_options(parser, defaults=True)
    # The same options after the command (`archon-plan apply --database-url ...`) too.
    common = argparse.ArgumentParser(add_help=False)
    add_global_options(common, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = functools.partial(sub.add_parser, parents=[common])

    show = add("show", help="print the plan from the manifest alone")
    show.add_argument("--format", choices=FORMATS_SHOW, default="text",
                      help="markdown: release notes from the descriptions")
    show.add_argument("--release", metavar="V", help="only the migrations of release V")

    status = add("status", help="compare the manifest with the database")
    status.add_argument("--format", choices=FORMATS_STATUS, default="text")
    status.add_argument("--check", action="store_true",
                        help="exit 8 when anything is pending or modified (for CI)")

    apply = add("apply", help="apply pending migrations")
    apply.add_argument("--target", metavar="NAME", help="apply NAME and what it depends on")
    apply.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")
    apply.add_argument("--ignore-windows", action="store_true",
                       help="apply outside the maintenance windows and before not_before (recorded)")

    revert = add("revert", help="run rollback files")
    which = revert.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", metavar="NAME", help="revert this migration")
    which.add_argument("--to", metavar="NAME", help="revert everything applied after NAME")
    which.add_argument("--last", type=positive(int), metavar="N", help="revert the last N applied")
    revert.add_argument("--cascade", action="store_true",
                        help="also revert applied migrations that depend on the target")
    revert.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")

    create = add("create", help="write the next migration and its rollback")
    create.add_argument("name", metavar="NAME", help="snake_case name, e.g. add_user_email")
    create.add_argument("--version", dest="release", metavar="V",
                        help="release (default: the latest in the manifest)")
    create.add_argument("--depends-on", action="append", default=[], metavar="NAME")
    renumber.add_parser(add)

    history = add("history", help="the append-only event history of the database")
    history.add_argument("--format", choices=FORMATS_STATUS, default="text")
    history.add_argument("--limit", type=positive(int), metavar="N", help="only the last N events")

    repair = add("repair", help="change the history on purpose, or resume a failed migration")
    repair.add_argument("name", nargs="?", metavar="NAME", help="the migration (or after the flag)")
    action = repair.add_mutually_exclusive_group(required=True)
    for flag, text in (
        ("--retry", "resume a failed non-transactional migration at its failed statement"),
        ("--accept-checksum", "record the file's current checksum after a deliberate edit"),
        ("--mark-applied", "record NAME as applied without running it (baseline)"),
        ("--mark-reverted", "forget NAME was applied without running its rollback"),
    ):
        action.add_argument(flag, nargs="?", const="", metavar="NAME", help=text)
    repair.add_argument("--through", metavar="NAME", help="with --mark-applied: every migration up to "
                        "NAME in plan order that is not applied, in one transaction")
    repair.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    repair.add_argument("--cascade", action="store_true",
                        help="with --mark-reverted: mark its applied dependents reverted too")
    resume = repair.add_mutually_exclusive_group()
    resume.add_argument("--resume-at", type=positive(int), metavar="K",
                        help="with --retry: run statement K again (one whose outcome is unknown)")
    resume.add_argument("--resume-after", type=non_negative_int, metavar="K",
                        help="with --retry: treat statements 1..K as done, then go on")

    for verb in (apply, revert, repair):  # a deploy tool reads what ran, or the error, as JSON
        verb.add_argument("--format", choices=FORMATS_STATUS, default="text")

    check = add("check", help="validate manifest, files, dependencies and SQL, and lint the SQL; "
                "no database")
    check.add_argument("--format", choices=FORMATS_CHECK, default="text",
                       help="github: workflow annotations; markdown: a table for a PR comment")
    check.add_argument("--strict", action="store_true", help="exit 9 when there are warnings")

    diff = add("diff", help="compare the migrations with a git revision or another manifest")
    diff.add_argument("base", metavar="BASE", help="a git revision (origin/main, HEAD~1) or a manifest file")
    diff.add_argument("--format", choices=FORMATS_DIFF, default="text",
                      help="markdown: a pull-request comment")

    schema = add("schema", help="print the JSON Schema of migrations.toml (or fleet.toml), for editors")
    schema.add_argument("--fleet", action="store_true", help="the schema of the fleet file instead")

    rehearse = add(
        "rehearse", help="prove each rollback on a scratch database (never the configured one)",
        description="Apply each migration, revert it and compare the schema with the one before, "
        "on a new scratch database: on a throwaway embedded PostgreSQL, or on the server that "
        "--database-url names (its own database is left alone). ARCHON_DATABASE_URL and the "
        "other variables are not read. Exit 10 when a rollback does not restore the schema.")
    rehearse.add_argument("--changed-since", metavar="BASE",
                          help="rehearse only migrations not in BASE (a git revision or a manifest file)")
    rehearse.add_argument("--format", choices=FORMATS_STATUS, default="text")
    rehearse.add_argument("--server-version", action="store_true",
                          help="only say which PostgreSQL the rehearsal would run on")
    rehearse.add_argument("--setup", type=Path, metavar="FILE",
                          help="SQL run first on each scratch database: roles, schemas, extensions")

    fleet.add_parser(add, positive(int))
    drift.add_parser(add, check)
    adopt.add_parser(add)
    dashboard.add_parser(add)

    init = add("init", help="write migrations.toml for an existing folder")
    init.add_argument("folder", nargs="?", type=Path, default=Path("migrations"), metavar="DIR")
    init.add_argument("--version", dest="release", default="0.1.0", metavar="V",
                      help="release of files not in a version folder (default 0.1.0)")
    return parser


def read_environment(manifest: Path) -> dict[str, str]:
    """The process environment, over a .env file in the working directory, over one beside
    the manifest: `--manifest sub/migrations.toml` finds sub/.env."""
    env: dict[str, str] = {}
    folders = dict.fromkeys([manifest.resolve().parent, Path.cwd().resolve()])  # later wins
    for dotenv_path in (folder / ".env" for folder in folders):
        if dotenv_path.is_file():
            from dotenv import dotenv_values

            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ)
    return env


def entry() -> int:
    """The `archon-plan` executable: main() in a process of its own.

    A short run whose objects live until it ends (the manifest, parse trees, psycopg's
    modules): reference counting frees the rest, and the cyclic collector only walks them
    over and over, for no memory saved (docs/performance.md). mypy tunes it down for the
    same reason. Not in main(), which tests and embedding programs call in their own process."""
    gc.disable()
    signal.signal(signal.SIGTERM, _terminate)
    return main()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (docker stop, Kubernetes, a cancelled CI job) stops the run as Ctrl-C does:
    the statement cancelled on the server, the migration rolled back, an event, exit 143."""
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "deprecated_lock_timeout", False):
        print("archon-plan: warning: --lock-timeout is deprecated and will be removed; "
              "use --lock-wait (the same seconds)", file=sys.stderr)
    from . import commands  # after parsing: --version and --help stay fast

    context = commands.Context(
        manifest_path=args.manifest,
        database_url=args.database_url,
        lock_wait=args.lock_wait,
        migration_lock_timeout=args.migration_lock_timeout,
        statement_timeout=args.statement_timeout,
        env=read_environment(args.manifest),
        embedded=args.embedded,
        quiet=args.quiet,
        json=getattr(args, "format", "text") == "json" and args.command not in OWN_ERROR_DOCUMENT,
        ignore_windows=getattr(args, "ignore_windows", False),
        actor=_actor(),
    )
    try:
        if args.command == "fleet":
            return int(fleet.run(context, args))
        if adopt.handles(args):
            return adopt.run(context, args)
        if renumber.handles(args):
            return renumber.run(context, args)
        if dashboard.handles(args):
            return dashboard.run(context, args)
        if args.command in REVIEW_VERBS:
            from . import review

            return int(review.run(context, args))
        return int(commands.run(context, args))
    except ArchonPlanError as exc:
        _report_json(context, exc.message, exc.hint, exc.exit_code)
        return _report(context, exc, exc.exit_code, args.traceback, str(exc))
    except BrokenPipeError:  # `archon-plan show | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter shutdown quiet
        return int(ExitCode.INTERNAL)
    except Terminated as exc:  # SIGTERM outside a migration: nothing was running
        _report_json(context, "terminated (SIGTERM)", None, ExitCode.TERMINATED)
        return _report(context, exc, ExitCode.TERMINATED, args.traceback, "terminated (SIGTERM)")
    except KeyboardInterrupt as exc:
        _report_json(context, "interrupted", None, ExitCode.INTERRUPTED)
        return _report(context, exc, ExitCode.INTERRUPTED, args.traceback, "interrupted")
    except Exception as exc:  # the one boundary that turns surprises into a line
        text = f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"
        _report_json(context, text, None, ExitCode.INTERNAL)
        return _report(context, exc, ExitCode.INTERNAL, args.traceback, text)


def _actor() -> Actor:
    """Who runs us, for the event history; the database user comes from the server."""
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = None
    return Actor(os_user=user, host=socket.gethostname(), tool_version=__version__)


def _report_json(context: Context, message: str, hint: str | None, code: ExitCode) -> None:
    """With --format json, a tool reading stdout gets a document for an error too, with what
    the run committed before it (apply, revert)."""
    if not context.json:
        return
    import json

    from ..core.text import SCHEMA_VERSION
    from ..db.target import redact

    document = {"schema_version": SCHEMA_VERSION, "error": redact(message, context.secrets),
                "hint": redact(hint, context.secrets) if hint else None, "exit_code": int(code)}
    if context.ran is not None:
        document["ran"] = context.ran
    print(json.dumps(document, indent=2))


def _report(
    context: object, exc: BaseException, code: ExitCode, show_trace: bool, text: str
) -> int:
    from ..db.target import redact

    secrets = getattr(context, "secrets", ())
    if show_trace:
        trace = "".join(traceback.format_exception(exc))
        print(redact(trace, secrets), file=sys.stderr, end="")
    print(f"archon-plan: error: {redact(text, secrets)}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
