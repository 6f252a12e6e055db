"""Feedback while runs run: a line when a run starts, enters a stage and ends.

``RunWatcher.poll()`` compares the executions with what it saw last time and reports the
difference through ``say`` (one line each): ``up`` polls it every second. A run that ended
is reported with the accounting of its files, or with its typed failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from shopflow_cli import operations, report
from shopflow_cli.runs import (
    Run,
    Runs,
    describe_failure,
    entered_states,
    quarantine_lines,
    shown_status,
)
from shopflow_cli.target import Target


def file_line(line: report.FileAccounting) -> str:
    """``landing/x.csv (orders): 3,000 in = 2,995 accepted + 5 rejected + ...``."""
    if line.counts is None:
        return f"{line.source_key}: skipped, {line.reasons}"
    counts = line.counts
    text = (
        f"{line.source_key} ({line.kind}): {counts.get('rows_in', 0):,} in = "
        f"{counts.get('accepted', 0):,} accepted + {counts.get('rejected', 0):,} rejected + "
        f"{counts.get('duplicates', 0):,} duplicates + {counts.get('pending', 0):,} pending"
    )
    if line.reasons and line.reasons != "-":
        text += f" ({line.reasons})"
    return text


@dataclass
class RunWatcher:
    target: Target
    say: Callable[[str], None]
    # How many of each watched run's entered states have been reported: a run can pass
    # through several states (or end) between two polls, and each one is still news.
    _reported: dict[str, int] = field(default_factory=dict)
    _ended: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.sfn = self.target.client("stepfunctions")
        self.runs = Runs(self.target)
        # What ran before we watched is history, not news.
        for run in self.runs.all():
            if run.status == "RUNNING":
                self._reported[run.name] = len(entered_states(self.sfn, run.arn))
            else:
                self._ended.add(run.name)

    def poll(self) -> list[Run]:
        """Report what changed since the last poll; returns the runs that ended."""
        ended: list[Run] = []
        for execution in operations.list_executions(
            self.sfn, self.target.outputs.state_machine_arn
        ):
            name = execution.name
            if name in self._ended:
                continue
            run = Run(name, execution.status, execution.started, execution.stopped, execution.arn)
            if name not in self._reported:
                self._reported[name] = 0
                self.say(f"run {name} started: {self._files_of(run)}")
            self._report_stages(run)
            if run.status == "RUNNING":
                continue
            self._ended.add(name)
            ended.append(run)
            self._report_end(run)
        return ended

    def _report_stages(self, run: Run) -> None:
        entered = entered_states(self.sfn, run.arn)
        for stage in entered[self._reported[run.name] :]:
            self.say(f"run {run.name}: {stage}")
        self._reported[run.name] = len(entered)

    def _files_of(self, run: Run) -> str:
        described = self.sfn.describe_execution(executionArn=run.arn)
        try:
            objects = json.loads(described.get("input") or "{}").get("objects") or []
        except ValueError:
            objects = []
        keys = [str(item.get("key")) for item in objects if isinstance(item, dict)]
        return f"{len(keys)} file(s): {', '.join(keys)}" if keys else "(no files listed)"

    def _report_end(self, run: Run) -> None:
        took = f"{run.seconds:.1f}s"
        if run.status == "SUCCEEDED":
            output_text = self.runs.output_of(run)
            self.say(f"run {run.name} {shown_status(run, output_text)} in {took}")
            for line in report.execution_accounting(output_text):
                self.say(f"  {file_line(line)}")
            for text in quarantine_lines(output_text):
                self.say(f"  {text}")
        else:
            failure = describe_failure(self.runs.failure_of(run))
            self.say(f"run {run.name} {run.status} after {took}: {failure}")
