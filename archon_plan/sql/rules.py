"""The lint rules of `check`: one table of codes, names, severities, explanations and fixes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """Errors break a run or its history; warnings are risks a reviewer should see."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One lint rule, as docs/lint.md and the JSON output describe it."""

    # stable: AP1xx destructive, AP2xx locking, AP3xx session, AP4xx rollback, AP5xx run-breaking,
    # AP6xx the project's folders
    code: str
    name: str
    severity: Severity
    explanation: str  # one line: what it catches and why it matters
    fix: str

    @property
    def allowable(self) -> bool:
        """A warning about one migration's SQL; not AP6xx, which is about files no entry names."""
        return self.severity is Severity.WARNING and not self.code.startswith("AP6")


_W, _E = Severity.WARNING, Severity.ERROR
_LATER = "in a later release, once no running code uses it"
_OWN = "in a migration of its own with `transactional = false`"

RULES: tuple[Rule, ...] = (
    Rule("AP101", "drop-table", _W, "DROP TABLE deletes the table and every row in it",
         f"back the data up and drop the table {_LATER}"),
    Rule("AP102", "drop-column", _W, "DROP COLUMN deletes the column's data; code still reading it fails",
         f"stop using the column first, then drop it {_LATER}"),
    Rule("AP103", "truncate", _W, "TRUNCATE deletes every row under an ACCESS EXCLUSIVE lock",
         "delete the rows you mean to with DELETE ... WHERE, in batches"),
    Rule("AP104", "drop-schema", _W, "DROP SCHEMA removes the schema, and with CASCADE everything in it",
         f"drop the objects one by one {_LATER}"),
    Rule("AP201", "index-without-concurrently", _W,
         "CREATE INDEX without CONCURRENTLY blocks every write to an existing table while it builds",
         "CREATE INDEX CONCURRENTLY, in a migration of its own with `transactional = false`"),
    Rule("AP202", "alter-column-type", _W,
         "ALTER COLUMN ... TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock",
         "add a column of the new type, backfill it in batches, switch the code, drop the old one"),
    Rule("AP203", "add-column-rewrite", _W,
         "ADD COLUMN with a volatile default (or a stored generated, identity or serial column) "
         "rewrites the table under an ACCESS EXCLUSIVE lock",
         "add the column without a default or with a constant one, then backfill it in batches"),
    Rule("AP204", "set-not-null", _W,
         "SET NOT NULL on an existing column scans the whole table under an ACCESS EXCLUSIVE lock",
         "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL"),
    Rule("AP205", "constraint-without-not-valid", _W,
         "ADD CONSTRAINT ... FOREIGN KEY or CHECK checks every row while blocking writes",
         "add it NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration"),
    Rule("AP206", "rename-table", _W, "renaming a table breaks running code that uses the old name",
         "leave a view under the old name, or deploy code that uses the new name first"),
    Rule("AP207", "rename-column", _W, "renaming a column breaks running code that uses the old name",
         "add the new column, backfill it and switch the code before dropping the old one"),
    Rule("AP208", "drop-index-without-concurrently", _W,
         "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table",
         f"DROP INDEX CONCURRENTLY, {_OWN}"),
    Rule("AP209", "reindex-without-concurrently", _W,
         "REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index",
         f"REINDEX ... CONCURRENTLY (PostgreSQL 12+), {_OWN}"),
    Rule("AP210", "constraint-builds-index", _W,
         "ADD CONSTRAINT ... UNIQUE or PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock",
         f"CREATE UNIQUE INDEX CONCURRENTLY {_OWN}, then ADD CONSTRAINT ... USING INDEX"),
    Rule("AP211", "vacuum-full", _W, "VACUUM FULL rewrites each table under an ACCESS EXCLUSIVE lock",
         "plain VACUUM makes the space reusable without that lock; pg_repack shrinks a busy table"),
    Rule("AP212", "cluster", _W, "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
         "leave the order to an index, or reorder the table with pg_repack, outside the migrations"),
    Rule("AP213", "detach-partition-without-concurrently", _W,
         "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table",
         f"DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), {_OWN}"),
    Rule("AP301", "transaction-control", _W,
         "BEGIN/COMMIT in the file: archon-plan removes them and uses its own transaction, "
         "but psql or another runner would commit part-way",
         "remove BEGIN and COMMIT: archon-plan runs each migration in one transaction"),
    Rule("AP302", "session-set", _W,
         "SET without LOCAL (or set_config(..., false)) changes the session beyond the migration",
         "use SET LOCAL or set_config(..., true); for timeouts, set lock_timeout or "
         "statement_timeout on the [[migration]] entry"),
    Rule("AP303", "not-rerunnable", _W,
         "a CREATE, DROP, ADD or RENAME without IF [NOT] EXISTS in a `transactional = false` "
         "migration fails when a retry runs it again",
         "add IF NOT EXISTS, IF EXISTS or OR REPLACE; where there is none, DROP ... IF EXISTS first"),
    Rule("AP401", "missing-rollback", _W, "the migration has no rollback file: `revert` refuses it",
         "write a rollback that undoes it and name it in the entry's `rollback`"),
    Rule("AP402", "rollback-syntax-error", _E, "the rollback does not parse: `revert` would fail",
         "fix the rollback's SQL at the position shown"),
    Rule("AP403", "rollback-incomplete", _W,
         "the rollback does not undo everything its migration creates, drops, renames or alters",
         "undo each thing named, in reverse order; `archon-plan rehearse` proves the rollback"),
    Rule("AP404", "rollback-does-nothing", _W,
         "the rollback holds no SQL (empty, or comments such as `-- not reversible`): `revert` would "
         "forget the migration and leave its changes",
         "write SQL that undoes it; or, if it cannot be undone, remove `rollback` and write "
         "`irreversible = true`, which revert and rehearse respect"),
    Rule("AP500", "run-breaking", _E, "archon-plan's SQL check refuses the file", "fix the SQL shown"),
    Rule("AP501", "syntax-error", _E, "the SQL does not parse: PostgreSQL would refuse it",
         "fix the SQL at the position shown"),
    Rule("AP502", "needs-non-transactional", _E,
         "a statement PostgreSQL refuses in a transaction block, in a transactional migration",
         "add `transactional = false` to the [[migration]] entry, ideally in a migration of its own"),
    Rule("AP503", "breaks-transaction", _E,
         "a top-level ROLLBACK, PREPARE TRANSACTION or the like ends the migration's transaction early",
         "remove it: archon-plan runs each migration in its own transaction"),
    Rule("AP504", "transaction-control-non-transactional", _E,
         "transaction control in a `transactional = false` migration, which runs statements one by one",
         "remove it"),
    Rule("AP505", "no-statements", _E, "the file holds only comments", "write its SQL, or remove the entry"),
    Rule("AP506", "nul-byte", _E, "a NUL byte: PostgreSQL would silently drop every statement after it",
         "remove the NUL byte (the file was probably saved by a tool that wrote binary data)"),
    Rule("AP507", "add-column-not-null-without-default", _W,
         "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
         "give it a DEFAULT, or add it nullable, backfill it, then SET NOT NULL"),
    Rule("AP508", "identifier-too-long", _W,
         "a name over 63 bytes: PostgreSQL cuts it short with only a NOTICE",
         "use a name of at most 63 bytes"),
    Rule("AP601", "unlisted-file", _W,
         "a SQL file in a migrations folder that no manifest entry names: Archon's own application "
         "lists it as pending, while archon-plan does not see it",
         "add its [[migration]] entry (with its rollback), or move the file out of the folder"),
)
BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
