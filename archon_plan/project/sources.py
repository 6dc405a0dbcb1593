"""Other tools' migration folders read into ForeignMigration values, in each tool's own order:
dbmate, golang-migrate, Flyway, Diesel and Supabase here, sqitch in sqitch.py."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..core.adoption import ForeignMigration, Tool, flyway_version
from ..core.sqlfile import normalize_sql_text
from ..errors import Problem, SourceError
from ..sql import parse
from . import files

DBMATE_RE = re.compile(r"(?P<version>[0-9]+)_(?P<title>.*)\.sql")  # also Supabase's
GOLANG_RE = re.compile(r"(?P<version>[0-9]+)_(?P<title>.*)\.(?P<way>up|down)\.sql")
FLYWAY_RE = re.compile(r"(?P<prefix>[VU])(?P<version>[0-9]+(?:[._][0-9]+)*)__(?P<title>.+)\.sql")
DIESEL_RE = re.compile(r"(?P<version>[0-9][0-9-]*)_(?P<title>.+)")
MARKER_RE = re.compile(r"^--\s*migrate:(?P<way>up|down)(?P<options>[ \t].*)?$", re.M)
FLYWAY_OPT_OUT_RE = re.compile(r"^\s*--\s*flyway:executeInTransaction\s*=\s*false\s*$", re.I)
K = TypeVar("K")


def read_source(tool: Tool, folder: Path) -> list[ForeignMigration]:
    """The source project's migrations in the order its tool runs them; SourceError (exit 4)
    with every problem found, each naming its file."""
    if tool is Tool.SQITCH:
        from .sqitch import read_sqitch

        return read_sqitch(folder)
    readers: dict[Tool, Callable[[Path, list[Problem]], list[ForeignMigration]]] = {
        Tool.DBMATE: _dbmate, Tool.SUPABASE: _supabase, Tool.GOLANG_MIGRATE: _golang,
        Tool.FLYWAY: _flyway, Tool.DIESEL: _diesel}
    return checked(folder, lambda problems: readers[tool](folder, problems))


def checked(folder: Path, read: Callable[[list[Problem]], list[ForeignMigration]]) -> list[ForeignMigration]:
    """What `read` found, or SourceError with the problems it collected; a folder that holds
    no migration is one."""
    if not folder.is_dir():
        raise SourceError([Problem(str(folder), "is not a folder", "pass the folder of the migrations")])
    problems: list[Problem] = []
    found = read(problems)
    if not found and not problems:
        problems.append(Problem(str(folder), "holds no migration in this tool's layout"))
    if problems:
        raise SourceError(problems)
    return found


def read_text(path: Path, problems: list[Problem]) -> str | None:
    """A source file's text as archon-plan will hash it; None, with a problem, when unreadable."""
    try:
        return normalize_sql_text(files.read_bytes(str(path)))
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), f"is not UTF-8 text (byte {exc.start})", "save it as UTF-8"))
    except OSError as exc:
        problems.append(Problem(str(path), f"cannot be read: {exc.strerror or exc}"))
    return None


def foreign(original: str, title: str, path: Path, up: str, down: str | None, opted_out: bool = False,
            stamp: str = "", depends_on: tuple[str, ...] = (), description: str | None = None
            ) -> ForeignMigration:
    """A migration with what its SQL says: a down script that is only comments makes it
    irreversible; a statement that cannot run in a transaction makes it non-transactional."""
    irreversible = down is not None and parse.only_comments(down)
    rollback = None if irreversible else down
    autocommit = parse.needs_autocommit(up) or (rollback is not None and parse.needs_autocommit(rollback))
    return ForeignMigration(original, title, str(path), up, rollback, irreversible,
                            not (opted_out or autocommit), depends_on, stamp, description)


def _sql_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".sql" and p.is_file())


def _repeats(path: Path, key: K, seen: dict[K, Path], problems: list[Problem]) -> bool:
    """Whether another file already has this version (a problem, named)."""
    first = seen.setdefault(key, path)
    if first != path:
        problems.append(Problem(str(path), f"has the same version as {first.name}",
                                "versions must be unique: renumber one of them"))
    return first != path


def _dbmate(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    """`<version>_name.sql` with `-- migrate:up` and `-- migrate:down` sections, in file name
    order (dbmate sorts names as strings); `transaction:false` on a marker opts out."""
    found: list[ForeignMigration] = []
    seen: dict[str, Path] = {}
    for path in _sql_files(folder):  # sorted by name, as dbmate sorts them
        match = DBMATE_RE.fullmatch(path.name)
        text = read_text(path, problems) if match else None
        if not match or text is None or _repeats(path, match["version"], seen, problems):
            continue
        sections = _dbmate_sections(path, text, problems)
        if sections:
            up, down, opted_out = sections
            found.append(foreign(path.name, match["title"], path, up, down, opted_out, match["version"]))
    return found


def _dbmate_sections(path: Path, text: str, problems: list[Problem]) -> tuple[str, str | None, bool] | None:
    markers = {m["way"]: m for m in reversed(list(MARKER_RE.finditer(text)))}  # the first of each
    up, down = markers.get("up"), markers.get("down")
    if up is None:
        problems.append(Problem(str(path), "has no `-- migrate:up` section", "dbmate needs one too"))
        return None
    if down is not None and down.start() < up.start():
        problems.append(Problem(str(path), "has `-- migrate:down` before `-- migrate:up`"))
        return None
    if not parse.only_comments(text[:up.start()]):
        problems.append(Problem(str(path), "has statements before `-- migrate:up`"))
        return None
    opted_out = any("transaction:false" in (m["options"] or "").split() for m in (up, down) if m)
    body = text[up.end():down.start() if down else len(text)].lstrip("\n")
    return body, text[down.end():].lstrip("\n") if down else None, opted_out


def supabase_folder(folder: Path) -> Path:
    """supabase/migrations, given the project root, the supabase folder or that folder itself."""
    for candidate in (folder / "supabase" / "migrations", folder / "migrations"):
        if candidate.is_dir() and candidate.parent.name == "supabase":
            return candidate
    return folder


def _supabase(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    """`<timestamp>_name.sql` in supabase/migrations, by file name; no down scripts."""
    folder = supabase_folder(folder)
    found: list[ForeignMigration] = []
    seen: dict[str, Path] = {}
    for path in _sql_files(folder):  # other names are skipped, as the Supabase CLI skips them
        match = DBMATE_RE.fullmatch(path.name)
        text = read_text(path, problems) if match else None
        if match and text is not None and not _repeats(path, match["version"], seen, problems):
            found.append(foreign(path.name, match["title"], path, text, None, stamp=match["version"]))
    return found


def _golang(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    """`N_name.up.sql` and `N_name.down.sql`, paired by N and run in numeric order of N."""
    pairs: dict[int, dict[str, Path]] = {}
    for path in _sql_files(folder):
        match = GOLANG_RE.fullmatch(path.name)
        if not match:
            continue
        pair = pairs.setdefault(int(match["version"]), {})
        if match["way"] in pair:
            problems.append(Problem(str(path), f"has the same version as {pair[match['way']].name}",
                                    "versions must be unique: renumber one of them"))
        pair.setdefault(match["way"], path)
    found = []
    for _number, pair in sorted(pairs.items()):
        if "up" not in pair:
            problems.append(Problem(str(pair["down"]), "is a down migration with no up migration"))
            continue
        up, down = read_text(pair["up"], problems), pair.get("down")
        down_text = read_text(down, problems) if down else None
        if up is not None:
            match = GOLANG_RE.fullmatch(pair["up"].name)
            assert match is not None
            found.append(foreign(pair["up"].name, match["title"], pair["up"], up, down_text,
                                 stamp=match["version"]))
    return found


def _flyway(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    """`V<version>__name.sql`, with `U<version>__name.sql` undo scripts, in numeric version
    order; repeatable `R__` migrations have no place in a plan that runs each migration once."""
    scripts: dict[str, dict[tuple[int, ...], Path]] = {"V": {}, "U": {}}
    for path in _sql_files(folder):
        match = FLYWAY_RE.fullmatch(path.name)
        if path.name.startswith("R__"):
            problems.append(Problem(str(path), "is a repeatable migration (R__): archon-plan runs each "
                                    "migration once", "turn it into a versioned migration, or leave it out"))
        elif match:
            _repeats(path, flyway_version(match["version"]), scripts[match["prefix"]], problems)
        elif path.name[:1] in "VU" and path.name[1:2].isdigit():
            problems.append(Problem(str(path), "does not follow Flyway's V<version>__<description>.sql"))
    for version, path in scripts["U"].items():
        if version not in scripts["V"]:
            problems.append(Problem(str(path), "is an undo migration with no versioned migration"))
    found = []
    for version, path in sorted(scripts["V"].items()):
        up = read_text(path, problems)
        undo = scripts["U"].get(version)
        down = read_text(undo, problems) if undo else None
        match = FLYWAY_RE.fullmatch(path.name)
        if up is not None and match:
            found.append(foreign(path.name, match["title"], path, up, down, _flyway_opted_out(path, up),
                                 re.sub("[._]", "", match["version"])))
    return found


def _flyway_opted_out(path: Path, text: str) -> bool:
    """`-- flyway:executeInTransaction=false` in the script's opening comments, or
    `executeInTransaction=false` in its `.sql.conf` script configuration."""
    opening = [line for line in text.splitlines()[:10] if line.strip().startswith("--")]
    if any(FLYWAY_OPT_OUT_RE.match(line) for line in opening):
        return True
    config = path.with_name(path.name + ".conf")
    lines = config.read_text(encoding="utf-8").splitlines() if config.is_file() else []
    return any(line.replace(" ", "").lower() == "executeintransaction=false" for line in lines)


def read_folders(tool: Tool, folder: Path) -> list[Path]:
    """The folders import reads from, which it must leave as they are."""
    if tool is Tool.SQITCH:
        return [folder / "deploy", folder / "revert", folder / "verify"]
    if tool is Tool.SUPABASE:
        return [supabase_folder(folder)]
    return [diesel_folder(folder) if tool is Tool.DIESEL else folder]


def diesel_folder(folder: Path) -> Path:
    """The folder of Diesel's migration folders: SOURCE, or its `migrations` (the project root)."""
    if folder.is_dir() and not any(DIESEL_RE.fullmatch(d.name) for d in folder.iterdir()):
        return folder / "migrations" if (folder / "migrations").is_dir() else folder
    return folder


def _diesel(folder: Path, problems: list[Problem]) -> list[ForeignMigration]:
    """`<version>_name/up.sql` and `down.sql` folders, in order of the version with its `-`
    removed (compared as text, as Diesel does); `run_in_transaction = false` in metadata.toml."""
    folder = diesel_folder(folder)
    found: dict[str, ForeignMigration] = {}
    seen: dict[str, Path] = {}
    for path in sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")):
        match = DIESEL_RE.fullmatch(path.name)
        version = match["version"].replace("-", "") if match else ""
        if not match or not (path / "up.sql").is_file():
            problems.append(Problem(str(path), "is not a Diesel migration folder "
                                    "(<version>_<name> with up.sql)"))
            continue
        if _repeats(path, version, seen, problems):
            continue
        up = read_text(path / "up.sql", problems)
        down = read_text(path / "down.sql", problems) if (path / "down.sql").is_file() else None
        if up is not None:
            found[version] = foreign(path.name, match["title"], path / "up.sql", up, down,
                                     _diesel_opted_out(path, problems), version)
    return [found[v] for v in sorted(found)]


def _diesel_opted_out(folder: Path, problems: list[Problem]) -> bool:
    metadata = folder / "metadata.toml"
    if not metadata.is_file():
        return False
    try:
        return tomllib.loads(metadata.read_text(encoding="utf-8")).get("run_in_transaction") is False
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(metadata), f"cannot be read: {exc}"))
        return False


def detect(folder: Path) -> Tool | None:
    """The tool whose layout a folder has, if one does: for init's hint."""
    if not folder.is_dir():
        return None
    names = [p.name for p in folder.iterdir()]
    if "sqitch.plan" in names:
        return Tool.SQITCH
    if supabase_folder(folder) != folder or folder.parent.name == "supabase":
        return Tool.SUPABASE
    if any(GOLANG_RE.fullmatch(name) for name in names):
        return Tool.GOLANG_MIGRATE
    if any(FLYWAY_RE.fullmatch(name) or name.startswith("R__") for name in names):
        return Tool.FLYWAY
    if any(DIESEL_RE.fullmatch(p.name) and (p / "up.sql").is_file() for p in folder.iterdir()):
        return Tool.DIESEL
    marked = (p for p in folder.glob("*.sql") if DBMATE_RE.fullmatch(p.name) and p.is_file())
    if any(MARKER_RE.search(p.read_text(encoding="utf-8", errors="replace")) for p in marked):
        return Tool.DBMATE
    return None
