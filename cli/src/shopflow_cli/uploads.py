"""Following uploads to the runs they start, for ``shopflow upload --wait``.

An upload is recognised in a run by its key and ETag (an execution's input lists the landed
objects). An upload that starts no run is an identical copy of one that already ran (the
trigger's ledger holds its content under ``CONTENT#<etag>#<size>``), and is reported so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shopflow_cli import operations
from shopflow_cli.runs import Run
from shopflow_cli.target import Target

TERMINAL = operations.TERMINAL_STATES


@dataclass
class Upload:
    key: str
    etag: str
    size: int
    run: str | None = None
    # Why no run holds it: an identical upload already ran in this batch.
    identical_to: str | None = None


@dataclass
class UploadWatch:
    """Which run holds each upload, and when they have all ended."""

    target: Target
    uploads: list[Upload]
    since: datetime
    on_change: Callable[[Upload, str], None] = lambda upload, what: None
    _inputs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sfn = self.target.client("stepfunctions")

    def runs(self) -> dict[str, Run]:
        found = {}
        for execution in operations.list_executions(
            self.sfn, self.target.outputs.state_machine_arn
        ):
            if execution.started < self.since - timedelta(seconds=5):
                continue
            found[execution.name] = Run(
                execution.name,
                execution.status,
                execution.started,
                execution.stopped,
                execution.arn,
            )
        return found

    def poll(self) -> dict[str, Run]:
        runs = self.runs()
        for name, run in runs.items():
            if name not in self._inputs:
                self._inputs[name] = self._objects_of(run)
            held = set(self._inputs[name])
            for upload in self.uploads:
                if upload.run is None and (upload.key, upload.etag) in held:
                    upload.run = name
                    self.on_change(upload, f"in run {name}")
        return runs

    def _objects_of(self, run: Run) -> list[tuple[str, str]]:
        described = self.sfn.describe_execution(executionArn=run.arn)
        try:
            objects = json.loads(described.get("input") or "{}").get("objects") or []
        except ValueError:
            return []
        return [(str(item.get("key")), _etag(str(item.get("etag")))) for item in objects]

    def mark_identical(self) -> None:
        """Uploads no run took: identical to an earlier upload, per the trigger's ledger."""
        dynamodb = self.target.client("dynamodb")
        for upload in self.uploads:
            if upload.run is not None or upload.identical_to is not None:
                continue
            item = dynamodb.get_item(
                TableName=self.target.outputs.ledger_table,
                Key={
                    "pk": {"S": f"CONTENT#{upload.etag}#{upload.size}"},
                    "sk": {"S": "entry"},
                },
            ).get("Item")
            if item is not None:
                upload.identical_to = item["batch_id"]["S"]
                self.on_change(upload, f"identical to an upload in run {upload.identical_to}")

    def wait(
        self,
        *,
        quiet_seconds: float,
        timeout: float,
        poll_seconds: float = 0.5,
        tick: Callable[[dict[str, Run]], None] = lambda runs: None,
    ) -> dict[str, Run]:
        """Until every upload's run has ended (or it is known to start none)."""
        deadline = time.monotonic() + timeout
        sqs = self.target.client("sqs")
        idle_since: float | None = None
        while True:
            runs = self.poll()
            tick(runs)
            unheld = [u for u in self.uploads if u.run is None and u.identical_to is None]
            ended = all(runs[u.run].status in TERMINAL for u in self.uploads if u.run is not None)
            now = time.monotonic()
            if unheld:
                waiting = operations.queue_depth(sqs, self.target.outputs.arrivals_queue_url)
                if waiting == 0 and ended:
                    idle_since = idle_since if idle_since is not None else now
                    if now - idle_since >= quiet_seconds:
                        self.mark_identical()
                        unheld = [
                            u for u in self.uploads if u.run is None and u.identical_to is None
                        ]
                else:
                    idle_since = None
            if not unheld and ended:
                return runs
            if now > deadline:
                left = [u.key for u in unheld] or [
                    f"{u.key} (run {u.run})"
                    for u in self.uploads
                    if u.run and runs[u.run].status not in TERMINAL
                ]
                raise TimeoutError(f"still waiting after {timeout:.0f}s for: {', '.join(left)}")
            time.sleep(poll_seconds)


def _etag(text: str) -> str:
    return text.strip('"')


def uploaded(s3: Any, bucket: str, key: str) -> Upload:
    head = s3.head_object(Bucket=bucket, Key=key)
    return Upload(key=key, etag=_etag(str(head["ETag"])), size=int(head["ContentLength"]))


def now() -> datetime:
    return datetime.now(UTC)


def follow_uploads(
    target: Target,
    uploads: list[Upload],
    started: datetime,
    *,
    timeout: float,
    batch_window: float,
    health_check: Callable[[], None] = lambda: None,
) -> dict[str, Run]:
    """Wait for the runs of ``uploads`` with a progress display (plain lines off a tty)."""
    from shopflow_cli.progress import FileProgress
    from shopflow_cli.runs import Runs

    runs_view = Runs(target)
    with FileProgress([upload.key for upload in uploads], "waiting for a run") as progress:
        watch = UploadWatch(
            target,
            uploads,
            started,
            on_change=lambda u, what: progress.update(u.key, what, done=u.run is None),
        )

        def tick(runs: dict[str, Run]) -> None:
            health_check()
            for upload in uploads:
                if upload.run is not None and upload.run in runs:
                    run = runs[upload.run]
                    stage = runs_view.stage_of(run) if run.status == "RUNNING" else run.status
                    progress.update(
                        upload.key, f"run {run.name}: {stage}", done=run.status != "RUNNING"
                    )

        return watch.wait(quiet_seconds=batch_window + 3, timeout=timeout, tick=tick)
