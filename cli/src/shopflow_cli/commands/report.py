"""``shopflow report FILE``: every validation report of one uploaded file."""

from __future__ import annotations

import click

from shopflow_cli import output, report
from shopflow_cli.options import format_option, target_options
from shopflow_cli.output import UserError
from shopflow_cli.runs import Runs
from shopflow_cli.target import TargetRef


@click.command(name="report")
@click.argument("file")
@click.option(
    "--rows",
    type=click.IntRange(min=0),
    default=report.REJECTED_ROWS_SHOWN,
    show_default=True,
    help="How many rejected rows to show per report (0: none).",
)
@format_option(("table", "json"))
@target_options
def command(target: TargetRef, file: str, rows: int, output_format: str) -> None:
    """Rows in, accepted, rejected, duplicates and pending of FILE in every run that held it,
    its rejects by rule and its first rejected rows.

    FILE is an object key (landing/orders.csv), an s3:// URL or a bare file name (orders.csv).

    Example: shopflow report orders.csv --rows 20
    """
    resolved = target.resolve()
    try:
        found = report.find_reports(
            resolved.client("s3"), resolved.outputs.data_bucket, file, rejected_rows=rows
        )
    except report.ReportNotFoundError as missing:
        raise UserError(str(missing)) from None
    runs = Runs(resolved)
    found = report.settled_reports(
        found, lambda batch_id: report.settled_files_of(runs.output_by_name(batch_id))
    )
    output.write_raw(report.render_reports(found, output_format))
