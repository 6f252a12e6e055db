"""End-to-end latency through the local stack: PutObject -> KPIs readable in DynamoDB.

The stack (moto server + loader, validator, kpi processes) is loaded once with the bundled
sample. Each measured upload is a small order_items file correcting the prices of a few
items of one order date; the clock runs from just before ``PutObject`` until ``GetItem`` on
the daily table for that date returns a ``batch_id`` other than the one before. The
execution's history then splits the time into states.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shopflow_cli.resources import BUNDLED_SAMPLE

from shopflow_bench.stats import median, percentile

SAMPLE = BUNDLED_SAMPLE
ROWS_PER_UPLOAD = 20
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Correction:
    order_date: date
    header: list[str]
    rows: list[list[str]]

    def body(self, upload: int) -> bytes:
        """The rows with every sale_price raised by ``upload + 1`` cents: a new file each time."""
        price = self.header.index("sale_price")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        for row in self.rows:
            changed = list(row)
            changed[price] = f"{Decimal(row[price]) + Decimal(upload + 1) / 100:.2f}"
            writer.writerow(changed)
        return out.getvalue().encode()


def corrections(sample: Path = SAMPLE, per_date: int = ROWS_PER_UPLOAD) -> list[Correction]:
    """Per order date of the sample, ``per_date`` valid items of its non-cancelled orders."""
    from shopflow_contracts.rows import parse_timestamp

    manifest = json.loads((sample / "manifest.json").read_text())
    broken: dict[str, set[int]] = defaultdict(set)
    for row in manifest["broken_rows"]:
        broken[row["file"]].add(int(row["line"]))
    order_dates: dict[str, date] = {}
    with (sample / "orders.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for line, order in enumerate(reader, start=2):
            if line in broken["orders.csv"] or order["status"].lower() == "cancelled":
                continue
            order_dates[order["order_id"]] = parse_timestamp(order["created_at"]).date()
    by_date: dict[date, list[list[str]]] = defaultdict(list)
    with (sample / "order_items.csv").open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        order_column = header.index("order_id")
        for line, cells in enumerate(rows, start=2):
            day = order_dates.get(cells[order_column])
            if day is None or line in broken["order_items.csv"]:
                continue
            if len(by_date[day]) < per_date:
                by_date[day].append(cells)
    return [
        Correction(day, header, rows)
        for day, rows in sorted(by_date.items())
        if len(rows) == per_date
    ]


def state_durations(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent in each state, from StateEntered/StateExited event timestamps."""
    entered: dict[str, datetime] = {}
    spent: dict[str, float] = {}
    for event in sorted(events, key=lambda e: int(e["id"])):
        if "stateEnteredEventDetails" in event:
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            if name in entered:
                seconds = (event["timestamp"] - entered.pop(name)).total_seconds()
                spent[name] = spent.get(name, 0.0) + seconds
    return spent


def summarise(samples: list[float]) -> dict[str, float]:
    return {
        "median": median(samples),
        "p95": percentile(samples, 95),
        "min": min(samples),
        "max": max(samples),
    }


def _day_stamp(dynamodb: Any, table: str, day: date) -> str | None:
    item = dynamodb.get_item(
        TableName=table,
        Key={"order_year": {"S": f"{day.year:04d}"}, "order_date": {"S": day.isoformat()}},
        ConsistentRead=True,
    ).get("Item")
    if not item:
        return None
    return f"{item['batch_id']['S']}|{item['computed_at']['S']}"


def _finished(sfn: Any, state_machine_arn: str, name: str, deadline: float) -> Any:
    """The execution called ``name`` once it has ended (its last state is still running
    when the KPIs become visible)."""
    from shopflow_cli import operations

    while True:
        for execution in operations.list_executions(sfn, state_machine_arn):
            if execution.name == name and execution.status in operations.TERMINAL_STATES:
                return execution
        if time.perf_counter() > deadline:
            raise TimeoutError(f"execution {name} did not end")
        time.sleep(POLL_SECONDS * 5)


def run_e2e(
    work_dir: Path, *, uploads: int, batch_window: float, timeout: float = 120.0
) -> dict[str, Any]:
    from shopflow_cli import operations
    from shopflow_cli.clients import aws_client
    from shopflow_cli.localstack import LocalStack

    plans = corrections()
    if not plans:
        raise RuntimeError(f"no usable order dates in {SAMPLE}")
    state_file = work_dir / "e2e" / "stack.json"
    started_stack = time.perf_counter()
    with LocalStack(
        state_file=state_file,
        batch_window_seconds=batch_window,
        log_dir=work_dir / "e2e" / "logs",
        stack_name="shopflow-bench",
    ) as stack:
        assert stack.outputs is not None
        outputs = stack.outputs
        s3 = aws_client("s3", stack.endpoint_url)
        sfn = aws_client("stepfunctions", stack.endpoint_url)
        sqs = aws_client("sqs", stack.endpoint_url)
        dynamodb = aws_client("dynamodb", stack.endpoint_url)
        stack_seconds = time.perf_counter() - started_stack

        seeded = time.perf_counter()
        operations.upload_files(s3, outputs.data_bucket, operations.csv_files_under(SAMPLE))
        # The sample's files may land in more than one run when the uploads outlast the
        # batch window (0.5 s in quick mode): items waiting for their orders are counted by
        # the run that brings them, so the seed only needs every run to succeed.
        seed_runs = operations.wait_until_settled(
            sfn,
            sqs,
            outputs.state_machine_arn,
            outputs.arrivals_queue_url,
            expected_at_least=1,
            quiet_seconds=batch_window + 1,
            timeout=timeout * 2,
            health_check=stack.check_alive,
        )
        failed = [f"{run.name} {run.status}" for run in seed_runs if run.status != "SUCCEEDED"]
        if failed:
            raise RuntimeError(f"loading the sample failed: {', '.join(failed)}")
        seed_seconds = time.perf_counter() - seeded

        runs: list[dict[str, Any]] = []
        for upload in range(uploads):
            plan = plans[upload % len(plans)]
            before = _day_stamp(dynamodb, outputs.daily_kpis_table, plan.order_date)
            body = plan.body(upload)
            put_wall = datetime.now(UTC)
            put_at = time.perf_counter()
            s3.put_object(
                Bucket=outputs.data_bucket, Key=f"landing/bench-e2e-{upload:03d}.csv", Body=body
            )
            deadline = put_at + timeout
            while True:
                stamp = _day_stamp(dynamodb, outputs.daily_kpis_table, plan.order_date)
                if stamp is not None and stamp != before:
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"upload {upload}: KPIs of {plan.order_date} unchanged")
                stack.check_alive()
                time.sleep(POLL_SECONDS)
            latency = time.perf_counter() - put_at
            visible_wall = datetime.now(UTC)
            batch_id = stamp.split("|", 1)[0]
            execution = _finished(sfn, outputs.state_machine_arn, batch_id, deadline + timeout)
            events = sfn.get_execution_history(executionArn=execution.arn, maxResults=1000)[
                "events"
            ]
            runs.append(
                {
                    "order_date": plan.order_date.isoformat(),
                    "rows": len(plan.rows),
                    "latency_seconds": latency,
                    "status": execution.status,
                    "put_to_execution_start_seconds": (
                        execution.started - put_wall
                    ).total_seconds(),
                    "execution_start_to_visible_seconds": (
                        visible_wall - execution.started
                    ).total_seconds(),
                    "execution_seconds": (
                        (execution.stopped - execution.started).total_seconds()
                        if execution.stopped
                        else None
                    ),
                    "states": state_durations(events),
                }
            )
    latencies = [r["latency_seconds"] for r in runs]
    state_names: list[str] = []
    for run in runs:
        state_names.extend(n for n in run["states"] if n not in state_names)
    states = {
        name: summarise([r["states"][name] for r in runs if name in r["states"]])
        for name in state_names
    }
    phases = {
        "put_to_execution_start": summarise([r["put_to_execution_start_seconds"] for r in runs]),
        "execution_start_to_visible": summarise(
            [r["execution_start_to_visible_seconds"] for r in runs]
        ),
    }
    return {
        "uploads": uploads,
        "batch_window_seconds": batch_window,
        "rows_per_upload": ROWS_PER_UPLOAD,
        "stack_start_seconds": stack_seconds,
        "seed_seconds": seed_seconds,
        "latency": summarise(latencies),
        "phases": phases,
        "states": states,
        "runs": runs,
    }
