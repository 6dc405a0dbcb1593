"""The command line's option types, its help layout, the options every command takes, and the
database options, which only the commands that use a database list."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

# Which commands use which is a table in docs/cli.md#database-options.
CONNECTION = ("--database-url", "--embedded")  # which database
RUN = ("--lock-wait", "--lock-timeout", "--migration-lock-timeout", "--statement-timeout")  # how a run waits
DATABASE = (*CONNECTION, *RUN)


def positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return parse


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a statement number (0 or more)")
    return int(text)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, except that an indented line of a description or epilog (an example
    command) is printed as written instead of being joined to its paragraph."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        kept: list[str] = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                kept.append("\n".join(indent + line for line in lines))
            else:
                kept.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(kept)


def example_epilog(examples: str | Sequence[str]) -> str:
    """The `example:` paragraph closing a command's help."""
    lines = [examples] if isinstance(examples, str) else list(examples)
    return f"example{'s' if len(lines) > 1 else ''}:\n" + "\n".join(f"  {line}" for line in lines)


class DeprecatedAlias(argparse.Action):
    """--lock-timeout, 0.1's name of --lock-wait: it read like PostgreSQL's lock_timeout, which
    --migration-lock-timeout sets. It still works; main() says so once on stderr."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.deprecated_lock_timeout = True
        setattr(namespace, self.dest, values)


class AfterCommand(argparse.Action):
    """A database option given after the command: stored as the same option before it is, and
    noted, so that main() can warn when the command does not use it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, True if self.nargs == 0 else values)
        # One attribute per option: a fleet verb's namespace is copied over the fleet's.
        setattr(namespace, _given_after(str(option_string)), True)
        if option_string == "--lock-timeout":
            namespace.deprecated_lock_timeout = True


def _given_after(flag: str) -> str:
    return "after_command" + flag.replace("-", "_")


def _database_arguments() -> dict[str, dict[str, Any]]:
    """Each database option's add_argument keywords, but its action."""
    seconds = {"type": positive(float), "metavar": "SECONDS", "dest": "lock_wait"}
    return {
        "--database-url": {"metavar": "URL", "help": "PostgreSQL URL (else ARCHON_DATABASE_URL, "
                           "DATABASE_URL, SUPABASE_DB_URL, SUPABASE_URL + SUPABASE_DB_PASSWORD, else the "
                           "embedded PostgreSQL)"},
        "--embedded": {"nargs": 0, "help": "use the embedded PostgreSQL in .archon/ (also "
                       "ARCHON_EMBEDDED=1); without it, only a laptop with no database configured and no "
                       "CI falls back to it"},
        "--lock-wait": {**seconds, "help": "how long to wait for another runner's lock "
                        "([settings] lock_wait, 60)"},
        "--lock-timeout": {**seconds, "help": argparse.SUPPRESS},  # deprecated: --lock-wait
        "--migration-lock-timeout": {"metavar": "DURATION", "help": "PostgreSQL lock_timeout for each "
                                     "migration, e.g. 5s (default 10s)"},
        "--statement-timeout": {"metavar": "DURATION", "help": "PostgreSQL statement_timeout for each "
                                "migration, e.g. 15min"},
    }


def add_common_options(parser: argparse.ArgumentParser, defaults: bool = False) -> None:
    """--manifest, --traceback and --quiet: before the command (with their defaults) and after it."""
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--manifest", type=Path, default=default(Path("migrations.toml")),
                        help="path of migrations.toml (default: ./migrations.toml)")
    parser.add_argument("--traceback", action="store_true", default=default(False),
                        help="show tracebacks of errors")
    parser.add_argument("--quiet", "-q", action="store_true", default=default(False),
                        help="print errors only: no progress, no per-migration lines, no summary")
    parser.add_argument("--verbose", "-v", action="store_true", default=default(False),
                        help="apply and revert: the SQL of each step and the time of each phase, on stderr")


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """The options before the command: every command accepts each of them there."""
    add_common_options(parser, defaults=True)
    group = parser.add_argument_group(
        "database options", "For the commands that use a database: each lists those it uses in its own "
        "--help. Before the command, every command accepts them.")
    for flag, kwargs in _database_arguments().items():
        action: Any = DeprecatedAlias if flag == "--lock-timeout" else "store"
        if kwargs.get("nargs") == 0:
            action, kwargs = "store_true", {k: v for k, v in kwargs.items() if k != "nargs"}
        default = False if action == "store_true" else None
        group.add_argument(flag, action=action, default=default, **kwargs)


def add_database_options(parser: argparse.ArgumentParser, uses: Collection[str], hide_others: bool = True,
                         helps: Mapping[str, str] | None = None) -> None:
    """The database options `uses` names, listed in the command's help (`helps` says what one
    means there when that differs); with hide_others, the others too, unlisted: 0.1 took every
    one after every command, and still does, with a warning."""
    parser.set_defaults(database_options=frozenset(uses))
    group = parser.add_argument_group("database options") if uses else parser
    for flag, kwargs in _database_arguments().items():
        if flag in uses or hide_others:
            shown = (helps or {}).get(flag, kwargs["help"]) if flag in uses else argparse.SUPPRESS
            group.add_argument(flag, action=AfterCommand, default=argparse.SUPPRESS,
                               **{**kwargs, "help": shown})


def unused_database_options(args: argparse.Namespace) -> list[str]:
    """The database options given after a command that does not use them."""
    uses: frozenset[str] = getattr(args, "database_options", frozenset())
    return [flag for flag in DATABASE if getattr(args, _given_after(flag), False) and flag not in uses]


def adder(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Sequence[argparse.ArgumentParser],
          hide_others: bool = True) -> Callable[..., argparse.ArgumentParser]:
    """add(name, help=, example=, database=(), description=, database_help=, parents=()): a
    command with its description, example and the database options it uses (hide_others: see
    add_database_options); `description` defaults to its help, as a sentence."""

    def add(name: str, *, help: str, example: str | Sequence[str], database: Collection[str] = (),
            description: str | None = None, database_help: Mapping[str, str] | None = None,
            parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, parents=[*common, *parents], formatter_class=HelpFormatter,
                                description=description or f"{help[0].upper()}{help[1:]}.",
                                epilog=example_epilog(example))
        add_database_options(parser, database, hide_others, database_help)
        return parser

    return add
