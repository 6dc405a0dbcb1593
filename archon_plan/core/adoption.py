"""Adopting another tool's project: the archon-plan version and file name each of its
migrations gets, and which of them the tool's history table records as applied. Pure values
and decisions: the files are read in project/sources.py, the table in db/adopt.py."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..errors import RefusedError, UsageError


class Tool(StrEnum):
    """The migration tools `archon-plan import --from` reads."""

    DBMATE = "dbmate"
    GOLANG_MIGRATE = "golang-migrate"
    FLYWAY = "flyway"
    DIESEL = "diesel"
    SUPABASE = "supabase"
    SQITCH = "sqitch"


class Versions(StrEnum):
    """How imported migrations are grouped into archon-plan versions."""

    ONE = "one"  # everything in ONE_VERSION
    YEAR = "year"  # YYYY.0.0 per calendar year of the timestamps


ONE_VERSION = "0.1.0"  # init's and create's first version too
MAX_NUMBER = 999  # NNN is three digits
MAX_SLUG = 80  # migration_name is VARCHAR(255); a file name stays readable
# A source version that opens with a date: YYYYMMDD, years 1970 to 2999.
DATE_RE = re.compile(r"(?P<year>19[7-9][0-9]|2[0-9]{3})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])")


@dataclass(frozen=True)
class ForeignMigration:
    """One migration of the source project, in the source tool's order."""

    original: str  # its name in the tool: kept as `imported_from`
    title: str  # the words of its name, for the file name
    source: str  # the file it was read from, for messages
    sql: str
    rollback: str | None = None  # None: no down script (irreversible says why)
    irreversible: bool = False  # the down script is empty or only comments
    transactional: bool = True
    depends_on: tuple[str, ...] = ()  # originals of earlier migrations
    stamp: str = ""  # the digits of its version: a timestamp gives `--versions year` its year
    description: str | None = None


@dataclass(frozen=True)
class Placed:
    """A foreign migration with its place in the archon-plan project."""

    migration: ForeignMigration
    version: str
    stem: str  # NNN_slug

    @property
    def label(self) -> str:
        return f"{self.version}/{self.stem}"


def place(migrations: Sequence[ForeignMigration], versions: Versions) -> tuple[list[Placed], str | None]:
    """Each migration's version and NNN_slug, in the source order; and a notice when `year`
    falls back to one version. Refuses a version that would need more than 999 numbers."""
    notice = None
    chosen = [ONE_VERSION] * len(migrations)
    if versions is Versions.YEAR:
        years, notice = _years(migrations)
        chosen = [f"{year}.0.0" for year in years] if years else chosen
    placed: list[Placed] = []
    numbers: dict[str, int] = {}
    slugs: dict[str, set[str]] = {}
    for migration, version in zip(migrations, chosen, strict=True):
        numbers[version] = numbers.get(version, 0) + 1
        if numbers[version] > MAX_NUMBER:
            raise UsageError(
                f"version {version} would hold more than {MAX_NUMBER} migrations "
                f"({sum(v == version for v in chosen)}): NNN has three digits",
                "use --versions year to start a version per calendar year" if versions is Versions.ONE
                else "import fewer migrations at once: more than 999 in one year is not supported")
        taken = slugs.setdefault(version, set())
        base = slug(migration.title)
        name = next(f"{base}_{n}" if n > 1 else base for n in range(1, len(taken) + 2)
                    if (f"{base}_{n}" if n > 1 else base) not in taken)
        taken.add(name)
        placed.append(Placed(migration, version, f"{numbers[version]:03d}_{name}"))
    return placed, notice


def _years(migrations: Sequence[ForeignMigration]) -> tuple[list[int] | None, str | None]:
    """The year of each migration, from its timestamp; an undated one joins the year of the
    one before it (the first ones, the first year). None, with why, when no name is dated or
    the years would not follow the source order."""
    found = [_year(m.stamp) for m in migrations]
    dated = [year for year in found if year is not None]
    if not dated:
        return None, (f"no migration name starts with a date (YYYYMMDD...): all of them go in "
                      f"version {ONE_VERSION}, as with --versions one")
    filled, current = [], dated[0]
    for year in found:
        current = current if year is None else year
        filled.append(current)
    if any(a > b for a, b in itertools.pairwise(filled)):
        return None, (f"the dates in the names do not follow the source order: all migrations go "
                      f"in version {ONE_VERSION}, as with --versions one")
    return filled, None


def _year(stamp: str) -> int | None:
    match = DATE_RE.match(stamp) if len(stamp) >= 8 else None
    return int(match["year"]) if match else None


def slug(title: str) -> str:
    """A snake_case name from any title: accents dropped, camelCase split, anything but ASCII
    letters and digits turned to `_`; never empty."""
    text = "".join(c if c.isascii() else "" if unicodedata.combining(c) else " "  # é: e and an accent
                   for c in unicodedata.normalize("NFKD", title))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return text[:MAX_SLUG].rstrip("_") or "migration"


@dataclass(frozen=True)
class HistoryRow:
    """A row of the source tool's history table, as db/adopt.py reads it."""

    key: str  # the tool's record of the migration: its version, or sqitch's change name
    success: bool = True  # false: flyway's failed row, golang-migrate's dirty version
    kind: str = ""  # flyway's `type`: SQL, BASELINE, UNDO_SQL, DELETE, SCHEMA ...
    script: str = ""  # flyway's `script`: the file name


def foreign_key(tool: Tool, original: str) -> str:
    """What the tool's history table records for a migration imported as `original`."""
    if tool is Tool.SQITCH:
        return original.partition(":")[2]  # project:change
    if tool is Tool.DIESEL:
        return original.split("_", 1)[0].replace("-", "")
    if tool is Tool.FLYWAY:
        return ".".join(map(str, flyway_version(original[1:].split("__", 1)[0])))
    digits = re.match(r"[0-9]+", original)
    key = digits[0] if digits else original
    return str(int(key)) if tool is Tool.GOLANG_MIGRATE else key


def flyway_version(text: str) -> tuple[int, ...]:
    """Flyway's version as it compares them: dotted (or `_`) parts as numbers, 1.10 after 1.9,
    trailing zeros dropped (1.0 is 1)."""
    parts = [int(p) for p in re.split(r"[._]", text)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _flyway_key(version: str) -> str:
    """A version from Flyway's table as foreign_key() writes it; "" when it is not one."""
    try:
        return ".".join(map(str, flyway_version(version)))
    except ValueError:
        return ""


def applied_originals(tool: Tool, table: str, rows: Sequence[HistoryRow],
                      originals: Sequence[str]) -> list[str]:
    """The imported migrations (by `imported_from`) that the history records as applied, in the
    order given. Refuses a dirty or failed migration, and one the files do not have."""
    keys = {foreign_key(tool, original): original for original in originals}
    if tool is Tool.FLYWAY:
        applied = _flyway(table, rows, keys, originals)
    else:
        _refuse_failed(tool, table, rows)
        unknown = [row.key for row in rows if _normal(tool, row.key) not in keys]
        _refuse_unknown(table, unknown)
        applied = {keys[_normal(tool, row.key)] for row in rows}
        if tool is Tool.GOLANG_MIGRATE and rows:  # one row: everything up to it is applied
            last = max(int(row.key) for row in rows)
            applied = {o for key, o in keys.items() if int(key) <= last}
    return [original for original in originals if original in applied]


def _normal(tool: Tool, key: str) -> str:
    return str(int(key)) if tool is Tool.GOLANG_MIGRATE and key.isdigit() else key


def _refuse_failed(tool: Tool, table: str, rows: Sequence[HistoryRow]) -> None:
    failed = [row.key for row in rows if not row.success]
    if failed:
        what = "is dirty: golang-migrate stopped part-way through it" if tool is Tool.GOLANG_MIGRATE \
            else "failed"
        raise RefusedError(f"{table}: migration {', '.join(failed)} {what}; nothing was recorded",
                           f"finish or undo it with {tool} first, then adopt again")


def _refuse_unknown(table: str, unknown: Sequence[str]) -> None:
    if unknown:
        raise RefusedError(f"{table} records {', '.join(unknown)}, which the imported files do not have; "
                           "nothing was recorded",
                           "import the project's complete migrations folder, then adopt again")


def _flyway(table: str, rows: Sequence[HistoryRow], keys: dict[str, str],
            originals: Sequence[str]) -> set[str]:
    """Flyway's rows in installed_rank order: SQL rows apply a version, UNDO_SQL and DELETE
    take it back, BASELINE stands for every version up to its own; SCHEMA rows are Flyway's."""
    failed = [row.script or row.key for row in rows if not row.success]
    if failed:
        raise RefusedError(f"{table}: {', '.join(failed)} failed (success = false); nothing was recorded",
                           "fix it and run `flyway repair` (or finish it with Flyway), then adopt again")
    by_script = {original.rsplit("/", 1)[-1]: original for original in originals}
    applied: set[str] = set()
    unknown = []
    for row in rows:
        if row.kind == "SCHEMA":
            continue
        line = _flyway_key(row.key)
        if row.kind == "BASELINE" and line:
            applied |= {o for key, o in keys.items() if flyway_version(key) <= flyway_version(line)}
            continue
        original = by_script.get(row.script.rsplit("/", 1)[-1]) or keys.get(line)
        if original is None:
            unknown.append(row.script or row.key)
        elif row.kind in ("UNDO_SQL", "DELETE"):
            applied.discard(original)
        else:
            applied.add(original)
    _refuse_unknown(table, unknown)
    return applied
