"""The package's shape: the import contracts of pyproject.toml hold, and modules stay small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archon_plan"


def test_the_import_contracts_of_pyproject_are_kept() -> None:
    """The layers and the libraries' homes (docs/design.md) are checked by import-linter."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.fail("import-linter is one of the test extras: pip install -e '.[test]'")
        lint_imports = Path(found)
    out = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_every_module_stays_under_300_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}


def test_cli_routes_exactly_the_review_verbs_to_review() -> None:
    from archon_plan.cli import app, review

    assert set(app.REVIEW_VERBS) == set(review.HANDLERS)
