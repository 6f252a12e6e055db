"""Every command the README's table lists exists, with every option it shows.

(``sample --out`` once failed exactly like this: the README said it, the parser did not.)
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from shopflow_cli.main import cli

README = Path(__file__).resolve().parents[3] / "README.md"


def synopses() -> list[str]:
    return re.findall(r"^\| `(shopflow [^`]+)` \|", README.read_text(), re.MULTILINE)


def commands_of(synopsis: str) -> tuple[list[click.Command], list[str]]:
    """The command(s) a synopsis names (``kpis days\\|categories``: both) and its rest."""
    words = synopsis.split()[1:]
    commands: list[click.Command] = [cli]
    while words and all(isinstance(command, click.Group) for command in commands):
        names = words[0].split("\\|")
        groups = [command for command in commands if isinstance(command, click.Group)]
        found = [
            group.commands[name] for group in groups for name in names if name in group.commands
        ]
        if not found:
            break
        commands = found
        words = words[1:]
    return commands, words


def test_the_readme_lists_the_commands() -> None:
    assert len(synopses()) >= 10


def test_every_listed_command_exists_with_every_option_shown() -> None:
    for synopsis in synopses():
        commands, rest = commands_of(synopsis)
        assert cli not in commands, synopsis
        if commands[0].name == "bench":  # its options are the benchmark's (shopflow bench -h)
            continue
        known = {
            opt
            for command in commands
            for param in command.params
            for opt in [*param.opts, *param.secondary_opts]  # --wait/--no-wait: both
        }
        for option in re.findall(r"--[a-z][a-z-]*", " ".join(rest)):
            assert option in known, f"README: '{synopsis}' shows {option}, which it lacks"
