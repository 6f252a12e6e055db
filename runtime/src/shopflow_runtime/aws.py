"""The boto3 adapters of the worker loop's ports; clients come from the service's bootstrap."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_contracts.messages import TaskFailure

from shopflow_runtime.worker import QueueMessage, RunProgress, TaskTokenClosedError

log = logging.getLogger("shopflow.worker")


class SqsTaskQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            QueueMessage(
                message_id=raw["MessageId"],
                receipt_handle=raw["ReceiptHandle"],
                body=raw["Body"],
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for raw in response.get("Messages", [])
        ]

    def delete(self, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


_CLOSED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsTaskCallback:
    def __init__(self, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def succeed(self, task_token: str, output: str) -> None:
        self._call(self._sfn.send_task_success, taskToken=task_token, output=output)

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._call(self._sfn.send_task_failure, taskToken=task_token, error=error, cause=cause)

    def heartbeat(self, task_token: str) -> None:
        self._call(self._sfn.send_task_heartbeat, taskToken=task_token)

    @staticmethod
    def _call(method: Callable[..., Any], **kwargs: Any) -> None:
        try:
            method(**kwargs)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in _CLOSED_TOKEN_ERRORS:
                raise TaskTokenClosedError(code) from error
            raise


# A command is a message the state machine sent with sqs:sendMessage.waitForTaskToken.
_COMMAND_RESOURCE = "sendMessage.waitForTaskToken"
_TASK_ENDED = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut"})
_EXECUTION_ENDED = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
_GONE_EXECUTION_ERRORS = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


class StepFunctionsRunProgress:
    """Reads a run's execution history: does it still wait for a given command?

    Asked of the history rather than of the task token (SendTaskHeartbeat) because the
    history answers the same on AWS and on the emulator, which accepts heartbeats of
    answered tokens and reuses one token across Retry attempts.
    """

    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self._execution_prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)

    def awaits(self, run_id: str, message_id: str) -> bool | None:
        try:
            events = [
                event
                for page in self._sfn.get_paginator("get_execution_history").paginate(
                    executionArn=f"{self._execution_prefix}:{run_id}", maxResults=1000
                )
                for event in page["events"]
            ]
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in _GONE_EXECUTION_ERRORS:
                return False
            log.warning("cannot tell whether run %s still waits: %s", run_id, error)
            return None
        return command_is_awaited(events, message_id)


def run_progress(sfn_client: Any, state_machine_arn: str | None) -> RunProgress | None:
    """How a worker asks whether a command is stale; None (never stale) without the ARN."""
    if not state_machine_arn:
        return None
    return StepFunctionsRunProgress(sfn_client, state_machine_arn)


def command_is_awaited(events: Iterable[dict[str, Any]], message_id: str) -> bool | None:
    """Whether an execution (its history events) still waits for the command ``message_id``.

    It does while its last command sent is that one and no answer to it, nor the end of the
    execution, has been recorded since. None when the last command sent cannot be read.
    """
    history = sorted(events, key=lambda event: int(event.get("id", 0)))
    if any(event.get("type") in _EXECUTION_ENDED for event in history):
        return False
    sent = [
        position
        for position, event in enumerate(history)
        if event.get("type") == "TaskScheduled"
        and event.get("taskScheduledEventDetails", {}).get("resource") == _COMMAND_RESOURCE
    ]
    if not sent:
        return False
    last = sent[-1]
    # Anything a task did after the last command was sent means the run went on without
    # it: its answer (or time-out), or a later task being scheduled.
    if any(
        event.get("type") in _TASK_ENDED or event.get("type") == "TaskScheduled"
        for event in history[last + 1 :]
    ):
        return False
    awaited = _command_message_id(history[last]["taskScheduledEventDetails"].get("parameters"))
    if awaited is None:
        return None
    return awaited == message_id


def _command_message_id(parameters: object) -> str | None:
    try:
        parsed = json.loads(parameters) if isinstance(parameters, str) else parameters
        body = parsed.get("MessageBody") if isinstance(parsed, dict) else None
        if isinstance(body, str):
            body = json.loads(body)
    except ValueError:
        return None
    message_id = body.get("message_id") if isinstance(body, dict) else None
    return message_id if isinstance(message_id, str) else None


def failure_record_key(run_id: str) -> dict[str, dict[str, str]]:
    """Ledger-table key of a run's failure record (the ASL's DescribeFailure reads it)."""
    return {"pk": {"S": f"FAILURE#{run_id}"}, "sk": {"S": "entry"}}


class DynamoFailureLog:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def record(self, failure: TaskFailure) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **failure_record_key(failure.run_id),
                "batch_id": {"S": failure.run_id},
                "error": {"S": failure.error.value},
                "stage": {"S": failure.stage},
                "cause": {"S": failure.model_dump_json()},
                "recorded_at": {"S": datetime.now(UTC).isoformat()},
            },
        )


class EcsTaskProtection:
    """Scale-in protection of this ECS task, through the ECS agent's task-protection endpoint.

    ``ECS_AGENT_URI`` is set by ECS in every task; the agent calls ``UpdateTaskProtection``
    with the task role. The protection expires by itself after ``expires_minutes``, so a hung
    worker cannot keep its task forever.
    """

    def __init__(self, agent_uri: str, expires_minutes: int, timeout_seconds: float = 5) -> None:
        self._url = f"{agent_uri.rstrip('/')}/task-protection/v1/state"
        self._expires_minutes = expires_minutes
        self._timeout = timeout_seconds

    def hold(self) -> None:
        self._put({"ProtectionEnabled": True, "ExpiresInMinutes": self._expires_minutes})

    def release(self) -> None:
        self._put({"ProtectionEnabled": False})

    def _put(self, state: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - the agent's URL comes from ECS itself
            self._url,
            data=json.dumps(state).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
        if answer.get("failure") or answer.get("error"):
            raise RuntimeError(f"task protection refused: {answer}")


class FileLiveness:
    """Touches a file; ``shopflow-healthcheck`` (the container's health check) reads its age."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def beat(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.touch()
