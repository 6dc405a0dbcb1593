"""The `archon-plan` command line: arguments, environment, and where errors become exit codes."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..core.model import NOBODY, Actor
from ..errors import ArchonPlanError, ExitCode, Terminated
from .options import unused_database_options
from .parser import COMMON_VERBS, build_parser, parse

if TYPE_CHECKING:
    from .commands import Context

# review.VERBS, spelled here so that parsing need not import review.py
REVIEW_VERBS = ("check", "diff", "schema", "rehearse", "snapshot", "drift")
ONLY_READING = ("show", "status", "history")  # no event is written: no actor to find out
OWN_ERROR_DOCUMENT = ("check", "diff", "rehearse")  # put an error inside their own JSON document


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
    same reason. At the end they are frozen, so the interpreter's last collection at exit
    does not walk them either: psycopg's modules (asyncio, ssl) made that alone about as
    long as our own part of a `status`. Not in main(), which tests and embedding programs
    call in their own process."""
    if "_ARGCOMPLETE" in os.environ:  # the shell's completion script asks: answer, and exit
        from . import completion

        completion.complete(build_parser())
    gc.disable()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return main()
    finally:
        gc.freeze()


def _verb_module(args: argparse.Namespace) -> Callable[[Context, argparse.Namespace], int] | None:
    """The run() of a verb that has a module of its own."""
    from . import adopt, dashboard, fleet, renumber

    if args.command == "fleet":
        return fleet.run
    if adopt.handles(args):
        return adopt.run
    if renumber.handles(args):
        return renumber.run
    return dashboard.run if dashboard.handles(args) else None


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (docker stop, Kubernetes, a cancelled CI job) stops the run as Ctrl-C does:
    the statement cancelled on the server, the migration rolled back, an event, exit 143."""
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if getattr(args, "deprecated_lock_timeout", False):
        print("archon-plan: warning: --lock-timeout is deprecated and will be removed; "
              "use --lock-wait (the same seconds)", file=sys.stderr)
    _warn_unused(args)
    if args.command == "completion":
        from . import completion

        return completion.run(args)
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
        verbose=args.verbose and not args.quiet,
        json=getattr(args, "format", "text") == "json" and args.command not in OWN_ERROR_DOCUMENT,
        ignore_windows=getattr(args, "ignore_windows", False),
        actor=NOBODY if args.command in ONLY_READING else _actor(),
    )
    try:
        if args.command not in COMMON_VERBS or args.command == "repair":
            elsewhere = _verb_module(args)  # imported only when it runs
            if elsewhere is not None:
                return int(elsewhere(context, args))
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


def _warn_unused(args: argparse.Namespace) -> None:
    """A database option after a command that does not use it: 0.1 took it, so it is still taken
    (docs/cli.md#database-options); before the command, it is for whichever command uses it."""
    command = " ".join(filter(None, (args.command, getattr(args, "fleet_command", None))))
    for flag in unused_database_options(args):
        print(f"archon-plan: warning: `{command}` does not take {flag}: after the command it is "
              "deprecated and a future release will refuse it (before the command, every command "
              "accepts it)", file=sys.stderr)


def _actor() -> Actor:
    """Who runs us, for the event history; the database user comes from the server."""
    import getpass  # here: with termios, 0.5 ms that `status` need not pay

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
