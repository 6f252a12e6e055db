"""A command that breaks the contract ends in the dead-letter queue, logged by message id.

Real SQS semantics (moto server): the worker never deletes an invalid envelope, so each
receive makes it visible again after the visibility timeout, and once its receive count
passes the redrive policy's ``maxReceiveCount`` SQS moves it to the DLQ.
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


def test_a_malformed_command_goes_to_the_dlq_after_the_redrive_limit_and_is_logged(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a work queue that dead-letters after two receives and hides a message for 1 s
    sqs = aws_client("sqs")
    dlq_url = sqs.create_queue(QueueName=unique_name("worker-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    work_url = sqs.create_queue(
        QueueName=unique_name("worker-work"),
        Attributes={
            "VisibilityTimeout": "1",
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
            "payload": {"objects": "not a list"},
        }
    )
    message_id = sqs.send_message(QueueUrl=work_url, MessageBody=body)["MessageId"]
    callback = RecordingCallback()
    worker = TaskWorker(
        stage="load",
        command_type=LoadCommand,
        handle=must_not_run,
        queue=SqsTaskQueue(sqs, work_url),
        callback=callback,
        wait_seconds=1,
    )
    caplog.set_level(logging.INFO, logger="shopflow.worker")

    # When a real worker polls until SQS has moved the message to the DLQ
    received = 0
    deadline = time.monotonic() + 30
    while queue_counts(sqs, dlq_url) == (0, 0):
        assert time.monotonic() < deadline, f"not dead-lettered; received {received} time(s)"
        received += worker.poll_once()

    # Then the DLQ holds exactly that message, unchanged
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
    # And the waiting execution was told once, by a typed failure, not on every redelivery
    assert [(token, error) for token, error, _ in callback.failed] == [
        ("token-1", TaskErrorName.INVALID_MESSAGE.value)
    ]
    failure = TaskFailure.model_validate_json(callback.failed[0][2])
    assert (failure.stage, failure.run_id) == ("load", "run-1")
    assert callback.succeeded == []
