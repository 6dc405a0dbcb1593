"""Another tool's history table read (read-only) and what it applied recorded here as applied:
`archon-plan adopt` and `import --adopt-history`."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from ..core.adoption import HistoryRow, Tool, applied_originals
from ..core.graph import MigrationGraph
from ..core.model import NOBODY, Actor, EventKind, Migration, MigrationStatus, Settings
from ..errors import RefusedError, UsageError
from . import baseline
from .connection import Connection
from .events import exists
from .run import Reporter

# Where each tool records what it applied (unqualified: on the search_path, as the tool finds it).
TABLES = {
    Tool.DBMATE: ("schema_migrations",),
    Tool.GOLANG_MIGRATE: ("schema_migrations",),
    Tool.FLYWAY: ("flyway_schema_history",),
    Tool.DIESEL: ("__diesel_schema_migrations",),
    Tool.SUPABASE: ("supabase_migrations", "schema_migrations"),
    Tool.SQITCH: ("sqitch", "changes"),
}
QUERIES = {
    Tool.GOLANG_MIGRATE: "SELECT version::text, NOT dirty, '', '' FROM {t}",
    Tool.FLYWAY: "SELECT coalesce(version, ''), success, type, coalesce(script, '') FROM {t} "
                 "ORDER BY installed_rank",
    Tool.SQITCH: "SELECT change, true, '', '' FROM {t} WHERE project = %(project)s ORDER BY committed_at",
}
DEFAULT_QUERY = "SELECT version::text, true, '', '' FROM {t} ORDER BY version"


def history_table(tool: Tool) -> str:
    return ".".join(TABLES[tool])


def applied_in_source(conn: Connection, tool: Tool, originals: Sequence[str]) -> list[str]:
    """The imported migrations (by imported_from) that the tool's history table records as
    applied; refuses (exit 5) a missing table, a dirty or failed migration, and a migration
    the files do not have. Reads in a read-only transaction."""
    table = sql.Identifier(*TABLES[tool])
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        if not exists(conn, table):
            raise RefusedError(f"{history_table(tool)} not found: the table where {tool} records what it "
                               "applied", f"point --database-url at the database that {tool} migrated")
        project = originals[0].partition(":")[0] if originals else ""
        query = sql.SQL(QUERIES.get(tool, DEFAULT_QUERY)).format(t=table)
        rows = [HistoryRow(str(key), bool(ok), str(kind), str(script))
                for key, ok, kind, script in conn.execute(query, {"project": project})]
    return applied_originals(tool, history_table(tool), rows, originals)


def adopt(
    conn: Connection,
    settings: Settings,
    graph: MigrationGraph,
    reporter: Reporter,
    tool: Tool,
    actor: Actor = NOBODY,
) -> tuple[list[Migration], int]:
    """Record as applied what the tool's history says it applied, mapped by imported_from;
    returns those recorded now and how many the history names."""
    imported = [m for m in graph.order if m.imported_from]
    if not imported:
        raise UsageError("no migration of the manifest has imported_from",
                         f"adopt works on a project written by `archon-plan import --from {tool}`")
    names = set(applied_in_source(conn, tool, [str(m.imported_from) for m in imported]))
    chosen = [m for m in imported if m.imported_from in names]

    def detail(migration: Migration, _status: MigrationStatus) -> dict[str, object]:
        return {"source": str(tool), "imported_from": migration.imported_from}

    done = baseline.mark_applied(conn, settings, graph, reporter, chosen, EventKind.ADOPT, actor, detail)
    return done, len(chosen)
