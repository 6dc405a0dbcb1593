"""A fleet: the databases (and tenant schemas) one run migrates, and how a run picks and orders them."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..errors import UsageError
from .text import did_you_mean

DEFAULT_FLEET_FILE = "fleet.toml"  # beside the manifest, without --fleet
_SHARD_RE = re.compile(r"([0-9]{1,9})/([0-9]{1,9})")  # ASCII digits; 9 keeps int() cheap
_SHOWN = 5  # target names a hint lists


class OnError(StrEnum):
    """What a fleet run does when one target fails: stop starting new ones, or go on."""

    STOP = "stop"
    CONTINUE = "continue"


@dataclass(frozen=True)
class FleetSettings:
    """The [fleet] table: how many targets run at once, what a failure does, the canaries."""

    parallel: int = 4
    on_error: OnError = OnError.STOP
    canary: int = 0


@dataclass(frozen=True)
class TargetSpec:
    """One [[target]] of the fleet file: a database named by the environment variable that
    holds its URL (the file never holds a URL), and optionally the query for its tenant schemas."""

    name: str
    url_env: str
    schemas: str | None = None
    manifest: Path | None = None  # resolved against the fleet file's folder: absolute
    line: int | None = None  # of its [[target]] header in the fleet file


@dataclass(frozen=True)
class Fleet:
    """A fleet file, read: its settings and its targets in file order."""

    path: Path
    settings: FleetSettings
    targets: tuple[TargetSpec, ...]


@dataclass(frozen=True)
class FleetTarget:
    """One database, or one tenant schema of one."""

    name: str  # "eu", or "eu/tenant_042" for a tenant
    spec: TargetSpec
    schema: str | None = None  # the tenant schema; None for a whole database


def tenant_target(spec: TargetSpec, schema: str) -> FleetTarget:
    """The target of one tenant schema of a spec's database: named `spec/schema`."""
    return FleetTarget(f"{spec.name}/{schema}", spec, schema)


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` as (I, N): the I-th of N shards, 1 <= I <= N; raises UsageError otherwise."""
    hint = "write I/N, e.g. 2/4 for the second of four shards: 1 <= I <= N"
    match = _SHARD_RE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"shard {text!r} is not I/N", hint)
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"shard {text!r} is out of range: I must be from 1 to N", hint)
    return index, count


def shard_of(name: str, count: int) -> int:
    """The 1-based shard of a target among `count`: from a hash of its name alone, so it is the
    same in every run, process and machine, whatever the other targets are (Python's own
    hash() of a str changes from one process to the next)."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select(
    targets: Sequence[FleetTarget],
    only: str | None = None,
    shard: tuple[int, int] | None = None,
    names: Sequence[str] = (),
) -> tuple[FleetTarget, ...]:
    """The targets that pass every filter given, in fleet order: `only` is a glob on the full
    name (`eu/tenant_0*`), `shard` is (I, N), `names` are exact names; an unknown name is an error."""
    wanted = set(names)
    known = {target.name for target in targets}
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        raise _unknown_targets(unknown, [t.name for t in targets])
    return tuple(
        target for target in targets
        if (only is None or fnmatch.fnmatchcase(target.name, only))
        and (shard is None or shard_of(target.name, shard[1]) == shard[0])
        and (not wanted or target.name in wanted)
    )


def _unknown_targets(unknown: Sequence[str], known: Sequence[str]) -> UsageError:
    label = "target" if len(unknown) == 1 else "targets"
    message = f"unknown {label} {', '.join(map(repr, unknown))}"
    hints = [_unknown_hint(name, known) for name in unknown]
    if len(unknown) == 1:
        return UsageError(message, hints[0])
    return UsageError(message, "; ".join(f"{name!r}: {hint}" for name, hint in zip(unknown, hints,
                                                                                    strict=True)))


def _unknown_hint(name: str, known: Sequence[str]) -> str:
    tenants = [other for other in known if other.startswith(f"{name}/")]
    if tenants:  # a database whose tenants are the targets: name one, or take them all by glob
        return (f"{name!r} has {len(tenants)} tenant targets, e.g. {tenants[0]!r}; the glob "
                f"'{name}/*' selects them all")
    suggestion = did_you_mean(name, known)
    if suggestion:
        return suggestion
    if not known:
        return "no target is left to choose from"
    shown = ", ".join(known[:_SHOWN]) + (f", ... ({len(known)} in all)" if len(known) > _SHOWN else "")
    return f"the targets are: {shown}"


def canary_split(
    targets: Sequence[FleetTarget], canary: int
) -> tuple[tuple[FleetTarget, ...], tuple[FleetTarget, ...]]:
    """The first `canary` targets (which run alone first), and the rest."""
    if canary < 0:
        raise ValueError(f"canary must be at least 0, not {canary}")
    return tuple(targets[:canary]), tuple(targets[canary:])


def duplicate_names(targets: Sequence[FleetTarget]) -> list[str]:
    """Names that occur more than once (two specs that yield the same tenant, say), each once,
    in fleet order: a run refuses them, since a name is what selects and reports a target."""
    counts = Counter(target.name for target in targets)
    return [name for name, count in counts.items() if count > 1]
