"""A worker killed mid-task (SIGKILL) is replaced and the run still ends right, in seconds.

The kpi worker is caught mid-task deterministically: the test holds the KPI state lease, so
the worker that received the ComputeKpis command waits for it, heartbeating. The test then
kills that process (no SIGTERM: nothing is answered or cleaned up), releases the lease, and
lets the stack restart the worker as ECS would replace a task. The replacement gets the same
command once its visibility window (5 s here; 90 s in production) has passed after the last
keep-alive, keeps the same task token alive with its own heartbeats and answers it; the run
succeeds far below ComputeKpis' TimeoutSeconds (3600 s) and even its HeartbeatSeconds (180 s),
and the KPIs equal those of a clean run.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import BATCH_WINDOW, HAPPY_PATH, SAMPLE, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_cli.localstack import LocalStack
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

pytestmark = pytest.mark.e2e

VISIBILITY_SECONDS = 5
LEASE_KEY = {"pk": {"S": "LEASE#kpi-state"}, "sk": {"S": "entry"}}


@pytest.fixture
def fast_keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers read these from the environment the local stack passes on.
    monkeypatch.setenv("SHOPFLOW_HEARTBEAT_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("SHOPFLOW_TASK_VISIBILITY_SECONDS", str(VISIBILITY_SECONDS))


@pytest.fixture
def pipeline(tmp_path: Path, fast_keep_alive: None) -> Iterator[Pipeline]:
    with LocalStack(
        state_file=tmp_path / "stack" / "stack.json", batch_window_seconds=BATCH_WINDOW
    ) as stack:
        yield Pipeline(stack)


def _wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _held_commands(pipeline: Pipeline) -> int:
    """ComputeKpis commands a worker has received and not yet deleted (in flight)."""
    attributes = pipeline.sqs.get_queue_attributes(
        QueueUrl=pipeline.outputs.kpi_queue_url,
        AttributeNames=["ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_kpi_worker_killed_mid_task_is_replaced_and_the_run_completes(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    assert pipeline.stack.state is not None
    ledger = pipeline.outputs.ledger_table
    # Given the KPI state lease held by someone else, so a kpi task stays mid-work
    pipeline.dynamodb.put_item(
        TableName=ledger,
        Item={
            **LEASE_KEY,
            "owner": {"S": "e2e-holder"},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )
    files = operations.csv_files_under(SAMPLE)
    pipeline.upload(*files)
    # ... and the kpi worker holding the ComputeKpis command, heartbeating while it waits
    _wait_for(lambda: _held_commands(pipeline) == 1, "the kpi worker to receive its command")
    victim = pipeline.stack.state.pids["kpi"]
    time.sleep(2)  # a couple of keep-alives
    # When the worker is killed outright, and the lease becomes free
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    pipeline.dynamodb.delete_item(TableName=ledger, Key=LEASE_KEY)
    # Then the stack replaces the worker (check_alive, as ECS would), the replacement takes
    # the same command over and the run succeeds through every designed state
    (execution,) = pipeline.settle()
    recovered = time.monotonic() - killed_at
    assert execution.status == "SUCCEEDED"
    assert pipeline.entered_states(execution) == HAPPY_PATH
    assert pipeline.stack.state.pids["kpi"] != victim
    history = pipeline.sfn.get_execution_history(executionArn=execution.arn)["events"]
    kinds = [event["type"] for event in history]
    # ... answered under the original token: no heartbeat timeout, no retry of ComputeKpis
    assert "TaskTimedOut" not in kinds
    scheduled = [
        event
        for event in history
        if event["type"] == "TaskScheduled"
        and "kpi" in json.dumps(event["taskScheduledEventDetails"].get("parameters", ""))
    ]
    assert len(scheduled) == 1, scheduled
    # ... bounded by the redelivery window plus a run, far below the state's timeouts
    print(f"killed kpi worker replaced, run finished {recovered:.1f}s after the kill")
    assert recovered < 60, recovered
    # ... and the KPIs are those of a clean run, to the cent
    categories, days = pipeline.exported(tmp_path / "export")
    expected_categories, expected_days = reference_kpis(files)
    assert days == as_csv(expected_days, DAY_KPI_COLUMNS)
    assert categories == as_csv(expected_categories, CATEGORY_KPI_COLUMNS)
