"""The command line's option types and the global options every command takes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


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


class DeprecatedAlias(argparse.Action):
    """--lock-timeout, 0.1's name of --lock-wait: it read like PostgreSQL's lock_timeout, which
    --migration-lock-timeout sets. It still works; main() says so once on stderr."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.deprecated_lock_timeout = True
        setattr(namespace, self.dest, values)


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a statement number (0 or more)")
    return int(text)


def add_global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--manifest", type=Path, default=default(Path("migrations.toml")),
                        help="path of migrations.toml (default: ./migrations.toml)")
    parser.add_argument("--database-url", default=default(None),
                        help="PostgreSQL URL (else ARCHON_DATABASE_URL, DATABASE_URL, SUPABASE_DB_URL, "
                        "SUPABASE_URL + SUPABASE_DB_PASSWORD, else the embedded PostgreSQL)")
    parser.add_argument("--embedded", action="store_true", default=default(False),
                        help="use the embedded PostgreSQL in .archon/ (also ARCHON_EMBEDDED=1); without it, "
                        "only a laptop with no database configured and no CI falls back to it")
    parser.add_argument("--lock-wait", type=positive(float), metavar="SECONDS", default=default(None),
                        help="how long to wait for another runner's lock ([settings] lock_wait, 60)")
    parser.add_argument("--lock-timeout", type=positive(float), dest="lock_wait", action=DeprecatedAlias,
                        metavar="SECONDS", default=default(None), help=argparse.SUPPRESS)
    parser.add_argument("--migration-lock-timeout", metavar="DURATION", default=default(None),
                        help="PostgreSQL lock_timeout for each migration, e.g. 5s (default 10s)")
    parser.add_argument("--statement-timeout", metavar="DURATION", default=default(None),
                        help="PostgreSQL statement_timeout for each migration, e.g. 15min")
    parser.add_argument("--traceback", action="store_true", default=default(False),
                        help="show tracebacks of errors")
    parser.add_argument("--quiet", "-q", action="store_true", default=default(False),
                        help="print errors only: no progress, no per-migration lines, no summary")
