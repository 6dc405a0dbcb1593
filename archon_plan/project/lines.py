"""Where things are in a TOML file (tomllib keeps no line numbers), and problems at those
places: shared by the manifest's reader and the fleet file's."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..core.text import did_you_mean
from ..errors import Problem

ANY_HEADER_RE = re.compile(r"^\s*\[")


class Lines:
    """Maps the entries of an array of tables (`[[migration]]` by default) and their keys to
    line numbers; tomllib keeps none."""

    def __init__(self, text: str, array: str = "migration") -> None:
        self.lines = text.splitlines()
        header = re.compile(rf"^\s*\[\[\s*{re.escape(array)}\s*\]\]")
        self.headers = [i + 1 for i, line in enumerate(self.lines) if header.match(line)]

    def entry(self, index: int) -> int | None:
        return self.headers[index] if index < len(self.headers) else None

    def key(self, index: int, key: str) -> int | None:
        start = self.entry(index)
        if start is None:
            return None
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            if ANY_HEADER_RE.match(self.lines[number - 1]):
                break  # the entry's table ends at the next header of any table
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def table(self, name: str) -> int | None:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        return next((i + 1 for i, ln in enumerate(self.lines) if pattern.match(ln)), None)


def located(path: Path, line: int | None, entry: int | None = None) -> str:
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: migration #{entry + 1}" if entry is not None else where


def suggest(word: str, choices: Sequence[str]) -> str:
    return did_you_mean(word, choices) or f"expected one of: {', '.join(choices)}"


def pydantic_problems(
    exc: ValidationError,
    where: Callable[[int | None], str],
    model: type[BaseModel],
    line_of: Callable[[str], int | None],
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            hint = suggest(key, tuple(model.model_fields))
            problems.append(Problem(f"{where(line_of(key))}", f"unknown key {key!r}", hint))
        else:
            problems.append(Problem(f"{where(line_of(key))}", f"{loc}: {error['msg']}"))
    return problems
