"""Schema drift as text, JSON and a Markdown comment, for one database or a fleet; pure strings."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.text import SCHEMA_VERSION, markdown_cell, markdown_table
from ..db.fleet import Result
from ..errors import ExitCode
from .catalog import CHANGED, LEFT_BEHIND, MISSING, Difference
from .drift import Drift

DEFINITION_LIMIT = 200  # characters of a long definition in text; JSON has them whole
# Expected before, found after: what is found and was not expected was added by hand.
CHANGES = {LEFT_BEHIND: "added", MISSING: "removed", CHANGED: "changed"}
Where = Mapping[str, tuple[str | None, str | None]]  # target name -> (redacted database, schema)


def _cut(text: str | None, limit: int | None = DEFINITION_LIMIT, empty: str = "") -> str:
    text = text or empty
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


def message(difference: Difference, limit: int | None = None) -> str:
    """One line: `column public.t.c: changed: expected integer, found bigint`."""
    subject, change = f"{difference.kind} {difference.name}", CHANGES[difference.change]
    before, after = (_cut(text, limit, "(nothing)") for text in (difference.before, difference.after))
    if difference.change == CHANGED:
        return f"{subject}: changed: expected {before}, found {after}"
    return f"{subject}: {change}: {after if change == 'added' else before}"


def counts(drift: Drift) -> dict[str, int]:
    found = dict.fromkeys(CHANGES.values(), 0)
    for difference in drift.differences:
        found[CHANGES[difference.change]] += 1
    return found


def _summary(drift: Drift, where: str) -> str:
    schemas = ", ".join(drift.schemas)
    if not drift.differences:
        return f"No drift: {where} (schemas {schemas}) matches {drift.expected.against}."
    n = counts(drift)
    return (f"Schema drift: {where} (schemas {schemas}) differs from {drift.expected.against}: "
            f"{n['added']} added, {n['removed']} removed, {n['changed']} changed.")


def drift_text(drift: Drift, where: str) -> str:
    lines = [f"  {message(d, DEFINITION_LIMIT)}" for d in drift.differences]
    return "\n".join([*lines, _summary(drift, where)])


def difference_json(difference: Difference) -> dict[str, Any]:
    return {"kind": difference.kind, "name": difference.name, "change": CHANGES[difference.change],
            "expected": difference.before, "found": difference.after, "message": message(difference)}


def drift_document(drift: Drift, where: str | None) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "database": where, "against": drift.expected.against,
            "schemas": list(drift.schemas), "ok": not drift.differences, "counts": counts(drift),
            "differences": [difference_json(d) for d in drift.differences]}


def drift_json(drift: Drift, where: str) -> str:
    return json.dumps(drift_document(drift, where), indent=2)


def drift_markdown(drift: Drift, where: str) -> str:
    lines = ["### Schema drift", "", markdown_cell(_summary(drift, f"`{where}`"))]
    if drift.differences:
        rows = [(CHANGES[d.change], d.kind, f"`{d.name}`", _cut(d.before), _cut(d.after))
                for d in drift.differences]
        lines += ["", *markdown_table(("change", "kind", "name", "expected", "found"), rows)]
    return "\n".join(lines)


def fleet_text(results: Sequence[Result], found: Mapping[str, Drift]) -> str:
    """A line per target, the differences of each that drifted under it, then the totals."""
    lines: list[str] = []
    for result in results:
        drift = found.get(result.name)
        if result.ok:
            lines.append(f"ok      {result.name}  no drift")
        elif drift is not None and result.exit_code == ExitCode.DRIFT:
            lines.append(f"DRIFT   {result.name}  {len(drift.differences)} object(s) differ")
            lines += [f"          {message(d, DEFINITION_LIMIT)}" for d in drift.differences]
        else:
            first = (result.error or "").splitlines()[0] if result.error else ""
            lines.append(f"FAILED  {result.name}  exit {result.exit_code}: {first}")
    n = fleet_totals(results)
    lines.append(f"{len(results)} target(s): {n['ok']} without drift, {n['drift']} with drift, "
                 f"{n['failed']} could not be compared")
    return "\n".join(lines)


def _word(result: Result) -> str:
    return "ok" if result.ok else "drift" if result.exit_code == ExitCode.DRIFT else "failed"


def fleet_totals(results: Sequence[Result]) -> dict[str, int]:
    words = [_word(r) for r in results]
    return {word: words.count(word) for word in ("ok", "drift", "failed")}


def fleet_json(results: Sequence[Result], found: Mapping[str, Drift], where: Where, fleet: Path,
               code: int) -> str:
    items = []
    for result in results:
        database, schema = where.get(result.name, (None, None))
        drift = found.get(result.name)
        items.append({"name": result.name, "database": database, "schema": schema, "result": _word(result),
                      "exit_code": result.exit_code, "error": None if result.ok else result.error,
                      "hint": result.hint, "against": drift.expected.against if drift else None,
                      "differences": [difference_json(d) for d in drift.differences] if drift else []})
    document = {"schema_version": SCHEMA_VERSION, "command": "fleet drift", "fleet": str(fleet),
                "exit_code": code, "totals": fleet_totals(results), "targets": items}
    return json.dumps(document, indent=2)
