"""Statements and round trips counted on the server, from its statement log.

The fresh database gets `log_statement = 'all'`, so each Query message (simple protocol,
possibly several statements) logs one `statement: ...` entry and each Execute message
(extended protocol, one statement) one `execute <name>: ...` entry. An entry is one message
from the client; pglast (PostgreSQL's own parser) counts the statements inside it. A marker
query sent after the measured command tells when the log holds all of its entries.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast import parser
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from .measure import BenchError

LEVEL = r"LOG|ERROR|WARNING|NOTICE|INFO|DEBUG[1-5]?|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION|FATAL|PANIC"
# A new entry: the log_line_prefix, then the level and two spaces; other lines continue it.
ENTRY_RE = re.compile(rf"^(?P<head>.*?)\b(?P<level>{LEVEL}):  (?P<text>.*)$")
MESSAGE_RE = re.compile(r"^(?:statement|execute [^:]*): (?P<sql>.*)$", re.S)
LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")
WAIT_S = 10.0


@dataclass(frozen=True)
class Counts:
    """What one command sent: messages (round trips unless it pipelines) and statements."""

    round_trips: int
    statements: int


@dataclass(frozen=True)
class ServerLog:
    """A server log the benchmark can read, and whether its lines name the database."""

    path: str
    local: bool  # read from this machine's file system, else through pg_read_file
    names_database: bool


def find_log(url: str) -> ServerLog | str:
    """Where this server writes its stderr log, or why it cannot be read (a reason)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("""SELECT current_setting('is_superuser'), pg_current_logfile('stderr'),
            current_setting('data_directory', true), current_setting('log_line_prefix'),
            pg_backend_pid()""").fetchone()
        if row is None or row[0] != "on":
            return "statement logging needs a superuser (ALTER DATABASE ... SET log_statement)"
        _, logfile, data_dir, prefix, pid = row
        names_database = "%d" in str(prefix)
        if logfile:  # the logging collector writes it, relative to the data directory
            path = os.path.join(str(data_dir), str(logfile))
            return ServerLog(path, os.access(path, os.R_OK), names_database)
        host = str(conninfo_to_dict(url).get("host") or "")
        if not (host.startswith("/") or host in LOCAL_HOSTS):
            return "the server has no logging collector and is not on this machine: its log is out of reach"
        return _stderr_of(int(str(pid)), names_database)  # while its backend still lives


def _stderr_of(pid: int, names_database: bool) -> ServerLog | str:
    """Without a collector, a backend writes to the file its postmaster's stderr was sent to
    (pg_ctl -l, Debian's pg_ctlcluster): /proc tells which, when we may look."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return f"process {pid} on this machine is not the server's backend"
        target = os.readlink(f"/proc/{pid}/fd/2")
    except OSError as exc:
        return f"cannot see where the server logs (/proc/{pid}/fd/2: {exc.strerror})"
    if not target.startswith("/") or target.startswith("/dev/"):
        return f"the server logs to {target}, not to a file"
    if not os.access(target, os.R_OK):
        return f"the server log {target} is not readable by this user"
    return ServerLog(target, True, names_database)


def _size(log: ServerLog, conn: psycopg.Connection[tuple[object, ...]]) -> int:
    if log.local:
        return os.stat(log.path).st_size
    row = conn.execute("SELECT size FROM pg_stat_file(%s)", (log.path,)).fetchone()
    return int(str(row[0])) if row else 0


def _read(log: ServerLog, conn: psycopg.Connection[tuple[object, ...]], start: int) -> str:
    if log.local:
        with open(log.path, "rb") as file:
            file.seek(start)
            return file.read().decode("utf-8", errors="replace")
    row = conn.execute("SELECT pg_read_binary_file(%s, %s, %s)",
                       (log.path, start, max(0, _size(log, conn) - start))).fetchone()
    data = row[0] if row else None
    return bytes(data).decode("utf-8", errors="replace") if isinstance(data, bytes | memoryview) else ""


def counted(log: ServerLog, url: str, action: Callable[[], object]) -> Counts:
    """Run action (a command on the database at url, which logs its statements) and count
    what reached the server from it."""
    database = str(conninfo_to_dict(url).get("dbname") or "")
    marker = f"archon-bench-marker-{uuid.uuid4().hex}"
    with psycopg.connect(url, autocommit=True) as conn:
        start = _size(log, conn)
        action()
        conn.execute(sql.SQL("SELECT {}").format(sql.Literal(marker)))
        deadline = time.monotonic() + WAIT_S
        text = _read(log, conn, start)
        while marker not in text and time.monotonic() < deadline:  # a collector writes late
            time.sleep(0.05)
            text = _read(log, conn, start)
    messages = _messages(text, database if log.names_database else None)
    end = next((i for i, m in enumerate(messages) if marker in m), None)
    if end is None:
        raise BenchError(f"the marker query never reached {log.path}")
    return Counts(end, sum(statement_count(m) for m in messages[:end]))


def _messages(text: str, database: str | None) -> list[str]:
    """The SQL of each `statement:` / `execute` entry, in order (the marker's is last)."""
    entries: list[tuple[str, str, str]] = []
    for line in text.split("\n"):
        match = ENTRY_RE.match(line)
        if match:
            entries.append((match["head"], match["level"], match["text"]))
        elif entries:  # a statement's next line: the log writes the newline as it is
            head, level, body = entries[-1]
            entries[-1] = (head, level, f"{body}\n{line}")
    found = []
    for head, level, body in entries:
        message = MESSAGE_RE.match(body)
        if level == "LOG" and message and (database is None or database in head):
            found.append(message["sql"])
    return found


def statement_count(text: str) -> int:
    """Top-level statements in one message, as PostgreSQL's parser splits them."""
    try:
        return len(parser.parse_sql(text))
    except parser.ParseError:
        return 1  # the server ran it as one message; count it rather than drop it
