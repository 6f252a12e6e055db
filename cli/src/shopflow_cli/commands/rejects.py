"""``shopflow rejects FILE [--out PATH]``: an uploaded file's rejected rows, ready to fix."""

from __future__ import annotations

from pathlib import Path

import click

from shopflow_cli import output
from shopflow_cli.options import target_options
from shopflow_cli.target import TargetRef


@click.command(name="rejects")
@click.argument("file")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the rejected rows (for example fixes/orders.csv); the reasons go "
    "beside it as <name>.reasons.csv. Default: <file name>.rejected.csv here.",
)
@target_options
def command(target: TargetRef, file: str, out: Path | None) -> None:
    """Write the rejected rows of FILE's latest validation as a CSV with the original header
    and the exact original lines, to fix in an editor and upload again (shopflow upload
    PATH): the fixed rows then count like any other upload, and for a key seen before the
    later upload wins. A second file, <name>.reasons.csv, gives line (in the original
    file), rule and message of each row, in the same order; do not upload it.

    FILE is an object key (landing/orders.csv), an s3:// URL or a bare file name (orders.csv).

    Example: shopflow rejects orders.csv --out fixes/orders.csv
    """
    from shopflow_cli.rejects import latest_report_of, write_rejects

    resolved = target.resolve()
    s3 = resolved.client("s3")
    bucket = resolved.outputs.data_bucket
    latest = latest_report_of(s3, bucket, file)
    written = write_rejects(s3, bucket, latest, out)
    state = "quarantined" if written.quarantined else "validated"
    if written.rows_path is None:
        output.line(f"{written.source_key} ({state} in run {written.batch_id}): no row rejected")
        return
    output.line(
        f"{written.rows:,} rejected row(s) of {written.source_key} ({state} in run "
        f"{written.batch_id}) -> {written.rows_path}"
    )
    output.line(f"line, rule and message of each -> {written.reasons_path}")
    output.note(f"fix the rows, then: shopflow upload {written.rows_path}")
