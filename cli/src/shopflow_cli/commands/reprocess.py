"""``shopflow reprocess FILE [--reject-threshold X]``: a quarantined upload validated again."""

from __future__ import annotations

from decimal import Decimal

import click

from shopflow_cli.options import run_wait_options, target_options
from shopflow_cli.target import TargetRef


@click.command(name="reprocess")
@click.argument("file")
@click.option(
    "--reject-threshold",
    type=click.FloatRange(min=0, max=1),
    default=None,
    help="The share of rejected rows above which the file is quarantined again, for this "
    "run only (for example 0.8); default: the validator's setting.",
)
@click.option(
    "--reject-policy",
    type=click.Choice(["quarantine", "fail_batch"]),
    default=None,
    help="What a file over the threshold does in this run; default: the validator's setting.",
)
@run_wait_options
@target_options
def command(
    target: TargetRef,
    file: str,
    reject_threshold: float | None,
    reject_policy: str | None,
    wait: bool,
    timeout: float,
) -> int:
    """Validate the quarantined FILE again under a changed policy, without uploading it
    again: a pipeline run of its own (its staged, byte-exact copy through ValidateData and
    ComputeKpis, under the same KPI lease) with its own notification. Its rows keep their
    place in the order of uploads, so a correction uploaded since still wins.

    FILE is an object key (landing/orders.csv), an s3:// URL or a bare file name (orders.csv);
    its latest validation must have quarantined it.

    Example: shopflow reprocess orders-2025-03.csv --reject-threshold 0.8
    """
    from shopflow_contracts.report import RejectPolicy

    from shopflow_cli.rejects import latest_report_of
    from shopflow_cli.replay import reprocess_input, run_and_report, start_run

    resolved = target.resolve()
    s3 = resolved.client("s3")
    bucket = resolved.outputs.data_bucket
    latest = latest_report_of(s3, bucket, file)
    policy: RejectPolicy | None = None
    if reject_policy == "fail_batch":
        policy = "fail_batch"
    elif reject_policy == "quarantine":
        policy = "quarantine"
    body = reprocess_input(
        s3,
        bucket,
        latest,
        threshold=None if reject_threshold is None else Decimal(str(reject_threshold)),
        policy=policy,
    )
    return run_and_report(resolved, start_run(resolved, body), wait=wait, timeout=timeout)
