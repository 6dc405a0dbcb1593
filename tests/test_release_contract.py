"""The contract for release tooling: the manifest's JSON Schema, release notes, documented JSON fields."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from archon_plan.cli import main
from archon_plan.project.manifest import manifest_json_schema
from tests.helpers import entry, write_project

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "migrations/0.1.0/001_create_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "migrations/0.1.0/rollbacks/001_create_users.sql": "DROP TABLE users;\n",
    "migrations/0.2.0/001_index_users.sql": "CREATE INDEX CONCURRENTLY users_id ON users (id);\n",
    "migrations/0.2.0/002_create_posts.sql": "CREATE TABLE posts (id int PRIMARY KEY);\n",
    "migrations/0.2.0/rollbacks/002_create_posts.sql": "DROP TABLE posts;\n",
}
MANIFEST = (
    entry("0.1.0", "001_create_users") + 'description = "Users: who signs in"\n\n'
    + entry("0.2.0", "001_index_users", ("0.1.0/001_create_users",), rollback=False)
    + "transactional = false\n\n"
    + entry("0.2.0", "002_create_posts") + 'description = """Posts,\nwritten by users"""\n'
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def violations(schema: dict[str, Any], value: object, where: str = "") -> list[str]:
    """The JSON Schema keywords the manifest's schema uses, checked as a validator would."""
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
             "number": (int, float)}
    found = []
    if "type" in schema and not isinstance(value, kinds[schema["type"]]):
        return [f"{where}: not {schema['type']}"]
    if isinstance(value, dict):
        known = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            found += [f"{where}.{key}: unknown" for key in value if key not in known]
        found += [f"{where}.{key}: missing" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            found += violations(known.get(key, {}), item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += violations(schema["items"], item, f"{where}[{index}]")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: does not match {schema['pattern']}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: not one of {schema['enum']}")
    return found


def test_schema_command_prints_the_manifest_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema == manifest_json_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"] == "archon-plan migrations.toml"


def test_every_manifest_key_has_a_description_and_no_other_key_is_allowed() -> None:
    schema = manifest_json_schema()
    tables = [schema, schema["properties"]["settings"], schema["properties"]["migration"]["items"]]
    for table in tables:
        assert table["additionalProperties"] is False
        assert all(prop.get("description") for prop in table["properties"].values())
    assert tables[2]["required"] == ["version", "file"]
    assert "null" not in json.dumps(schema)  # TOML has no null


def test_schema_accepts_the_example_manifest_and_rejects_a_typo() -> None:
    schema = manifest_json_schema()
    example = tomllib.loads((ROOT / "migrations.toml").read_text())
    assert violations(schema, example) == []
    example["migration"][1]["depend_on"] = example["migration"][1].pop("depends_on")
    example["settings"]["lock_timeout"] = "5 s"
    assert violations(schema, example) == [".settings.lock_timeout: does not match ^[0-9]+(ms|s|min|h)?$",
                                           ".migration[1].depend_on: unknown"]


def test_a_schema_directive_is_only_a_comment_to_archon_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, "#:schema ./migrations.schema.json\n\n" + MANIFEST)
    code, out, _ = run(capsys, "--manifest", str(manifest), "check")
    assert code == 0, out


def test_show_release_lists_only_that_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, MANIFEST)
    code, out, _ = run(capsys, "--manifest", str(manifest), "show", "--release", "0.2.0", "--format", "json")
    assert code == 0
    shown = [(m["position"], m["version"], m["name"], m["depends_on"]) for m in json.loads(out)["migrations"]]
    assert shown == [(2, "0.2.0", "001_index_users", ["0.1.0/001_create_users"]),
                     (3, "0.2.0", "002_create_posts", [])]
    code, out, _ = run(capsys, "--manifest", str(manifest), "show", "--release", "0.2.0",
                       "--format", "mermaid")
    assert 'm_0_1_0__001_create_users["0.1.0/001_create_users"]' in out  # its dependency, labelled


def test_show_unknown_release_suggests_the_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, MANIFEST)
    code, out, err = run(capsys, "--manifest", str(manifest), "show", "--release", "0.3.0")
    assert code == 4 and out == ""
    assert "no migration has version '0.3.0'" in err and "HINT: did you mean" in err


def test_show_markdown_renders_release_notes_from_the_descriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, MANIFEST)
    code, out, _ = run(capsys, "--manifest", str(manifest), "show", "--format", "markdown")
    assert code == 0
    assert out.index("## 0.2.0") < out.index("## 0.1.0")  # newest release first
    assert "- **001_create_users**: Users: who signs in.\n" in out
    assert "- **002_create_posts**: Posts, written by users.\n" in out
    index_note = next(line for line in out.splitlines() if line.startswith("- **001_index_users**"))
    assert "Depends on `0.1.0/001_create_users`." in index_note
    assert "(`transactional = false`)" in index_note and "No rollback" in index_note
    code, out, _ = run(capsys, "--manifest", str(manifest), "show", "--release", "0.1.0",
                       "--format", "markdown")
    assert "## 0.1.0" in out and "0.2.0" not in out


def documented_fields(section: str) -> set[str]:
    """The first column of the field tables under a heading of docs/cli.md."""
    text = (ROOT / "docs" / "cli.md").read_text()
    body = re.split(r"\n## (?=[`A-Z])", text.split(f"\n## {section}\n")[1])[0]  # not `## 0.2.0`
    return set(re.findall(r"^\| `([a-z_.\[\]]+)` \|", body, flags=re.M))


def keys(value: object) -> set[str]:
    """The keys of a JSON document and of the objects in its arrays; nested objects are prose."""
    if isinstance(value, list):
        return set().union(*map(keys, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    return set(value) | set().union(*(keys(item) for item in value.values() if isinstance(item, list)))


def test_show_json_documents_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--manifest", str(ROOT / "migrations.toml"), "show", "--format", "json")
    assert code == 0
    assert keys(json.loads(out)) <= documented_fields("`show`")


def test_diff_json_documents_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_project(tmp_path / "base", FILES, entry("0.1.0", "001_create_users"))
    head = write_project(tmp_path / "head", FILES, MANIFEST)
    code, out, _ = run(capsys, "--manifest", str(head), "diff", str(base), "--format", "json")
    assert code == 0
    assert keys(json.loads(out)) <= documented_fields("`diff`")


def test_status_json_documents_every_field(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_project(tmp_path, FILES, MANIFEST)
    assert main(["--manifest", str(manifest), "--database-url", database_url, "apply",
                 "--target", "0.1.0/001_create_users"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "--manifest", str(manifest), "--database-url", database_url,
                       "status", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert keys(document) <= documented_fields("`status`")
    assert set(document["counts"]) == {"applied", "applied-unknown-checksum", "pending", "modified",
                                       "failed", "unknown"}
