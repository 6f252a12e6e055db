"""``shopflow upload PATH... [--wait]``: put files (or a folder's files) under ``landing/``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shopflow_cli import operations, output
from shopflow_cli.options import SECONDS, target_options
from shopflow_cli.target import Target, TargetRef

if TYPE_CHECKING:
    from shopflow_cli.uploads import Upload


@click.command(name="upload")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the runs these files start and print each file's accounting; "
    "exit 1 if a run failed or quarantined a file (its rows are not in the KPIs).",
)
@click.option(
    "--timeout",
    type=SECONDS,
    default=600,
    show_default=True,
    help="With --wait: seconds to wait for the runs before giving up (exit 1).",
)
@click.option(
    "--batch-window",
    type=SECONDS,
    default=2.0,
    show_default=True,
    help="With --wait: the stack's batch window in seconds (how long an upload may sit "
    "before its run starts).",
)
@target_options
def command(
    target: TargetRef, paths: tuple[Path, ...], wait: bool, timeout: float, batch_window: float
) -> int:
    """Upload files, or every data file of a folder, under landing/ of the data bucket.

    Example: shopflow upload samples/thelook-small --wait
    """
    from shopflow_cli.uploads import now, uploaded

    chosen = operations.data_files_of(paths)
    resolved = target.resolve()
    s3 = resolved.client("s3")
    bucket = resolved.outputs.data_bucket
    started = now()
    uploads = []
    for file, name in chosen:
        (key,) = operations.upload_files(s3, bucket, [file], names=[name])
        output.line(f"s3://{bucket}/{key}")
        if wait:
            uploads.append(uploaded(s3, bucket, key))
    if not wait:
        return 0
    return _wait_for_runs(resolved, uploads, started, timeout, batch_window)


def _wait_for_runs(
    target: Target,
    uploads: list[Upload],
    started: datetime,
    timeout: float,
    batch_window: float,
) -> int:
    from shopflow_cli import report
    from shopflow_cli.runs import Runs, describe_failure, quarantine_lines, shown_status
    from shopflow_cli.uploads import follow_uploads
    from shopflow_cli.watch import file_line

    runs_view = Runs(target)
    runs = follow_uploads(target, uploads, started, timeout=timeout, batch_window=batch_window)
    # A quarantined file is not a failed run (the others' rows are applied), but a script
    # that uploads and waits must notice that some rows are missing from the KPIs.
    incomplete = False
    for name in sorted({u.run for u in uploads if u.run}):
        run = runs[name]
        mine = {u.key for u in uploads if u.run == name}
        if run.status == "SUCCEEDED":
            output_text = runs_view.output_of(run)
            status = shown_status(run, output_text)
            incomplete = incomplete or status == "PARTIAL"
            output.line(f"run {name} {status} in {run.seconds:.1f}s")
            for line in report.execution_accounting(output_text):
                if line.source_key in mine:
                    output.line(f"  {file_line(line)}")
            for text in quarantine_lines(output_text):
                output.line(f"  {text}", style="yellow")
        else:
            incomplete = True
            output.line(
                f"run {name} {run.status}: {describe_failure(runs_view.failure_of(run))}",
                style="red",
            )
    for upload in uploads:
        if upload.identical_to is not None:
            output.line(
                f"{upload.key}: skipped, identical to an earlier upload (run "
                f"{upload.identical_to}); no new run"
            )
    return 1 if incomplete else 0
