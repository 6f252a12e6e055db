"""Does a run still wait for a command? Asked of a real execution history (moto server).

The worker drops a redelivered command its run no longer waits for (issue 14: stale commands
ran in full); these are the answers it relies on, from the history moto writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from shopflow_runtime.aws import StepFunctionsRunProgress

ROLE = "arn:aws:iam::123456789012:role/shopflow-test"


def command_state(queue_url: str, next_state: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {"message_id.$": "States.UUID()", "task_token.$": "$$.Task.Token"},
        },
        "TimeoutSeconds": 60,
        "HeartbeatSeconds": 30,
    }
    return {**state, "Next": next_state} if next_state else {**state, "End": True}


def receive_one(sqs: Any, queue_url: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            body: dict[str, str] = json.loads(message["Body"])
            return body
    raise AssertionError("the state machine sent no command")


def wait_for_status(sfn: Any, arn: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=arn)["status"] != status:
        assert time.monotonic() < deadline, f"execution never reached {status}"
        time.sleep(0.2)


def test_a_run_waits_for_its_current_command_only_and_for_none_once_ended(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    # Given a two-step run (two commands in a row), started
    sqs, sfn = aws_client("sqs"), aws_client("stepfunctions")
    queue_url = sqs.create_queue(QueueName=unique_name("progress"))["QueueUrl"]
    definition = {
        "StartAt": "First",
        "States": {
            "First": command_state(queue_url, "Second"),
            "Second": command_state(queue_url, None),
        },
    }
    machine = sfn.create_state_machine(
        name=unique_name("progress"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    run_id = unique_name("run")
    execution = sfn.start_execution(stateMachineArn=machine, name=run_id, input="{}")
    progress = StepFunctionsRunProgress(sfn, machine)

    # When the first command is out
    first = receive_one(sqs, queue_url)
    # Then the run waits for it and for no other
    assert progress.awaits(run_id, first["message_id"]) is True
    assert progress.awaits(run_id, "00000000-0000-4000-8000-000000000000") is False

    # When it is answered and the second command goes out
    sfn.send_task_success(taskToken=first["task_token"], output="{}")
    second = receive_one(sqs, queue_url)
    # Then the first is stale (a redelivery of it must change nothing), the second current
    assert progress.awaits(run_id, first["message_id"]) is False
    assert progress.awaits(run_id, second["message_id"]) is True

    # When the run ends
    sfn.send_task_success(taskToken=second["task_token"], output="{}")
    wait_for_status(sfn, execution["executionArn"], "SUCCEEDED")
    # Then it waits for nothing, and a run that never existed waits for nothing either
    assert progress.awaits(run_id, second["message_id"]) is False
    assert progress.awaits(unique_name("no-such-run"), second["message_id"]) is False
