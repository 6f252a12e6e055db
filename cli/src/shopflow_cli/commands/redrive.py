"""``shopflow redrive QUEUE``: move a dead-letter queue's messages back to their queue."""

from __future__ import annotations

import click

from shopflow_cli import output
from shopflow_cli.options import target_options
from shopflow_cli.target import TargetRef


@click.command(name="redrive")
@click.argument("queue")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Move at most this many messages (for example 1, to try one first); default: all.",
)
@target_options
def command(target: TargetRef, queue: str, limit: int | None) -> None:
    """Move the messages of QUEUE's dead-letter queue back to QUEUE, once their cause is
    fixed. QUEUE is arrivals, loader, validator or kpi ('loader-dlq' works too);
    'shopflow status' shows each dead-letter queue's depth.

    Example: shopflow redrive validator --limit 1
    """
    from shopflow_cli.queues import queue_name, redrive

    name = queue_name(queue)
    moved = redrive(target.resolve(), name, limit=limit)
    output.line(
        f"moved {moved:,} message(s) from the {name} dead-letter queue back to {name}"
        if moved
        else f"the {name} dead-letter queue is empty: nothing to move"
    )
