"""``shopflow demo``: the whole pipeline on a folder of exports, start to KPIs, then stop."""

from __future__ import annotations

import time
from pathlib import Path

import click
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

from shopflow_cli import operations, output
from shopflow_cli.options import SECONDS, batch_window_option, state_file_option
from shopflow_cli.output import UserError
from shopflow_cli.resources import BUNDLED_SAMPLE


@click.command(name="demo")
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=BUNDLED_SAMPLE,
    show_default="the bundled sample",
    help="Folder of exports: every CSV (gzipped or not) under it is uploaded.",
)
@click.option(
    "--export",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write category_kpis.csv and order_kpis.csv into this folder, for example out/.",
)
@click.option(
    "--timeout",
    type=SECONDS,
    default=600,
    show_default=True,
    help="Seconds to wait for the pipeline to settle before giving up.",
)
@batch_window_option
@state_file_option
def command(
    data: Path, export: Path | None, timeout: float, batch_window: float, state_file: Path
) -> int:
    """Start the local stack, upload every export under --data, wait for every run, print
    the file accounting and both KPI tables, stop everything. Exits 1 if a run failed.

    Example: shopflow demo --data samples/thelook-small --export out
    """
    from shopflow_cli.commands.kpis import CATEGORY_TABLE, DAY_TABLE
    from shopflow_cli.localstack import LocalStack, stop_on_interrupt_or_terminate
    from shopflow_cli.runs import Runs, show_accounting, show_runs
    from shopflow_cli.uploads import follow_uploads, now, uploaded

    files = operations.csv_files_under(data)
    if not files:
        raise UserError(f"no data files under {data}")
    stop_on_interrupt_or_terminate()
    output.line("starting the local stack (moto server + loader, validator, kpi, API) ...")
    with LocalStack(
        state_file=state_file, batch_window_seconds=batch_window, on_event=output.note
    ) as stack:
        target = stack.target
        output.line(f"dashboard (while the demo runs): {stack.api_url}/")
        started = time.monotonic()
        s3 = target.client("s3")
        bucket = target.outputs.data_bucket
        since = now()
        uploads = []
        for path in files:
            # Relative paths as keys: split exports often repeat names across folders.
            (key,) = operations.upload_files(
                s3, bucket, [path], names=[path.relative_to(data).as_posix()]
            )
            uploads.append(uploaded(s3, bucket, key))
        output.line(f"uploaded {len(uploads)} file(s) from {data}; waiting for the pipeline ...")
        follow_uploads(
            target,
            uploads,
            since,
            timeout=timeout,
            batch_window=batch_window,
            health_check=stack.check_alive,
        )
        output.line(f"pipeline settled in {time.monotonic() - started:.1f}s")
        runs = Runs(target)
        listed = runs.all()
        failed = show_runs(runs, listed)
        show_accounting(runs, listed)
        dynamodb = target.client("dynamodb")
        published = operations.published_kpis(dynamodb, target.outputs.ledger_table)
        output.emit(
            operations.kpi_records(
                operations.read_day_kpis(
                    dynamodb, target.outputs.daily_kpis_table, published=published
                ),
                DAY_KPI_COLUMNS,
            ),
            DAY_TABLE,
            "table",
            title="KPIs per day",
            totals=True,
        )
        output.emit(
            operations.kpi_records(
                operations.read_category_kpis(
                    dynamodb,
                    target.outputs.category_kpis_table,
                    target.outputs.daily_kpis_table,
                    published=published,
                ),
                CATEGORY_KPI_COLUMNS,
            ),
            CATEGORY_TABLE,
            "table",
            title="KPIs per category and day",
        )
        if export is not None:
            category_path, day_path = operations.export_kpis(
                dynamodb,
                target.outputs.category_kpis_table,
                target.outputs.daily_kpis_table,
                export,
                published=published,
            )
            output.line(f"exported {category_path} and {day_path}")
    return 1 if failed else 0
