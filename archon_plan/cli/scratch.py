"""Scratch databases for the verbs that build a schema away from the configured database
(rehearse, drift, check --snapshot, snapshot --from-migrations), the files they read, and
their quiet progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.model import Step
from ..core.sqlfile import SqlFile
from ..errors import UsageError
from .commands import Context, PrintReporter

if TYPE_CHECKING:  # psycopg loads with the verbs that use a scratch database
    from ..db.connection import Connection
    from ..db.target import Target


class QuietReporter(PrintReporter):
    """Notices go to standard error; the migrations a scratch database applies stay quiet."""

    def step_finished(self, step: Step, seconds: float) -> None:
        pass


@contextmanager
def server(context: Context, url: str | None, flag: str) -> Iterator[Target]:
    """The server that holds the scratch databases: `url` (from `flag`), else a throwaway embedded
    PostgreSQL, deleted afterwards. The database variables of the environment are never read."""
    from ..db import embedded
    from ..db.target import resolve_target

    given = resolve_target(url, {}, flag)
    with embedded.throwaway_server() if given is None else nullcontext(given) as found:
        context.secrets = tuple(dict.fromkeys((*context.secrets, *found.secrets)))
        yield found


def opener(server: Target, doing: str) -> Callable[[], AbstractContextManager[Connection]]:
    """Opens a connection to a new scratch database on server, dropped when it closes."""
    return lambda: _scratch(server, doing)


@contextmanager
def _scratch(server: Target, doing: str) -> Iterator[Connection]:
    from ..db import connection

    with connection.scratch_database(server) as scratch:
        print(f"archon-plan: {doing} in {scratch.source} on {server.redacted}, dropped afterwards",
              file=sys.stderr)
        conn = connection.connect(scratch)
        try:
            with connection.database_errors(scratch):
                yield conn
        finally:
            conn.close()


def read_file(path: Path | None, flag: str) -> SqlFile | None:
    """The file an option names, read as migrations are (regular file, UTF-8, size limit)."""
    if path is None:
        return None
    from ..project import files

    try:
        return files.read_sql(str(path.absolute().parent), path.name)
    except files.UnusableFile as exc:
        raise UsageError(f"{flag}: {exc.message}", exc.hint) from None
