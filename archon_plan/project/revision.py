"""The manifest as it was at a base: another manifest file, or a git revision of the repository."""

from __future__ import annotations

import os
import posixpath
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from ..core.model import Manifest, Migration, Settings
from ..core.sqlfile import SqlFile
from ..errors import ManifestError, Problem, UsageError

GIT_TIMEOUT_S = 60


def load_base(manifest_path: Path, base: str) -> Manifest:
    """The manifest at `base`: a manifest file if one exists there, else a git revision.

    At a revision, the manifest is read from the same path in the repository that holds
    `manifest_path`; it is empty (everything is new) when that revision has no manifest.
    SQL texts are read at load; file paths point where the files lie in the working tree.
    """
    from .manifest import named_files, read_manifest  # here: importing commands stays free of pydantic

    if Path(base).is_file():
        return _checked(read_manifest(Path(base)), base)
    if not base or base.startswith("-"):  # never let git read it as an option
        raise UsageError(f"base {base!r} is neither a manifest file nor a git revision")
    folder = manifest_path.resolve().parent
    prefix = _run(folder, base, ["rev-parse", "--show-prefix"]).decode().strip()
    commit = _commit(folder, base)
    relative = posixpath.join(prefix, manifest_path.name)
    text = _blobs(folder, base, commit, [relative]).get(relative)
    if text is None:  # the manifest did not exist yet: every migration is new
        return Manifest(path=manifest_path, settings=Settings(), migrations=())
    named = named_files(text.decode("utf-8", errors="replace"))
    files = _blobs(folder, base, commit, [posixpath.normpath(posixpath.join(prefix, n)) for n in named])
    files[relative] = text
    return _read_files(files, relative, f"{base}:", manifest_path)


def _read_files(files: dict[str, bytes], relative: str, shown: str, manifest_path: Path) -> Manifest:
    """Lay the files out in a scratch folder and read the manifest among them."""
    from .manifest import read_manifest
    with tempfile.TemporaryDirectory(prefix="archon-plan-base-") as scratch:
        root = Path(scratch)
        for name, content in files.items():
            try:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(content)
            except OSError:
                continue  # a path the layout cannot hold: the loader reports it as missing
        loaded, problems = read_manifest(root / relative)
        problems = [_relocated(p, f"{root}{os.sep}", shown) for p in problems]
        return _relocate(_checked((loaded, problems), shown + relative), manifest_path)


def _checked(read: tuple[Manifest, list[Problem]], shown: str) -> Manifest:
    manifest, problems = read
    if problems:
        head = Problem(shown, "the manifest at the base is invalid; it cannot be compared",
                       "compare with another base, or fix the manifest there first")
        raise ManifestError([head, *problems])
    return manifest


def _relocated(problem: Problem, scratch: str, shown: str) -> Problem:
    at = problem.location
    return replace(problem, where=problem.where.replace(scratch, shown),
                   message=problem.message.replace(scratch, shown),
                   location=at and replace(at, file=at.file.replace(scratch, shown)))


def _relocate(manifest: Manifest, manifest_path: Path) -> Manifest:
    """Point the paths from the scratch folder, deleted next, to the working tree."""
    folder, scratch = manifest_path.resolve().parent, manifest.root.resolve()

    def moved(sql: SqlFile) -> SqlFile:
        return sql.moved(folder / sql.path.relative_to(scratch))

    def migration(m: Migration) -> Migration:
        return replace(m, sql=moved(m.sql), rollback=moved(m.rollback) if m.rollback else None)

    return replace(manifest, path=manifest_path,
                   migrations=tuple(migration(m) for m in manifest.migrations))


def _commit(folder: Path, base: str) -> str:
    found = _run(folder, base, ["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], check=False)
    if not found:
        raise UsageError(
            f"base {base!r} is neither a manifest file nor a revision of the git repository in {folder}",
            "name a branch, tag or commit (in CI, fetch it first: git fetch origin main), "
            "or the path of another migrations.toml")
    return found.decode().strip()


def _run(folder: Path, base: str, args: list[str], check: bool = True, feed: bytes = b"") -> bytes:
    """git's standard output; a one-line UsageError when git is missing or fails."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], input=feed, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"base {base!r} is not a file, and git cannot read a revision: {exc}",
                         "install git, or pass the path of another migrations.toml") from None
    if done.returncode != 0 and check:
        said = done.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
        raise UsageError(f"base {base!r} is not a file, and git cannot read a revision in {folder}: "
                         f"{said[-1]}", "pass the path of another migrations.toml, or run inside "
                         "the repository")
    return done.stdout if done.returncode == 0 else b""


def _blobs(folder: Path, base: str, commit: str, paths: list[str]) -> dict[str, bytes]:
    """The files that exist at the commit, read by one `git cat-file --batch`."""
    wanted = [p for p in dict.fromkeys(paths) if _inside(p)]
    request = "".join(f"{commit}:{p}\n" for p in wanted).encode()
    out = _run(folder, base, ["cat-file", "--batch"], feed=request)
    found: dict[str, bytes] = {}
    for path in wanted:
        header, _, out = out.partition(b"\n")
        if header.endswith((b" missing", b" ambiguous")):
            continue
        _, kind, size = header.split()
        if kind == b"blob":  # a tree or a link is left out: the loader says it is not found
            found[path] = out[:int(size)]
        out = out[int(size) + 1:]
    return found


def _inside(path: str) -> bool:
    """A normalised path that stays inside the repository (and the scratch folder)."""
    return not (path in ("", ".", "..") or path.startswith(("../", "/")) or "\n" in path)
