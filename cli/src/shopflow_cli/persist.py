"""The local stack's data across restarts: saved and restored through the AWS APIs.

moto keeps everything in memory, so a stopped local stack would forget every upload and KPI.
``save`` copies what the stack holds into a folder, ``restore`` puts it back into a new moto
server before any service starts (and before the bucket announces uploads to EventBridge,
so restored files start no runs):

- every object of the stack's buckets (``s3/<LogicalId>/<key>`` and a manifest of ETags, so
  that a save downloads only what changed),
- every item of its tables (``dynamodb/<LogicalId>.json``, DynamoDB's typed JSON: exact),
- the messages waiting on its arrivals queue and dead-letter queues (at the final save only:
  reading them takes them off the queue),
- every run with its output or failure (``runs.json``): Step Functions history cannot be
  put back, so ``status`` and ``report`` read earlier runs from there.

Resources are found by their logical id in the stack, so a restore finds them whatever
physical names the new deployment gives them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_cli.runs import Run, Runs, archive_record, load_archive
from shopflow_cli.target import Target

FORMAT_VERSION = 1
_QUEUES_KEPT = ("ArrivalsQueue", "ArrivalsDlq", "LoaderDlq", "ValidatorDlq", "KpiDlq")


@dataclass(frozen=True)
class Saved:
    """What a save or restore moved, for the line the user sees."""

    objects: int
    items: int
    runs: int
    messages: int

    def describe(self) -> str:
        return (
            f"{self.objects:,} object(s), {self.items:,} table item(s), {self.runs:,} run(s), "
            f"{self.messages:,} queued message(s)"
        )


def stack_resources(target: Target, stack_name: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (resource type, physical id) of the deployed stack."""
    cloudformation = target.client("cloudformation")
    found: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            found[resource["LogicalResourceId"]] = (
                resource["ResourceType"],
                resource.get("PhysicalResourceId", ""),
            )
    return found


class DataFolder:
    """The saved data of one local stack (``.shopflow/data`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def runs_file(self) -> Path:
        return self.root / "runs.json"

    def exists(self) -> bool:
        return (self.root / "saved.json").exists()

    def clear(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)

    # --- save ----------------------------------------------------------------------------

    def save(self, target: Target, stack_name: str, *, queues: bool = False) -> Saved:
        resources = stack_resources(target, stack_name)
        self.root.mkdir(parents=True, exist_ok=True)
        objects = sum(
            self._save_bucket(target, logical_id, physical)
            for logical_id, (kind, physical) in resources.items()
            if kind == "AWS::S3::Bucket"
        )
        items = sum(
            self._save_table(target, logical_id, physical)
            for logical_id, (kind, physical) in resources.items()
            if kind == "AWS::DynamoDB::Table"
        )
        runs = self._save_runs(target)
        messages = self._save_queues(target, resources) if queues else 0
        _write_json(
            self.root / "saved.json",
            {"format": FORMAT_VERSION, "saved_at": datetime.now(UTC).isoformat()},
        )
        return Saved(objects, items, runs, messages)

    def _save_bucket(self, target: Target, logical_id: str, bucket: str) -> int:
        s3 = target.client("s3")
        folder = self.root / "s3" / logical_id
        manifest_path = self.root / "s3" / f"{logical_id}.json"
        previous: dict[str, dict[str, Any]] = (
            json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        )
        manifest: dict[str, dict[str, Any]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                local = folder / key
                entry = previous.get(key)
                if entry is None or entry["etag"] != item["ETag"] or not local.exists():
                    local.parent.mkdir(parents=True, exist_ok=True)
                    head = s3.head_object(Bucket=bucket, Key=key)
                    s3.download_file(bucket, key, str(local))
                    entry = {
                        "etag": item["ETag"],
                        "content_type": head.get("ContentType"),
                        "metadata": head.get("Metadata") or {},
                    }
                manifest[key] = entry
        for key in previous.keys() - manifest.keys():
            (folder / key).unlink(missing_ok=True)
        _write_json(manifest_path, manifest)
        return len(manifest)

    def _save_table(self, target: Target, logical_id: str, table: str) -> int:
        dynamodb = target.client("dynamodb")
        items = [
            item
            for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page["Items"]
        ]
        _write_json(self.root / "dynamodb" / f"{logical_id}.json", items)
        return len(items)

    def _save_runs(self, target: Target) -> int:
        runs = Runs(target)
        kept = {name: run for name, run in load_archive(self.runs_file).items()}
        records = [archive_record(run, run.output, run.failure) for run in kept.values()]
        for run in runs.all():
            if run.archived:
                continue
            if run.status == "RUNNING":
                # A run cannot outlive the stack: it is kept as stopped, with where it was.
                stage = runs.stage_of(run) or "its first stage"
                stopped = Run(run.name, "ABORTED", run.started, datetime.now(UTC), run.arn)
                failure: dict[str, Any] | None = {
                    "error": "shopflow.LocalStackStopped",
                    "reason": f"the local stack stopped while the run was in {stage}; "
                    "upload its files again to process them",
                }
                records.append(archive_record(stopped, None, failure))
            else:
                failure = runs.failure_of(run) if run.status != "SUCCEEDED" else None
                records.append(archive_record(run, runs.output_of(run), failure))
        by_name = {record["name"]: record for record in records}
        _write_json(self.runs_file, sorted(by_name.values(), key=lambda r: r["started"]))
        return len(by_name)

    def _save_queues(self, target: Target, resources: dict[str, tuple[str, str]]) -> int:
        sqs = target.client("sqs")
        saved: dict[str, list[str]] = {}
        for logical_id in _QUEUES_KEPT:
            if logical_id not in resources:
                continue
            url = resources[logical_id][1]
            saved[logical_id] = list(_drain(sqs, url))
        _write_json(self.root / "queues.json", saved)
        return sum(map(len, saved.values()))

    # --- restore -------------------------------------------------------------------------

    def restore(self, target: Target, stack_name: str) -> Saved:
        """Put the saved data into a freshly deployed stack (nothing runs on it yet)."""
        resources = stack_resources(target, stack_name)
        objects = items = messages = 0
        for logical_id, (kind, physical) in resources.items():
            if kind == "AWS::S3::Bucket":
                objects += self._restore_bucket(target, logical_id, physical)
            elif kind == "AWS::DynamoDB::Table":
                items += self._restore_table(target, logical_id, physical)
        queues_file = self.root / "queues.json"
        if queues_file.exists():
            sqs = target.client("sqs")
            for logical_id, bodies in json.loads(queues_file.read_text()).items():
                if logical_id in resources:
                    for body in bodies:
                        sqs.send_message(QueueUrl=resources[logical_id][1], MessageBody=body)
                        messages += 1
            queues_file.unlink()
        runs = len(load_archive(self.runs_file))
        return Saved(objects, items, runs, messages)

    def _restore_bucket(self, target: Target, logical_id: str, bucket: str) -> int:
        manifest_path = self.root / "s3" / f"{logical_id}.json"
        if not manifest_path.exists():
            return 0
        s3 = target.client("s3")
        manifest: dict[str, dict[str, Any]] = json.loads(manifest_path.read_text())
        for key, entry in manifest.items():
            extra: dict[str, Any] = {"Metadata": entry.get("metadata") or {}}
            if entry.get("content_type"):
                extra["ContentType"] = entry["content_type"]
            s3.upload_file(str(self.root / "s3" / logical_id / key), bucket, key, ExtraArgs=extra)
            # The object has a new ETag if it went up in parts: the next save sees that.
        return len(manifest)

    def _restore_table(self, target: Target, logical_id: str, table: str) -> int:
        path = self.root / "dynamodb" / f"{logical_id}.json"
        if not path.exists():
            return 0
        dynamodb = target.client("dynamodb")
        items: list[dict[str, Any]] = json.loads(path.read_text())
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {table: requests}
            while pending:
                answer = dynamodb.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
        return len(items)


def _drain(sqs: Any, queue_url: str) -> Iterator[str]:
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            yield message["Body"]
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, default=str))
    partial.replace(path)
