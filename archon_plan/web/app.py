"""`archon-plan serve`: the dashboard over HTTP, read-only. The page, its data as JSON, and
/healthz; every answer with strict security headers; a token on every request when one is set."""

from __future__ import annotations

import base64
import binascii
import hmac
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ArchonPlanError, UsageError
from ..review.dashboard import Dashboard
from . import page

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {
    "content-security-policy": page.HEADER_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# Basic first: a browser asks for it (any user name, the token as password); tools send Bearer.
CHALLENGE = 'Basic realm="archon-plan", Bearer realm="archon-plan"'
OPEN_PATHS = ("/healthz",)  # a liveness probe: says nothing but "ok"
T = TypeVar("T")


class Reader(Protocol):
    """Where the data comes from: the CLI reads the database (and the fleet) afresh each call."""

    @property
    def has_fleet(self) -> bool: ...  # started with --fleet

    def dashboard(self) -> Dashboard: ...

    def status(self) -> dict[str, Any]: ...  # `status --format json`

    def history(self, limit: int | None) -> dict[str, Any]: ...  # `history --format json`

    def fleet(self) -> dict[str, Any]: ...  # `fleet status --format json`


@dataclass(frozen=True)
class Access:
    """Who may ask: with a token, only requests that carry it; bound to loopback, only requests
    that name a loopback host (another site's page cannot reach us by rebinding its name)."""

    token: str | None
    loopback: bool


def create_app(reader: Reader, access: Access, refresh_s: int | None = None) -> Starlette:
    views = _Views(reader, refresh_s)
    routes = [Route(path, endpoint, methods=["GET"]) for path, endpoint in (
        ("/", views.page), ("/api/status", views.status), ("/api/history", views.history),
        ("/api/fleet", views.fleet), ("/healthz", views.healthz))]
    middleware = [Middleware(_Guard, token=access.token)]
    if access.loopback:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK)))
    return Starlette(routes=routes, middleware=middleware)


class _Views:
    """The endpoints. At most two database reads at once, however many requests come."""

    def __init__(self, reader: Reader, refresh_s: int | None) -> None:
        self.reader, self.refresh_s = reader, refresh_s
        self._slots = threading.BoundedSemaphore(2)

    def page(self, request: Request) -> Response:
        fleet = self.reader.has_fleet
        try:
            return HTMLResponse(page.render(self._read(self.reader.dashboard), self.refresh_s, True, fleet))
        except ArchonPlanError as exc:
            return HTMLResponse(page.render_error(exc.message, exc.hint, self.refresh_s, fleet), 503)

    def status(self, request: Request) -> Response:
        return self._json(self.reader.status)

    def history(self, request: Request) -> Response:
        limit = request.query_params.get("limit")
        if limit is not None and not (limit.isdigit() and int(limit) > 0):
            return JSONResponse({"error": f"limit {limit!r} is not a positive integer", "hint": None}, 400)
        return self._json(lambda: self.reader.history(int(limit) if limit else None))

    def fleet(self, request: Request) -> Response:
        if not self.reader.has_fleet:
            return JSONResponse({"error": "no fleet: this server was started without --fleet",
                                 "hint": "archon-plan serve --fleet fleet.toml"}, 404)
        return self._json(self.reader.fleet)

    def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def _json(self, read: Callable[[], dict[str, Any]]) -> Response:
        try:
            return JSONResponse(self._read(read))
        except ArchonPlanError as exc:
            problem = {"error": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)}
            return JSONResponse(problem, 503)

    def _read(self, read: Callable[[], T]) -> T:
        with self._slots:
            return read()


class _Guard:
    """Pure ASGI middleware: the security headers on every answer (401, 404 and 405 too), and
    the token checked in constant time before anything else runs."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        if self.token is not None and scope["path"] not in OPEN_PATHS and \
                not authorized(Headers(scope=scope).get("authorization", ""), self.token):
            refusal = JSONResponse({"error": "this dashboard needs its token",
                                    "hint": "send Authorization: Bearer <ARCHON_SERVE_TOKEN>"}, 401,
                                   headers={"www-authenticate": CHALLENGE})
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)


def authorized(header: str, token: str) -> bool:
    """`Bearer <token>`, or `Basic` with the token as the password; compared in constant time."""
    scheme, _, value = header.partition(" ")
    given = value.strip()
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(given, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, listening before uvicorn runs: a port in use is our error (exit 4),
    `--port 0` gets a free port that can be printed, and a client that comes early waits."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                         "choose another --port (0: any free one), or stop what listens there") from None
    return sock


def serve(app: Starlette, sock: socket.socket) -> None:
    """Run uvicorn on the socket until Ctrl-C or SIGTERM."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                            proxy_headers=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
