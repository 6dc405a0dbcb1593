"""The fleet file (fleet.toml) and the pure fleet model: reading, refusals, selection, shards."""

from __future__ import annotations

import random
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from archon_plan.core.fleet import (
    Fleet,
    FleetSettings,
    FleetTarget,
    OnError,
    TargetSpec,
    canary_split,
    duplicate_names,
    parse_shard,
    select,
    shard_of,
    tenant_target,
)
from archon_plan.errors import ManifestError, UsageError
from archon_plan.project.fleet import DEFAULT_FLEET_FILE, fleet_json_schema, load_fleet

EXAMPLE = """\
[fleet]
parallel = 8
on_error = "continue"
canary = 1

[[target]]
name = "eu"
url_env = "EU_DATABASE_URL"

[[target]]
name = "us"
url_env = "US_DATABASE_URL"
schemas = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\\\_%' ORDER BY 1"
manifest = "tenant/migrations.toml"
"""
TARGET = '[[target]]\nname = "eu"\nurl_env = "EU_DATABASE_URL"\n'  # lines 1-3 when first


def write_fleet(folder: Path, text: str) -> Path:
    (folder / "tenant").mkdir(exist_ok=True)
    (folder / "tenant" / "migrations.toml").write_text("", encoding="utf-8")
    path = folder / DEFAULT_FLEET_FILE
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(folder: Path, text: str) -> str:
    with pytest.raises(ManifestError) as error:
        load_fleet(write_fleet(folder, text))
    return str(error.value)


def targets(*names: str) -> tuple[FleetTarget, ...]:
    return tuple(FleetTarget(name, TargetSpec(name.partition("/")[0], "URL")) for name in names)


def test_a_valid_fleet_file_reads_into_its_model(tmp_path: Path) -> None:
    path = write_fleet(tmp_path, EXAMPLE)
    query = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"
    assert load_fleet(path) == Fleet(
        path=path,
        settings=FleetSettings(parallel=8, on_error=OnError.CONTINUE, canary=1),
        targets=(TargetSpec("eu", "EU_DATABASE_URL", line=6),
                 TargetSpec("us", "US_DATABASE_URL", schemas=query,
                            manifest=tmp_path / "tenant" / "migrations.toml", line=10)),
    )


def test_fleet_settings_default_when_the_table_is_absent(tmp_path: Path) -> None:
    fleet = load_fleet(write_fleet(tmp_path, TARGET))
    assert fleet.settings == FleetSettings(parallel=4, on_error=OnError.STOP, canary=0)
    assert fleet.targets == (TargetSpec("eu", "EU_DATABASE_URL", line=1),)


def test_a_target_manifest_resolves_against_the_fleet_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fleet(tmp_path, TARGET + 'manifest = "tenant/migrations.toml"\n')
    monkeypatch.chdir(tmp_path.parent)
    spec = load_fleet(Path(tmp_path.name) / DEFAULT_FLEET_FILE).targets[0]
    assert spec.manifest == tmp_path / "tenant" / "migrations.toml"
    assert spec.manifest.is_absolute()


@pytest.mark.parametrize(("text", "expected"), [
    ("[fleet]\nparallel = 0\n" + TARGET, ":2: [fleet]: parallel: Input should be greater than or equal to 1"),
    ("[fleet]\nparallel = 65\n" + TARGET, ":2: [fleet]: parallel: Input should be less than or equal to 64"),
    ('[fleet]\nparallel = "4"\n' + TARGET, ":2: [fleet]: parallel: Input should be a valid integer"),
    ("[fleet]\nparallel = true\n" + TARGET, ":2: [fleet]: parallel: Input should be a valid integer"),
    ("[fleet]\ncanary = -1\n" + TARGET, ":2: [fleet]: canary: Input should be greater than or equal to 0"),
    ('[fleet]\non_error = "go"\n' + TARGET, ":2: [fleet]: on_error: Input should be 'stop' or 'continue'"),
    ("[fleet]\nparalel = 2\n" + TARGET,
     ":2: [fleet]: unknown key 'paralel'\n  HINT: did you mean 'parallel'?"),
    ("fleet = 3\n" + TARGET, ":1: [fleet] must be a table"),
    ("[fleets]\n" + TARGET, ":1: unknown top-level key 'fleets'\n  HINT: did you mean 'fleet'?"),
    ("[fleet]\n", "fleet.toml: the fleet has no target"),
    ('target = "eu"\n', ":1: `target` must be an array of tables"),
    (TARGET + "nmae = 1\n", ":4: target #1: unknown key 'nmae'\n  HINT: did you mean 'name'?"),
    ('[[target]]\nurl_env = "X"\n', ":1: target #1: name: Field required"),
    ('[[target]]\nname = "eu"\n', ":1: target #1: url_env: Field required"),
    ('[[target]]\nname = "EU"\nurl_env = "X"\n', ":2: target #1: name 'EU' is not a target name"),
    ('[[target]]\nname = "eu/x"\nurl_env = "X"\n', "no '/', which separates a tenant schema"),
    ('[[target]]\nname = "' + "e" * 64 + '"\nurl_env = "X"\n', ":2: target #1: name 'eeee"),
    ('[[target]]\nname = 7\nurl_env = "X"\n', ":2: target #1: name: Input should be a valid string"),
    ('[[target]]\nname = "eu"\nurl_env = "1X"\n',
     ":3: target #1: url_env is not an environment variable name"),
    (TARGET + 'schemas = " "\n', ":4: target #1: schemas is empty"),
    (TARGET + 'manifest = "/srv/migrations.toml"\n', ":4: target #1: manifest '/srv/migrations.toml' is an "
     "absolute path"),
    (TARGET + 'manifest = "missing.toml"\n', ":4: target #1: manifest 'missing.toml' not found"),
    (TARGET + 'manifest = "tenant"\n', ":4: target #1: manifest 'tenant' is not a file"),
    (TARGET + 'manifest = "C:m.toml"\n', ":4: target #1: manifest 'C:m.toml' is an absolute path"),
    ("target = [1]\n", "fleet.toml: target #1: must be a table"),
    (TARGET + "\n" + TARGET, ":5: target #2: name 'eu' is already the name of target #1 (line 1)"),
    (TARGET + "[target.sub]\n", ":1: target #1: unknown key 'sub'"),
])
def test_each_refusal_names_the_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    message = problems_of(tmp_path, text)
    assert expected in message
    assert "1 problem found" in message or "2 problems found" in message


@pytest.mark.parametrize("key", ["url", "database_url", "dsn", "password", "URL"])
def test_a_url_or_password_in_a_target_is_refused_without_echoing_it(tmp_path: Path, key: str) -> None:
    message = problems_of(tmp_path, TARGET + f'{key} = "postgresql://app:s3cret@db/app"\n')
    assert f":4: target #1: {key!r}: the fleet file never holds a database URL or password" in message
    assert "HINT: put the URL in an environment variable and name it with url_env" in message
    assert "s3cret" not in message and "1 problem found" in message


def test_a_url_written_as_url_env_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = problems_of(tmp_path, '[[target]]\nname = "eu"\nurl_env = "postgresql://app:s3cret@db/app"\n')
    assert ":3: target #1: url_env holds what looks like a database URL" in message
    assert "s3cret" not in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = problems_of(tmp_path, """\
        [fleet]
        parallel = "8"
        canery = 1

        [[target]]
        name = "EU"
        url_env = 5
        dsn = "postgresql://x"

        [[target]]
        name = "us"
        url_env = "US_URL"
        manifest = "/m.toml"

        [[target]]
        name = "us"
        url_env = "US_URL"

        [[targets]]
        """)
    for expected in (":2: [fleet]: parallel:", ":3: [fleet]: unknown key 'canery'",
                     ":6: target #1: name 'EU'", ":7: target #1: url_env: Input should be a valid string",
                     ":8: target #1: 'dsn'", ":13: target #2: manifest '/m.toml' is an absolute path",
                     ":15: target #3: name 'us' is already the name of target #2 (line 10)",
                     ":19: unknown top-level key 'targets'"):
        assert expected in message
    assert "8 problems found" in message


def test_a_missing_fleet_file_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as error:
        load_fleet(tmp_path / DEFAULT_FLEET_FILE)
    assert f"{tmp_path / DEFAULT_FLEET_FILE}: fleet file not found" in str(error.value)
    assert "HINT: write it: one [[target]] per database" in str(error.value)


def test_a_folder_is_no_fleet_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read the fleet file"):
        load_fleet(tmp_path)


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / DEFAULT_FLEET_FILE
    path.write_bytes(TARGET.encode() + b'schemas = "\xff"\n')
    byte = len(TARGET) + len('schemas = "')
    with pytest.raises(ManifestError, match=rf"fleet\.toml:4: not UTF-8 text \(byte {byte}\)"):
        load_fleet(path)


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    message = problems_of(tmp_path, TARGET + "schemas = \n")
    assert "fleet.toml:4: invalid TOML: Invalid value (at line 4, column 11)" in message


@pytest.mark.parametrize(("text", "expected"), [("1/1", (1, 1)), ("2/4", (2, 4)), ("7/7", (7, 7)),
                                                (" 3/5 ", (3, 5))])
def test_parse_shard_reads_i_of_n(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("0/4", "shard '0/4' is out of range"), ("5/4", "shard '5/4' is out of range"),
    ("1/0", "shard '1/0' is out of range"), ("2", "shard '2' is not I/N"), ("a/b", "is not I/N"),
    ("-1/4", "is not I/N"), ("1/4/2", "is not I/N"), ("", "is not I/N"), ("1 / 4", "is not I/N"),
    ("\u0661/\u0664", "is not I/N"), ("1/" + "9" * 5000, "is not I/N"), ("1\n/4", "is not I/N"),
])
def test_parse_shard_refuses_anything_but_i_of_n(text: str, message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_shard(text)
    assert message in error.value.message and "\n" not in error.value.message
    assert error.value.hint == "write I/N, e.g. 2/4 for the second of four shards: 1 <= I <= N"


def random_names(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(['eu', 'us', 'ap'])}/tenant_{rng.randrange(100_000):05d}" for _ in range(count)]


@pytest.mark.parametrize("count", range(1, 8))
def test_the_shards_partition_the_fleet(count: int) -> None:
    fleet = targets(*dict.fromkeys(random_names(count, 300)))
    shards = [select(fleet, shard=(index, count)) for index in range(1, count + 1)]
    assert sorted(t.name for shard in shards for t in shard) == sorted(t.name for t in fleet)
    assert all(shards), "300 names leave no shard empty"
    for shard in shards:  # each keeps fleet order
        assert list(shard) == [t for t in fleet if t in shard]


@pytest.mark.parametrize("count", range(1, 8))
def test_a_targets_shard_does_not_depend_on_the_other_targets(count: int) -> None:
    names = list(dict.fromkeys(random_names(100 + count, 300)))
    before = {name: shard_of(name, count) for name in names}
    changed = names[50:] + random_names(200 + count, 100)
    random.Random(count).shuffle(changed)
    fleet = targets(*dict.fromkeys(changed))
    for index in range(1, count + 1):
        for target in select(fleet, shard=(index, count)):
            assert before.get(target.name, index) == index


def test_shards_are_stable_across_processes_and_machines() -> None:
    # Pinned values: a change here would move targets between the shards of running CI jobs.
    names = ("eu", "us", "eu/tenant_042", "ap", "\u00e9")
    assert [shard_of(name, 1000) for name in names] == [114, 875, 277, 566, 52]
    assert all(shard_of(name, 1) == 1 for name in ("eu", "us", ""))
    with pytest.raises(ValueError):
        shard_of("eu", 0)


def test_select_keeps_fleet_order_and_filters_by_glob_names_and_shard() -> None:
    fleet = targets("us", "eu/tenant_001", "eu/tenant_042", "eu/admin", "ap/tenant_042")
    assert select(fleet) == fleet
    assert [t.name for t in select(fleet, only="eu/tenant_0*")] == ["eu/tenant_001", "eu/tenant_042"]
    assert [t.name for t in select(fleet, only="*/tenant_042")] == ["eu/tenant_042", "ap/tenant_042"]
    assert [t.name for t in select(fleet, only="US")] == []  # case matters
    assert [t.name for t in select(fleet, names=["ap/tenant_042", "us", "us"])] == ["us", "ap/tenant_042"]
    assert select(fleet, only="eu/*", names=["us"]) == ()
    both = select(fleet, only="eu/*", shard=(1, 2))
    assert both == tuple(t for t in select(fleet, shard=(1, 2)) if t.name.startswith("eu/"))


def test_select_refuses_an_unknown_name_with_a_suggestion() -> None:
    fleet = targets("us", "eu/tenant_001", "eu/tenant_042")
    with pytest.raises(UsageError) as error:
        select(fleet, names=["us", "eu/tenant_01"])
    assert (error.value.message, error.value.hint) == ("unknown target 'eu/tenant_01'",
                                                       "did you mean 'eu/tenant_001'?")
    with pytest.raises(UsageError) as error:
        select(fleet, names=["eu"])
    assert error.value.hint == ("'eu' has 2 tenant targets, e.g. 'eu/tenant_001'; the glob 'eu/*' "
                                "selects them all")
    with pytest.raises(UsageError) as error:
        select(fleet, names=["zzzzzz", "qqqqqq"])
    assert error.value.message == "unknown targets 'zzzzzz', 'qqqqqq'"
    assert "'zzzzzz': the targets are: us, eu/tenant_001, eu/tenant_042" in str(error.value.hint)


def test_tenant_target_is_named_after_its_database_and_schema() -> None:
    spec = TargetSpec("eu", "EU_DATABASE_URL", schemas="SELECT 'tenant_042'")
    assert tenant_target(spec, "tenant_042") == FleetTarget("eu/tenant_042", spec, "tenant_042")


def test_canary_split_takes_the_first_targets_in_fleet_order() -> None:
    fleet = targets("a", "b", "c")
    assert canary_split(fleet, 0) == ((), fleet)
    assert canary_split(fleet, 1) == (fleet[:1], fleet[1:])
    assert canary_split(fleet, 5) == (fleet, ())
    with pytest.raises(ValueError):
        canary_split(fleet, -1)


def test_duplicate_names_lists_each_repeated_name_once() -> None:
    assert duplicate_names(targets("a", "b/x", "c")) == []
    assert duplicate_names(targets("b/x", "a", "b/x", "a", "b/x", "c")) == ["b/x", "a"]


def test_the_json_schema_describes_every_key() -> None:
    schema = fleet_json_schema()
    assert schema["additionalProperties"] is False and schema["required"] == ["target"]
    properties: Any = schema["properties"]
    fleet, target = properties["fleet"], properties["target"]["items"]
    assert set(fleet["properties"]) == {"parallel", "on_error", "canary"}
    assert set(target["properties"]) == {"name", "url_env", "schemas", "manifest"}
    assert target["required"] == ["name", "url_env"]
    assert fleet["properties"]["parallel"].items() >= {"type": "integer", "minimum": 1, "maximum": 64}.items()
    assert fleet["properties"]["on_error"]["enum"] == ["stop", "continue"]
    for table in (schema, fleet, properties["target"], *fleet["properties"].values(),
                  *target["properties"].values()):
        assert table["description"]
    assert all(t.get("additionalProperties") is False for t in (fleet, target))


def test_the_json_schema_accepts_the_example_and_refuses_a_url() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = fleet_json_schema()
    jsonschema.validate(tomllib.loads(EXAMPLE), schema)
    for bad in (TARGET + 'url = "postgresql://x"\n', TARGET.replace("eu", "EU"), "[fleet]\nparallel = 0\n"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(tomllib.loads(bad), schema)
