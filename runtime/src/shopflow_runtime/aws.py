"""The boto3 adapters of the worker loop's ports; clients come from the service's bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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


_CLOSED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsTaskCallback:
    def __init__(self, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def succeed(self, task_token: str, output: str) -> None:
        self._call(self._sfn.send_task_success, taskToken=task_token, output=output)

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._call(self._sfn.send_task_failure, taskToken=task_token, error=error, cause=cause)

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
