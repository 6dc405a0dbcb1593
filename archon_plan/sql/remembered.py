"""A file's statements as a run needs them, kept between runs so that a file parsed before is
not parsed again: a run of such files imports no parser at all (docs/performance.md).

Kept under the text's checksum and the mode its problems were checked in, and only once
they were none; what is kept is where each runnable statement starts, its length and its
kind. A kept statement's parse tree is not kept: it is parsed again if ever asked for
(parse.Statement.fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.sqlfile import SqlFile
from .parse import Statement


def key(sql: SqlFile, transactional: bool, rollback: bool) -> str:
    return f"{sql.checksum}:{int(transactional)}{int(rollback)}"


def spans(statements: Sequence[Statement]) -> list[list[Any]]:
    return [[s.offset, len(s.text), s.kind] for s in statements]


def statements(text: str, kept: object) -> tuple[Statement, ...] | None:
    """The statements a kept split describes, or None when it is not one that fits the text:
    spans in order, apart, within it (a damaged cache file is a miss, as the plan cache's
    own are)."""
    if not isinstance(kept, list):
        return None
    found, end = [], 0
    for span in kept:
        if not (isinstance(span, list) and len(span) == 3):
            return None
        offset, length, kind = span
        if not (type(offset) is int and type(length) is int and isinstance(kind, str)
                and offset >= end and length > 0 and offset + length <= len(text)):
            return None
        end = offset + length
        found.append(Statement(text[offset:end], offset, kind))
    return tuple(found)
