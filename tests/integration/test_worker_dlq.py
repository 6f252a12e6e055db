"""A command that breaks the contract ends in the dead-letter queue, logged by message id.

Real SQS semantics (moto server): the worker never deletes an invalid envelope but makes it
visible again at once (not after the queue's hour-long visibility timeout), and once its
receive count passes the redrive policy's ``maxReceiveCount`` SQS moves it to the DLQ: within
seconds. Only a run that really waits for the message is told (issue 14: a malformed message
wrote a FAILURE# record for a run that did not exist).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from shopflow_contracts.messages import LoadCommand, TaskErrorName, TaskFailure
from shopflow_runtime.aws import SqsTaskQueue
from shopflow_runtime.worker import TaskWorker

MAX_RECEIVES = 2


class RecordingCallback:
    def __init__(self) -> None:
        self.succeeded: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str, str]] = []

    def succeed(self, task_token: str, output: str) -> None:
        self.succeeded.append((task_token, output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.failed.append((task_token, error, cause))

    def heartbeat(self, task_token: str) -> None:
        """An invalid envelope never runs, so nothing heartbeats."""
        raise AssertionError(f"heartbeat for {task_token}")


class RecordingFailureLog:
    def __init__(self) -> None:
        self.records: list[TaskFailure] = []

    def record(self, failure: TaskFailure) -> None:
        self.records.append(failure)


class RunWaiting:
    """The run named by the message waits for it (``waits``) or does not exist."""

    def __init__(self, waits: bool) -> None:
        self.waits = waits

    def awaits(self, run_id: str, message_id: str) -> bool | None:
        return self.waits


def must_not_run(command: LoadCommand) -> Any:
    raise AssertionError(f"an invalid envelope reached the handler: {command}")


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


@pytest.mark.parametrize("run_waits", [True, False])
def test_a_malformed_command_goes_to_the_dlq_after_the_redrive_limit_and_is_logged(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    run_waits: bool,
) -> None:
    # Given a work queue that dead-letters after two receives and hides a received message
    # for an hour (the template's validator and kpi queues)
    sqs = aws_client("sqs")
    dlq_url = sqs.create_queue(QueueName=unique_name("worker-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    work_url = sqs.create_queue(
        QueueName=unique_name("worker-work"),
        Attributes={
            "VisibilityTimeout": "3600",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    # And a load command that breaks the contract but still carries a readable task token
    body = json.dumps(
        {
            "message_type": "shopflow.load.command",
            "task_token": "token-1",
            "run_id": "run-1",
            "message_id": "5d2b8c1e-0f3a-4c6d-9e7b-1a2b3c4d5e6f",
            "payload": {"objects": "not a list"},
        }
    )
    message_id = sqs.send_message(QueueUrl=work_url, MessageBody=body)["MessageId"]
    callback = RecordingCallback()
    failures = RecordingFailureLog()
    worker = TaskWorker(
        stage="load",
        command_type=LoadCommand,
        handle=must_not_run,
        queue=SqsTaskQueue(sqs, work_url),
        callback=callback,
        failure_log=failures,
        progress=RunWaiting(run_waits),
        wait_seconds=1,
        rejected_redelivery_seconds=0,
    )
    caplog.set_level(logging.INFO, logger="shopflow.worker")

    # When a real worker polls until SQS has moved the message to the DLQ
    received = 0
    started = time.monotonic()
    deadline = started + 30
    while queue_counts(sqs, dlq_url) == (0, 0):
        assert time.monotonic() < deadline, f"not dead-lettered; received {received} time(s)"
        received += worker.poll_once()

    # Then it got there in seconds, not after two visibility timeouts (two hours)
    assert time.monotonic() - started < 30
    # And the DLQ holds exactly that message, unchanged
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [(m["MessageId"], m["Body"]) for m in dead["Messages"]] == [(message_id, body)]
    # And the work queue is empty
    assert queue_counts(sqs, work_url) == (0, 0)
    # And the worker received it up to the redrive limit and handled it never
    assert received == MAX_RECEIVES
    # And every receive was logged as an error with the SQS message id
    rejections = [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR
        and record.getMessage().startswith("invalid envelope left for the dead-letter queue")
    ]
    assert [getattr(r, "message_id", None) for r in rejections] == [message_id] * MAX_RECEIVES
    assert [getattr(r, "receive_count", None) for r in rejections] == list(
        range(1, MAX_RECEIVES + 1)
    )
    if not run_waits:
        # And for a run that does not exist nothing was written nor answered
        assert (callback.failed, failures.records, callback.succeeded) == ([], [], [])
        return
    # And the waiting execution was told once, by a typed failure, not on every redelivery
    assert [(token, error) for token, error, _ in callback.failed] == [
        ("token-1", TaskErrorName.INVALID_MESSAGE.value)
    ]
    failure = TaskFailure.model_validate_json(callback.failed[0][2])
    assert (failure.stage, failure.run_id) == ("load", "run-1")
    assert [record.run_id for record in failures.records] == ["run-1"]
    assert callback.succeeded == []
