"""The outcome of `rehearse` as text and JSON; pure strings."""

from __future__ import annotations

import json
from typing import Any

from ..core.text import SCHEMA_VERSION
from ..errors import ArchonPlanError
from .catalog import Difference
from .rehearse import Outcome, Rehearsal, Verdict

DEFINITION_LIMIT = 200  # characters of a long definition in text; JSON has them whole

_TAGS = {Verdict.RESTORED: "restored", Verdict.DIFFERS: "DIFFERS", Verdict.NO_ROLLBACK: "no rollback",
         Verdict.IRREVERSIBLE: "irreversible", Verdict.FAILED: "FAILED", Verdict.BASE: "base"}


def outcome_text(outcome: Outcome) -> str:
    """One line per migration, then one per object that its rollback did not restore."""
    tag, label = _TAGS[outcome.verdict].ljust(11), outcome.migration.label
    if outcome.verdict is Verdict.NO_ROLLBACK:
        return f"  {tag}  {label}: not rehearsed: no rollback; applied"
    if outcome.verdict is Verdict.IRREVERSIBLE:
        return f"  {tag}  {label}: not rehearsed: irreversible = true; applied"
    if outcome.verdict is Verdict.BASE:
        return f"  {tag}  {label}: in BASE; applied without rehearsal"
    if outcome.verdict is Verdict.FAILED:
        return f"  {tag}  {label}: the rollback failed: {outcome.error}"
    changed = f"{outcome.changed} schema object(s) changed by the migration"
    if outcome.verdict is Verdict.RESTORED:
        return f"  {tag}  {label}: the rollback restores the schema ({changed})"
    lines = [f"  {tag}  {label}: the rollback does not restore the schema ({changed}):"]
    lines.extend(f"      {d.text(DEFINITION_LIMIT)}" for d in outcome.differences)
    return "\n".join(lines)


def counts(rehearsal: Rehearsal) -> dict[str, int]:
    found = {verdict.value: 0 for verdict in Verdict}
    for outcome in rehearsal.outcomes:
        found[outcome.verdict.value] += 1
    return found


def summary_text(rehearsal: Rehearsal) -> str:
    n = counts(rehearsal)
    failed = f", {n['rollback-failed']} failed" if n["rollback-failed"] else ""
    irreversible = f", {n['irreversible']} irreversible" if n["irreversible"] else ""
    line = (f"{len(rehearsal.outcomes)} migration(s): {n['restored']} restored, {n['differs']} differ"
            f"{failed}, {n['no-rollback']} without rollback{irreversible}, {n['base']} in BASE.")
    if rehearsal.server_version:
        line += f"\nRehearsed on PostgreSQL {rehearsal.server_version}."
    for verdict, what in ((Verdict.DIFFERS, "do not restore the schema"), (Verdict.FAILED, "fail")):
        failing = [o.migration.label for o in rehearsal.outcomes if o.verdict is verdict]
        if failing:
            line += f"\nRollbacks that {what}: {', '.join(failing)}"
    return line


def _difference(difference: Difference) -> dict[str, Any]:
    return {"kind": difference.kind, "name": difference.name, "change": difference.change,
            "before": difference.before, "after": difference.after, "message": str(difference)}


def stopped_json(error: ArchonPlanError, server: str | None) -> str:
    """The document of a rehearsal that could not run to its end (a manifest that does not
    load, a migration that fails to apply): a tool reading stdout still gets JSON, with the
    error; the exit code is the error's."""
    document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "server": server, "ok": False,
                "counts": {verdict.value: 0 for verdict in Verdict}, "migrations": [],
                "error": {"message": error.message, "hint": error.hint, "exit_code": int(error.exit_code)}}
    return json.dumps(document, indent=2)


def rehearsal_json(rehearsal: Rehearsal, server: str) -> str:
    items = [
        {
            "version": o.migration.version,
            "name": o.migration.stem,
            "outcome": o.verdict.value,
            "objects_changed": o.changed,
            "differences": [_difference(d) for d in o.differences],
            "rollback_error": o.error,
        }
        for o in rehearsal.outcomes
    ]
    document = {"schema_version": SCHEMA_VERSION, "server": server,
                "server_version": rehearsal.server_version, "ok": rehearsal.ok,
                "counts": counts(rehearsal), "migrations": items}
    return json.dumps(document, indent=2)
