"""The plan cache: an unchanged manifest is not parsed again, and nothing stale is ever used."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from archon_plan.cli import main
from archon_plan.core.graph import build_graph
from archon_plan.core.model import Manifest
from archon_plan.project import cache as plancache
from archon_plan.project.loader import load_manifest
from tests.helpers import entry, write_project


def cache() -> Path:
    return plancache.folder(os.environ)  # conftest points XDG_CACHE_HOME at a folder per test


def project(tmp_path: Path) -> Path:
    files = {
        "migrations/0.1.0/001_create_a.sql": "CREATE TABLE a (id int);",
        "migrations/0.1.0/rollbacks/001_create_a.sql": "DROP TABLE a;",
        "migrations/0.1.0/002_create_b.sql": "CREATE TABLE b (id int);",
        "migrations/0.1.0/rollbacks/002_create_b.sql": "DROP TABLE b;",
        "migrations/0.2.0/001_add_c.sql": "ALTER TABLE a ADD COLUMN c int;",
        "migrations/0.2.0/rollbacks/001_add_c.sql": "ALTER TABLE a DROP COLUMN c;",
    }
    manifest = "\n".join([entry("0.1.0", "001_create_a"), entry("0.1.0", "002_create_b"),
                          entry("0.2.0", "001_add_c", depends_on=("0.1.0/001_create_a",))])
    return write_project(tmp_path, files, manifest)


def stored_project(tmp_path: Path) -> tuple[Path, Manifest]:
    """The project, loaded and stored in the cache."""
    path = project(tmp_path)
    fresh = load_manifest(path)
    plancache.store(cache(), path, fresh, build_graph(fresh.migrations))
    return path, fresh


def test_cached_manifest_and_graph_equal_a_fresh_load(tmp_path: Path) -> None:
    path = project(tmp_path)
    fresh = load_manifest(path)
    graph = build_graph(fresh.migrations)
    plancache.store(cache(), path, fresh, graph)
    cached = plancache.load(cache(), path)
    assert cached is not None
    manifest, cached_graph = cached
    assert manifest.migrations == fresh.migrations
    assert manifest.settings == fresh.settings
    assert cached_graph.order == graph.order
    assert [cached_graph.dependencies(m) for m in graph.order] == [graph.dependencies(m) for m in graph.order]


def test_an_edited_manifest_misses(tmp_path: Path) -> None:
    path, _ = stored_project(tmp_path)
    path.write_text(path.read_text() + "\n# a comment\n")
    assert plancache.load(cache(), path) is None


def test_an_edited_sql_file_is_read_afresh_on_a_hit(tmp_path: Path) -> None:
    """Nothing is trusted from a file's stat: an edit of the same size, mtime restored
    (`touch -r`), is seen."""
    path, fresh = stored_project(tmp_path)
    first = fresh.migrations[0].sql.path
    before = first.stat()
    first.write_text("CREATE TABLE z (id int);")  # as long as "CREATE TABLE a (id int);"
    os.utime(first, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (first.stat().st_size, first.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    cached = plancache.load(cache(), path)
    assert cached is not None
    assert cached[0].migrations[0].sql.text == "CREATE TABLE z (id int);"
    assert cached[0].migrations[0].checksum != fresh.migrations[0].checksum


@pytest.mark.parametrize("damage", ["delete", "empty"])
def test_a_missing_or_emptied_file_misses_so_the_loader_reports_it(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(tmp_path)
    assert main(["--manifest", str(path), "show"]) == 0  # fills the cache
    sql = load_manifest(path).migrations[1].sql
    if damage == "delete":
        sql.path.unlink()
    else:
        sql.path.write_text("   \n")
    assert plancache.load(cache(), path) is None
    assert main(["--manifest", str(path), "show"]) == 4
    assert "002_create_b.sql" in capsys.readouterr().err


def test_a_corrupt_cache_file_is_a_miss(tmp_path: Path, plan_cache_folder: Path) -> None:
    path = project(tmp_path)
    assert main(["--manifest", str(path), "show"]) == 0
    (cache_file,) = (plan_cache_folder / "archon-plan").glob("*.json")
    cache_file.write_text("{not json")
    assert plancache.load(cache(), path) is None
    data = {"key": "x"}
    cache_file.write_text(json.dumps(data))
    assert plancache.load(cache(), path) is None
    assert main(["--manifest", str(path), "show"]) == 0


def test_a_cached_run_imports_neither_pydantic_nor_networkx(tmp_path: Path) -> None:
    path = project(tmp_path)
    assert main(["--manifest", str(path), "show"]) == 0
    import subprocess

    code = ("import sys; from archon_plan.cli import main; main(['--manifest', sys.argv[1], 'show']); "
            "print(sorted(m for m in ('pydantic', 'networkx', 'pglast') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_check_reuses_lint_findings_of_unchanged_files_and_sees_an_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(tmp_path)
    assert main(["--manifest", str(path), "check", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["--manifest", str(path), "check", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == first  # from the memo: the same report
    rollback = load_manifest(path).migrations[0].rollback
    assert rollback is not None
    rollback.path.write_text("SELECT 1;")  # no longer drops the table it should
    assert main(["--manifest", str(path), "check", "--format", "json"]) == 0
    codes = [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert "AP403" in codes and "AP403" not in [f["code"] for f in first["findings"]]


def test_a_retargeted_folder_symlink_is_a_miss(tmp_path: Path) -> None:
    path = project(tmp_path)
    real = tmp_path / "migrations"
    (tmp_path / "v1").mkdir()
    real.rename(tmp_path / "v1" / "migrations")
    (tmp_path / "v2").mkdir()
    import shutil

    shutil.copytree(tmp_path / "v1" / "migrations", tmp_path / "v2" / "migrations")
    (tmp_path / "v2" / "migrations" / "0.1.0" / "001_create_a.sql").write_text("CREATE TABLE a2 (id int);")
    real.symlink_to(tmp_path / "v1" / "migrations")
    fresh = load_manifest(path)
    plancache.store(cache(), path, fresh, build_graph(fresh.migrations))
    assert plancache.load(cache(), path) is not None
    real.unlink()
    real.symlink_to(tmp_path / "v2" / "migrations")
    assert plancache.load(cache(), path) is None
    assert load_manifest(path).migrations[0].sql.text == "CREATE TABLE a2 (id int);"


@pytest.mark.parametrize("damage", [{"requires": []}, {"order": [7]}, {"order": [0, 0, 1]}])
def test_a_damaged_cache_entry_is_a_miss_not_an_error(
    tmp_path: Path, plan_cache_folder: Path, damage: dict[str, object]
) -> None:
    path = project(tmp_path)
    assert main(["--manifest", str(path), "show"]) == 0
    (cache_file,) = (plan_cache_folder / "archon-plan").glob("*[0-9a-f].json")
    cache_file.write_text(json.dumps({**json.loads(cache_file.read_text()), **damage}))
    assert plancache.load(cache(), path) is None
    assert main(["--manifest", str(path), "show"]) == 0


def test_a_symlinked_file_is_read_through_and_retargeting_it_misses(tmp_path: Path) -> None:
    path = project(tmp_path)
    folder = tmp_path / "migrations" / "0.1.0"
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "v1.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "shared" / "v2.sql").write_text("CREATE TABLE a (id bigint);")
    (folder / "001_create_a.sql").unlink()
    (folder / "001_create_a.sql").symlink_to(tmp_path / "shared" / "v1.sql")
    fresh = load_manifest(path)
    plancache.store(cache(), path, fresh, build_graph(fresh.migrations))
    cached = plancache.load(cache(), path)
    assert cached is not None and cached[0].migrations == fresh.migrations
    (folder / "001_create_a.sql").unlink()
    (folder / "001_create_a.sql").symlink_to(tmp_path / "shared" / "v2.sql")
    assert plancache.load(cache(), path) is None


def test_a_file_replaced_by_a_symlink_misses(tmp_path: Path) -> None:
    path, fresh = stored_project(tmp_path)
    sql = fresh.migrations[1].sql.path
    (tmp_path / "elsewhere.sql").write_text(sql.read_text())
    sql.unlink()
    sql.symlink_to(tmp_path / "elsewhere.sql")  # the same text, but another file
    assert plancache.load(cache(), path) is None
    assert load_manifest(path).migrations[1].sql.path == (tmp_path / "elsewhere.sql").resolve()


def test_a_manifest_that_changes_while_it_is_read_never_caches_the_old_parse_under_the_new_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archon_plan.project import loader

    path = project(tmp_path)
    before = path.read_text()
    after = before + entry("0.2.0", "001_more", rollback=False)
    (tmp_path / "migrations/0.2.0").mkdir(parents=True, exist_ok=True)
    (tmp_path / "migrations/0.2.0/001_more.sql").write_text("SELECT 1;\n")
    real = loader._read_manifest

    def edited_meanwhile(manifest: Path, data: bytes | None = None) -> object:
        parsed = real(manifest, data)
        manifest.write_text(after)  # someone saves the file while archon-plan reads it
        return parsed

    monkeypatch.setattr(loader, "_read_manifest", edited_meanwhile)
    first, _, _ = loader.read_project(path, cache())
    monkeypatch.undo()
    again, _, _ = loader.read_project(path, cache())
    assert len(again.migrations) == len(first.migrations) + 1
