"""The boto3 adapters of the worker loop's ports; clients come from the service's bootstrap."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_contracts.messages import TaskFailure

from shopflow_runtime.worker import QueueMessage, TaskTokenClosedError


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
