"""The SQL files a manifest names, found and read: inside the project folder, resolved as
pathlib would, and read in few system calls: a large project has tens of thousands of them."""

from __future__ import annotations

import errno
import functools
import os
import stat
import time
from pathlib import Path

from ..core.sqlfile import SqlFile, Stamp, normalize_sql_text

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: bytes as they are, no newline translation
# Opening a file that is a symlink fails with O_NOFOLLOW, so the file's name needs no lstat
# of its own; where the flag is missing (Windows), os.path.islink asks instead.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SYMLINK_ERRORS = (errno.ELOOP, errno.EMLINK)  # Linux and macOS; FreeBSD
# A file whose status changed this recently is never vouched for by its stamp: another write
# within the file system's timestamp granularity (2 s on FAT) could leave the same stamp.
SETTLED_NS = 3_000_000_000


class UnusableFile(Exception):
    """A file the manifest cannot use: its message names it, as written, and its hint the fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def read_sql(root: str, relative: str, empty_ok: bool = False) -> SqlFile:
    """The file at `relative` to the folder root, read and normalised; raises UnusableFile.
    An empty file is refused, except a rollback (`empty_ok`): one that does nothing is a
    lint warning that suggests `irreversible = true`, as psql would run it."""
    path = _locate(root, relative, follow=not NOFOLLOW)
    try:
        try:
            data, status = read_stamped(path, NOFOLLOW)
        except OSError as exc:
            if exc.errno not in _SYMLINK_ERRORS or not NOFOLLOW:
                raise
            path = _locate(root, relative, follow=True)  # the file itself is a symlink
            data, status = read_stamped(path)
        text = normalize_sql_text(data)
    except FileNotFoundError as exc:
        raise UnusableFile(f"{relative} not found",
                           "fix the path (relative to the manifest) or create the file") from exc
    except UnicodeDecodeError as exc:
        raise UnusableFile(f"{relative} is not UTF-8 text (byte {exc.start})",
                           "save the file as UTF-8") from exc
    except (OSError, ValueError) as exc:
        raise UnusableFile(f"{relative} cannot be read: {exc}") from exc
    if not text.strip() and not empty_ok:
        raise UnusableFile(f"{relative} is empty", "write its SQL, or remove it")
    folder, name = os.path.split(path)
    return SqlFile(folder_path(folder) / name, relative, text, stamp=settled_stamp(status))


def settled_stamp(status: os.stat_result) -> Stamp | None:
    """What status must still say for the plan cache to trust the checksum of what was read
    with it, git-style: None while the change is too recent to tell a later one apart. Taken
    by fstat before the read, so a write after it changes the change time (which no program
    can set) and the stamp no longer matches. (On Windows st_ctime is the creation time: the
    later of the two times counts.)"""
    if max(status.st_ctime_ns, status.st_mtime_ns) > time.time_ns() - SETTLED_NS:
        return None
    return stamp(status)


def stamp(status: os.stat_result) -> Stamp:
    return (status.st_mode, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
            status.st_ctime_ns)


def _locate(root: str, relative: str, follow: bool) -> str:
    """The file's path, checked to be inside root; the file's own name is followed when it
    is a symlink (`follow`), or when the path seems to lead outside (it may lead back)."""
    try:
        path = resolve(root, relative, follow)
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop; a NUL byte
        raise UnusableFile(f"{relative} cannot be resolved: {exc}") from exc
    if inside(path, real_folder(root)):
        return path
    if not follow:
        return _locate(root, relative, follow=True)
    raise UnusableFile(f"{relative} lies outside the project folder {root}",
                       "keep migrations beside the manifest")


@functools.lru_cache(maxsize=1024)
def real_folder(folder: str) -> str:
    """A folder resolved once; clear the cache before each manifest read."""
    return str(Path(folder).resolve())


@functools.lru_cache(maxsize=1024)
def folder_path(folder: str) -> Path:
    """One Path per folder, joined with each name: half the cost of a Path per file."""
    return Path(folder)


def resolve(root: str, relative: str, follow: bool = True) -> str:
    """str((root / relative).resolve()), resolving each folder once and with strings, not
    pathlib: a full resolve per file costs an lstat per path component, and pathlib's own
    work dominates reading many small files (docs/performance.md). Without
    `follow`, the file's own name is taken as it is, even if it is a symlink."""
    joined = os.path.join(root, relative)
    if ".." in joined.split("/"):  # resolved in order: `link/..` is not where `..` leads
        return str(Path(joined).resolve())
    joined = os.path.normpath(joined)  # as pathlib has it: no "//", no "." parts
    folder, name = os.path.split(joined)
    if name in ("", ".") or (follow and os.path.islink(joined)):
        return str(Path(joined).resolve())
    return os.path.join(real_folder(folder), name)


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(os.path.join(folder, ""))


class Refused(OSError):
    """A file archon-plan will not read (not a regular file, too large); says only why."""

    def __str__(self) -> str:
        return str(self.strerror)


def max_file_bytes() -> int:
    """The largest manifest or SQL file archon-plan reads: ARCHON_MAX_FILE_MB (default 64)."""
    try:
        return max(1, int(os.environ.get("ARCHON_MAX_FILE_MB", "64"))) << 20
    except ValueError:
        return 64 << 20


def read_bytes(path: str, flags: int = 0) -> bytes:
    return read_stamped(path, flags)[0]


def read_stamped(path: str, flags: int = 0) -> tuple[bytes, os.stat_result]:
    """open(path, "rb").read() in fewer system calls (no buffer, no terminal check), for
    regular files only, with the file's status before the read: opened non-blocking, so a
    FIFO cannot hang the run, and refused past max_file_bytes(), so /dev/zero or a runaway
    file cannot eat the memory."""
    descriptor = os.open(path, os.O_RDONLY | _BINARY | getattr(os, "O_NONBLOCK", 0) | flags)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):  # as open() has it, with the path in the message
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat.S_ISREG(status.st_mode):
            raise Refused(errno.EINVAL, "not a regular file (a FIFO, a device or a socket)", path)
        limit = max_file_bytes()
        chunks = [os.read(descriptor, min(status.st_size, limit) + 1)]
        if len(chunks[0]) > status.st_size:  # it grew since fstat(): read on, to the limit
            while chunks[-1] and sum(map(len, chunks)) <= limit:
                chunks.append(os.read(descriptor, 1 << 16))
        if sum(map(len, chunks)) > limit:
            raise Refused(errno.EFBIG, f"larger than {limit >> 20} MiB (ARCHON_MAX_FILE_MB)", path)
        return b"".join(chunks), status
    finally:
        os.close(descriptor)
