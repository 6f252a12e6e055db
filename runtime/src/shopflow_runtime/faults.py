"""Fault injection for the reliability suite (tests/faults, the bench's soak); off by default.

Production never configures a plan, and then every hook here is a no-op: ``fault_point`` is
one attribute check, and no botocore handler is registered at all.

Two kinds of fault, both driven by one JSON *fault plan* file (setting ``SHOPFLOW_FAULT_PLAN``)
that a test harness writes and may rewrite while the processes run (it is re-read when its
modification time changes, looked at no more than every ``RELOAD_SECONDS``):

- **Named fault points.** ``fault_point("kpi.mid_duckdb")`` marks a place in a worker's task
  (``POINTS`` lists them all). A plan rule naming the point kills the process there
  (``SIGKILL``: an out-of-memory kill, a lost host), asks it to stop (``SIGTERM``: a deploy or a
  scale-in), or pauses it (to line up a race), optionally after a delay (``mid_duckdb``: the kill
  lands while DuckDB runs). Each rule fires a bounded number of times across *all* processes that
  share the plan: a firing is claimed by creating a marker file beside the plan with ``O_EXCL``,
  so a worker restarted with the same plan (as ECS restarts a task with the same definition)
  does not die at the same place forever. The marker records when, where and in which process
  the fault fired; the harness reads it to measure recovery.
- **AWS call faults.** ``AwsFaultInjector`` hooks a botocore client's ``before-send`` event and
  fails a chosen share of its calls the ways AWS calls fail: throttling, a 5xx, a connection
  timeout before the request left, or a lost response (the request reached the service and took
  effect, the client saw a read timeout and retries). botocore's retry policy then does what it
  does against AWS. Every injected fault is appended as one JSON line to ``injected.jsonl``
  beside the plan.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("shopflow.faults")

RELOAD_SECONDS = 0.2
INJECTED_LOG = "injected.jsonl"

# Every named point, "<where>.<point>", and what has happened when a process reaches it.
POINTS: Mapping[str, str] = {
    "load.after_receive": "LoadData command received, found current; nothing done yet",
    "load.mid_download": "first landed file hashed and staged, the others not yet",
    "load.after_outputs": "every file staged and in the FILE# ledger; Step Functions not told",
    "load.after_answer": "SendTaskSuccess/Failure accepted; the message not deleted",
    "load.before_delete": "about to delete the message (answered, or found stale)",
    "validate.after_receive": "ValidateData command received, found current; nothing done yet",
    "validate.mid_download": "staged files being downloaded",
    "validate.mid_duckdb": "DuckDB validating the batch",
    "validate.after_outputs": "curated, rejects and reports uploaded; Step Functions not told",
    "validate.after_answer": "SendTaskSuccess/Failure accepted; the message not deleted",
    "validate.before_delete": "about to delete the message (answered, or found stale)",
    "kpi.after_receive": "ComputeKpis command received, found current; nothing done yet",
    "kpi.mid_download": "curated files being downloaded into the worker's state",
    "kpi.mid_duckdb": "DuckDB computing the KPIs, the state lease held",
    "kpi.between_tables": "day rows written, category rows not yet",
    "kpi.before_publish": "both KPI tables written, the new version not yet published",
    "kpi.after_outputs": "both KPI tables written and published; Step Functions not told",
    "kpi.after_answer": "SendTaskSuccess/Failure accepted; the message not deleted",
    "kpi.before_delete": "about to delete the message (answered, or found stale)",
    "trigger.before_claim": "arrivals checked, none held by a live run; nothing claimed yet",
    "trigger.after_claim": "arrivals claimed in the ledger; the execution not started",
    "trigger.after_start": "execution started; the arrival messages not deleted",
}

FaultAction = Literal["kill", "terminate", "pause"]
AwsFaultKind = Literal["throttle", "server_error", "timeout", "lost_response"]
AWS_FAULT_KINDS: tuple[AwsFaultKind, ...] = ("throttle", "server_error", "timeout", "lost_response")


class _PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointRule(_PlanModel):
    """What happens at one named point, and how often (across every process of the plan)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    point: str
    action: FaultAction = "kill"
    times: int = Field(default=1, ge=1, le=1000)
    delay_seconds: float = Field(default=0.0, ge=0, le=600)
    pause_seconds: float = Field(default=0.0, ge=0, le=600)


class AwsFaults(_PlanModel):
    """A share of the calls to some services fails, each time as one of ``kinds``."""

    rate: float = Field(ge=0, le=1)
    services: frozenset[str] = frozenset({"s3", "dynamodb", "sqs", "stepfunctions"})
    kinds: tuple[AwsFaultKind, ...] = AWS_FAULT_KINDS
    exclude_operations: frozenset[str] = frozenset()
    seed: int | None = None


class FaultPlan(_PlanModel):
    points: tuple[PointRule, ...] = ()
    aws: AwsFaults | None = None


NO_FAULTS = FaultPlan()


class FaultPlanFile:
    """The plan as last read from its file; a missing file is an empty plan."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._plan = NO_FAULTS
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        return self.path.parent

    def current(self) -> FaultPlan:
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= RELOAD_SECONDS:
                self._checked = now
                self._reload()
            return self._plan

    def _reload(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._plan, self._stamp = NO_FAULTS, None
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return
        try:
            self._plan = FaultPlan.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as unreadable:
            # Half-written by the harness, say: keep the previous plan, look again soon.
            log.warning("fault plan %s unreadable: %s", self.path, unreadable)
            return
        self._stamp = stamp


_active: FaultPlanFile | None = None


def activate(plan_path: Path) -> FaultPlanFile:
    """Arm this process's fault points with a plan file; returns it for the AWS faults."""
    global _active
    if _active is None or _active.path != plan_path:
        _active = FaultPlanFile(plan_path)
        log.warning("fault injection armed from %s", plan_path)
    return _active


def deactivate() -> None:
    global _active
    _active = None


def fault_point(name: str, **context: str) -> None:
    """Mark the named point (see ``POINTS``); a no-op unless a fault plan names it."""
    plan_file = _active
    if plan_file is None:
        return
    for rule in plan_file.current().points:
        if rule.point == name and _claim_firing(plan_file.directory, rule, name, context):
            _act(rule, name)
            return


def _claim_firing(directory: Path, rule: PointRule, name: str, context: Mapping[str, str]) -> bool:
    record = json.dumps(
        {
            "rule": rule.id,
            "point": name,
            "action": rule.action,
            "pid": os.getpid(),
            "time": time.time(),
            **context,
        }
    )
    for firing in range(rule.times):
        marker = directory / f"fired-{rule.id}-{firing}.json"
        try:
            descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(record)
        return True
    return False


def _act(rule: PointRule, name: str) -> None:
    log.warning(
        "fault point %s fired: %s", name, rule.action, extra={"rule": rule.id, "point": name}
    )
    if rule.action == "pause":
        time.sleep(rule.pause_seconds)
        return
    signum = signal.SIGKILL if rule.action == "kill" else signal.SIGTERM
    if rule.delay_seconds:
        timer = threading.Timer(rule.delay_seconds, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
    else:
        os.kill(os.getpid(), signum)


# --- AWS call faults -----------------------------------------------------------------------


@dataclass
class _RawBody:
    """The ``raw`` of a botocore ``AWSResponse`` built here (botocore only streams it)."""

    content: bytes

    def stream(self, **_: Any) -> Any:
        yield self.content


class AwsFaultInjector:
    """Fails a share of one client's calls as the plan says; register with ``attach``."""

    def __init__(self, plan_file: FaultPlanFile, service: str) -> None:
        self._plan_file = plan_file
        self._service = service
        self._random = random.Random()  # noqa: S311 (which calls fail, not a secret)
        self._seeded: int | None = None
        self._client: Any = None
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        self._client = client
        client.meta.events.register("before-send", self._before_send)

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> Any:
        faults = self._plan_file.current().aws
        if faults is None or self._service not in faults.services:
            return None
        operation = event_name.rsplit(".", 1)[-1]
        if operation in faults.exclude_operations:
            return None
        with self._lock:
            if faults.seed is not None and self._seeded != faults.seed:
                self._random.seed(f"{faults.seed}/{os.getpid()}/{self._service}")
                self._seeded = faults.seed
            if self._random.random() >= faults.rate:
                return None
            kind = self._random.choice(faults.kinds)
        if kind == "lost_response" and self._streams_its_body(operation):
            # Sending a streamed upload twice is botocore's business, not a fault of AWS.
            kind = "timeout"
        self._record(operation, kind)
        return self._inject(kind, request, operation)

    def _streams_its_body(self, operation: str) -> bool:
        model = self._client.meta.service_model.operation_model(operation)
        return bool(model.has_streaming_input)

    def _inject(self, kind: AwsFaultKind, request: Any, operation: str) -> Any:
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

        if kind == "timeout":
            raise ConnectTimeoutError(endpoint_url=request.url)
        if kind == "lost_response":
            # The call reaches the service and takes effect; only its answer is lost.
            self._client._endpoint.http_session.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        return self._error_response(kind, request.url)

    def _error_response(self, kind: AwsFaultKind, url: str) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        throttled = kind == "throttle"
        protocol = self._client.meta.service_model.protocol
        if protocol in {"rest-xml", "query", "ec2"}:
            code, status = ("SlowDown", 503) if throttled else ("InternalError", 500)
            body = (
                f"<Error><Code>{code}</Code><Message>injected fault</Message>"
                f"<RequestId>fault</RequestId></Error>"
            ).encode()
            headers = {"Content-Type": "application/xml", "x-amz-request-id": "fault"}
        else:
            code, status = ("ThrottlingException", 400) if throttled else ("InternalFailure", 500)
            body = json.dumps({"__type": code, "message": "injected fault"}).encode()
            headers = {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-RequestId": "fault",
                "x-amzn-query-error": f"{code};Sender" if throttled else f"{code};Receiver",
            }
        response_headers = HTTPHeaders()
        for name, value in headers.items():
            response_headers[name] = value
        return AWSResponse(url, status, response_headers, _RawBody(body))

    def _record(self, operation: str, kind: AwsFaultKind) -> None:
        line = json.dumps(
            {
                "time": time.time(),
                "pid": os.getpid(),
                "service": self._service,
                "operation": operation,
                "kind": kind,
            }
        )
        # One short O_APPEND write per line: whole lines even with many processes writing.
        descriptor = os.open(
            self._plan_file.directory / INJECTED_LOG, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o644
        )
        try:
            os.write(descriptor, (line + "\n").encode())
        finally:
            os.close(descriptor)
