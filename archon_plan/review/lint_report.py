"""Output of `check`'s lint: text, JSON, GitHub workflow annotations and a Markdown table; pure."""

from __future__ import annotations

import json
from typing import Any

from ..core.text import SCHEMA_VERSION, markdown_table
from ..sql.lint import Finding, LintResult
from ..sql.rules import BY_CODE, Severity

FORMATS = ("text", "json", "github", "markdown")


def render(result: LintResult, manifest: str, migrations: int, form: str) -> str:
    formatter = {"text": text, "json": as_json, "github": github, "markdown": markdown}[form]
    return formatter(result, manifest, migrations)


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
                "findings": [finding_dict(f) for f in result.findings], "counts": counts}
    return json.dumps(document, indent=2)


def _escape(value: str, is_property: bool = False) -> str:
    """GitHub's workflow-command escaping; properties also escape `:` and `,`."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if is_property else value


def github(result: LintResult, manifest: str, migrations: int) -> str:
    lines = []
    for f in result.findings:
        at = f.location
        place = f"file={_escape(at.file, True)}" + (f",line={at.line},col={at.column}" if at.line else "")
        title = _escape(f"{f.code} {BY_CODE[f.code].name}", True)
        body = _escape(f"[{f.migration}] {f.message}\nHINT: {f.hint}")
        lines.append(f"::{f.severity} {place},title={title}::{body}")
    return "\n".join([*lines, summary(result, manifest, migrations)])


def markdown(result: LintResult, manifest: str, migrations: int) -> str:
    lines = ["### archon-plan check", "", summary(result, manifest, migrations)]
    rows = [["❌ error" if f.severity is Severity.ERROR else "⚠️ warning",
             f"`{f.code}` {BY_CODE[f.code].name}", f.migration, f"`{f.where}`", f.message, f.hint]
            for f in result.findings]
    if rows:
        lines += ["", *markdown_table(("", "code", "migration", "where", "problem", "fix"), rows)]
    return "\n".join(lines)
