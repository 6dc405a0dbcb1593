"""Output of `check`'s lint: text, JSON, GitHub workflow annotations and a Markdown table; pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.text import SCHEMA_VERSION, markdown_table
from ..errors import Problem
from ..sql.lint import Finding, LintResult
from ..sql.rules import BY_CODE, Severity

FORMATS = ("text", "json", "github", "markdown")


def render(result: LintResult, manifest: str, migrations: int, form: str) -> str:
    formatter = {"text": text, "json": as_json, "github": github, "markdown": markdown}[form]
    return formatter(result, manifest, migrations)


def broken(result: LintResult, manifest: str, migrations: int, form: str,
           problems: Sequence[Problem]) -> str | None:
    """For a manifest that does not load, the document a machine reads (`json`, `github`)
    with every problem in it; None for the formats people read (the error says it all)."""
    if form == "json":
        document = json.loads(as_json(result, manifest, migrations))
        document["problems"] = [{"where": p.where, "message": p.message, "hint": p.hint} for p in problems]
        return json.dumps(document, indent=2)
    if form == "github":
        lines = [f"::error file={_escape(p.location.file if p.location else manifest, True)}"
                 + (f",line={p.location.line}" if p.location and p.location.line else "")
                 + f",title=archon-plan check::{_escape(str(p))}" for p in problems]
        stop = f"{manifest}: {len(problems)} problem(s) stop the manifest from loading."
        return "\n".join([*lines, *_annotations(result), stop])
    return None


def summary(result: LintResult, manifest: str, migrations: int) -> str:
    errors, warnings = result.count(Severity.ERROR), result.count(Severity.WARNING)
    allowed = len(result.suppressed)
    if errors or warnings:
        found = f"{errors} error(s), {warnings} warning(s)" + (f", {allowed} allowed" if allowed else "")
    else:
        found = "no problems found" + (f" ({allowed} allowed)" if allowed else "")
    return f"{manifest}: {migrations} migration(s), {found}."


def text(result: LintResult, manifest: str, migrations: int) -> str:
    lines = []
    for f in result.findings:
        lines.append(f"{f.where}: {f.severity} {f.code} [migration {f.migration}] {f.message}")
        lines.append(f"  HINT: {f.hint}")
    return "\n".join([*lines, summary(result, manifest, migrations)])


def finding_dict(finding: Finding) -> dict[str, Any]:
    place, rule = finding.location, BY_CODE[finding.code]
    return {
        "code": finding.code, "name": rule.name, "severity": finding.severity.value,
        "migration": finding.migration, "file": place.file, "line": place.line, "column": place.column,
        "message": finding.message, "hint": finding.hint, "explanation": rule.explanation,
    }


def as_json(result: LintResult, manifest: str, migrations: int) -> str:
    counts = {"migrations": migrations, "errors": result.count(Severity.ERROR),
              "warnings": result.count(Severity.WARNING), "suppressed": len(result.suppressed)}
    document = {"schema_version": SCHEMA_VERSION, "manifest": manifest,
                "findings": [finding_dict(f) for f in result.findings], "counts": counts,
                "problems": []}
    return json.dumps(document, indent=2)


def _escape(value: str, is_property: bool = False) -> str:
    """GitHub's workflow-command escaping; properties also escape `:` and `,`."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if is_property else value


def github(result: LintResult, manifest: str, migrations: int) -> str:
    return "\n".join([*_annotations(result), summary(result, manifest, migrations)])


def _annotations(result: LintResult) -> list[str]:
    lines = []
    for f in result.findings:
        at = f.location
        place = f"file={_escape(at.file, True)}" + (f",line={at.line},col={at.column}" if at.line else "")
        title = _escape(f"{f.code} {BY_CODE[f.code].name}", True)
        body = _escape(f"[{f.migration}] {f.message}\nHINT: {f.hint}")
        lines.append(f"::{f.severity} {place},title={title}::{body}")
    return lines


def markdown(result: LintResult, manifest: str, migrations: int) -> str:
    lines = ["### archon-plan check", "", summary(result, manifest, migrations)]
    rows = [["❌ error" if f.severity is Severity.ERROR else "⚠️ warning",
             f"`{f.code}` {BY_CODE[f.code].name}", f.migration, f"`{f.where}`", f.message, f.hint]
            for f in result.findings]
    if rows:
        lines += ["", *markdown_table(("", "code", "migration", "where", "problem", "fix"), rows)]
    return "\n".join(lines)
