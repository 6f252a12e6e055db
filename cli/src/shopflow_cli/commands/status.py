"""``shopflow status``: what is waiting, what runs, what ran, and where every row went."""

from __future__ import annotations

import click

from shopflow_cli import operations, output
from shopflow_cli.options import target_options
from shopflow_cli.runs import Runs, show_accounting, show_runs
from shopflow_cli.target import TargetRef


@click.command(name="status")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the latest runs to show (for example 5).",
)
@target_options
def command(target: TargetRef, limit: int) -> None:
    """Arrivals waiting, the latest runs (state, duration, current stage, failure reason)
    and each run's file accounting.

    Example: shopflow status --limit 5
    """
    resolved = target.resolve()
    waiting = operations.queue_depth(resolved.client("sqs"), resolved.outputs.arrivals_queue_url)
    output.line(f"arrivals waiting: {waiting}")
    runs = Runs(resolved)
    recent = runs.all()[-limit:]
    show_runs(runs, recent)
    show_accounting(runs, recent)
