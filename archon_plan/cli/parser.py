"""The `archon-plan` argument parser: every command with its options, description and example."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .. import __version__
from . import completion
from .options import (
    CONNECTION,
    RUN,
    HelpFormatter,
    add_common_options,
    add_global_options,
    adder,
    example_epilog,
    non_negative_int,
    positive,
)

FORMATS_SHOW = ("text", "json", "mermaid", "dot", "markdown")
FORMATS_DIFF = ("text", "json", "markdown")
FORMATS_STATUS = ("text", "json")
FORMATS_CHECK = ("text", "json", "github", "markdown")
EXIT_CODES = ("Exit codes: 0 ok, 3 migration failed, 4 invalid manifest or plan, 5 refused for safety, "
              "6 database unreachable, 7 lock timeout, 8 not up to date (status --check), 9 lint warnings "
              "(check --strict), 10 a rollback does not restore the schema (rehearse), 11 the schema "
              "differs (drift, check --snapshot), 130 interrupted.")

EXAMPLES = ("archon-plan check", "archon-plan apply --dry-run", "archon-plan COMMAND --help")


# The verbs of every deploy and CI job: a command line that names one is parsed first by a
# parser of that verb alone, which is a few ms of every `status` (docs/performance.md).
COMMON_VERBS = ("show", "status", "apply", "revert", "create", "init", "history", "repair")


class _Incomplete(Exception):
    """The parser of the common verbs cannot say what the whole parser would."""


class _CommonVerbs(argparse.ArgumentParser):
    """Parses a command line of a common verb; anything but a clean parse (an error, any
    help or usage) is left to the whole parser, which says it as always."""

    def error(self, message: str) -> NoReturn:
        raise _Incomplete(message)

    def print_help(self, file: object = None) -> NoReturn:
        raise _Incomplete("help")

    def print_usage(self, file: object = None) -> NoReturn:
        raise _Incomplete("usage")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line, parsed as build_parser() parses it."""
    verb = next((word for word in argv if word in COMMON_VERBS), None)
    if verb is not None:
        try:
            return build_parser(only=verb).parse_args(argv)
        except _Incomplete:
            pass
    return build_parser().parse_args(argv)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or `only` one of the common verbs' (parse)."""
    kind = _CommonVerbs if only else argparse.ArgumentParser  # subparsers are of its kind
    parser = kind(prog="archon-plan", formatter_class=HelpFormatter,
                  description="Declarative, manifest-driven PostgreSQL migrations.",
                  epilog=f"{EXIT_CODES}\n\n{example_epilog(EXAMPLES)}")
    parser.add_argument("--version", action="version", version=f"archon-plan {__version__}")
    add_global_options(parser)
    common = argparse.ArgumentParser(add_help=False)  # `archon-plan apply --manifest ...` too
    add_common_options(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = adder(sub, [common])
    for verb, add_verb in zip(COMMON_VERBS, _COMMON, strict=True):
        if only in (None, verb):
            add_verb(add)
    if only:
        return parser
    from . import adopt, dashboard, drift, fleet, renumber

    check = _add_review_verbs(add)
    fleet.add_parser(add, positive(int))
    drift.add_parser(add, check)
    adopt.add_parser(add)
    dashboard.add_parser(add)
    completion.add_parser(add)
    renumber.add_parser(add)
    return parser


Adder = Callable[..., argparse.ArgumentParser]


def _add_show(add: Adder) -> None:
    show = add("show", help="print the plan from the manifest alone",
               example="archon-plan show --format markdown --release 0.2.0")
    show.add_argument("--format", choices=FORMATS_SHOW, default="text",
                      help="markdown: release notes from the descriptions")
    show.add_argument("--release", metavar="V", help="only the migrations of release V")


def _add_status(add: Adder) -> None:
    status = add("status", help="compare the manifest with the database", database=CONNECTION,
                 example="archon-plan status --check")
    status.add_argument("--format", choices=FORMATS_STATUS, default="text")
    status.add_argument("--check", action="store_true",
                        help="exit 8 when anything is pending or modified (for CI)")


def _add_apply(add: Adder) -> None:
    apply = add("apply", help="apply pending migrations", database=(*CONNECTION, *RUN),
                example=("archon-plan apply",
                         "archon-plan apply --target 0.2.0/001_add_task_labels --dry-run"))
    completion.migration_names(apply.add_argument("--target", metavar="NAME",
                                                  help="apply NAME and what it depends on"))
    apply.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")
    apply.add_argument("--ignore-windows", action="store_true",
                       help="apply outside the maintenance windows and before not_before (recorded)")
    apply.add_argument("--format", choices=FORMATS_STATUS, default="text")


def _add_revert(add: Adder) -> None:
    revert = add("revert", help="run rollback files", database=(*CONNECTION, *RUN),
                 example=("archon-plan revert --last 1 --dry-run",
                          "archon-plan revert 0.2.0/001_add_task_labels"))
    which = revert.add_mutually_exclusive_group(required=True)
    completion.migration_names(which.add_argument("name", nargs="?", metavar="NAME",
                                                  help="revert this migration"))
    completion.migration_names(which.add_argument("--to", metavar="NAME",
                                                  help="revert everything applied after NAME"))
    which.add_argument("--last", type=positive(int), metavar="N", help="revert the last N applied")
    revert.add_argument("--cascade", action="store_true",
                        help="also revert applied migrations that depend on the target")
    revert.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")
    revert.add_argument("--format", choices=FORMATS_STATUS, default="text")


def _add_create(add: Adder) -> None:
    create = add("create", help="write the next migration and its rollback, and add it to the manifest",
                 example="archon-plan create add_user_email --release 0.3.0 --depends-on 002_create_tasks")
    create.add_argument("name", metavar="NAME", help="snake_case name, e.g. add_user_email")
    create.add_argument("--release", "--version", dest="release", metavar="V",
                        help="the release it belongs to (default: the latest in the manifest); "
                        "--version, its older name, also means the release, not archon-plan's version")
    create.add_argument("--depends-on", action="append", default=[], metavar="NAME")


def _add_init(add: Adder) -> None:
    init = add("init", help="write migrations.toml for an existing folder of SQL files",
               example="archon-plan init migrations --release 1.0.0")
    init.add_argument("folder", nargs="?", type=Path, default=Path("migrations"), metavar="DIR")
    init.add_argument("--release", "--version", dest="release", default="0.1.0", metavar="V",
                      help="release of files not in a version folder (default 0.1.0); --version, its "
                      "older name, also means the release, not archon-plan's version")


def _add_history(add: Adder) -> None:
    history = add("history", help="print the append-only event history of the database",
                  database=CONNECTION, example="archon-plan history --limit 20 --format json")
    history.add_argument("--format", choices=FORMATS_STATUS, default="text")
    history.add_argument("--limit", type=positive(int), metavar="N", help="only the last N events")


def _add_repair(add: Adder) -> None:
    repair = add("repair", help="change the history on purpose, or resume a failed migration",
                 database=(*CONNECTION, *RUN),
                 example=("archon-plan repair --accept-checksum 0.1.0/002_create_tasks",
                          "archon-plan repair --mark-applied --through 0.1.0/003_add_updated_at_tracking"))
    completion.migration_names(repair.add_argument("name", nargs="?", metavar="NAME",
                                                   help="the migration (or after the flag)"))
    action = repair.add_mutually_exclusive_group(required=True)
    for flag, text in (
        ("--retry", "resume a failed non-transactional migration at its failed statement"),
        ("--accept-checksum", "record the file's current checksum after a deliberate edit"),
        ("--mark-applied", "record NAME as applied without running it (baseline)"),
        ("--mark-reverted", "forget NAME was applied without running its rollback"),
    ):
        completion.migration_names(action.add_argument(flag, nargs="?", const="", metavar="NAME", help=text))
    completion.migration_names(repair.add_argument(
        "--through", metavar="NAME", help="with --mark-applied: every migration up to NAME in plan order "
        "that is not applied, in one transaction"))
    repair.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    repair.add_argument("--cascade", action="store_true",
                        help="with --mark-reverted: mark its applied dependents reverted too")
    resume = repair.add_mutually_exclusive_group()
    resume.add_argument("--resume-at", type=positive(int), metavar="K",
                        help="with --retry: run statement K again (one whose outcome is unknown)")
    resume.add_argument("--resume-after", type=non_negative_int, metavar="K",
                        help="with --retry: treat statements 1..K as done, then go on")
    repair.add_argument("--format", choices=FORMATS_STATUS, default="text")


def _add_review_verbs(add: Callable[..., argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """check, diff, schema and rehearse; returns check, which drift.py adds --snapshot to."""
    check = add("check", help="validate manifest, files, dependencies and SQL, and lint the SQL; "
                "no database", example="archon-plan check --strict --format github")
    check.add_argument("--format", choices=FORMATS_CHECK, default="text",
                       help="github: workflow annotations; markdown: a table for a PR comment")
    check.add_argument("--strict", action="store_true", help="exit 9 when there are warnings")

    diff = add("diff", help="compare the migrations with a git revision or another manifest",
               example="archon-plan diff origin/main --format markdown")
    diff.add_argument("base", metavar="BASE", help="a git revision (origin/main, HEAD~1) or a manifest file")
    diff.add_argument("--format", choices=FORMATS_DIFF, default="text",
                      help="markdown: a pull-request comment")

    schema = add("schema", help="print the JSON Schema of migrations.toml (or fleet.toml), for editors",
                 example="archon-plan schema > migrations.schema.json")
    schema.add_argument("--fleet", action="store_true", help="the schema of the fleet file instead")

    rehearse = add(
        "rehearse", help="prove each rollback on a scratch database (never the configured one)",
        database=("--database-url",), example="archon-plan rehearse --changed-since origin/main",
        database_help={"--database-url": "the server that holds the scratch databases, created and dropped "
                       "there (default: a throwaway embedded PostgreSQL); its own database is left alone"},
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
    return check


_COMMON = (_add_show, _add_status, _add_apply, _add_revert, _add_create, _add_init, _add_history, _add_repair)
