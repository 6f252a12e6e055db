"""The callback-task protocol every worker speaks, with fake queue and Step Functions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shopflow_contracts.messages import (
    KpiCommand,
    KpiOutcome,
    KpiResult,
    TaskErrorName,
    TaskFailure,
)
from shopflow_runtime.worker import (
    QueueMessage,
    TaskError,
    TaskTokenClosedError,
    TaskWorker,
)

GOLDEN_COMMAND = (
    Path(__file__).resolve().parents[3] / "contracts" / "examples" / "kpi_command.json"
).read_text()


@dataclass
class FakeQueue:
    messages: list[QueueMessage] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        taken, self.messages = self.messages[:max_messages], self.messages[max_messages:]
        return taken

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)


@dataclass
class FakeCallback:
    successes: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    closed: bool = False

    def succeed(self, task_token: str, output: str) -> None:
        if self.closed:
            raise TaskTokenClosedError("TaskTimedOut")
        self.successes.append((task_token, output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.failures.append((task_token, error, cause))


@dataclass
class FakeFailureLog:
    records: list[TaskFailure] = field(default_factory=list)

    def record(self, failure: TaskFailure) -> None:
        self.records.append(failure)


def result_for(command: KpiCommand) -> KpiResult:
    return KpiResult(
        message_id=uuid.uuid4(),
        run_id=command.run_id,
        occurred_at=datetime.now(UTC),
        payload=KpiOutcome(
            batch_id=command.payload.batch_id,
            order_dates=[],
            day_rows_written=0,
            category_rows_written=0,
        ),
    )


def worker_with(handle, body: str = GOLDEN_COMMAND, receive_count: int = 1):  # type: ignore[no-untyped-def]
    queue = FakeQueue([QueueMessage("m1", "rh1", body, receive_count)])
    callback = FakeCallback()
    log = FakeFailureLog()
    worker = TaskWorker(
        stage="kpi",
        command_type=KpiCommand,
        handle=handle,
        queue=queue,
        callback=callback,
        failure_log=log,
        wait_seconds=0,
    )
    return worker, queue, callback, log


def test_a_valid_command_is_answered_with_its_result_then_deleted() -> None:
    worker, queue, callback, _ = worker_with(result_for)
    assert worker.poll_once() == 1
    ((token, output),) = callback.successes
    assert token == json.loads(GOLDEN_COMMAND)["task_token"]
    assert KpiResult.model_validate_json(output).run_id == json.loads(GOLDEN_COMMAND)["run_id"]
    assert queue.deleted == ["rh1"]


def test_a_typed_failure_is_recorded_reported_by_name_and_deleted() -> None:
    def refuse(command: KpiCommand) -> KpiResult:
        raise TaskError(TaskErrorName.VALIDATION_FAILED, "too many bad rows", files=["a.csv"])

    worker, queue, callback, log = worker_with(refuse)
    worker.poll_once()
    ((_, error, cause),) = callback.failures
    assert error == "shopflow.ValidationFailed"
    assert TaskFailure.model_validate_json(cause) == log.records[0]
    assert log.records[0].files == ["a.csv"] and log.records[0].stage == "kpi"
    assert queue.deleted == ["rh1"]


def test_an_unexpected_crash_is_reported_as_transient_so_the_state_machine_retries() -> None:
    def crash(command: KpiCommand) -> KpiResult:
        raise ConnectionError("dynamodb unreachable")

    worker, _, callback, _ = worker_with(crash)
    worker.poll_once()
    ((_, error, cause),) = callback.failures
    assert error == TaskErrorName.TRANSIENT.value
    assert "ConnectionError: dynamodb unreachable" in cause


@pytest.mark.parametrize("receive_count", [1, 2])
def test_an_invalid_envelope_stays_for_the_dead_letter_queue(receive_count: int) -> None:
    # Given a command with a readable task token but a broken payload
    broken = json.loads(GOLDEN_COMMAND)
    broken["payload"]["curated"] = "not a list"
    worker, queue, callback, _ = worker_with(result_for, json.dumps(broken), receive_count)
    worker.poll_once()
    # Then it is never deleted (the redrive policy moves it to the DLQ), and the run is told
    # once, on the first delivery, instead of hanging until its timeout
    assert queue.deleted == []
    expected_failures = 1 if receive_count == 1 else 0
    assert [f[1] for f in callback.failures] == ["shopflow.InvalidMessage"] * expected_failures


def test_garbage_without_a_token_is_left_alone() -> None:
    worker, queue, callback, _ = worker_with(result_for, "not json at all")
    worker.poll_once()
    assert queue.deleted == [] and callback.failures == [] and callback.successes == []


def test_an_answer_to_a_closed_token_still_deletes_the_message() -> None:
    worker, queue, callback, _ = worker_with(result_for)
    callback.closed = True
    worker.poll_once()
    assert queue.deleted == ["rh1"]
