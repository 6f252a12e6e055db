"""What an operator does with a deployed shopflow: upload, watch runs, read KPIs back.

Works the same against AWS (no endpoint) and a local stack (the moto endpoint). KPI reads
are DynamoDB ``Query``/``GetItem`` calls shaped by the tables' keys; nothing here scans.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS, kpi_count_columns
from shopflow_runtime.kpi_versions import AS_WRITTEN, PublishedKpis, read_published, visible

COUNT_COLUMNS = kpi_count_columns()
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
EARLIEST_DATE = date(2000, 1, 1)


@dataclass(frozen=True)
class Execution:
    name: str
    status: str
    started: datetime
    stopped: datetime | None
    arn: str


def upload_files(
    s3: Any,
    bucket: str,
    paths: Iterable[Path],
    *,
    prefix: str = "landing/",
    names: Iterable[str] | None = None,
) -> list[str]:
    """Upload local files under the landing prefix; returns the object keys.

    ``names`` (relative paths such as ``2025/03/part-0.csv``) keep files that share a base
    name apart; by default each file is uploaded under its own base name.
    """
    keys = []
    chosen_names = list(names) if names is not None else None
    for index, path in enumerate(paths):
        name = chosen_names[index] if chosen_names is not None else path.name
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"not a relative object name: {name}")
        key = f"{prefix}{relative.as_posix()}"
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


# Exports arrive under any name, often without an extension; what a file holds is decided
# by its header in the pipeline. Files with another known extension (a manifest, notes) and
# hidden files are not data.
DATA_SUFFIXES = frozenset({".csv", ".gz", ".txt", ".tsv", ".dat", ""})


def csv_files_under(directory: Path) -> list[Path]:
    """Every data file (CSV, gzipped or not, whatever its name) under a directory, sorted."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and (path.suffix.lower() in DATA_SUFFIXES or not path.suffix[1:].isalpha())
    )


def data_files_of(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, object name) for command-line paths: a file under its own name, a folder's data
    files under their path inside it (split exports repeat names across folders).

    Raises ``UserError`` for a path that does not exist or a folder without data files.
    """
    from shopflow_cli.output import UserError

    chosen: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found = csv_files_under(path)
            if not found:
                raise UserError(f"no data files under {path} (looked for CSV, gzip, TSV, TXT)")
            chosen.extend((file, file.relative_to(path).as_posix()) for file in found)
        elif path.is_file():
            chosen.append((path, path.name))
        else:
            raise UserError(f"no such file or folder: {path}")
    return chosen


def list_executions(sfn: Any, state_machine_arn: str) -> list[Execution]:
    executions = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for raw in page["executions"]:
            executions.append(
                Execution(
                    name=raw["name"],
                    status=raw["status"],
                    started=raw["startDate"],
                    stopped=raw.get("stopDate"),
                    arn=raw["executionArn"],
                )
            )
    return sorted(executions, key=lambda execution: execution.started)


def queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_until_settled(
    sfn: Any,
    sqs: Any,
    state_machine_arn: str,
    arrivals_queue_url: str,
    *,
    expected_at_least: int,
    quiet_seconds: float,
    timeout: float,
    health_check: Callable[[], None] = lambda: None,
    poll_seconds: float = 0.5,
) -> list[Execution]:
    """Block until no arrival is pending and every execution has ended.

    ``quiet_seconds`` must exceed the loader's batch window: arrivals still inside a window
    have left the queue but not yet become an execution.
    """
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while True:
        health_check()
        executions = list_executions(sfn, state_machine_arn)
        settled = (
            len(executions) >= expected_at_least
            and all(execution.status in TERMINAL_STATES for execution in executions)
            and queue_depth(sqs, arrivals_queue_url) == 0
        )
        now = time.monotonic()
        if settled:
            quiet_since = quiet_since if quiet_since is not None else now
            if now - quiet_since >= quiet_seconds:
                return executions
        else:
            quiet_since = None
        if now > deadline:
            running = [e.name for e in executions if e.status not in TERMINAL_STATES]
            raise TimeoutError(
                f"pipeline not settled after {timeout:.0f}s: {len(executions)} execution(s), "
                f"still running: {running or 'none'}, arrivals pending: "
                f"{queue_depth(sqs, arrivals_queue_url)}"
            )
        time.sleep(poll_seconds)


def execution_output(sfn: Any, state_machine_arn: str, name: str) -> str | None:
    """The output of the execution named ``name`` (a batch id), if it exists and succeeded."""
    arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        described = sfn.describe_execution(executionArn=arn)
    except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
        return None
    output = described.get("output")
    return str(output) if described.get("status") == "SUCCEEDED" and output else None


def execution_failure(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The typed error a failed execution's stage reported, read from its history."""
    events = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        for event in page["events"]
    ]
    return failure_from_history(events)


def failure_from_history(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The typed failure a failed run carried into its failure path, from its history.

    The failure path keeps the stage's error in ``$.error`` (``Error``, ``Cause``) and swaps
    in the failure record the worker wrote, so the last state input that holds ``$.error``
    has the full ``TaskFailure``, even where the history's ``TaskFailed`` event has no cause
    (moto records only the error name).
    """
    for event in reversed(list(events)):
        details = event.get("stateEnteredEventDetails") or {}
        try:
            state_input = json.loads(details.get("input") or "{}")
        except ValueError:
            continue
        error = state_input.get("error") if isinstance(state_input, dict) else None
        if not isinstance(error, dict) or not error.get("Error"):
            continue
        cause = str(error.get("Cause") or "")
        failure: dict[str, Any] = {"error": error["Error"], "cause": cause}
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            failure.update(parsed)
        return failure
    return {}


# --- KPI read-back ------------------------------------------------------------------------


def _years(start: date, end: date) -> range:
    return range(start.year, end.year + 1)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def published_kpis(dynamodb: Any, ledger_table: str) -> PublishedKpis:
    """The KPI version a command reads, once: both tables as of the same run."""
    return read_published(dynamodb, ledger_table)


def _query_all(dynamodb: Any, published: PublishedKpis, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("query").paginate(**kwargs):
        for item in page["Items"]:
            row = visible(_plain(item), published)
            if row is not None:
                yield row


def read_day_kpis(
    dynamodb: Any,
    table: str,
    start: date = EARLIEST_DATE,
    end: date | None = None,
    *,
    published: PublishedKpis = AS_WRITTEN,
) -> list[dict[str, Any]]:
    """Days' totals in [start, end]: one Query per calendar year the range spans."""
    end = end or datetime.now(UTC).date()
    rows: list[dict[str, Any]] = []
    for year in _years(start, end):
        rows.extend(
            _query_all(
                dynamodb,
                published,
                TableName=table,
                KeyConditionExpression="order_year = :year AND order_date BETWEEN :start AND :end",
                ExpressionAttributeValues={
                    ":year": {"S": f"{year:04d}"},
                    ":start": {"S": start.isoformat()},
                    ":end": {"S": end.isoformat()},
                },
            )
        )
    return sorted(rows, key=lambda row: str(row["order_date"]))


def read_category_kpis(
    dynamodb: Any,
    category_table: str,
    day_table: str,
    start: date = EARLIEST_DATE,
    end: date | None = None,
    category: str | None = None,
    *,
    published: PublishedKpis = AS_WRITTEN,
) -> list[dict[str, Any]]:
    """One category over a range (a Query on its partition), or every category of every day
    in the range (one Query per day on the ``by_order_date`` index)."""
    end = end or datetime.now(UTC).date()
    rows: list[dict[str, Any]] = []
    if category is not None:
        rows.extend(
            _query_all(
                dynamodb,
                published,
                TableName=category_table,
                KeyConditionExpression=(
                    "category = :category AND order_date BETWEEN :start AND :end"
                ),
                ExpressionAttributeValues={
                    ":category": {"S": category},
                    ":start": {"S": start.isoformat()},
                    ":end": {"S": end.isoformat()},
                },
            )
        )
    else:
        for day in read_day_kpis(dynamodb, day_table, start, end, published=published):
            rows.extend(
                _query_all(
                    dynamodb,
                    published,
                    TableName=category_table,
                    IndexName="by_order_date",
                    KeyConditionExpression="order_date = :day",
                    ExpressionAttributeValues={":day": {"S": str(day["order_date"])}},
                )
            )
    return sorted(rows, key=lambda row: (str(row["category"]), str(row["order_date"])))


def format_value(column: str, value: Any) -> str:
    if isinstance(value, Decimal):
        return str(int(value)) if column in COUNT_COLUMNS else f"{value:.2f}"
    return str(value)


def as_records(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, str]]:
    return [{column: format_value(column, row[column]) for column in columns} for row in rows]


def render(rows: list[dict[str, str]], columns: tuple[str, ...], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(rows, indent=2)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    widths = {c: max([len(c), *(len(row[c]) for row in rows)]) for c in columns}
    numeric = {c for c in columns if c not in {"category", "order_date"}}

    def line(cells: dict[str, str]) -> str:
        return "  ".join(
            cells[c].rjust(widths[c]) if c in numeric else cells[c].ljust(widths[c])
            for c in columns
        )

    header = line({c: c for c in columns})
    return "\n".join([header, "-" * len(header), *(line(row) for row in rows)])


def export_kpis(
    dynamodb: Any,
    category_table: str,
    day_table: str,
    out_dir: Path,
    *,
    published: PublishedKpis = AS_WRITTEN,
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = as_records(
        read_category_kpis(dynamodb, category_table, day_table, published=published),
        CATEGORY_KPI_COLUMNS,
    )
    days = as_records(read_day_kpis(dynamodb, day_table, published=published), DAY_KPI_COLUMNS)
    category_path = out_dir / "category_kpis.csv"
    day_path = out_dir / "order_kpis.csv"
    category_path.write_text(render(categories, CATEGORY_KPI_COLUMNS, "csv"))
    day_path.write_text(render(days, DAY_KPI_COLUMNS, "csv"))
    return category_path, day_path


# --- typed KPI records (what the commands print) ------------------------------------------

_CENT = Decimal("0.01")


def kpi_record(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """A KPI item as typed values: counts as ints, money and rates as 2-decimal Decimals."""
    record: dict[str, Any] = {}
    for column in columns:
        value = row.get(column)
        if isinstance(value, Decimal):
            value = int(value) if column in COUNT_COLUMNS else value.quantize(_CENT)
        record[column] = value
    return record


def kpi_records(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [kpi_record(row, columns) for row in rows]


def day_kpis_between(
    dynamodb: Any,
    table: str,
    start: date,
    end: date,
    *,
    published: PublishedKpis = AS_WRITTEN,
) -> dict[date, dict[str, Any]]:
    """Typed day KPIs of [start, end] by day."""
    return {
        date.fromisoformat(str(row["order_date"])): kpi_record(row, DAY_KPI_COLUMNS)
        for row in read_day_kpis(dynamodb, table, start, end, published=published)
    }


def latest_kpi_day(
    dynamodb: Any,
    table: str,
    *,
    until: date | None = None,
    published: PublishedKpis = AS_WRITTEN,
) -> date | None:
    """The most recent day that has KPIs (Queries newest first, one year at a time, until
    a row its readers see: a deleted or not yet published one is passed over)."""
    end = until or datetime.now(UTC).date()
    for year in reversed(_years(EARLIEST_DATE, end)):
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="order_year = :year AND order_date <= :end",
            ExpressionAttributeValues={
                ":year": {"S": f"{year:04d}"},
                ":end": {"S": end.isoformat()},
            },
            ScanIndexForward=False,
            PaginationConfig={"PageSize": 10},
        )
        for page in pages:
            for item in page["Items"]:
                row = visible(_plain(item), published)
                if row is not None:
                    return date.fromisoformat(str(row["order_date"]))
    return None


def categories_of_day(
    dynamodb: Any, category_table: str, day: date, *, published: PublishedKpis = AS_WRITTEN
) -> list[dict[str, Any]]:
    """Every category's KPIs of one day (a Query on the ``by_order_date`` index)."""
    rows = _query_all(
        dynamodb,
        published,
        TableName=category_table,
        IndexName="by_order_date",
        KeyConditionExpression="order_date = :day",
        ExpressionAttributeValues={":day": {"S": day.isoformat()}},
    )
    return sorted(kpi_records(rows, CATEGORY_KPI_COLUMNS), key=lambda row: str(row["category"]))


def known_categories(
    dynamodb: Any,
    category_table: str,
    day_table: str,
    *,
    days: int = 7,
    published: PublishedKpis = AS_WRITTEN,
) -> list[str]:
    """The categories of the last ``days`` days that have KPIs (a few Queries, no scan)."""
    found: set[str] = set()
    latest = latest_kpi_day(dynamodb, day_table, published=published)
    if latest is None:
        return []
    recent = read_day_kpis(
        dynamodb, day_table, latest - timedelta(days=days * 4), latest, published=published
    )
    for row in recent[-days:]:
        day = date.fromisoformat(str(row["order_date"]))
        found.update(
            str(item["category"])
            for item in categories_of_day(dynamodb, category_table, day, published=published)
        )
    return sorted(found)
