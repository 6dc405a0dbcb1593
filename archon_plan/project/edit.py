"""The manifest's text changed in place: strings of a few entries replaced, every other
character (comments, layout, quoting) kept, and the result proved by reading it back."""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from .lines import ANY_HEADER_RE, Lines

# A TOML string on one line: "basic" (with escapes) or 'literal'.
STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
EDITED_KEYS = ("file", "rollback", "depends_on")


class UneditableText(Exception):
    """The strings could not be replaced in the text alone: the manifest writes them in a form
    this edit does not read (with escapes, or inside a multi-line string)."""


def replace_strings(text: str, changes: Mapping[int, Mapping[str, str]],
                    comments: Mapping[int, tuple[str, str]] | None = None) -> str:
    """`text` with, in each [[migration]] entry `index` of `changes`, the `file`, `rollback`
    and `depends_on` strings equal to an old value replaced by the new one; `comments` names
    an entry whose comment line just above its header is replaced (old line, new line).
    Raises UneditableText unless the result reads as exactly those changes."""
    lines = Lines(text)
    rows = text.splitlines(keepends=True)
    for index, mapping in changes.items():
        start = lines.entry(index)
        if start is None:
            raise UneditableText(f"entry #{index + 1} has no [[migration]] header in the text")
        swap = functools.partial(_swap, mapping=mapping)
        for row in range(start, _end(rows, start)):  # the lines after the header, 0-based
            rows[row] = STRING_RE.sub(swap, rows[row])
    for index, (old, new) in (comments or {}).items():
        header = lines.entry(index)
        if header and header >= 2 and rows[header - 2].rstrip("\r\n") == old:
            rows[header - 2] = new + rows[header - 2][len(old):]
    edited = "".join(rows)
    if _read(edited) != _expected(_read(text), changes):
        raise UneditableText("the text changed in more places than those strings, or not in all of them")
    return edited


def _end(rows: list[str], start: int) -> int:
    """The index after the entry's last line: its table ends at the next header of any table."""
    return next((i for i in range(start, len(rows)) if ANY_HEADER_RE.match(rows[i])), len(rows))


def _swap(found: re.Match[str], mapping: Mapping[str, str]) -> str:
    literal = found[0]
    quote, inner = literal[0], literal[1:-1]
    new = mapping.get(inner)
    return literal if new is None else quote + new + quote


def _read(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UneditableText(f"the edited text is not TOML: {exc}") from None


def _expected(data: dict[str, Any], changes: Mapping[int, Mapping[str, str]]) -> dict[str, Any]:
    """The data the edit must give: the original with only the named strings replaced."""
    result = copy.deepcopy(data)
    entries = result.get("migration", [])
    for index, mapping in changes.items():
        item = entries[index]
        for key in EDITED_KEYS:
            value = item.get(key)
            if isinstance(value, str):
                item[key] = mapping.get(value, value)
            elif isinstance(value, list):
                item[key] = [mapping.get(v, v) if isinstance(v, str) else v for v in value]
    return result
