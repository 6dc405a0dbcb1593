"""`archon-plan fleet drift`: each tenant schema against one tenant snapshot, or its own migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.helpers import run_in_process
from tests.test_fleet import ENV, SCHEMAS, fleet, fleet_file, project, results, tenants

Conn = psycopg.Connection[tuple[object, ...]]


def fleet_of_two_tenants(root: Path, database_url: str, db: Conn) -> dict[str, str]:
    """Two tenants migrated alike, with a trigger function: definitions that name the tenant's schema."""
    project(root, "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n"
            "CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();\n")
    fleet_file(root, {"eu": SCHEMAS})
    tenants(db, 2)
    env = {"EU_URL": database_url}
    assert fleet(root, env, "apply")[0] == 0
    return env


def differences(target: dict[str, object]) -> list[tuple[object, object]]:
    found = target["differences"]
    assert isinstance(found, list)
    return [(d["change"], d["name"]) for d in found]


def test_fleet_drift_names_the_tenant_changed_by_hand_against_a_tenant_snapshot(
    tmp_path: Path, database_url: str, db: Conn
) -> None:
    env = fleet_of_two_tenants(tmp_path, database_url, db)
    written = run_in_process(["snapshot", "--database-url", database_url, "--tenant", "tenant_001",
                              "--output", "tenant.snapshot"], tmp_path, ENV)
    assert written.returncode == 0, written.stderr
    text = (tmp_path / "tenant.snapshot").read_text(encoding="utf-8")
    assert '# schemas ["{tenant}"]' in text and "table\t{tenant}.items" in text and "tenant_001" not in text
    assert "ON {tenant}.items FOR EACH ROW" in text and "archon_migrations" not in text
    assert fleet(tmp_path, env, "drift", "--snapshot", "tenant.snapshot")[0] == 0
    db.execute("ALTER TABLE tenant_002.items ADD COLUMN extra int; CREATE INDEX ON tenant_002.items (name)")
    code, document, _ = fleet(tmp_path, env, "drift", "--snapshot", "tenant.snapshot")
    assert code == 11
    by = results(document)
    assert (by["eu/tenant_001"]["result"], differences(by["eu/tenant_001"])) == ("ok", [])
    assert by["eu/tenant_002"]["result"] == "drift" and by["eu/tenant_002"]["exit_code"] == 11
    assert differences(by["eu/tenant_002"]) == [("added", "{tenant}.items.extra"),
                                                ("added", "{tenant}.items_name_idx")]
    assert document["totals"] == {"ok": 1, "drift": 1, "failed": 0}


def test_fleet_drift_without_snapshot_builds_the_tenants_migrations_once(
    tmp_path: Path, database_url: str, db: Conn, server_url: str
) -> None:
    env = fleet_of_two_tenants(tmp_path, database_url, db)
    db.execute("ALTER TABLE tenant_002.items ALTER COLUMN name SET DEFAULT 'x'")
    done = run_in_process(["fleet", "drift", "--scratch-url", server_url], tmp_path, {**ENV, **env})
    assert done.returncode == 11, done.stdout + done.stderr
    assert done.stderr.count("building the schema in scratch database") == 1  # both applied the same
    assert "ok      eu/tenant_001  no drift" in done.stdout
    assert "DRIFT   eu/tenant_002  1 object(s) differ" in done.stdout
    assert ("column {tenant}.items.name: changed: expected text, found text default 'x'::text"
            in done.stdout)
    assert "2 target(s): 1 without drift, 1 with drift, 0 could not be compared" in done.stdout
