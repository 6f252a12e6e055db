"""``shopflow status``: what is waiting, what runs, what ran, and where every row went."""

from __future__ import annotations

from typing import Any

import click

from shopflow_cli import output
from shopflow_cli.options import target_options
from shopflow_cli.output import Column
from shopflow_cli.runs import Runs, show_accounting, show_runs
from shopflow_cli.target import Target, TargetRef

QUEUE_COLUMNS = (
    Column("name", header="queue"),
    Column("waiting", "count", total="sum"),
    Column("in_flight", "count", total="sum", header="in flight"),
    Column("dead_letters", "count", total="sum", header="dead letters"),
)
SKIPPED_COLUMNS = (
    Column("recorded_at", header="uploaded (UTC)"),
    Column("key", header="file"),
    Column("batch_id", header="identical to the upload in run"),
)


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
    """Queues (with their dead-letter depths), the latest runs (state, duration, current
    stage, failure reason), uploads skipped as identical to an earlier one, and each run's
    file accounting.

    Example: shopflow status --limit 5
    """
    from shopflow_cli.queues import queue_depths

    resolved = target.resolve()
    depths = queue_depths(resolved)
    arrivals = next(depth for depth in depths if depth.name == "arrivals")
    output.line(f"arrivals waiting: {arrivals.waiting + arrivals.in_flight}")
    output.show(output.table(QUEUE_COLUMNS, [vars(d) for d in depths], title="queues"))
    dead = [depth for depth in depths if depth.dead_letters]
    for depth in dead:
        output.line(
            f"{depth.name}: {depth.dead_letters:,} message(s) in its dead-letter queue; "
            f"once the cause is fixed: shopflow redrive {depth.name}",
            style="red",
        )
    runs = Runs(resolved)
    recent = runs.all()[-limit:]
    show_runs(runs, recent)
    skipped = identical_uploads(resolved)[-limit:]
    if skipped:
        output.show(
            output.table(
                SKIPPED_COLUMNS, skipped, title="uploads skipped as identical to an earlier one"
            )
        )
    show_accounting(runs, recent)


def identical_uploads(target: Target) -> list[dict[str, Any]]:
    """Uploads the trigger started no run for: the same bytes as an upload already in a run.

    The trigger records them in its ledger (``ARRIVAL#...`` with outcome
    ``duplicate_content``); the ledger has no index by outcome, so this is a filtered scan,
    of the ledger only, oldest first."""
    dynamodb = target.client("dynamodb")
    found = []
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=target.outputs.ledger_table,
        FilterExpression="begins_with(pk, :arrival) AND outcome = :identical",
        ExpressionAttributeValues={
            ":arrival": {"S": "ARRIVAL#"},
            ":identical": {"S": "duplicate_content"},
        },
    )
    for page in pages:
        for item in page["Items"]:
            found.append(
                {
                    "recorded_at": item.get("recorded_at", {}).get("S", "")[:19].replace("T", " "),
                    "key": item.get("key", {}).get("S", "?"),
                    "batch_id": item.get("batch_id", {}).get("S", "?"),
                }
            )
    return sorted(found, key=lambda entry: entry["recorded_at"])
