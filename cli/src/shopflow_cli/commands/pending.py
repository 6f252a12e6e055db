"""``shopflow pending``: items that wait for their order or product."""

from __future__ import annotations

import json
from typing import Any

import click

from shopflow_cli import output, report
from shopflow_cli.options import format_option, target_options
from shopflow_cli.output import Column
from shopflow_cli.target import TargetRef

COLUMNS = (
    Column("item_id", "count"),
    Column("order_id", "count"),
    Column("product_id", "count"),
    Column("missing"),
    Column("pending_since"),
    Column("source_key", header="file"),
    Column("source_line", "count", header="line"),
)
FILE_COLUMNS = (
    Column("source_key", header="file"),
    Column("run"),
    Column("pending", "count", total="sum"),
)


@click.command(name="pending")
@format_option(("table", "json"))
@target_options
def command(target: TargetRef, output_format: str) -> None:
    """Order items accepted but not yet counted, because their order or product has not
    arrived: how many, from which files, and those waiting beyond the grace period.

    Example: shopflow pending --format json
    """
    from shopflow_cli.runs import Runs

    resolved = target.resolve()
    runs = Runs(resolved)
    latest: dict[str, Any] | None = None
    by_file: list[dict[str, Any]] = []
    for run in reversed(runs.all()):
        if run.status != "SUCCEEDED":
            continue
        document = json.loads(runs.output_of(run) or "{}")
        kpis = (document.get("kpis") or {}).get("payload") or {}
        if latest is None:
            latest = {"run": run.name, **kpis}
            for entry in report.settled_files_of(runs.output_of(run)).values():
                if int(entry.get("pending", 0)):
                    by_file.append(
                        {"source_key": entry.get("source_key"), "run": run.name,
                         "pending": int(entry["pending"])}
                    )  # fmt: skip
            break
    if latest is None:
        output.line("no run has computed KPIs yet: nothing is pending")
        return
    listed = _report(resolved, latest.get("pending_report_key"))
    items = listed.get("items") or listed.get("orphans") or []
    summary = {
        "as_of_run": latest["run"],
        "pending_items": int(latest.get("pending_items", 0)),
        "orphaned_items": int(latest.get("orphaned_items", 0)),
        "grace_seconds": listed.get("grace_seconds"),
        "files": by_file,
        "items": items,
    }
    if output_format == "json":
        output.write_raw(output.to_json(summary))
        return
    output.line(
        f"{summary['pending_items']:,} item(s) wait for their order or product (as of run "
        f"{summary['as_of_run']}); {summary['orphaned_items']:,} beyond the grace period"
    )
    if by_file:
        output.show(output.table(FILE_COLUMNS, by_file, title="pending items by file", totals=True))
    if items:
        title = "items waiting" if listed.get("items") else "items waiting beyond the grace period"
        output.show(output.table(COLUMNS, items, title=title))


def _report(target: Any, key: str | None) -> dict[str, Any]:
    if not key:
        return {}
    s3 = target.client("s3")
    try:
        body = s3.get_object(Bucket=target.outputs.data_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    document = json.loads(body)
    return document if isinstance(document, dict) else {}
