"""A ManifestDiff as text, JSON, or a markdown pull-request comment; pure strings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from ..core.diff import Edit, ManifestDiff
from ..core.model import Migration
from ..core.text import SCHEMA_VERSION, markdown_cell, markdown_table, table

MARKDOWN_PLAN_LIMIT = 300
CHANGE_WORDS = {"sql": "SQL changed", "rollback": "rollback changed", "file": "file moved, identity kept"}


class Finding(Protocol):
    """A lint finding, as archon_plan.sql.lint reports it."""

    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def migration(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def hint(self) -> str | None: ...


def _rows(diff: ManifestDiff, code: str = "") -> list[tuple[str, str, str]]:
    """(change, migration, detail) for every change, in the head's plan order."""
    rows = []
    for m in diff.added:
        deps = ", ".join(f"{code}{d.label}{code}" for d in diff.graph.dependencies(m))
        late = "; sorts before migrations of the base: applied out of order there"
        rows.append(("added", m.label, (f"depends on {deps}" if deps else "no dependencies")
                     + (late if m.key in diff.out_of_order else "")))
    rows.extend(("removed", m.label, "ERROR: may already be applied somewhere") for m in diff.removed)
    rows.extend(_edit_row(e) for e in diff.edited)
    for change in diff.dependencies:
        detail = [f"+ {code}{d}{code}" for d in change.added] + [f"- {code}{d}{code}" for d in change.removed]
        rows.append(("depends_on", change.migration.label, ", ".join(detail)))
    return rows


def _edit_row(edit: Edit) -> tuple[str, str, str]:
    if "renamed" in edit.changes:
        return ("renamed", f"{edit.base.label} -> {edit.head.label}", "ERROR: same SQL, new identity")
    words = ", ".join(CHANGE_WORDS[c] for c in edit.changes)
    if edit.is_error:
        return ("edited", edit.head.label, f"ERROR: {words}")
    return ("moved", edit.head.label, f"{words}: {edit.base.sql.display} -> {edit.head.sql.display}")


def _summary(diff: ManifestDiff) -> str:
    errors = len(diff.removed) + sum(e.is_error for e in diff.edited)
    counts = [f"{len(diff.added)} added", f"{len(diff.removed)} removed",
              f"{sum(e.is_error for e in diff.edited)} edited or renamed",
              f"{len(diff.dependencies)} dependency change(s)"]
    return ", ".join(counts) + (f"; {errors} error(s)" if errors else "; no errors")


def diff_text(diff: ManifestDiff) -> str:
    rows = _rows(diff)
    lines = [f"Compared with {diff.base_name}:"]
    lines.append(table(("CHANGE", "MIGRATION", "DETAIL"), rows) if rows else "no changes to migrations")
    new = {m.key for m in diff.new}
    lines.append(f"\nPlan ({len(diff.graph.order)} migration(s), + marks the new ones):")
    lines.extend(f"{'+' if m.key in new else ' '} {diff.graph.position(m) + 1:>4}  {m.label}"
                 for m in diff.graph.order)
    lines.append(_summary(diff))
    return "\n".join(lines)


def _brief(m: Migration) -> dict[str, Any]:
    return {"version": m.version, "name": m.stem, "file": m.sql.display, "checksum": m.checksum}


def _edit_dict(edit: Edit) -> dict[str, Any]:
    def rollback(m: Migration) -> str | None:
        return m.rollback.checksum if m.rollback else None

    return {**_brief(edit.head), "rollback_checksum": rollback(edit.head), "changes": list(edit.changes),
            "error": edit.is_error, "base": {**_brief(edit.base), "rollback_checksum": rollback(edit.base)}}


def diff_json(diff: ManifestDiff) -> str:
    new = {m.key for m in diff.new}
    document = {
        "schema_version": SCHEMA_VERSION,
        "base": diff.base_name,
        "ok": not diff.removed and not any(e.is_error for e in diff.edited),
        "added": [{**_brief(m), "depends_on": [d.label for d in diff.graph.dependencies(m)],
                   "out_of_order": m.key in diff.out_of_order} for m in diff.added],
        "removed": [_brief(m) for m in diff.removed],
        "edited": [_edit_dict(e) for e in diff.edited],
        "dependencies": [{"version": c.migration.version, "name": c.migration.stem,
                          "added": list(c.added), "removed": list(c.removed)} for c in diff.dependencies],
        "plan": [{"position": diff.graph.position(m) + 1, "version": m.version, "name": m.stem,
                  "new": m.key in new} for m in diff.graph.order],
    }
    return json.dumps(document, indent=2)


def diff_markdown(diff: ManifestDiff, findings: Sequence[Finding] | None) -> str:
    """A pull-request comment: summary table, lint findings, a mermaid graph, the plan."""
    lines = [f"### archon-plan: migrations compared with `{diff.base_name}`", "", _summary(diff), ""]
    rows = [(change, f"`{label}`", detail) for change, label, detail in _rows(diff, code="`")]
    table_lines = markdown_table(("change", "migration", "detail"), rows)
    lines.extend(table_lines if rows else ["No changes to migrations."])
    lines.extend(_errors_section(diff))
    lines.extend(["", *_lint_section(findings, bool(diff.new))])
    if diff.new:
        lines.extend(["", "#### New migrations and their dependencies", "", "```mermaid",
                      *_mermaid(diff), "```"])
    lines.extend(["", *_plan_section(diff)])
    return "\n".join(lines)


def _errors_section(diff: ManifestDiff) -> list[str]:
    problems = diff.problems()
    if not problems:
        return []
    lines = ["", "> [!CAUTION]", f"> {len(problems)} migration(s) of `{diff.base_name}` were removed or "
             "edited. Databases may already have applied them.", ""]
    for problem in problems:
        hint = f"<br>HINT: {markdown_cell(problem.hint)}" if problem.hint else ""
        lines.append(f"- {markdown_cell(problem.message)}{hint}")
    return lines


def _lint_section(findings: Sequence[Finding] | None, any_new: bool) -> list[str]:
    title = "#### Lint findings for the new migrations"
    if not any_new:
        return [title, "", "No new migrations."]
    if findings is None:
        return [title, "", "Lint is not available in this version of archon-plan."]
    if not findings:
        return [title, "", "No findings."]
    rows = [(str(f.severity), f"`{f.code}`", f"`{f.migration}`",
             f.where, f.message + (f" HINT: {f.hint}" if f.hint else "")) for f in findings]
    return [title, "", *markdown_table(("severity", "code", "migration", "where", "finding"), rows)]


def _mermaid(diff: ManifestDiff) -> list[str]:
    """The new migrations, their direct dependencies, and the edges between them."""
    new = diff.new
    shown = {m.key: m for m in new}
    for m in new:
        shown.update({d.key: d for d in diff.graph.dependencies(m)})
    ordered = sorted(shown.values(), key=diff.graph.position)
    ids = {m.key: f"n{i}" for i, m in enumerate(ordered)}
    fresh = {m.key for m in new}
    lines = ["graph TD"]
    lines.extend(f'    {ids[m.key]}["{m.label}"]' + (":::new" if m.key in fresh else "") for m in ordered)
    lines.extend(f"    {ids[d.key]} --> {ids[m.key]}" for m in new for d in diff.graph.dependencies(m))
    lines.append("    classDef new fill:#dafbe1,stroke:#1a7f37")
    return lines


def _plan_section(diff: ManifestDiff) -> list[str]:
    new = {m.key for m in diff.new}
    summary = f"Plan order: {len(diff.graph.order)} migration(s), {len(new)} new"
    listed = diff.graph.order
    if len(listed) > MARKDOWN_PLAN_LIMIT:  # a comment holds 65,536 characters at most
        listed, summary = diff.new, summary + " (only the new ones are listed)"
    items = [f"{diff.graph.position(m) + 1}. "
             + (f"**`{m.label}`** (new)" if m.key in new else f"`{m.label}`") for m in listed]
    return ["<details><summary>" + summary + "</summary>", "", *items, "", "</details>"]
