"""A SQL file as archon-plan runs it: its text normalised as Archon hashes it, its checksum,
and the stamp the plan cache vouches for it with."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RefusedError

if TYPE_CHECKING:
    from collections.abc import Callable


def normalize_sql_text(raw: bytes) -> str:
    """Decode a SQL file as UTF-8, drop a BOM and normalise line endings to LF."""
    text = raw.decode("utf-8")
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """MD5 hex of normalised text: what Archon's own Python code computes."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# What a file's status must still say for the plan cache to vouch for its checksum without
# reading it: (st_mode, st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns). project/files.py.
Stamp = tuple[int, int, int, int, int, int]


class SqlFile:
    """A SQL file: what is hashed is exactly what runs. Its text is read at load, or, when the
    plan cache vouches that the file is unchanged since it was hashed, at its first use, and
    refused then if it no longer has that checksum: `status` and a no-op `apply` need only
    checksums, and read no SQL file. Immutable, like the dataclasses here."""

    __slots__ = ("_checksum", "_display", "_path", "_reader", "_stamp", "_text")

    def __init__(self, path: Path | str, display: str, text: str | None = None, *,
                 checksum: str | None = None, reader: Callable[[SqlFile], str] | None = None,
                 stamp: Stamp | None = None) -> None:
        if text is None and (checksum is None or reader is None):
            raise TypeError("a SqlFile needs its text, or its checksum and a reader")
        self._path = path  # a str until asked for: a Path per file is most of a cached load
        self._display = display  # the path as the manifest wrote it, for messages
        self._text = text
        self._checksum = checksum
        self._reader = reader
        self._stamp = stamp

    @property
    def path(self) -> Path:
        if not isinstance(self._path, Path):
            self._path = Path(self._path)
        return self._path

    @property
    def filename(self) -> str:
        """The path as a string, without making a Path of it."""
        return str(self._path)

    @property
    def display(self) -> str:
        return self._display

    @property
    def stamp(self) -> Stamp | None:
        """The file's status when it was read, if old enough to vouch for it later."""
        return self._stamp

    @property
    def text(self) -> str:
        if self._text is None:
            assert self._reader is not None  # the constructor insists on one
            text = self._reader(self)
            if checksum(text) != self._checksum:
                raise RefusedError(f"{self.display} changed while archon-plan ran", "run the command again")
            self._text = text
        return self._text

    @property
    def checksum(self) -> str:
        if self._checksum is None:
            self._checksum = checksum(self.text)
        return self._checksum

    def moved(self, path: Path) -> SqlFile:
        """The same file's text under another path."""
        return SqlFile(path, self.display, self.text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SqlFile):
            return NotImplemented
        mine, theirs = (self.display, self.filename), (other.display, other.filename)
        return mine == theirs and self.checksum == other.checksum

    def __hash__(self) -> int:
        return hash((self.display, self.filename))

    def __repr__(self) -> str:
        return f"SqlFile(path={self.filename!r}, display={self.display!r})"
