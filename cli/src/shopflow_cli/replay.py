"""Runs that replay what is already in the bucket: a reprocess and a recompute.

Both are Step Functions executions of the one state machine (its first state routes by the
input, see ``shopflow_contracts.messages.RunPlan``), so they take the same KPI lease and
send the same notifications as an upload batch, under a name that says their kind:

- ``shopflow reprocess FILE``: the staged (byte-exact) copy of a quarantined upload is
  validated again under a changed policy; nothing is uploaded or copied again, and its rows
  keep their place in the order of uploads (its ``ingest_seq``);
- ``shopflow recompute``: the KPI rows of a date range, recomputed from the curated data.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from shopflow_contracts.messages import (
    KpiScope,
    RecomputeExecutionInput,
    ReprocessExecutionInput,
    RunPlan,
    StagedFile,
    ValidationPolicy,
)
from shopflow_contracts.report import RejectPolicy

from shopflow_cli import operations, report
from shopflow_cli.output import UserError
from shopflow_cli.rejects import LatestReport
from shopflow_cli.target import Target


@dataclass(frozen=True)
class StartedRun:
    name: str
    arn: str


@dataclass(frozen=True)
class EndedRun:
    name: str
    status: str
    seconds: float
    output: dict[str, Any] | None

    @property
    def shown_status(self) -> str:
        """SUCCEEDED, PARTIAL (succeeded with a quarantined file), or the execution's status."""
        if self.status == "SUCCEEDED" and _validation_status(self.output) == "partial":
            return "PARTIAL"
        return self.status


def run_name(kind: str, now: datetime | None = None) -> str:
    """``reprocess-20250402T081500-3c4d5e6f``: an execution name, unique, saying its kind."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{kind}-{moment:%Y%m%dT%H%M%S}-{uuid4().hex[:8]}"


def reprocess_input(
    s3: Any,
    bucket: str,
    latest: LatestReport,
    *,
    threshold: Decimal | None,
    policy: RejectPolicy | None = None,
    name: str | None = None,
) -> ReprocessExecutionInput:
    """The input of a run validating the quarantined file of ``latest`` again.

    Raises ``UserError`` when that validation did not quarantine the file (then there is
    nothing held back to validate again) or its staged copy is gone.
    """
    body = latest.body
    if body.status != "quarantined":
        raise UserError(
            f"{body.source_key} was not quarantined in its latest validation (run "
            f"{body.batch_id}): its accepted rows are applied already; to correct rows, "
            f"see 'shopflow rejects {body.source_key}' and upload the fixed rows"
        )
    if body.staged_key is None:
        raise UserError(f"the report of {body.source_key} names no staged copy to validate")
    try:
        head = s3.head_object(Bucket=bucket, Key=body.staged_key)
    except s3.exceptions.ClientError as error:
        raise UserError(
            f"the staged copy s3://{bucket}/{body.staged_key} of {body.source_key} is gone "
            f"({error.response.get('Error', {}).get('Code', 'missing')}): upload it again"
        ) from None
    staged = StagedFile(
        kind=body.kind,
        source_bucket=bucket,
        source_key=body.source_key,
        bucket=bucket,
        key=body.staged_key,
        size=int(head["ContentLength"]),
        sha256=_sha256_of(s3, bucket, body.staged_key),
        etag=str(head["ETag"]).strip('"'),
        ingest_seq=body.ingest_seq,
    )
    return ReprocessExecutionInput(
        batch_id=name or run_name("reprocess"),
        run=RunPlan(
            kind="reprocess",
            policy=ValidationPolicy(reject_policy=policy, reject_threshold=threshold),
        ),
        files=[staged],
        reprocessed_from=[body.batch_id],
    )


def recompute_input(
    first: date | None, last: date | None, *, name: str | None = None
) -> RecomputeExecutionInput:
    if first and last and first > last:
        raise UserError(f"--from {first} is after --to {last}")
    return RecomputeExecutionInput(
        batch_id=name or run_name("recompute"),
        run=RunPlan(
            kind="recompute", kpi_scope=KpiScope(mode="recompute", from_date=first, to_date=last)
        ),
    )


def start_run(
    target: Target, body: ReprocessExecutionInput | RecomputeExecutionInput
) -> StartedRun:
    sfn = target.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=target.outputs.state_machine_arn,
        name=body.batch_id,
        input=body.model_dump_json(),
    )
    return StartedRun(body.batch_id, str(started["executionArn"]))


def wait_for_run(
    target: Target, run: StartedRun, *, timeout: float, poll_seconds: float = 0.5
) -> EndedRun:
    sfn = target.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=run.arn)
        status = str(described["status"])
        if status in operations.TERMINAL_STATES:
            stopped = described.get("stopDate") or datetime.now(UTC)
            output = described.get("output")
            return EndedRun(
                run.name,
                status,
                (stopped - described["startDate"]).total_seconds(),
                json.loads(output) if output else None,
            )
        if time.monotonic() > deadline:
            raise UserError(
                f"run {run.name} still {status} after {timeout:.0f}s; "
                "follow it with 'shopflow status'"
            )
        time.sleep(poll_seconds)


def ended_lines(ended: EndedRun) -> list[str]:
    """What a finished replay run did: its files' accounting and the KPI dates it wrote."""
    lines = [f"run {ended.name} {ended.shown_status} in {ended.seconds:.1f}s"]
    if ended.output is None:
        return lines
    from shopflow_cli.watch import file_line

    lines.extend(f"  {file_line(line)}" for line in report.execution_accounting(ended.output))
    for quarantined in report.path_in(ended.output, "validation", "payload", "quarantined") or []:
        lines.append(f"  quarantined again: {quarantined['reason']['message']}")
    kpis = report.path_in(ended.output, "kpis", "payload") or {}
    dates = kpis.get("order_dates") or []
    if dates:
        lines.append(
            f"  KPIs of {len(dates):,} date(s) recomputed ({dates[0]} to {dates[-1]}): "
            f"{kpis.get('day_rows_written', 0):,} day row(s), "
            f"{kpis.get('category_rows_written', 0):,} category row(s)"
        )
    elif kpis:
        lines.append("  no KPI date to recompute")
    return lines


def _validation_status(output: dict[str, Any] | None) -> str | None:
    found = report.path_in(output, "validation", "payload", "status")
    return None if found is None else str(found)


def _sha256_of(s3: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        for chunk in body.iter_chunks(1 << 20):
            digest.update(chunk)
    finally:
        body.close()
    return digest.hexdigest()


def run_and_report(target: Target, started: StartedRun, *, wait: bool, timeout: float) -> int:
    """Say the run started; with ``wait``, follow it to its end and say what it did (exit
    code 1 when it did not succeed)."""
    from shopflow_cli import output

    output.line(f"run {started.name} started")
    if not wait:
        output.note("follow it with: shopflow status")
        return 0
    ended = wait_for_run(target, started, timeout=timeout)
    failed = ended.status != "SUCCEEDED"
    for index, text in enumerate(ended_lines(ended)):
        output.line(text, style="red" if failed and index == 0 else None)
    if failed:
        from shopflow_cli.runs import Runs, describe_failure

        runs = Runs(target)
        (run,) = [run for run in runs.all() if run.name == started.name]
        output.line(f"  {describe_failure(runs.failure_of(run))}", style="red")
    return 1 if failed else 0
