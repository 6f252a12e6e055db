"""The local stack with a fault plan, as the fault suite and the soak drive it.

It is ``shopflow up``'s own ``LocalStack`` (moto server, the deployed template, the workers as
processes, a dead worker restarted as ECS restarts a task), started with:

- every worker reading one fault plan (``SHOPFLOW_FAULT_PLAN``, see ``shopflow_runtime.faults``),
  which ``arm`` rewrites while everything runs: no restart between scenarios;
- short timings, so a lost message comes back in seconds instead of minutes: the work queues'
  visibility timeout, the workers' keep-alive (which extends it while a task runs), the KPI
  state lease;
- optionally several workers per stage (``replicas``), each with its own scratch directory.

Between scenarios ``reset`` empties the data (bucket, ledger, KPI tables, queues) so one stack
serves a whole test session. moto cannot forget executions: scenarios look only at the runs
started since their own start.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_cli.clients import aws_client
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import LocalStack
from shopflow_cli.target import Target
from shopflow_runtime.faults import INJECTED_LOG, FaultPlan

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
WORK_QUEUES = ("loader", "validator", "kpi")
QUEUES = ("arrivals", *WORK_QUEUES)
LANDING = "landing/"


@dataclass(frozen=True)
class Fired:
    """A fault point that fired: when, where, in which process (its marker file)."""

    rule: str
    point: str
    action: str
    pid: int
    time: float
    context: dict[str, str]


@dataclass(frozen=True)
class Run:
    """An execution of the pipeline and what it said (input objects, output or failure)."""

    name: str
    status: str
    started: datetime
    stopped: datetime | None
    arn: str
    input: dict[str, Any]
    output: dict[str, Any] | None


@dataclass(frozen=True)
class Upload:
    """One PutObject under the landing prefix, as S3 versioned it."""

    key: str
    version_id: str
    etag: str
    at: float


@dataclass
class FaultStack:
    root: Path
    replicas: Mapping[str, int] = field(default_factory=dict)
    batch_window_seconds: float = 1.5
    # A message whose worker died is received again after this many seconds.
    visibility_seconds: int = 5
    # Arrivals a dead trigger had taken come back after this (the template's 300 s otherwise).
    arrivals_visibility_seconds: int = 10
    keepalive_seconds: float = 1.0
    lease_seconds: int = 30
    worker_env: Mapping[str, str] = field(default_factory=dict)
    stack: LocalStack | None = None

    @property
    def plan_file(self) -> Path:
        return self.root / "faults" / "plan.json"

    def __enter__(self) -> FaultStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        self.plan_file.parent.mkdir(parents=True, exist_ok=True)
        self.arm(FaultPlan())
        environment = {
            "SHOPFLOW_FAULT_PLAN": str(self.plan_file),
            "SHOPFLOW_HEARTBEAT_INTERVAL_SECONDS": str(self.keepalive_seconds),
            "SHOPFLOW_TASK_VISIBILITY_SECONDS": str(self.visibility_seconds),
            "SHOPFLOW_STATE_LEASE_SECONDS": str(self.lease_seconds),
            # A task still waits for the lease when the lease of a dead holder expires.
            "SHOPFLOW_STATE_LEASE_WAIT_SECONDS": str(self.lease_seconds * 4),
            # A trigger killed between claiming and starting: its claims free up in seconds.
            "SHOPFLOW_UNSTARTED_CLAIM_SECONDS": "10",
            **self.worker_env,
        }
        self.stack = LocalStack(
            state_file=self.root / "stack" / "stack.json",
            batch_window_seconds=self.batch_window_seconds,
            replicas=dict(self.replicas),
            worker_env=environment,
        )
        try:
            self.stack.start()
            for name in WORK_QUEUES:
                self.sqs.set_queue_attributes(
                    QueueUrl=self.queue_url(name),
                    Attributes={"VisibilityTimeout": str(self.visibility_seconds)},
                )
            self.sqs.set_queue_attributes(
                QueueUrl=self.queue_url("arrivals"),
                Attributes={"VisibilityTimeout": str(self.arrivals_visibility_seconds)},
            )
        except BaseException:
            self.stack.close()
            raise

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()

    # --- handles ---------------------------------------------------------------------

    @property
    def local(self) -> LocalStack:
        if self.stack is None:
            raise RuntimeError("fault stack not started")
        return self.stack

    @property
    def outputs(self) -> StackOutputs:
        return self.local.require_outputs()

    @property
    def target(self) -> Target:
        return self.local.target

    def client(self, service: str) -> Any:
        return aws_client(service, self.local.endpoint_url)

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def queue_url(self, name: str) -> str:
        return str(getattr(self.outputs, f"{name}_queue_url"))

    def dlq_url(self, name: str) -> str:
        return str(getattr(self.outputs, f"{name}_dlq_url"))

    def worker_log(self, instance: str) -> Path:
        return self.local.logs / f"{instance}.log"

    def workers(self) -> list[str]:
        return self.local.worker_names()

    # --- faults ----------------------------------------------------------------------

    def arm(self, plan: FaultPlan) -> None:
        """Give every worker a new fault plan (they read it within a fraction of a second)."""
        partial = self.plan_file.with_suffix(".partial")
        partial.write_text(plan.model_dump_json(indent=2))
        partial.replace(self.plan_file)

    def disarm(self) -> None:
        self.arm(FaultPlan())

    def fired(self) -> list[Fired]:
        found = []
        for marker in sorted(self.plan_file.parent.glob("fired-*.json")):
            record = json.loads(marker.read_text())
            found.append(
                Fired(
                    rule=record.pop("rule"),
                    point=record.pop("point"),
                    action=record.pop("action"),
                    pid=int(record.pop("pid")),
                    time=float(record.pop("time")),
                    context={k: str(v) for k, v in record.items()},
                )
            )
        return sorted(found, key=lambda fired: fired.time)

    def injected(self) -> list[dict[str, Any]]:
        log = self.plan_file.parent / INJECTED_LOG
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def forget_faults(self) -> None:
        """A fresh plan directory: no firings, no injected-fault log."""
        self.disarm()
        for stale in self.plan_file.parent.iterdir():
            if stale.name.startswith("fired-") or stale.name == INJECTED_LOG:
                stale.unlink()

    def signal_worker(self, instance: str, signum: signal.Signals) -> int:
        pid = self.local.worker_pid(instance)
        os.kill(pid, signum)
        return pid

    # --- data ------------------------------------------------------------------------

    def upload(
        self, files: Iterable[tuple[str, bytes]], *, pause_seconds: float = 0
    ) -> list[Upload]:
        """PutObject each (name, body) under the landing prefix, in order."""
        uploads = []
        for name, body in files:
            key = f"{LANDING}{name}"
            response = self.s3.put_object(Bucket=self.outputs.data_bucket, Key=key, Body=body)
            uploads.append(
                Upload(
                    key, response.get("VersionId", "null"), response["ETag"].strip('"'), time.time()
                )
            )
            if pause_seconds:
                time.sleep(pause_seconds)
        return uploads

    def reset(self, timeout: float = 120) -> None:
        """Empty every table, the bucket (all versions) and every queue; forget the faults.

        Call it on a settled stack (``settle``): a run still going would write into the
        emptied tables.
        """
        self.forget_faults()
        outputs = self.outputs
        for table in (outputs.ledger_table, outputs.daily_kpis_table, outputs.category_kpis_table):
            self._empty_table(table)
        self._empty_bucket(outputs.data_bucket)
        for name in QUEUES:
            self.drain(self.dlq_url(name))
        deadline = time.monotonic() + timeout
        while any(self.queue_counts(name) != (0, 0) for name in QUEUES):
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues not empty for the reset: {self.depths()}")
            time.sleep(0.5)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Take every visible message off a queue (PurgeQueue works once a minute only)."""
        taken: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return taken
            for message in messages:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                taken.append(message)

    def _empty_table(self, table: str) -> None:
        key_names = [
            entry["AttributeName"]
            for entry in self.dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        ]
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
            keys = [{name: item[name] for name in key_names} for item in page["Items"]]
            for start in range(0, len(keys), 25):
                self.dynamodb.batch_write_item(
                    RequestItems={
                        table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
                    }
                )

    def _empty_bucket(self, bucket: str) -> None:
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            versions = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for entry in page.get(kind, [])
            ]
            for start in range(0, len(versions), 1000):
                self.s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": versions[start : start + 1000], "Quiet": True}
                )

    # --- observing -------------------------------------------------------------------

    def queue_counts(self, name: str) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def dlq_messages(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dlq_url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def depths(self) -> dict[str, tuple[int, int, int]]:
        """Queue name -> (waiting, in flight, dead letters)."""
        return {name: (*self.queue_counts(name), self.dlq_messages(name)) for name in QUEUES}

    def runs(self, since: datetime) -> list[Run]:
        found = []
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.outputs.state_machine_arn
        )
        for page in pages:
            for raw in page["executions"]:
                if raw["startDate"] < since:
                    continue
                described = self.sfn.describe_execution(executionArn=raw["executionArn"])
                output = described.get("output")
                found.append(
                    Run(
                        name=raw["name"],
                        status=described["status"],
                        started=raw["startDate"],
                        stopped=described.get("stopDate"),
                        arn=raw["executionArn"],
                        input=json.loads(described.get("input") or "{}"),
                        output=json.loads(output) if output else None,
                    )
                )
        return sorted(found, key=lambda run: run.started)

    def history(self, run: Run) -> list[dict[str, Any]]:
        events = [
            event
            for page in self.sfn.get_paginator("get_execution_history").paginate(
                executionArn=run.arn
            )
            for event in page["events"]
        ]
        return sorted(events, key=lambda event: int(event["id"]))

    def settle(
        self,
        since: datetime,
        *,
        expected_runs: int = 1,
        timeout: float = 240,
        quiet_seconds: float | None = None,
    ) -> list[Run]:
        """Wait until the runs started since ``since`` have ended and no message is waiting
        or in flight on any queue (dead workers restarted meanwhile); returns those runs."""
        quiet = quiet_seconds if quiet_seconds is not None else self.batch_window_seconds + 2
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            self.local.supervise()
            runs = self.runs(since)
            settled = (
                len(runs) >= expected_runs
                and all(run.status in TERMINAL for run in runs)
                and all(self.queue_counts(name) == (0, 0) for name in QUEUES)
            )
            now = time.monotonic()
            if settled:
                quiet_since = quiet_since if quiet_since is not None else now
                if now - quiet_since >= quiet:
                    return runs
            else:
                quiet_since = None
            if now > deadline:
                raise TimeoutError(self._not_settled(runs, timeout))
            time.sleep(0.5)

    def _not_settled(self, runs: Sequence[Run], timeout: float) -> str:
        running = [run.name for run in runs if run.status not in TERMINAL]
        tails = {
            instance: self.worker_log(instance).read_text(errors="replace").splitlines()[-3:]
            for instance in self.workers()
            if self.worker_log(instance).exists()
        }
        return (
            f"not settled after {timeout:.0f}s: {len(runs)} run(s), running {running}, "
            f"queues (waiting, in flight, dead) {self.depths()}, last log lines {tails}"
        )

    def log_records(self, instance: str, since: float) -> list[dict[str, Any]]:
        """The JSON log lines a worker wrote since ``since`` (epoch seconds)."""
        path = self.worker_log(instance)
        if not path.exists():
            return []
        records = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "time" not in record:
                continue
            stamp = datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
            if stamp >= int(since):
                records.append(record)
        return records


def now_utc() -> datetime:
    # moto stamps executions with second precision: a second of margin keeps this run's own.
    return datetime.fromtimestamp(int(time.time()) - 1, tz=UTC)
