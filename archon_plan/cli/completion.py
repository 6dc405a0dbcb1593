"""`archon-plan completion bash|zsh|fish` (argcomplete's scripts), and what they complete beyond
commands and options: migration names from the manifest and target names from the fleet file,
read without a database, and nothing at all from a broken file."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# Parsing imports this module: argcomplete loads only to complete or to print a script.
from ..errors import ExitCode

PROGRAM = "archon-plan"
SHELLS = ("bash", "zsh", "fish")
INSTALL = {  # docs/cli.md#completion
    "bash": "archon-plan completion bash > ~/.local/share/bash-completion/completions/archon-plan",
    "zsh": "archon-plan completion zsh > ~/.zfunc/_archon-plan  # with fpath=(~/.zfunc $fpath)",
    "fish": "archon-plan completion fish > ~/.config/fish/completions/archon-plan.fish",
}


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    completion = add("completion", help="print the shell completion script for bash, zsh or fish",
                     description="Print the script that completes archon-plan's commands, options and "
                     "names in SHELL: the manifest's migrations (--manifest, else ./migrations.toml; no "
                     "database) for apply --target, revert and repair, the fleet file's targets for "
                     "fleet --target. Install it once (docs/cli.md#completion); it calls archon-plan, "
                     "so it stays current.",
                     example=tuple(INSTALL.values()))
    completion.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def migration_names(action: argparse.Action) -> argparse.Action:
    """Complete the action's value with the manifest's migration names."""
    setattr(action, "completer", _migrations)  # noqa: B010 - argcomplete reads the attribute
    return action


def target_names(action: argparse.Action) -> argparse.Action:
    """Complete the action's value with the fleet file's target names."""
    setattr(action, "completer", _targets)  # noqa: B010 - argcomplete reads the attribute
    return action


def _migrations(prefix: str, parsed_args: argparse.Namespace, **_: object) -> dict[str, str]:
    """`VERSION/NNN_name` and its description; by `NNN_name` alone when that is what was begun
    and it names one migration."""
    from ..project import names

    found = names.migration_names(_manifest(parsed_args))
    labels = {name: text for name, text in found.items() if name.startswith(prefix)}
    if labels or "/" in prefix:
        return labels
    stems = Counter(name.rpartition("/")[2] for name in found)
    return {stem: text for stem, text in ((n.rpartition("/")[2], t) for n, t in found.items())
            if stems[stem] == 1 and stem.startswith(prefix)}


def _targets(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    from ..core.fleet import DEFAULT_FLEET_FILE
    from ..project import names

    fleet = getattr(parsed_args, "fleet", None)
    fleet_file = fleet if isinstance(fleet, Path) else _manifest(parsed_args).parent / DEFAULT_FLEET_FILE
    return [name for name in names.target_names(fleet_file) if name.startswith(prefix)]


def _manifest(parsed_args: argparse.Namespace) -> Path:
    manifest = getattr(parsed_args, "manifest", None)
    return manifest if isinstance(manifest, Path) else Path("migrations.toml")


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's request (argcomplete's _ARGCOMPLETE and COMP_LINE) and exit."""
    import argcomplete

    argcomplete.autocomplete(parser)


def run(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode([PROGRAM], shell=args.shell))
    return ExitCode.OK
