"""``shopflow bench``: the benchmark; every argument after ``bench`` is the benchmark's own.

The benchmark is its own distribution (``shopflow-bench``, with pandas): it registers its
``main(argv) -> int`` under the ``shopflow.commands`` entry point group, and is loaded only
when asked for, so the rest of the CLI works without it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import click

from shopflow_cli.output import UserError

# Commands other distributions add to ``shopflow`` (``shopflow-bench`` adds ``bench``).
COMMAND_ENTRY_POINTS = "shopflow.commands"


def load_command(name: str) -> Callable[[list[str]], int] | None:
    """The ``main(argv)`` an installed distribution registers for ``shopflow NAME``."""
    for entry_point in entry_points(group=COMMAND_ENTRY_POINTS, name=name):
        command: Callable[[list[str]], int] = entry_point.load()
        return command
    return None


@click.command(
    name="bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def command(ctx: click.Context) -> int:
    """Benchmark shopflow against the pandas baseline (options: shopflow bench --help)."""
    bench = load_command("bench")
    if bench is None:
        raise UserError(
            "the benchmark is not installed (it is the shopflow-bench package of the "
            "workspace: make bench)",
            2,
        )
    return int(bench(list(ctx.args)))
