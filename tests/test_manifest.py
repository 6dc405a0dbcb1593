"""Manifest, graph and SQL-text rules: no database needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archon_plan.core.graph import build_graph, graph_and_problems, resolve
from archon_plan.core.model import Migration, sort_key
from archon_plan.core.sqlfile import SqlFile, checksum, normalize_sql_text
from archon_plan.errors import ManifestError, UsageError
from archon_plan.project import files
from archon_plan.project.loader import load_manifest
from archon_plan.sql import parse
from tests.helpers import entry, write_project

SQL = "SELECT 1;\n"


def files_for(*stems: str, version: str = "0.1.0") -> dict[str, str]:
    found = {}
    for stem in stems:
        found[f"migrations/{version}/{stem}.sql"] = SQL
        found[f"migrations/{version}/rollbacks/{stem}.sql"] = SQL
    return found


def problems_of(tmp_path: Path, files: dict[str, str], manifest: str) -> str:
    with pytest.raises(ManifestError) as error:
        build_graph(load_manifest(write_project(tmp_path, files, manifest)).migrations)
    return str(error.value)


def graph_problems(tmp_path: Path, files: dict[str, str], manifest: str) -> str:
    loaded = load_manifest(write_project(tmp_path, files, manifest))
    _, problems = graph_and_problems(loaded.migrations)
    return "\n".join(map(str, problems))


def migration(version: str, number: int, stem: str, depends_on: tuple[str, ...] = ()) -> Migration:
    return Migration(version, number, f"{number:03d}_{stem}", SqlFile(Path("x"), "x", SQL),
                     depends_on=depends_on)


@pytest.mark.parametrize(
    "bad", ["1_add_x.sql", "01_add_x.sql", "add_x.sql", "0001_add_x.sql", "001-add-x.sql"]
)
def test_file_names_must_have_exactly_three_digits(tmp_path: Path, bad: str) -> None:
    manifest = f'[[migration]]\nversion = "0.1.0"\nfile = "migrations/{bad}"\n'
    message = problems_of(tmp_path, {f"migrations/{bad}": SQL}, manifest)
    assert f"migrations.toml:3: migration #1: file name '{bad}' does not follow the rule NNN_" in message


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    manifest = (
        '[settings]\ntracking_tabel = "x"\n\n'  # line 1
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/0.1.0/001_a.sql"\n\n'  # line 4
        '[[migration]]\nversion = 1\nfile = "migrations/0.1.0/002_b.sql"\n\n'  # line 8
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/0.1.0/003_c.sql"\ndepend_on = []\n\n'  # 12
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/0.1.0/004_missing.sql"\n\n'  # line 17
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/0.1.0/001_a.sql"\n'  # line 21
    )
    message = problems_of(tmp_path, files_for("001_a", "002_b", "003_c"), manifest)
    assert "migrations.toml:1: [settings]: unknown key 'tracking_tabel'" in message
    assert "did you mean 'tracking_table'?" in message
    assert "migrations.toml:9: migration #2: version: Input should be a valid string" in message
    assert "migrations.toml:15: migration #3: unknown key 'depend_on'" in message
    assert "did you mean 'depends_on'?" in message
    assert "migrations.toml:19: migration #4: migrations/0.1.0/004_missing.sql not found" in message
    assert "migrations.toml:21: migration #5: 0.1.0/001_a repeats the number 001 of migration #1" in message
    assert "5 problems found" in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    message = problems_of(tmp_path, {}, '[[migration]]\nversion = "0.1.0\n')
    assert "invalid TOML" in message and "line 2" in message


def test_missing_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest not found(?s:.*)archon-plan init"):
        load_manifest(tmp_path / "migrations.toml")


def test_paths_outside_the_project_are_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (tmp_path / "001_outside.sql").write_text(SQL)
    manifest = '[[migration]]\nversion = "0.1.0"\nfile = "../001_outside.sql"\n'
    assert "lies outside the project folder" in problems_of(project, {}, manifest)


def test_empty_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    files = {"migrations/001_empty.sql": "  \n", "migrations/002_latin1.sql": ""}
    manifest = (
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/001_empty.sql"\n'
        '[[migration]]\nversion = "0.1.0"\nfile = "migrations/002_latin1.sql"\n'
    )
    path = write_project(tmp_path, files, manifest)
    (tmp_path / "migrations/002_latin1.sql").write_bytes("SELECT 'café';".encode("latin-1"))
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    assert "001_empty.sql is empty" in str(error.value)
    assert "002_latin1.sql is not UTF-8" in str(error.value)


def test_invalid_tracking_table_name_is_refused(tmp_path: Path) -> None:
    manifest = '[settings]\ntracking_table = "public.bad; drop table x"\n'
    assert "is not a valid table name" in problems_of(tmp_path, {}, manifest)


def test_dependencies_resolve_in_both_forms_with_or_without_sql(tmp_path: Path) -> None:
    files = files_for("001_a", "002_b") | files_for("001_c", version="0.2.0")
    manifest = (
        entry("0.1.0", "001_a") + entry("0.1.0", "002_b", ("001_a.sql",))
        + entry("0.2.0", "001_c", ("0.1.0/002_b", "0.1.0/001_a.sql"))
    )
    graph = build_graph(load_manifest(write_project(tmp_path, files, manifest)).migrations)
    labels = [m.label for m in graph.order]
    assert labels == ["0.1.0/001_a", "0.1.0/002_b", "0.2.0/001_c"]
    assert [d.label for d in graph.dependencies(graph.order[2])] == ["0.1.0/001_a", "0.1.0/002_b"]


def test_unknown_dependency_gets_a_did_you_mean(tmp_path: Path) -> None:
    manifest = entry("0.1.0", "001_a") + entry("0.1.0", "002_b", ("001_aa",))
    message = graph_problems(tmp_path, files_for("001_a", "002_b"), manifest)
    assert "no migration named '001_aa'" in message and "did you mean '001_a'?" in message


def test_same_version_form_does_not_reach_other_versions(tmp_path: Path) -> None:
    files = files_for("001_a") | files_for("001_c", version="0.2.0")
    manifest = entry("0.1.0", "001_a") + entry("0.2.0", "001_c", ("001_a",))
    message = graph_problems(tmp_path, files, manifest)
    assert "no migration named '001_a'" in message and "did you mean '0.1.0/001_a'?" in message


def test_dependency_on_itself_or_a_later_migration_is_an_error(tmp_path: Path) -> None:
    manifest = entry("0.1.0", "001_a", ("001_a",)) + entry("0.1.0", "002_b", ("003_c",))
    manifest += entry("0.1.0", "003_c")
    message = graph_problems(tmp_path, files_for("001_a", "002_b", "003_c"), manifest)
    assert "0.1.0/001_a depends on itself" in message
    assert "0.1.0/002_b depends on 0.1.0/003_c, which comes later in sequence" in message
    assert "HINT: renumber, or drop the dependency" in message


def test_a_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    manifest = entry("0.1.0", "001_a", ("002_b",)) + entry("0.1.0", "002_b", ("001_a",))
    message = graph_problems(tmp_path, files_for("001_a", "002_b"), manifest)
    assert "dependency cycle: 0.1.0/001_a -> 0.1.0/002_b -> 0.1.0/001_a" in message


def test_versions_order_as_releases_then_by_number() -> None:
    migrations = [migration("0.10.0", 1, "x"), migration("0.9.0", 2, "y"), migration("0.9.0", 1, "z")]
    graph = build_graph(migrations)
    assert [m.label for m in graph.order] == ["0.9.0/001_z", "0.9.0/002_y", "0.10.0/001_x"]
    assert sort_key(migrations[0]) > sort_key(migrations[1])


def test_plan_order_is_deterministic_whatever_the_manifest_order() -> None:
    migrations = [migration("0.1.0", n, f"m{n}") for n in (5, 3, 1, 4, 2)]
    first = [m.label for m in build_graph(migrations).order]
    second = [m.label for m in build_graph(list(reversed(migrations))).order]
    assert first == second == [f"0.1.0/{n:03d}_m{n}" for n in range(1, 6)]


def test_a_dependency_comes_first_in_plan_order_even_from_a_later_number() -> None:
    migrations = [migration("0.1.0", 1, "a", ("003_c",)), migration("0.1.0", 2, "b"),
                  migration("0.1.0", 3, "c")]
    graph, problems = graph_and_problems(migrations)
    assert [m.label for m in graph.order] == ["0.1.0/002_b", "0.1.0/003_c", "0.1.0/001_a"]
    [problem] = problems
    assert problem.message == "0.1.0/001_a depends on 0.1.0/003_c, which comes later in sequence"


def test_one_release_written_two_ways_orders_by_number() -> None:
    migrations = [migration("1.0.0", 2, "b"), migration("1.0", 1, "a"), migration("0.9", 3, "c")]
    assert [m.label for m in build_graph(migrations).order] == ["0.9/003_c", "1.0/001_a", "1.0.0/002_b"]


def test_every_cycle_is_reported_and_the_plan_falls_back_on_release_order() -> None:
    migrations = [migration("0.1.0", 1, "a", ("002_b",)), migration("0.1.0", 2, "b", ("001_a",)),
                  migration("0.1.0", 3, "c", ("004_d",)), migration("0.1.0", 4, "d", ("003_c",)),
                  migration("0.1.0", 5, "e", ("001_a",))]
    graph, problems = graph_and_problems(migrations)
    assert [m.stem for m in graph.order] == ["001_a", "002_b", "003_c", "004_d", "005_e"]
    cycles = [p.message for p in problems if "cycle" in p.message]
    assert cycles == ["dependency cycle: 0.1.0/001_a -> 0.1.0/002_b -> 0.1.0/001_a",
                      "dependency cycle: 0.1.0/003_c -> 0.1.0/004_d -> 0.1.0/003_c"]
    assert graph.requires[("0.1.0", "005_e")] == (("0.1.0", "001_a"),)


def test_paths_are_read_as_pathlib_resolves_them(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "001_a.sql").write_text(SQL)
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "002_b.sql").symlink_to("001_a.sql")
    manifest = "".join(f'[[migration]]\nversion = "0.1.0"\nfile = "{file}"\n\n' for file in (
        "./real//001_a.sql", "linked/002_b.sql"))
    (tmp_path / "migrations.toml").write_text(manifest)
    first, second = load_manifest(tmp_path / "migrations.toml").migrations
    assert first.sql.path == second.sql.path == (tmp_path / "real" / "001_a.sql").resolve()
    assert (first.sql.display, first.sql.text) == ("./real//001_a.sql", SQL)


def test_a_folder_named_as_a_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "m" / "001_a.sql").mkdir(parents=True)
    manifest = '[[migration]]\nversion = "0.1.0"\nfile = "m/001_a.sql"\n'
    folder = (tmp_path / "m" / "001_a.sql").resolve()
    message = problems_of(tmp_path, {}, manifest)
    assert f"m/001_a.sql cannot be read: [Errno 21] Is a directory: '{folder}'" in message


def test_resolve_reports_ambiguous_names_across_versions() -> None:
    migrations = [migration("0.1.0", 1, "a"), migration("0.2.0", 1, "a")]
    with pytest.raises(UsageError, match="ambiguous"):
        resolve("001_a", migrations)
    assert resolve("0.2.0/001_a.sql", migrations).version == "0.2.0"


def test_checksum_ignores_line_endings_and_bom() -> None:
    lf = normalize_sql_text(b"SELECT 1;\nSELECT 2;\n")
    assert normalize_sql_text(b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n") == lf
    import hashlib

    assert checksum(lf) == hashlib.md5(b"SELECT 1;\nSELECT 2;\n").hexdigest()


def sql_file(text: str) -> SqlFile:
    return SqlFile(Path("m.sql"), "m.sql", text)


def test_begin_and_commit_are_dropped_but_everything_else_runs() -> None:
    text = "SET x = 1;\nBEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\nSELECT 'BEGIN; COMMIT;';\n"
    statements = parse.runnable_statements(sql_file(text))
    assert [s.text for s in statements] == ["SET x = 1", "CREATE TABLE t (a int)", "SELECT 'BEGIN; COMMIT;'"]
    assert parse.problems(sql_file(text), "m") == []


def test_dollar_quoted_bodies_with_semicolons_stay_one_statement() -> None:
    text = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN; SELECT 1; RETURN 1; END $$ LANGUAGE plpgsql;\n"
    assert len(parse.runnable_statements(sql_file(text))) == 1


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY"),
        ("DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"),
        ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
        ("VACUUM t", "VACUUM"),
        ("REINDEX SCHEMA public", "REINDEX SCHEMA"),
        ("CLUSTER", "CLUSTER without a table"),
        ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "DETACH PARTITION ... CONCURRENTLY"),
        ("ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM"),
        ("CREATE DATABASE other", "CREATE DATABASE"),
        ("ROLLBACK", "ROLLBACK"),
    ],
)
def test_statements_that_break_the_transaction_are_found_with_their_line(statement: str, reason: str) -> None:
    found = parse.problems(sql_file(f"SELECT 1;\n\n  {statement};\n"), "migration 0.1.0/001_x")
    assert len(found) == 1
    assert found[0].where == "m.sql:3:3" and reason in found[0].message


def test_syntax_error_is_reported_with_line_and_column() -> None:
    found = parse.problems(sql_file("SELECT 1;\nCREATE TABLE t (a int,, b int);\n"), "m")
    assert len(found) == 1 and found[0].where == "m.sql:2:23" and "syntax error" in found[0].message
    assert parse.problems(sql_file("selec 1;"), "m")[0].where == "m.sql:1:1"


def test_a_file_of_only_comments_is_a_problem() -> None:
    found = parse.problems(sql_file("-- to do\n/* later */\n"), "migration 0.1.0/001_x")
    assert len(found) == 1 and "has no SQL statements" in found[0].message


def test_init_writes_a_manifest_that_loads_even_with_short_entries(tmp_path: Path) -> None:
    from archon_plan.project import scaffold

    for version in ("0.1.0", "0.2.0"):
        for stem in ("001_a", "002_b"):
            path = tmp_path / "migration" / version / f"{stem}.sql"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(SQL)
    manifest_path = tmp_path / "migrations.toml"
    assert scaffold.init(tmp_path / "migration", manifest_path, "0.1.0") == (4, True)
    loaded = load_manifest(manifest_path)
    labels = [m.label for m in loaded.migrations]
    assert labels == ["0.1.0/001_a", "0.1.0/002_b", "0.2.0/001_a", "0.2.0/002_b"]
    assert loaded.settings.name_form.value == "stem"


@pytest.mark.parametrize("copy", ["COPY t FROM STDIN;", "COPY (SELECT 1) TO STDOUT;"])
def test_copy_through_the_client_is_refused_before_anything_runs(copy: str) -> None:
    found = parse.problems(sql_file(f"CREATE TABLE t (x int);\n{copy}\n"), "migration m")
    assert [p.where for p in found] == ["m.sql:2:1"]
    assert "STDIN / TO STDOUT" in found[0].message
    assert parse.problems(sql_file("COPY t FROM '/srv/t.csv';"), "migration m") == []


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="no O_NOFOLLOW on this platform")
def test_files_are_opened_without_following_a_symlinked_name() -> None:
    """The fast path (no lstat per file) is on wherever the platform has the flag."""
    assert files.NOFOLLOW == os.O_NOFOLLOW != 0
