"""`archon-plan report` and `serve`: the dashboard of one database, as a file or live over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# Parsing imports this module: Jinja2 loads in `report` and `serve`, Starlette and uvicorn in
# `serve` alone (tests/test_imports.py), so every other verb starts as fast as before.
from ..errors import ExitCode, UsageError
from .options import CONNECTION

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..core.graph import MigrationGraph
    from ..core.model import Manifest
    from ..db.connection import Connection
    from ..db.target import Target
    from ..review.dashboard import Dashboard
    from .commands import Context

VERBS = ("report", "serve")
TOKEN_VARIABLE = "ARCHON_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
REFRESH_S = 10
T = TypeVar("T")


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The `report` and `serve` verbs."""
    report = add("report", help="write the dashboard of the database as one self-contained HTML page",
                 database=CONNECTION, example="archon-plan report > report.html",
                 description="Status of every migration, the history as a timeline, durations, the "
                 "dependency graph and the failures with their errors, in one HTML file that loads "
                 "nothing from anywhere: archon-plan report --format html > report.html")
    report.add_argument("--format", choices=("html",), default="html")
    serve = add("serve", help="serve the dashboard, live and read-only, with its JSON (pip install "
                "'archon-plan[serve]')", database=CONNECTION,
                example=("archon-plan serve --port 8080",
                         f"{TOKEN_VARIABLE}=\"$(cat token)\" archon-plan serve --host 0.0.0.0"),
                description="The report's page, refreshed, and /api/status, /api/history, /api/fleet "
                f"and /healthz. Any --host but loopback needs {TOKEN_VARIABLE}, which every request then "
                "carries (Authorization: Bearer TOKEN).")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0: any free port)")
    serve.add_argument("--fleet", type=Path, metavar="FILE",
                       help="also serve this fleet's status at /api/fleet")
    serve.add_argument("--refresh", type=_seconds, default=REFRESH_S, metavar="SECONDS",
                       help=f"how often the page reloads itself (default {REFRESH_S}; 0: never)")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _seconds(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return int(text)


def handles(args: argparse.Namespace) -> bool:
    return args.command in VERBS


def run(context: Context, args: argparse.Namespace) -> int:
    return report(context) if args.command == "report" else serve(context, args)


def report(context: Context) -> int:
    from ..web import page

    print(page.render(_Reader(context, None, None).dashboard()))
    return ExitCode.OK


def serve(context: Context, args: argparse.Namespace) -> int:
    app, database = build_app(context, args.host, args.fleet, args.refresh or None)
    from ..web import app as web

    sock = web.listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    gc.enable()  # entry() turned it off for short runs; a server runs for days
    # Ctrl-C or SIGTERM (after uvicorn's graceful shutdown, or before it started) is the way a
    # server is stopped: exit 0.
    with contextlib.suppress(KeyboardInterrupt):
        print(f"archon-plan: serving the dashboard of {database} at http://{shown}:{port}/ "
              "(read-only; Ctrl-C stops)", file=sys.stderr, flush=True)
        web.serve(app, sock)
    return ExitCode.OK


def build_app(context: Context, host: str, fleet: Path | None,
              refresh_s: int | None) -> tuple[Starlette, str]:
    """The server's application and the database it shows (redacted), after every check that
    can fail before it listens: the token, the extra, the manifest, the database."""
    try:
        from ..web import app as web
    except ModuleNotFoundError as exc:
        raise UsageError(f"archon-plan serve needs {(exc.name or '?').split('.')[0]}, which is not installed",
                         "pip install 'archon-plan[serve]'") from None
    from .commands import load, target_database

    token = _token(context, host)

    loaded, _ = load(context)
    target = target_database(context, loaded.root)
    context.secrets = target.secrets
    reader = _Reader(context, target, fleet)
    reader.status()
    return web.create_app(reader, web.Access(token, host in web.LOOPBACK), refresh_s), target.redacted


def _token(context: Context, host: str) -> str | None:
    """ARCHON_SERVE_TOKEN: required off loopback; enforced wherever it is set."""
    from ..web.app import LOOPBACK

    token = context.env.get(TOKEN_VARIABLE)
    if token is not None and len(token.strip()) < MIN_TOKEN_LENGTH:
        raise UsageError(f"{TOKEN_VARIABLE} is {'empty' if not token.strip() else 'too short'}: at least "
                         f"{MIN_TOKEN_LENGTH} characters", "python3 -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))' makes one")
    if token is None and host not in LOOPBACK:
        raise UsageError(f"serving on {host}, beyond this machine, needs {TOKEN_VARIABLE}: every request "
                         "must then carry it (Authorization: Bearer TOKEN)",
                         f"set {TOKEN_VARIABLE} to a long random secret, or serve on 127.0.0.1")
    return token.strip() if token else None


class _Reader:
    """What `report` and `serve` read: the manifest (again each time: an edit shows on the
    next refresh) and the database, on a new connection per read."""

    def __init__(self, context: Context, target: Target | None, fleet_file: Path | None) -> None:
        self.context, self.target, self.fleet_file = context, target, fleet_file

    @property
    def has_fleet(self) -> bool:
        return self.fleet_file is not None

    def dashboard(self) -> Dashboard:
        from ..review import dashboard

        return self._read(lambda conn, loaded, built, target: dashboard.collect(
            conn, loaded.settings, built, target, str(self.context.manifest_path)))

    def status(self) -> dict[str, Any]:
        from ..db import state
        from .render import status_document

        return self._read(lambda conn, loaded, built, target: status_document(
            state.read_state(conn, loaded.settings, built), target.redacted))

    def history(self, limit: int | None) -> dict[str, Any]:
        from ..db import events
        from .render import history_document

        return self._read(lambda conn, loaded, built, target: history_document(
            events.read_events(conn, loaded.settings, limit), target.redacted))

    def fleet(self) -> dict[str, Any]:
        from . import fleet

        return fleet.status_document(self.context, self.fleet_file)

    def _read(self, read: Callable[[Connection, Manifest, MigrationGraph, Target], T]) -> T:
        from .commands import connected, load

        loaded, built = load(self.context)
        with connected(self.context, loaded.settings, loaded.root, self.target) as (conn, target):
            return read(conn, loaded, built, target)
