"""``shopflow recompute [--from DATE] [--to DATE]``: the KPI rows of a range, recomputed."""

from __future__ import annotations

from datetime import date

import click

from shopflow_cli.options import DATE, run_wait_options, target_options
from shopflow_cli.target import TargetRef


@click.command(name="recompute")
@click.option(
    "--from",
    "first",
    type=DATE,
    default=None,
    help="First order date to recompute (YYYY-MM-DD, for example 2025-03-01); default: the "
    "first there is.",
)
@click.option(
    "--to",
    "last",
    type=DATE,
    default=None,
    help="Last order date to recompute, included (YYYY-MM-DD); default: the last there is.",
)
@run_wait_options
@target_options
def command(
    target: TargetRef, first: date | None, last: date | None, wait: bool, timeout: float
) -> int:
    """Recompute the KPI rows of every order date from --from to --to from the curated data
    (after a definition change, say), as a pipeline run: under the same KPI lease as every
    run, with the same notifications. The rows equal a computation from scratch; rows of
    dates in the range without data are deleted; dates outside it are left alone.

    Example: shopflow recompute --from 2025-03-01 --to 2025-03-31
    """
    from shopflow_cli.replay import recompute_input, run_and_report, start_run

    resolved = target.resolve()
    body = recompute_input(first, last)
    return run_and_report(resolved, start_run(resolved, body), wait=wait, timeout=timeout)
