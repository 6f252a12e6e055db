"""The runs (Step Functions executions) of a shopflow, as the commands show them.

A run is listed with its state, how long it took (or has been running, and in which stage)
and, when it failed, its typed error and reason; its files with their row accounting. A
local stack's runs from before its last restart come from its archive (moto keeps none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_cli import operations, output, report
from shopflow_cli.output import Column
from shopflow_cli.target import Target

RUN_COLUMNS: tuple[Column, ...] = (
    Column("started", "text"),
    Column("status"),
    Column("took", "seconds"),
    Column("stage"),
    Column("run"),
)
ACCOUNTING_COLUMNS: tuple[Column, ...] = (
    Column("source_key", header="file"),
    Column("kind"),
    Column("rows_in", "count", total="sum"),
    Column("accepted", "count", total="sum"),
    Column("rejected", "count", total="sum"),
    Column("duplicates", "count", total="sum"),
    Column("pending", "count", total="sum"),
    Column("reasons", header="reasons (rule x rows)"),
)
_STATUS_STYLE = {"SUCCEEDED": "green", "RUNNING": "yellow", "PARTIAL": "yellow"}


@dataclass(frozen=True)
class Run:
    """One execution as shown: live from Step Functions, or archived by the local stack."""

    name: str
    status: str
    started: datetime
    stopped: datetime | None
    arn: str
    output: str | None = None
    failure: dict[str, Any] | None = None
    stage: str | None = None
    archived: bool = False

    @property
    def seconds(self) -> float:
        end = self.stopped or datetime.now(UTC)
        return (end - self.started).total_seconds()


class Runs:
    """Reads runs and their details, from Step Functions first and the archive second."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sfn = target.client("stepfunctions")
        self._archive = load_archive(target.archive_file)
        self._outputs: dict[str, str | None] = {}

    def all(self) -> list[Run]:
        live = operations.list_executions(self.sfn, self.target.outputs.state_machine_arn)
        names = {execution.name for execution in live}
        runs = [run for run in self._archive.values() if run.name not in names]
        runs.extend(Run(e.name, e.status, e.started, e.stopped, e.arn) for e in live)
        return sorted(runs, key=lambda run: run.started)

    def output_of(self, run: Run) -> str | None:
        if run.archived:
            return run.output
        if run.status != "SUCCEEDED":
            return None
        if run.arn not in self._outputs:
            found = self.sfn.describe_execution(executionArn=run.arn).get("output")
            self._outputs[run.arn] = str(found) if found else None
        return self._outputs[run.arn]

    def status_of(self, run: Run) -> str:
        """The execution's status, PARTIAL for one that succeeded with files quarantined."""
        return shown_status(run, self.output_of(run))

    def output_by_name(self, name: str) -> str | None:
        archived = self._archive.get(name)
        if archived is not None:
            return archived.output
        return operations.execution_output(self.sfn, self.target.outputs.state_machine_arn, name)

    def failure_of(self, run: Run) -> dict[str, Any]:
        if run.archived:
            return run.failure or {}
        return operations.execution_failure(self.sfn, run.arn)

    def stage_of(self, run: Run) -> str | None:
        """The state a running execution is in now (the last one it entered)."""
        if run.archived or run.status != "RUNNING":
            return run.stage
        return current_stage(self.sfn, run.arn)


def shown_status(run: Run, output_text: str | None) -> str:
    if run.status == "SUCCEEDED" and report.quarantined_files(output_text):
        return "PARTIAL"
    return run.status


def quarantine_lines(output_text: str | None) -> list[str]:
    """One line per file a succeeded run quarantined: what it was, why, where its report is."""
    return [
        f"quarantined {report.describe_quarantined(file)}"
        for file in report.quarantined_files(output_text)
    ]


def current_stage(sfn: Any, execution_arn: str) -> str | None:
    """The state the execution entered last."""
    entered = entered_states(sfn, execution_arn)
    return entered[-1] if entered else None


def entered_states(sfn: Any, execution_arn: str) -> list[str]:
    """Every state the execution has entered, in order. The whole (short) history is read
    oldest first: not every endpoint honours ``reverseOrder`` (moto does not)."""
    entered: list[str] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            details = event.get("stateEnteredEventDetails")
            if details:
                entered.append(str(details["name"]))
    return entered


# --- the archive of a local stack ---------------------------------------------------------


def load_archive(path: Path | None) -> dict[str, Run]:
    if path is None or not path.exists():
        return {}
    runs = {}
    for item in json.loads(path.read_text()):
        runs[item["name"]] = Run(
            name=item["name"],
            status=item["status"],
            started=datetime.fromisoformat(item["started"]),
            stopped=datetime.fromisoformat(item["stopped"]) if item.get("stopped") else None,
            arn=item["arn"],
            output=item.get("output"),
            failure=item.get("failure"),
            archived=True,
        )
    return runs


def archive_record(
    run: Run, output_text: str | None, failure: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": run.name,
        "status": run.status,
        "started": run.started.isoformat(),
        "stopped": run.stopped.isoformat() if run.stopped else None,
        "arn": run.arn,
        "output": output_text,
        "failure": failure,
    }


# --- display ------------------------------------------------------------------------------


def describe_failure(failure: dict[str, Any]) -> str:
    """``error: reason`` and the files the reason does not already name."""
    reason = failure.get("reason") or failure.get("cause") or "no reason recorded"
    text = f"{failure.get('error') or 'error'}: {reason}"
    files = [name for name in failure.get("files") or [] if name not in str(reason)]
    if files:
        text += f" (files: {', '.join(files)})"
    return text


def show_runs(runs: Runs, listed: Sequence[Run]) -> bool:
    """The runs table, then one line per failed run and per file a PARTIAL run quarantined;
    True when any run failed."""
    rows = []
    failures: list[tuple[Run, dict[str, Any]]] = []
    set_aside: list[tuple[Run, list[str]]] = []
    for run in listed:
        stage = runs.stage_of(run) if run.status == "RUNNING" else None
        status = runs.status_of(run)
        if status == "PARTIAL":
            set_aside.append((run, quarantine_lines(runs.output_of(run))))
        rows.append(
            {
                "started": f"{run.started.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                "status": status,
                "took": run.seconds,
                "stage": stage or "-",
                "run": run.name,
            }
        )
        if run.status not in {"SUCCEEDED", "RUNNING"}:
            failures.append((run, runs.failure_of(run)))
    if not rows:
        output.line("no runs yet")
        return False
    output.show(output.table(RUN_COLUMNS, rows, title="runs (times in UTC)"))
    for run, lines in set_aside:
        for text in lines:
            output.line(f"{run.name} PARTIAL: {text}", style="yellow")
    for run, failure in failures:
        output.line(f"{run.name} {run.status}: {describe_failure(failure)}", style="red")
    return bool(failures)


def accounting_rows(lines: Sequence[report.FileAccounting]) -> list[dict[str, Any]]:
    return [
        {
            "source_key": line.source_key,
            "kind": line.kind,
            **(line.counts or {}),
            "reasons": line.reasons,
        }
        for line in lines
    ]


def show_accounting(runs: Runs, listed: Sequence[Run]) -> None:
    """Where every row of every file of each run went (rows_in = accepted + rejected +
    duplicates + pending)."""
    for run in listed:
        title = (
            f"file accounting of {run.name} ({runs.status_of(run)}): "
            "rows_in = accepted + rejected + duplicates + pending"
        )
        if run.status == "SUCCEEDED":
            run_output = runs.output_of(run)
            lines = report.execution_accounting(run_output)
            if not lines:
                output.line(f"{run.name}: {without_files(run_output)}")
                continue
            output.show(
                output.table(ACCOUNTING_COLUMNS, accounting_rows(lines), title=title, totals=True)
            )
        elif run.status == "RUNNING":
            output.line(f"{run.name}: still running")
        else:
            error = runs.failure_of(run).get("error") or "an error"
            output.line(f"{run.name}: no file accounting, the run failed with {error}")


def without_files(run_output: str | None) -> str:
    """What a succeeded run without files did: a recompute names the dates it rewrote."""
    document = json.loads(run_output) if run_output else {}
    dates = report.path_in(document, "kpis", "payload", "order_dates") or []
    if report.path_in(document, "run", "kind") == "recompute":
        if not dates:
            return "a recompute; no KPI date to recompute"
        return f"a recompute of the KPIs of {len(dates):,} date(s), {dates[0]} to {dates[-1]}"
    return "no files in the run's output"
