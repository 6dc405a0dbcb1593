"""The plan cache vouches for unchanged SQL files by their stamps, as git's index does: a run
with nothing changed reads no SQL file, and no edit, however made, is ever missed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from archon_plan.cli import main
from archon_plan.core.sqlfile import checksum
from archon_plan.errors import RefusedError
from archon_plan.project import cache as plancache
from archon_plan.project import files, loader
from tests.test_plancache import cache, project

FIRST = "migrations/0.1.0/001_create_a.sql"


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once, rather than 3 s after their last change; each edit
    below waits until the file system gives it a change time of its own."""
    monkeypatch.setattr(files, "SETTLED_NS", 0)


@pytest.fixture
def sql_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL files read from here on (the manifest's own reads are left out)."""
    read: list[str] = []
    real = files.read_stamped

    def counting(path: str, flags: int = 0) -> tuple[bytes, os.stat_result]:
        if path.endswith(".sql"):
            read.append(os.path.relpath(path))
        return real(path, flags)

    monkeypatch.setattr(files, "read_stamped", counting)
    return read


def edit(path: Path, change: Callable[[], object]) -> None:
    """Change the file, then wait until its change time differs from before, so the test
    proves what a later edit does, never a same-tick one."""
    before = path.lstat().st_ctime_ns if path.exists() or path.is_symlink() else None
    change()
    while before is not None and path.lstat().st_ctime_ns == before:
        time.sleep(0.01)
        change()


def filled(tmp_path: Path) -> Path:
    """The project, loaded once through the cache (a miss that stores every stamp)."""
    path = project(tmp_path)
    loader.load_project(path, cache())
    time.sleep(0.02)  # past the coarse clock's tick: a later edit gets a change time of its own
    os.chdir(tmp_path)
    return path


def loaded(path: Path) -> list[tuple[str, str]]:
    hit = plancache.load(cache(), path)
    assert hit is not None
    return [(m.sql.display, m.checksum) for m in hit[0].migrations]


def test_an_unchanged_project_loads_without_reading_a_sql_file(
    tmp_path: Path, settled: None, sql_reads: list[str]
) -> None:
    path = filled(tmp_path)
    sql_reads.clear()
    hit = plancache.load(cache(), path)
    assert hit is not None
    first = hit[0].migrations[0]
    assert first.checksum == checksum("CREATE TABLE a (id int);")
    assert sql_reads == []
    assert first.sql.text == "CREATE TABLE a (id int);"  # read at its first use, once
    assert first.sql.text == "CREATE TABLE a (id int);"
    assert sql_reads == [FIRST]


@pytest.mark.parametrize("how", ["same size, mtime restored", "longer", "replaced by a copy"])
def test_every_kind_of_edit_is_seen_and_restamped(
    tmp_path: Path, settled: None, sql_reads: list[str], how: str
) -> None:
    path = filled(tmp_path)
    target = tmp_path / FIRST
    before = target.stat()

    def change() -> None:
        if how == "replaced by a copy":  # the same bytes and times, another inode
            shutil.copy2(target, tmp_path / "copy.sql")
            (tmp_path / "copy.sql").replace(target)
            return
        same_size = how.startswith("same")
        target.write_text("CREATE TABLE z (id int);" if same_size else "CREATE TABLE a (id bigint);")
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))

    edit(target, change)
    if how.startswith("same"):
        assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    sql_reads.clear()
    text = target.read_text()
    assert loaded(path)[0] == ("migrations/0.1.0/001_create_a.sql", checksum(text))
    assert sql_reads == [FIRST]
    sql_reads.clear()
    assert loaded(path)[0][1] == checksum(text)  # the entry was rewritten with the new stamp
    assert sql_reads == []


def test_a_file_edited_after_the_load_is_refused_at_its_first_use(
    tmp_path: Path, settled: None
) -> None:
    path = filled(tmp_path)
    hit = plancache.load(cache(), path)
    assert hit is not None
    first = hit[0].migrations[0]
    trusted = first.checksum
    edit(tmp_path / FIRST, lambda: (tmp_path / FIRST).write_text("DROP TABLE users;"))
    with pytest.raises(RefusedError, match=r"001_create_a\.sql changed while archon-plan ran"):
        _ = first.sql.text
    assert first.checksum == trusted  # what was compared stays what it was
    (tmp_path / FIRST).unlink()
    with pytest.raises(RefusedError, match=r"changed while archon-plan ran: .*No such file"):
        _ = first.sql.text


def test_a_recently_changed_file_is_never_vouched_for(tmp_path: Path, sql_reads: list[str]) -> None:
    path = filled(tmp_path)  # written just now: within SETTLED_NS of its change
    for _ in range(2):
        sql_reads.clear()
        loaded(path)
        assert len(sql_reads) == 6


def test_a_retargeted_folder_symlink_is_not_vouched_for(tmp_path: Path, settled: None) -> None:
    path = project(tmp_path)
    real = tmp_path / "migrations"
    (tmp_path / "v1").mkdir()
    real.rename(tmp_path / "v1" / "migrations")
    shutil.copytree(tmp_path / "v1" / "migrations", tmp_path / "v2")
    real.symlink_to(tmp_path / "v1" / "migrations")
    loader.load_project(path, cache())
    assert loaded(path)
    real.unlink()
    real.symlink_to(tmp_path / "v2")  # the same bytes, other files
    assert plancache.load(cache(), path) is None


def test_status_reads_no_sql_file_and_apply_runs_what_it_vouched_for(
    tmp_path: Path, settled: None, sql_reads: list[str], database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = filled(tmp_path)
    base = ["--database-url", database_url, "--manifest", str(path)]
    assert main([*base, "apply", "--target", "0.1.0/002_create_b"]) == 0
    sql_reads.clear()
    assert main([*base, "status"]) == 0
    assert sql_reads == []
    assert main([*base, "apply"]) == 0  # the pending ones are read once, to run
    assert sorted(sql_reads) == [FIRST, "migrations/0.2.0/001_add_c.sql"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT checksum FROM archon_migrations WHERE migration_name LIKE '001_add_c%'"
                           ).fetchone()
    assert row == (checksum((tmp_path / "migrations/0.2.0/001_add_c.sql").read_text()),)
    edit(tmp_path / FIRST, lambda: (tmp_path / FIRST).write_text("CREATE TABLE a (id bigint);"))
    capsys.readouterr()
    assert main([*base, "status", "--check"]) == 8
    assert "modified" in capsys.readouterr().out


def test_a_folder_symlink_retargeted_to_hard_links_of_the_same_files_is_read_where_it_now_leads(
    tmp_path: Path, settled: None
) -> None:
    """The stamps match (the same inodes), but the files now lie elsewhere: vouching for them
    would keep their old paths, and reading them at their first use would refuse the run on
    every attempt, since the entry keeps vouching. A release folder made with `cp -al` or
    `rsync --link-dest` is such a folder."""
    path = project(tmp_path)
    real = tmp_path / "migrations"
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    real.rename(v1)
    for source in sorted(v1.rglob("*")):
        target = v2 / source.relative_to(v1)
        if source.is_dir():
            target.mkdir(parents=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    real.symlink_to(v1)
    loader.load_project(path, cache())
    real.unlink()
    real.symlink_to(v2)
    for _ in range(2):  # "run the command again" must be advice that helps
        hit = plancache.load(cache(), path)
        if hit is None:  # a miss: the loader reads the files where they now are
            loader.load_project(path, cache())
            continue
        for migration in hit[0].migrations:
            assert migration.sql.text  # not RefusedError: changed while archon-plan ran
            assert str(migration.sql.path).startswith(str(v2))


def test_a_cache_entry_wrong_about_a_file_refuses_once_then_is_read_afresh(
    tmp_path: Path, settled: None, plan_cache_folder: Path
) -> None:
    """A stamp that matches but a stored checksum that does not (a hand-edited cache, a build
    that normalises text differently) must not refuse on every run."""
    import json

    from archon_plan.core.sqlfile import checksum as md5

    path = filled(tmp_path)
    (entry,) = (plan_cache_folder / "archon-plan").glob("*[0-9a-f].json")
    data = json.loads(entry.read_text())
    for row in data["migrations"]:
        for value in row:
            if isinstance(value, list) and value and value[0] == FIRST:
                value[2] = md5("something else")
    entry.write_text(json.dumps(data))
    hit = plancache.load(cache(), path)
    assert hit is not None
    with pytest.raises(RefusedError, match="changed while archon-plan ran"):
        _ = hit[0].migrations[0].sql.text
    assert not entry.exists()  # so the next run is a miss: every file read afresh
    assert plancache.load(cache(), path) is None
    loader.load_project(path, cache())
    assert loaded(path)[0] == (FIRST, md5("CREATE TABLE a (id int);"))
