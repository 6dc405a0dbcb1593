"""Text helpers every output shares: the JSON schema version, status notes, aligned and markdown tables,
"did you mean"."""

from __future__ import annotations

from collections.abc import Sequence

from .model import MigrationStatus, State

# The version of every JSON document archon-plan prints (docs/cli.md): one number for all.
SCHEMA_VERSION = 1


STATE_NOTES = {
    State.APPLIED_UNKNOWN_CHECKSUM: "recorded without a checksum",
    State.MODIFIED: "file changed since it was applied",
    State.UNKNOWN: "in the database, not in the manifest",
}


def status_note(status: MigrationStatus) -> str:
    """The NOTE of a migration's line in `status` (and the dashboard): why its state matters."""
    if status.state is State.FAILED:
        failure = status.failure
        return f"{failure.describe()}; repair --retry {status.label}" if failure else ""
    return STATE_NOTES.get(status.state, "sorts before applied ones" if status.out_of_order else "")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; the last one is not padded."""
    lines = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(map(len, column)) for column in zip(*lines, strict=True)]
    padded = ("  ".join([*map(str.ljust, line[:-1], widths), line[-1]]) for line in lines)
    return "\n".join(text.rstrip() for text in padded)


def markdown_cell(value: object) -> str:
    """A value that stays inside one cell of a markdown table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["|" + "".join(f" {h} |" if h else " |" for h in header), "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows)
    return lines


def closest(word: str, choices: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The choice most like `word`, or None; difflib is imported only when a name matched nothing."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, choices: Sequence[str], cutoff: float = 0.6) -> str | None:
    """`did you mean 'x'?` for the closest choice, or None."""
    close = closest(word, choices, cutoff)
    return f"did you mean {close!r}?" if close else None
