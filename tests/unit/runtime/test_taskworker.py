"""The callback-task protocol every worker speaks, with fake queue and Step Functions."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel
from shopflow_contracts.messages import (
    KpiCommand,
    KpiOutcome,
    KpiResult,
    TaskErrorName,
    TaskFailure,
)
from shopflow_runtime.worker import (
    KeepAlivePolicy,
    QueueMessage,
    TaskError,
    TaskTokenClosedError,
    TaskWorker,
)

# Every fake writes what happened, in order, to one journal the tests read.
Journal = list[str]

GOLDEN_COMMAND = (
    Path(__file__).resolve().parents[3] / "contracts" / "examples" / "kpi_command.json"
).read_text()


@dataclass
class FakeQueue:
    messages: list[QueueMessage] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)
    journal: Journal = field(default_factory=list)

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        taken, self.messages = self.messages[:max_messages], self.messages[max_messages:]
        return taken

    def delete(self, receipt_handle: str) -> None:
        self.journal.append("delete")
        self.deleted.append(receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.journal.append("visibility")
        self.visibility.append((receipt_handle, seconds))


@dataclass
class FakeCallback:
    successes: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    closed: bool = False
    journal: Journal = field(default_factory=list)

    def succeed(self, task_token: str, output: str) -> None:
        self.journal.append("succeed")
        if self.closed:
            raise TaskTokenClosedError("TaskTimedOut")
        self.successes.append((task_token, output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.journal.append("fail")
        self.failures.append((task_token, error, cause))

    def heartbeat(self, task_token: str) -> None:
        self.journal.append("heartbeat")
        self.heartbeats.append(task_token)
        if self.closed:
            raise TaskTokenClosedError("TaskTimedOut")


@dataclass
class FakeProtection:
    journal: Journal
    broken: bool = False

    def hold(self) -> None:
        self.journal.append("hold")
        if self.broken:
            raise OSError("agent unreachable")

    def release(self) -> None:
        self.journal.append("release")


@dataclass
class FakeLiveness:
    beats: int = 0

    def beat(self) -> None:
        self.beats += 1


@dataclass
class FakeFailureLog:
    records: list[TaskFailure] = field(default_factory=list)

    def record(self, failure: TaskFailure) -> None:
        self.records.append(failure)


@dataclass
class FakeProgress:
    """Answers as the run would: True (waits for it), False (stale), None (cannot tell)."""

    answer: bool | None
    asked: list[tuple[str, str]] = field(default_factory=list)

    def awaits(self, run_id: str, message_id: str) -> bool | None:
        self.asked.append((run_id, message_id))
        return self.answer


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


def worker_with(  # type: ignore[no-untyped-def]
    handle, body: str = GOLDEN_COMMAND, receive_count: int = 1, progress: bool | None = True
):
    journal: Journal = []
    queue = FakeQueue([QueueMessage("m1", "rh1", body, receive_count)], journal=journal)
    callback = FakeCallback(journal=journal)
    log = FakeFailureLog()
    worker = TaskWorker(
        stage="kpi",
        command_type=KpiCommand,
        handle=handle,
        queue=queue,
        callback=callback,
        failure_log=log,
        progress=FakeProgress(progress),
        wait_seconds=0,
        # Short enough for a test; the production default is 30 s / 90 s.
        keep_alive=KeepAlivePolicy(interval_seconds=0.05, visibility_seconds=5),
    )
    return worker, queue, callback, log


def handler_waiting_for(
    condition: Callable[[], bool], seconds: float = 10
) -> Callable[[KpiCommand], KpiResult]:
    """A handler that works until ``condition`` holds (bounded), like a long task."""

    def handle(command: KpiCommand) -> KpiResult:
        pause = threading.Event()
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            pause.wait(0.01)
        return result_for(command)

    return handle


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
def test_an_invalid_envelope_of_a_waiting_run_fails_it_once_and_goes_to_the_dlq_soon(
    receive_count: int,
) -> None:
    # Given a command with a readable task token but a broken payload, of a run waiting for it
    broken = json.loads(GOLDEN_COMMAND)
    broken["payload"]["curated"] = "not a list"
    worker, queue, callback, log = worker_with(result_for, json.dumps(broken), receive_count)
    worker.poll_once()
    # Then it is never deleted but made visible again within seconds (the redrive policy
    # moves it to the DLQ after a few receives, not after as many visibility timeouts)
    assert queue.deleted == []
    assert queue.visibility == [("rh1", 5)]
    # And the run is told once, on the first delivery, instead of hanging until its timeout
    expected_failures = 1 if receive_count == 1 else 0
    assert [f[1] for f in callback.failures] == ["shopflow.InvalidMessage"] * expected_failures
    assert [r.run_id for r in log.records] == [broken["run_id"]] * expected_failures


@pytest.mark.parametrize("progress", [False, None])
def test_an_invalid_envelope_of_no_waiting_run_writes_nothing(progress: bool | None) -> None:
    # Given a broken command naming a run that does not wait for it (or cannot be asked)
    broken = json.loads(GOLDEN_COMMAND)
    broken["payload"] = {"objects": "not a list"}
    worker, queue, callback, log = worker_with(result_for, json.dumps(broken), progress=progress)
    worker.poll_once()
    # Then no failure record is written and no run told; the message heads for the DLQ
    assert (log.records, callback.failures, callback.successes) == ([], [], [])
    assert (queue.deleted, queue.visibility) == ([], [("rh1", 5)])


def test_garbage_without_a_token_is_left_for_the_dlq_and_writes_nothing() -> None:
    worker, queue, callback, log = worker_with(result_for, "not json at all")
    worker.poll_once()
    assert queue.deleted == [] and callback.failures == [] and callback.successes == []
    assert log.records == [] and queue.visibility == [("rh1", 5)]


def test_a_stale_command_is_dropped_without_doing_the_work() -> None:
    # Given a redelivered command its run no longer waits for (answered before, or moved on)
    def must_not_run(command: KpiCommand) -> KpiResult:
        raise AssertionError("a stale command was worked on")

    worker, queue, callback, log = worker_with(must_not_run, progress=False)
    # When the worker receives it
    worker.poll_once()
    # Then the run is asked about exactly this command, nothing is answered or recorded, and
    # the message is deleted
    golden = json.loads(GOLDEN_COMMAND)
    assert worker.progress is not None
    assert worker.progress.asked == [(golden["run_id"], golden["message_id"])]
    assert (callback.successes, callback.failures, log.records) == ([], [], [])
    assert queue.deleted == ["rh1"]


def test_a_command_whose_run_cannot_be_asked_is_worked_on() -> None:
    # Given the execution history cannot be read (throttled, say): unsure counts as current
    worker, queue, callback, _ = worker_with(result_for, progress=None)
    worker.poll_once()
    assert len(callback.successes) == 1 and queue.deleted == ["rh1"]


def test_an_answer_to_a_closed_token_still_deletes_the_message() -> None:
    worker, queue, callback, _ = worker_with(result_for)
    callback.closed = True
    worker.poll_once()
    assert queue.deleted == ["rh1"]


def test_while_a_task_runs_it_heartbeats_and_keeps_its_message_hidden() -> None:
    # Given a task that runs until it has seen three keep-alives
    worker, queue, callback, _ = worker_with(result_for)
    worker.handle = handler_waiting_for(lambda: len(callback.heartbeats) >= 3)
    # When the worker handles it
    worker.poll_once()
    # Then each keep-alive sent a heartbeat with the task's token and hid the message for the
    # policy's window again, all before the answer; none after it
    token = json.loads(GOLDEN_COMMAND)["task_token"]
    assert len(callback.heartbeats) >= 3 and set(callback.heartbeats) == {token}
    assert set(queue.visibility) == {("rh1", 5)} and len(queue.visibility) >= 3
    answered = queue.journal.index("succeed")
    assert "heartbeat" not in queue.journal[answered:]
    assert "visibility" not in queue.journal[answered:]
    assert queue.journal[-1] == "delete"


def test_the_first_keep_alive_comes_at_once_not_after_an_interval() -> None:
    # Given a keep-alive interval far longer than the task
    worker, queue, _, _ = worker_with(result_for)
    worker.keep_alive = KeepAlivePolicy(interval_seconds=60, visibility_seconds=300)
    # When a quick task runs
    worker.poll_once()
    # Then its message was still hidden for the policy's window as soon as work began
    assert queue.journal[:2] == ["heartbeat", "visibility"]
    assert queue.visibility == [("rh1", 300)]


def test_a_closed_token_stops_the_heartbeats_but_the_task_still_finishes() -> None:
    # Given a task whose execution stopped waiting for it
    worker, queue, callback, _ = worker_with(result_for)
    worker.handle = handler_waiting_for(lambda: len(queue.visibility) >= 3)
    callback.closed = True
    # When the worker handles it
    worker.poll_once()
    # Then it heartbeat once (told the token is closed), kept hiding the message while it
    # worked, and deleted it at the end
    assert len(callback.heartbeats) == 1
    assert len(queue.visibility) >= 3
    assert queue.deleted == ["rh1"]


def test_a_task_holds_scale_in_protection_from_receipt_until_its_message_is_deleted() -> None:
    # Given a worker in an ECS task
    worker, queue, _, _ = worker_with(result_for)
    worker.protection = FakeProtection(queue.journal)
    # When it handles a message, then the protection spans the whole task
    worker.poll_once()
    assert queue.journal[0] == "hold" and queue.journal[-1] == "release"
    assert queue.journal.index("delete") < queue.journal.index("release")
    # ... and an empty poll asks for no protection at all
    queue.journal.clear()
    worker.poll_once()
    assert queue.journal == []


def test_an_unreachable_ecs_agent_does_not_stop_the_work() -> None:
    worker, queue, callback, _ = worker_with(result_for)
    worker.protection = FakeProtection(queue.journal, broken=True)
    worker.poll_once()
    assert len(callback.successes) == 1 and queue.deleted == ["rh1"]
    assert queue.journal[-1] == "release"


def test_the_worker_beats_its_liveness_on_every_pass_and_while_a_task_runs() -> None:
    # Given a worker with a liveness signal and a task that waits for three keep-alives
    liveness = FakeLiveness()
    worker, _, callback, _ = worker_with(result_for)
    waiting = handler_waiting_for(lambda: len(callback.heartbeats) >= 3)
    worker.liveness = liveness
    stop = threading.Event()

    def handle_then_stop(command: KpiCommand) -> BaseModel:
        result = waiting(command)
        stop.set()
        return result

    worker.handle = handle_then_stop
    # When the loop makes one pass
    worker.run(stop)
    # Then the pass and every keep-alive beat
    assert liveness.beats >= 1 + 3


@pytest.mark.parametrize(("interval", "visibility"), [(30, 60), (0, 90), (45, 90)])
def test_a_visibility_window_must_outlast_two_keep_alive_intervals(
    interval: float, visibility: int
) -> None:
    with pytest.raises(ValueError, match="visibility window"):
        KeepAlivePolicy(interval_seconds=interval, visibility_seconds=visibility)


def _task_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "shopflow.worker" and r.levelno >= logging.INFO]


def test_each_task_is_one_log_line_with_its_outcome(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(command: KpiCommand) -> KpiResult:
        raise TaskError(TaskErrorName.VALIDATION_FAILED, "too many bad rows")

    def crash(command: KpiCommand) -> KpiResult:
        raise ConnectionError("dynamodb unreachable")

    caplog.set_level(logging.INFO)
    outcomes = []
    for handle in (result_for, refuse, crash):
        caplog.clear()
        worker, _, _, _ = worker_with(handle)
        worker.poll_once()
        (line,) = _task_lines(caplog)
        outcomes.append((line.outcome, line.levelname, line.getMessage().split(" in ")[0]))  # type: ignore[attr-defined]
        assert line.run_id == json.loads(GOLDEN_COMMAND)["run_id"]  # type: ignore[attr-defined]
        assert isinstance(line.seconds, float)  # type: ignore[attr-defined]
    assert outcomes == [
        ("succeeded", "INFO", "task succeeded"),
        ("failed", "WARNING", "task failed"),
        ("failed", "ERROR", "task failed"),
    ]
    assert caplog.records[-1].exc_info is not None  # the crash keeps its traceback
