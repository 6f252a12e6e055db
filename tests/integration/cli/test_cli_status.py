"""``shopflow status`` while a run runs: its current stage and how long it has been running,
every queue's depth, and uploads the trigger skipped as identical (moto over HTTP)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_resources import create_ledger_table
from shopflow_cli import main as cli
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import StackState
from shopflow_cli.target import Target
from shopflow_cli.watch import RunWatcher

# A run that sits in its second state long enough for status to see it there.
DEFINITION = {
    "StartAt": "LoadData",
    "States": {
        "LoadData": {"Type": "Pass", "Next": "ValidateData"},
        "ValidateData": {"Type": "Wait", "Seconds": 30, "End": True},
    },
}


@pytest.fixture
def state_file(
    tmp_path: Path, moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Any
) -> Path:
    sqs, sfn, dynamodb = aws_client("sqs"), aws_client("stepfunctions"), aws_client("dynamodb")
    outputs = {name: f"unused-{name}" for name in StackOutputs.model_fields}
    for queue in ("arrivals", "loader", "validator", "kpi"):
        for suffix in ("queue", "dlq"):
            name = unique_name(f"{queue}-{suffix}")
            outputs[f"{queue}_{suffix}_url"] = sqs.create_queue(QueueName=name)["QueueUrl"]
    outputs["ledger_table"] = create_ledger_table(dynamodb, unique_name("ledger"))
    outputs["state_machine_arn"] = sfn.create_state_machine(
        name=unique_name("pipeline"),
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/unused",
    )["stateMachineArn"]
    path = tmp_path / "stack.json"
    StackState(moto_endpoint, "test", outputs, {}).save(path)
    return path


def test_status_shows_a_running_runs_stage_and_elapsed_time_and_skipped_uploads(
    state_file: Path, aws_client: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = StackState.load(state_file).outputs
    # Given a run that has entered ValidateData, a dead letter, and an identical re-upload
    sfn = aws_client("stepfunctions")
    run = sfn.start_execution(stateMachineArn=outputs["state_machine_arn"], name="b-running")
    deadline = time.monotonic() + 30
    while not any(
        e.get("stateEnteredEventDetails", {}).get("name") == "ValidateData"
        for e in sfn.get_execution_history(executionArn=run["executionArn"])["events"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.2)
    aws_client("sqs").send_message(QueueUrl=outputs["kpi_dlq_url"], MessageBody="{}")
    aws_client("dynamodb").put_item(
        TableName=outputs["ledger_table"],
        Item={"pk": {"S": "ARRIVAL#abc"}, "sk": {"S": "entry"}, "batch_id": {"S": "b-first"},
              "key": {"S": "landing/orders.csv"}, "outcome": {"S": "duplicate_content"},
              "recorded_at": {"S": "2025-03-01T10:00:00+00:00"}},
    )  # fmt: skip
    # When status runs
    assert cli.main(["status", "--state-file", str(state_file)]) == 0
    out = capsys.readouterr().out
    # Then the run shows as running, in ValidateData, with its elapsed seconds
    (line,) = [text for text in out.splitlines() if text.endswith("b-running")]
    elapsed = re.search(r"RUNNING\s+([\d.]+)\s+ValidateData\s+b-running$", line)
    assert elapsed and float(elapsed.group(1)) >= 1.0, line
    assert "b-running: still running" in out
    # And the kpi dead-letter queue's depth, with the command that moves it back
    assert re.search(r"^kpi\s+0\s+0\s+1$", out, re.MULTILINE), out
    assert "shopflow redrive kpi" in out
    # And the upload skipped as identical to the one in b-first
    assert re.search(r"2025-03-01 10:00:00\s+landing/orders\.csv\s+b-first", out)
    sfn.stop_execution(executionArn=run["executionArn"])


def test_the_watcher_reports_every_stage_of_a_run_that_ended_between_two_polls(
    state_file: Path, aws_client: Callable[[str], Any]
) -> None:
    outputs = StackState.load(state_file).outputs
    sfn = aws_client("stepfunctions")
    quick = sfn.create_state_machine(
        name=f"quick-{time.monotonic_ns()}",
        definition=json.dumps(
            {
                "StartAt": "LoadData",
                "States": {
                    "LoadData": {"Type": "Pass", "Next": "ValidateData"},
                    "ValidateData": {"Type": "Pass", "End": True},
                },
            }
        ),
        roleArn="arn:aws:iam::123456789012:role/unused",
    )["stateMachineArn"]
    outputs["state_machine_arn"] = quick
    target = Target(StackState.load(state_file).endpoint_url, StackOutputs.model_validate(outputs))
    # Given a watcher started before the run
    said: list[str] = []
    watcher = RunWatcher(target, said.append)
    # When a run starts and ends before the next poll
    run = sfn.start_execution(stateMachineArn=quick, name="b-quick")
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=run["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    watcher.poll()
    # Then each state it entered is reported once, in order, before its end
    assert [line for line in said if line.startswith("run b-quick: ")] == [
        "run b-quick: LoadData",
        "run b-quick: ValidateData",
    ]
    assert said[-1].startswith("run b-quick SUCCEEDED")
    watcher.poll()
    assert sum("b-quick" in line for line in said) == 4
