"""The callback-task protocol every shopflow worker speaks with Step Functions.

The state machine sends a command envelope (with its task token) to a worker's queue via
``sqs:sendMessage.waitForTaskToken``. A worker long-polls the queue, checks the envelope
against its contract, does the work and answers ``SendTaskSuccess`` (a result envelope) or
``SendTaskFailure`` (a typed error). The message is deleted only after the answer went out,
so a worker that dies mid-task leaves the message to be redelivered.

While a task runs, a keep-alive thread sends ``SendTaskHeartbeat`` and pushes the message's
visibility timeout forward, so a task that dies is noticed within ``KeepAlivePolicy``'s
visibility window (its message is redelivered to another worker) and the state machine's
``HeartbeatSeconds`` (the token times out and the state is retried), not at the state's
``TimeoutSeconds``. While it holds a message, the worker's ECS task is protected from scale-in.

A redelivered command may be stale: its worker died after answering but before deleting it,
or the run timed the attempt out and moved on. Before any work (and any heartbeat) the worker
asks the run (``RunProgress``) whether it still waits for *this* command, and drops it if not:
a stale command changes nothing. A message that breaks the contract is never worked on; it
is made visible again at once so the redrive policy moves it to the dead-letter queue within
minutes.

The loop knows the queue, the callback, the failure log, the run's progress, the scale-in
protection and the liveness signal only by their ports (below); ``shopflow_runtime.aws`` has
the adapters a service's bootstrap plugs in (``shopflow_runtime.wiring`` does that from the
settings).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from shopflow_contracts.envelope import Envelope
from shopflow_contracts.messages import Stage, TaskErrorName, TaskFailure

from shopflow_runtime.faults import fault_point

log = logging.getLogger("shopflow.worker")

CommandT = TypeVar("CommandT", bound=Envelope[Any])


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


class TaskQueue(Protocol):
    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]: ...

    def delete(self, receipt_handle: str) -> None: ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Hide the message for ``seconds`` from now (0: redeliver it at once)."""
        ...


class TaskCallback(Protocol):
    def succeed(self, task_token: str, output: str) -> None: ...

    def fail(self, task_token: str, error: str, cause: str) -> None: ...

    def heartbeat(self, task_token: str) -> None: ...


class ScaleInProtection(Protocol):
    """Keeps the process's task from being stopped by a scale-in while it holds messages."""

    def hold(self) -> None: ...

    def release(self) -> None: ...


class Liveness(Protocol):
    """Tells a health check that the worker still makes progress."""

    def beat(self) -> None: ...


class FailureLog(Protocol):
    """Keeps the typed failure of a run where the state machine's failure path can read it."""

    def record(self, failure: TaskFailure) -> None: ...


class RunProgress(Protocol):
    """Where a run stands, as far as a command sent to it is concerned."""

    def awaits(self, run_id: str, message_id: str) -> bool | None:
        """True while the run waits for the command ``message_id``; False once it does not
        (the run ended, or went on to another command); None when it cannot be told."""
        ...


class TaskError(Exception):
    """A failure the state machine should see by name; the worker reports it, never raises it."""

    def __init__(self, error: TaskErrorName, reason: str, files: list[str] | None = None) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.files = files or []


class TaskTokenClosedError(Exception):
    """The execution behind a task token no longer waits for it (timed out, answered, ended)."""


@dataclass(frozen=True)
class KeepAlivePolicy:
    """How often a running task proves it is alive, and how long its message stays hidden.

    A task that dies is redelivered ``visibility_seconds`` after its last keep-alive at the
    latest; the state machine's ``HeartbeatSeconds`` must be longer than that, so the
    replacement worker still finds the task token open and keeps it alive in turn.
    """

    interval_seconds: float = 30.0
    visibility_seconds: int = 90

    def __post_init__(self) -> None:
        if not 0 < 2 * self.interval_seconds < self.visibility_seconds:
            raise ValueError(
                f"keep-alive every {self.interval_seconds}s needs a visibility window of more "
                f"than twice that, not {self.visibility_seconds}s"
            )


@dataclass
class TaskWorker(Generic[CommandT]):
    """Runs one stage: ``handle`` turns a valid command envelope into a result envelope."""

    stage: Stage
    command_type: type[CommandT]
    handle: Callable[[CommandT], BaseModel]
    queue: TaskQueue
    callback: TaskCallback
    failure_log: FailureLog | None = None
    progress: RunProgress | None = None
    wait_seconds: int = 20
    max_messages: int = 1
    keep_alive: KeepAlivePolicy = field(default_factory=KeepAlivePolicy)
    protection: ScaleInProtection | None = None
    liveness: Liveness | None = None
    # How soon a message that breaks the contract is received again (and so, after the
    # redrive policy's receive count, dead-lettered): seconds, not a visibility timeout.
    rejected_redelivery_seconds: int = 5

    def run(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"stage": self.stage})
        while not stop.is_set():
            self._beat()
            try:
                self.poll_once()
            except Exception:
                # The queue or Step Functions endpoint is unreachable: keep the worker alive
                # and try again shortly; unanswered messages are redelivered.
                log.exception("poll failed", extra={"stage": self.stage})
                stop.wait(2.0)
        log.info("worker stopped", extra={"stage": self.stage})

    def poll_once(self) -> int:
        messages = self.queue.receive(self.max_messages, self.wait_seconds)
        if messages:
            with self._protected():
                for message in messages:
                    self.process(message)
        return len(messages)

    def process(self, message: QueueMessage) -> None:
        parsed = self._parse(message)
        if parsed is None:
            return
        command, token = parsed
        context = {"stage": self.stage, "run_id": command.run_id, "message_id": message.message_id}
        if self._is_stale(command, context):
            fault_point(f"{self.stage}.before_delete", run_id=command.run_id)
            self.queue.delete(message.receipt_handle)
            return
        fault_point(f"{self.stage}.after_receive", run_id=command.run_id)
        log.debug("task received", extra=context)
        started = time.monotonic()
        with self._kept_alive(message, token, context):
            outcome = self._run_handler(command, context)
        if isinstance(outcome, TaskError):
            self._answer(message, lambda: self._fail(token, command.run_id, outcome))
        else:
            self._answer(message, lambda: self.callback.succeed(token, outcome.model_dump_json()))
        self._log_outcome(outcome, context, time.monotonic() - started)

    @staticmethod
    def _log_outcome(
        outcome: BaseModel | TaskError, context: dict[str, str], seconds: float
    ) -> None:
        """The task's one line: what it did and how it ended (a crash with its traceback)."""
        done = {**context, "seconds": round(seconds, 3)}
        if not isinstance(outcome, TaskError):
            log.info("task succeeded in %.1fs", seconds, extra={**done, "outcome": "succeeded"})
            return
        log.log(
            logging.ERROR if outcome.__cause__ is not None else logging.WARNING,
            "task failed in %.1fs: %s: %s",
            seconds,
            outcome.error.value,
            outcome.reason,
            exc_info=outcome.__cause__,
            extra={**done, "outcome": "failed", "error": outcome.error.value},
        )

    def _is_stale(self, command: CommandT, context: dict[str, str]) -> bool:
        """True when the run no longer waits for this command; unsure counts as current
        (the work is safe to repeat, only wasted)."""
        if self.progress is None:
            return False
        if self.progress.awaits(command.run_id, str(command.message_id)) is not False:
            return False
        log.warning("stale command dropped: the run no longer waits for it", extra={**context})
        return True

    def _parse(self, message: QueueMessage) -> tuple[CommandT, str] | None:
        """The command and its task token; None when it breaks the contract (dealt with)."""
        try:
            command = self.command_type.model_validate_json(message.body)
        except ValidationError as invalid:
            self._reject_envelope(message, invalid)
            return None
        if command.task_token is None:
            self._reject_envelope(message, ValueError("command carries no task_token"))
            return None
        return command, command.task_token

    def _run_handler(self, command: CommandT, context: dict[str, str]) -> BaseModel | TaskError:
        try:
            return self.handle(command)
        except TaskError as typed:
            return typed
        except Exception as crash:
            # Anything untyped is treated as transient: the state machine retries it with
            # backoff and a fresh message, so this one is answered and deleted. The crash is
            # the failure's cause: the task's one log line carries its traceback.
            transient = TaskError(TaskErrorName.TRANSIENT, f"{type(crash).__name__}: {crash}")
            transient.__cause__ = crash
            return transient

    @contextlib.contextmanager
    def _kept_alive(
        self, message: QueueMessage, token: str, context: dict[str, str]
    ) -> Iterator[None]:
        keeper = _KeepAlive(self, message, token, context)
        keeper.beat()  # at once: the queue's own visibility timeout may be shorter
        thread = threading.Thread(target=keeper.run, name=f"{self.stage}-keep-alive", daemon=True)
        thread.start()
        try:
            yield
        finally:
            keeper.done.set()
            thread.join(timeout=self.keep_alive.interval_seconds + 10)

    @contextlib.contextmanager
    def _protected(self) -> Iterator[None]:
        # Protection is best effort: without it a scale-in may stop the task mid-work, and
        # the keep-alive's redelivery then recovers the work; never a reason to skip it.
        if self.protection is not None:
            try:
                self.protection.hold()
            except Exception:
                log.warning(
                    "scale-in protection not set", exc_info=True, extra={"stage": self.stage}
                )
        try:
            yield
        finally:
            if self.protection is not None:
                try:
                    self.protection.release()
                except Exception:
                    log.warning(
                        "scale-in protection not released",
                        exc_info=True,
                        extra={"stage": self.stage},
                    )

    def _beat(self) -> None:
        if self.liveness is not None:
            try:
                self.liveness.beat()
            except OSError:
                log.warning("liveness not recorded", exc_info=True, extra={"stage": self.stage})

    def _fail(self, token: str, run_id: str, failure: TaskError) -> None:
        cause = TaskFailure(
            error=failure.error,
            reason=failure.reason[:2000],
            run_id=run_id,
            stage=self.stage,
            files=failure.files,
        )
        if self.failure_log is not None:
            # Recorded before answering: once the failure is reported, the state machine may
            # look for the record at once.
            self.failure_log.record(cause)
        self.callback.fail(token, failure.error.value, cause.model_dump_json())

    def _answer(self, message: QueueMessage, send: Callable[[], None]) -> None:
        try:
            send()
        except TaskTokenClosedError:
            log.warning(
                "task token no longer open; dropping message",
                extra={"stage": self.stage, "message_id": message.message_id},
            )
        fault_point(f"{self.stage}.after_answer")
        fault_point(f"{self.stage}.before_delete")
        self.queue.delete(message.receipt_handle)

    def _reject_envelope(self, message: QueueMessage, problem: Exception) -> None:
        """A message that breaks the contract is never worked on and ends in the DLQ.

        It is made visible again within seconds, so the redrive policy dead-letters it
        after its few receives instead of after as many visibility timeouts. Only if it
        names a run that really waits for it (a contract mismatch between the state
        machine and this worker) is that run told, once, so it fails at once instead of
        hanging until the task times out; anything else writes nothing.
        """
        log.error(
            "invalid envelope left for the dead-letter queue: %s",
            problem,
            extra={
                "stage": self.stage,
                "message_id": message.message_id,
                "receive_count": message.receive_count,
            },
        )
        self._tell_waiting_run(message, problem)
        self.queue.change_visibility(message.receipt_handle, self.rejected_redelivery_seconds)

    def _tell_waiting_run(self, message: QueueMessage, problem: Exception) -> None:
        fields = _readable_json(message.body)
        token, run_id, message_id = (
            _readable_text(fields, name) for name in ("task_token", "run_id", "message_id")
        )
        if token is None or run_id is None or message_id is None or message.receive_count > 1:
            return
        if self.progress is None or self.progress.awaits(run_id, message_id) is not True:
            return
        failure = TaskError(
            TaskErrorName.INVALID_MESSAGE, f"invalid {self.stage} command: {problem}"
        )
        with contextlib.suppress(TaskTokenClosedError):
            self._fail(token, run_id, failure)


class _KeepAlive:
    """The heartbeats of one task, sent from a thread while the handler runs."""

    def __init__(
        self, worker: TaskWorker[Any], message: QueueMessage, token: str, context: dict[str, str]
    ) -> None:
        self._worker = worker
        self._message = message
        self._token: str | None = token
        self._context = context
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self._worker.keep_alive.interval_seconds):
            self.beat()

    def beat(self) -> None:
        worker = self._worker
        worker._beat()
        if self._token is not None:
            try:
                worker.callback.heartbeat(self._token)
            except TaskTokenClosedError:
                # The execution stopped waiting (timed out, or answered by another worker's
                # copy): the result will be dropped when answered; stop heartbeating.
                log.warning("task token closed while working", extra=self._context)
                self._token = None
            except Exception:
                log.warning("heartbeat not sent", exc_info=True, extra=self._context)
        try:
            worker.queue.change_visibility(
                self._message.receipt_handle, worker.keep_alive.visibility_seconds
            )
        except Exception:
            log.warning("message visibility not extended", exc_info=True, extra=self._context)


def _readable_json(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _readable_text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value else None
