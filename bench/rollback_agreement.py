"""How often AP403 (rollback-incomplete) agrees with `rehearse`: `python -m bench.rollback_agreement`.

For each source (the example project, the Archon corpus with rollbacks written for it, the
generated cases of rollback_cases.py, the benchmark's synthetic project) it runs `archon-plan
check` and `archon-plan rehearse` as a user would, then counts, over the migrations rehearse
rehearsed: true positives (AP403 flags a rollback that rehearse finds does not restore the
schema), false positives, false negatives and true negatives. `--code DIR` runs another
checkout's archon-plan (the figures before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .generate import write_project
from .rollback_cases import CASES

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "archon-v1"
ARCHON_ROLLBACKS = Path(__file__).with_name("archon_rollbacks")


@dataclass(frozen=True)
class Row:
    """One rehearsed migration: what rehearse found and what AP403 said."""

    label: str
    differs: bool
    flagged: bool
    differences: tuple[str, ...]
    message: str | None
    expected: bool | None = None  # for a generated case: whether it was written to differ


@dataclass(frozen=True)
class Runner:
    """archon-plan as a command, from this checkout or another one (`--code`)."""

    code: Path | None
    database_url: str

    def run(self, manifest: Path, *args: str) -> dict[str, object]:
        env = {**os.environ, "PYTHONPATH": str(self.code)} if self.code else None
        command = [sys.executable, "-m", "archon_plan", "--manifest", str(manifest), *args,
                   "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=manifest.parent)
        if not done.stdout.strip():
            raise SystemExit(f"{' '.join(args)} on {manifest} printed nothing: {done.stderr.strip()}")
        document: dict[str, object] = json.loads(done.stdout)
        return document

    def rehearse(self, manifest: Path, embedded: bool) -> dict[str, object]:
        # Without --database-url, rehearse starts a throwaway embedded PostgreSQL of its own.
        where = () if embedded else ("--database-url", self.database_url)
        return self.run(manifest, "rehearse", *where)


def measure(runner: Runner, manifest: Path, embedded: bool = False,
            expected: dict[str, bool] | None = None) -> list[Row]:
    findings = runner.run(manifest, "check")["findings"]
    flagged = {f["migration"]: f["message"] for f in findings if f["code"] == "AP403"}  # type: ignore[attr-defined]
    rehearsal = runner.rehearse(manifest, embedded)
    if rehearsal.get("error"):
        raise SystemExit(f"rehearse {manifest}: {rehearsal['error']}")
    rows = []
    for item in rehearsal["migrations"]:  # type: ignore[attr-defined]
        if item["outcome"] not in ("restored", "differs"):
            continue
        label = f"{item['version']}/{item['name']}"
        rows.append(Row(label, item["outcome"] == "differs", label in flagged,
                        tuple(d["message"] for d in item["differences"]), flagged.get(label),
                        (expected or {}).get(item["name"])))
    return rows


def example_project(root: Path) -> Path:
    shutil.copytree(ROOT / "migrations", root / "migrations")
    shutil.copy(ROOT / "migrations.toml", root / "migrations.toml")
    return root / "migrations.toml"


_LEGACY_MATCH = re.compile(r"^CREATE OR REPLACE FUNCTION match_archon_\w+ \(.*?^\$\$;$", re.S | re.M)


def archon_project(root: Path, runner: Runner, rollbacks: Sequence[Path]) -> Path:
    """The corpus's 0.1.0 migrations after a base migration (no rollback: applied, not
    rehearsed) made of the Supabase stubs and the legacy schema, with the rollbacks of
    bench/archon_rollbacks (careful ones), over which its naive/ folder lays hurried ones."""
    folder = root / "migration"
    shutil.copytree(CORPUS / "0.1.0", folder / "0.1.0")
    (folder / "0.1.0" / "rollbacks").mkdir()
    legacy = (CORPUS / "base" / "legacy_complete_setup.sql").read_text(encoding="utf-8")
    paths = [path for layer in rollbacks for path in sorted(layer.glob("*.sql"))]
    texts = {path.name: path.read_text(encoding="utf-8") for path in paths}  # later layers win
    for name, text in texts.items():
        if "appended here" in text:  # the legacy definitions of what the migration replaced
            text += "\n".join(_LEGACY_MATCH.findall(legacy)) + "\n"
        (folder / "0.1.0" / "rollbacks" / name).write_text(text, encoding="utf-8")
    base = (CORPUS / "base" / "supabase_stubs.sql").read_text(encoding="utf-8") + legacy
    (folder / "0.0.0").mkdir()
    # The embedded PostgreSQL has no pgcrypto; gen_random_uuid() is built in (the corpus's README).
    (folder / "0.0.0" / "000_base.sql").write_text(
        re.sub(r"(?im)^CREATE EXTENSION IF NOT EXISTS pgcrypto;\s*$", "", base), encoding="utf-8")
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the corpus is read-only
    subprocess.run([sys.executable, "-m", "archon_plan", "init", str(folder)], cwd=root, check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(runner.code or ROOT)})
    return root / "migrations.toml"


def generated_project(root: Path) -> Path:
    entries = ['[settings]\ntracking_table = "public.archon_migrations"\n']
    for number, case in enumerate(CASES, start=1):
        schema, stem = f"c{number:03d}", f"{2 * number:03d}_{case.name}"
        path = f"migrations/{{}}{stem}.sql"
        use = f"SET LOCAL search_path = {schema};\n"
        setup = f"{2 * number - 1:03d}_setup_{case.name}"
        _write(root / f"migrations/{setup}.sql", f"CREATE SCHEMA {schema};\n{use}{case.setup}")
        _write(root / path.format(""), use + case.forward + "\n")
        _write(root / path.format("rollbacks/"), use + case.rollback + "\n")
        entries.append(f'[[migration]]\nversion = "0.1.0"\nfile = "migrations/{setup}.sql"\n')
        entries.append(f'[[migration]]\nversion = "0.1.0"\nfile = "{path.format("")}"\n'
                       f'rollback = "{path.format("rollbacks/")}"\n')
    _write(root / "migrations.toml", "\n".join(entries))
    return root / "migrations.toml"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def counts(rows: Sequence[Row]) -> dict[str, int]:
    return {"rehearsed": len(rows), "differ": sum(r.differs for r in rows),
            "flagged": sum(r.flagged for r in rows),
            "tp": sum(r.flagged and r.differs for r in rows),
            "fp": sum(r.flagged and not r.differs for r in rows),
            "fn": sum(r.differs and not r.flagged for r in rows),
            "tn": sum(not r.differs and not r.flagged for r in rows)}


def report(results: dict[str, list[Row]], verbose: bool) -> str:
    lines = ["| source | rehearsed | differ | AP403 flags | TP | FP | FN | TN |",
             "|---|---|---|---|---|---|---|---|"]
    for source, rows in results.items():
        c = counts(rows)
        figures = [c[key] for key in ("rehearsed", "differ", "flagged", "tp", "fp", "fn", "tn")]
        lines.append(f"| {source} | " + " | ".join(map(str, figures)) + " |")
    for source, rows in results.items():
        for row in rows:
            if row.expected is not None and row.expected != row.differs:
                lines.append(f"\nCASE NOT AS WRITTEN {row.label}: rehearse says differs={row.differs}")
            if verbose and row.flagged != row.differs:
                kind = "FP" if row.flagged else "FN"
                lines.append(f"\n{kind} {source} {row.label}\n  AP403: {row.message}\n  rehearse: "
                             + "; ".join(row.differences))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollback_agreement", description=__doc__)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="server for the scratch databases (Archon's need pgvector: the embedded one)")
    parser.add_argument("--code", type=Path, help="the checkout whose archon-plan to measure")
    parser.add_argument("--verbose", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    runner = Runner(args.code.resolve() if args.code else None, args.database_url)
    expected = {f"{2 * n:03d}_{c.name}": not c.restores for n, c in enumerate(CASES, start=1)}
    sources: dict[str, tuple[Callable[[Path], Path], bool, dict[str, bool] | None]] = {
        "example project": (example_project, False, None),
        "generated cases": (generated_project, False, expected),
        "bench synthetic (N=100)": (lambda root: write_project(root, 100).manifest, False, None),
    }
    if CORPUS.is_dir():
        sources["Archon v1, careful rollbacks"] = (
            lambda root: archon_project(root, runner, [ARCHON_ROLLBACKS]), True, None)
        sources["Archon v1, hurried rollbacks"] = (
            lambda root: archon_project(root, runner, [ARCHON_ROLLBACKS, ARCHON_ROLLBACKS / "naive"]),
            True, None)
    results = {}
    with tempfile.TemporaryDirectory(prefix="ap403-") as tmp:
        for number, (source, (build, embedded, cases)) in enumerate(sources.items()):
            root = Path(tmp) / str(number)
            root.mkdir()
            results[source] = measure(runner, build(root), embedded, cases)
    print(report(results, args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
