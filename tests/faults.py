"""Fault injection for tests: a TCP proxy that cuts or freezes, the tracking invariant, killed runners."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

Conn = psycopg.Connection[tuple[object, ...]]
APPLICATION_NAME = "archon-plan"
ENV = {k: v for k, v in os.environ.items()
       if k not in ("ARCHON_DATABASE_URL", "DATABASE_URL", "SUPABASE_DB_URL", "SUPABASE_URL")}

# Startup-phase requests that carry no type byte; the proxy answers the two encryption
# requests itself with "N" (not supported), so the stream it sees is always plain protocol.
_ENCRYPTION_REQUESTS = (80877103, 80877104)  # SSLRequest, GSSENCRequest
# A classic BPF program of one instruction, "return 0": the kernel drops every segment that
# reaches the socket before TCP sees it, so nothing is acknowledged, keepalive probes included.
_DROP_ALL = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))
_SO_ATTACH_FILTER, _SO_DETACH_FILTER = 26, 27


class RunnerHung(AssertionError):
    """A runner did not end within its deadline (what a silent link does without keepalives)."""


def _upstream_address(database_url: str) -> tuple[int, str | tuple[str, int]]:
    """Where database_url's server listens: a Unix socket or 127.0.0.1, never anything else."""
    params = conninfo_to_dict(database_url)
    host, port = str(params.get("host") or "/var/run/postgresql"), int(str(params.get("port") or 5432))
    if host.startswith("/"):
        return socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
    if host not in ("127.0.0.1", "localhost") or params.get("hostaddr") not in (None, "127.0.0.1"):
        raise ValueError(f"the fault proxy only reaches 127.0.0.1, not {host}")
    return socket.AF_INET, ("127.0.0.1", port)


def _messages(buffer: bytearray, startup: bool) -> tuple[list[bytes], bool]:
    """Take the complete protocol messages off the front of buffer; also whether the startup
    phase (untyped messages: encryption requests, then the startup message) goes on."""
    taken = []
    while len(buffer) >= (head := 0 if startup else 1) + 4:
        size = head + struct.unpack_from("!i", buffer, head)[0]
        if len(buffer) < size:
            break
        taken.append(bytes(buffer[:size]))
        del buffer[:size]
        startup = startup and _is_encryption_request(taken[-1])
    return taken, startup


def _is_encryption_request(message: bytes) -> bool:
    return len(message) == 8 and struct.unpack_from("!i", message, 4)[0] in _ENCRYPTION_REQUESTS


@dataclass
class _Pair:
    """One client connection and its upstream connection, served by one thread."""

    client: socket.socket
    server: socket.socket
    wake: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)
    startup: bool = True
    armed: bool = False  # a client message held the trigger: what the server says next is watched
    deliver: bool = False  # forward the armed response before the cut
    held: list[bytes] = field(default_factory=list)
    cut: bool = False
    closed: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """A PostgreSQL proxy on 127.0.0.1 that passes through, cuts or freezes on command.

    Bounded: it closes everything by itself after `lifetime` seconds. Use it as a context
    manager; `url` is database_url with the host and port of the proxy."""

    def __init__(self, database_url: str, lifetime: float = 150.0) -> None:
        self._family, self._upstream = _upstream_address(database_url)
        self._deadline = time.monotonic() + lifetime
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._trigger: tuple[bytes, bool] | None = None
        self.fired = threading.Event()  # set when cut_after's trigger has cut a connection
        self.frozen = False
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = make_conninfo(database_url, host="127.0.0.1", hostaddr=None, port=str(self.port),
                                 sslmode="disable")
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self) -> None:
        """Reset every open connection now (both sides); later connections pass through."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._order_cut(pair)
        for pair in pairs:
            pair.closed.wait(5)

    def cut_after(self, pattern: bytes, deliver_response: bool = False) -> None:
        """Arm a one-shot cut of the first connection whose client sends a message containing pattern.

        The trigger is the server's ReadyForQuery ('Z') that follows that message: by then the
        server has finished it (an implicit transaction has committed or rolled back). With
        deliver_response=False, everything the server sent after the message is withheld and
        the client learns nothing of its outcome; with True, the response including the 'Z' is
        forwarded, then the connection is reset."""
        with self._lock:
            self._trigger = (pattern, deliver_response)
            self.fired.clear()

    def freeze(self) -> None:
        """Go silent without closing anything: no byte forwarded, no TCP segment acknowledged
        (a drop-all socket filter), and new connections hang in their handshake."""
        with self._lock:
            self.frozen = True
            sockets = [self._listener, *(s for p in self._pairs for s in (p.client, p.server))]
        for sock in sockets:
            if sock.family == socket.AF_INET and sock.fileno() >= 0:
                sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER,
                                struct.pack("HL", 1, ctypes.addressof(_DROP_ALL)))

    def thaw(self) -> None:
        """Undo freeze(): forward and acknowledge again."""
        with self._lock:
            self.frozen = False
            sockets = [self._listener, *(s for p in self._pairs for s in (p.client, p.server))]
        for sock in sockets:
            if sock.family == socket.AF_INET and sock.fileno() >= 0:
                with contextlib.suppress(OSError):  # no filter on it: accepted before the freeze
                    sock.setsockopt(socket.SOL_SOCKET, _SO_DETACH_FILTER, 0)
        with self._lock:
            for pair in self._pairs:
                _wake(pair)

    def stop(self) -> None:
        """Close everything (a reset on each open connection) and end the threads."""
        self._stopped.set()
        self.cut()
        self._acceptor.join(5)
        self._listener.close()

    def _over(self) -> bool:
        return self._stopped.is_set() or time.monotonic() > self._deadline

    def _order_cut(self, pair: _Pair) -> None:
        pair.cut = True
        _wake(pair)

    def _accept_loop(self) -> None:
        while not self._over():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            server = socket.socket(self._family, socket.SOCK_STREAM)
            try:
                server.connect(self._upstream)
            except OSError:
                server.close()
                client.close()
                continue
            for sock in (client, server) if self._family == socket.AF_INET else (client,):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client, server)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._serve, args=(pair,), daemon=True).start()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:  # the lifetime ran out: nothing outlives the proxy
            self._order_cut(pair)

    def _serve(self, pair: _Pair) -> None:
        buffers = {pair.client: bytearray(), pair.server: bytearray()}
        try:
            while not pair.cut and not self._over():
                watched = [pair.wake[0]] if self.frozen else [pair.wake[0], pair.client, pair.server]
                for sock in select.select(watched, [], [], 0.5)[0]:
                    data = sock.recv(65536)
                    if sock is pair.wake[0] or pair.cut:
                        continue
                    if not data:
                        return
                    buffers[sock] += data
                    self._forward(pair, sock, buffers[sock])
        except OSError:
            pair.cut = True
        finally:
            self._close(pair, reset=pair.cut or self._over())

    def _forward(self, pair: _Pair, source: socket.socket, buffer: bytearray) -> None:
        """Pass on the complete messages of one read, in one send (no Nagle stalls between them)."""
        if source is pair.client:
            messages, pair.startup = _messages(buffer, pair.startup)
            pair.server.sendall(b"".join(self._from_client(pair, m) for m in messages))
            return
        out = []
        for message in _messages(buffer, False)[0]:
            out.append(self._from_server(pair, message))
            if pair.cut:
                break
        pair.client.sendall(b"".join(out))

    def _from_client(self, pair: _Pair, message: bytes) -> bytes:
        """What to send the server for one client message (answering encryption requests here)."""
        if _is_encryption_request(message):
            pair.client.sendall(b"N")
            return b""
        with self._lock:
            if self._trigger and self._trigger[0] in message:
                pair.armed, pair.deliver, self._trigger = True, self._trigger[1], None
        return message

    def _from_server(self, pair: _Pair, message: bytes) -> bytes:
        """What to send the client for one server message: withheld once the trigger is armed."""
        if not pair.armed:
            return message
        pair.held.append(message)
        if message[:1] != b"Z":
            return b""
        pair.cut = True
        self.fired.set()
        return b"".join(pair.held) if pair.deliver else b""

    def _close(self, pair: _Pair, reset: bool) -> None:
        for sock in (pair.client, pair.server):
            if reset:  # linger 0: close sends a reset, as a broken link or a killed middlebox does
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        for sock in pair.wake:
            sock.close()
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        pair.closed.set()


def _wake(pair: _Pair) -> None:
    with contextlib.suppress(OSError):  # the pair has closed already
        pair.wake[1].send(b"w")


class MigrationLike(Protocol):
    """What the invariant needs of a migration (archon_plan.core.model.Migration has it)."""

    @property
    def version(self) -> str: ...

    @property
    def stem(self) -> str: ...


@dataclass(frozen=True)
class Seen:
    """One migration as the database shows it."""

    stem: str
    parts: tuple[bool, ...]  # each predicate of its schema change
    rows: int  # tracking rows, either name form
    last_event: str | None  # the last apply/revert-like event

    @property
    def applied(self) -> bool:
        return all(self.parts) and self.rows == 1 and self.last_event in ("apply", "mark-applied")

    @property
    def absent(self) -> bool:
        return not any(self.parts) and self.rows == 0 and self.last_event in (None, "revert", "mark-reverted")


_ROWS = "SELECT count(*) FROM {} WHERE version = %s AND migration_name IN (%s, %s)"
_LAST_EVENT = (
    "SELECT event FROM {} WHERE version = %s AND migration_name IN (%s, %s)"
    " AND event IN ('apply', 'revert', 'mark-applied', 'mark-reverted') ORDER BY id DESC LIMIT 1"
)


def _one(conn: Conn, query: str, table: sql.Identifier | None, names: tuple[str, ...]) -> object:
    """The first column of the first row of query on table, or None (no table, no row)."""
    row = None if table is None else conn.execute(sql.SQL(query).format(table), names).fetchone()
    return None if row is None else row[0]


def _seen(conn: Conn, migration: MigrationLike, present: Sequence[str],
          tables: tuple[sql.Identifier | None, sql.Identifier | None]) -> Seen:
    # The predicates are the test's own SQL text, hence bytes rather than a LiteralString.
    parts = tuple(conn.execute(f"SELECT ({p})::bool".encode()).fetchone() == (True,) for p in present)
    names = (migration.version, migration.stem, f"{migration.stem}.sql")
    rows, last = _one(conn, _ROWS, tables[0], names), _one(conn, _LAST_EVENT, tables[1], names)
    return Seen(migration.stem, parts, int(str(rows or 0)), None if last is None else str(last))


def check_invariant(conn: Conn, migrations: Sequence[MigrationLike],
                    present: Callable[[MigrationLike], Sequence[str]], context: str = "",
                    schema: str = "public", table: str = "archon_migrations") -> list[bool]:
    """Assert, for every migration: its change is all there or not at all, and present ⇔ one
    tracking row ⇔ its last apply/revert event says applied. Return which are applied.

    present(m) gives SQL predicates, each true when one part of m's change is there. Call it
    once no runner is active: catalog lookups (to_regclass) see the latest commits, not the
    snapshot of the REPEATABLE READ transaction the rest is read in."""
    assert conn.autocommit, "the invariant is read in a transaction of its own"
    events = f"{table}_events"[:63]
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                             (f"{schema}.{table}", f"{schema}.{events}")).fetchone() or (False, False)
        tables = tuple(sql.Identifier(schema, name) if there else None
                       for name, there in zip((table, events), found, strict=True))
        seen = [_seen(conn, m, present(m), (tables[0], tables[1])) for m in migrations]
    finally:
        conn.execute("COMMIT")
    broken = [s for s in seen if not (s.applied or s.absent)]
    assert not broken, f"{context}: the tracking invariant is broken:\n" + "\n".join(map(str, broken))
    return [s.applied for s in seen]


def runner_backends(conn: Conn) -> list[int]:
    """Pids of archon-plan sessions on conn's database, conn's own excluded."""
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = %s AND pid <> pg_backend_pid()", (APPLICATION_NAME,))
    return [int(str(pid)) for pid, in rows]


def wait_for_backends(conn: Conn, present: bool, timeout: float = 30.0,
                      runner: subprocess.Popen[str] | None = None) -> list[int]:
    """Poll until an archon-plan session is on the database (present) or none is; a runner
    that has exited stops a wait for presence. Pids seen, or [] when the wait gave up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = runner_backends(conn)
        if bool(pids) == present:
            return pids
        if present and runner is not None and runner.poll() is not None:
            return []
        time.sleep(0.005 if present else 0.05)
    if not present:
        raise AssertionError(f"archon-plan sessions {runner_backends(conn)} still there after {timeout}s")
    return []


def start_apply(manifest: Path, database_url: str, *args: str) -> subprocess.Popen[str]:
    """`archon-plan apply` as a real process, with no database URL in its environment."""
    argv = [sys.executable, "-m", "archon_plan", "--manifest", str(manifest),
            "--database-url", database_url, *args, "apply"]
    return subprocess.Popen(argv, cwd=manifest.parent, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@dataclass(frozen=True)
class Ended:
    """How a runner ended: its exit code (negative: the signal), its output, and whether the
    fault reached it while it still ran."""

    returncode: int
    stdout: str
    stderr: str
    faulted: bool


def fault_at_random_moment(runner: subprocess.Popen[str], rng: Random, window: float,
                           fault: Callable[[], None], timeout: float = 60.0) -> Ended:
    """Wait a random time in [0, window), then fault() if the runner still runs; let it end."""
    faulted = False
    try:
        runner.wait(rng.uniform(0, window))
    except subprocess.TimeoutExpired:
        fault()
        faulted = True
    try:
        out, err = runner.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        runner.kill()
        runner.communicate()
        raise RunnerHung(f"the runner did not end within {timeout}s of the fault") from exc
    return Ended(runner.returncode, out, err, faulted)


def signal_at_random_moment(runner: subprocess.Popen[str], rng: Random, window: float,
                            signum: int = signal.SIGKILL) -> Ended:
    """SIGKILL (or signum: SIGTERM, SIGINT) the runner at a random moment of window."""
    return fault_at_random_moment(runner, rng, window, lambda: runner.send_signal(signum))
