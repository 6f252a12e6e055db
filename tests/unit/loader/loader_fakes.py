"""In-memory fakes of the loader's ports: the same behaviour as the adapters, no AWS."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shopflow_contracts.messages import LandedObject
from shopflow_loader.domain.batching import ExecutionState
from shopflow_loader.ports import LedgerEntry
from shopflow_runtime.worker import QueueMessage


@dataclass
class FakeExecutions:
    states: dict[str, ExecutionState] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, input_json: str) -> bool:
        if name in self.states:
            return False
        self.states[name] = ExecutionState.RUNNING
        self.inputs[name] = input_json
        return True

    def state(self, name: str) -> ExecutionState:
        return self.states.get(name, ExecutionState.MISSING)


@dataclass
class FakeLedger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)

    def get(self, key: str) -> LedgerEntry | None:
        return self.entries.get(key)

    def claim(
        self, key: str, batch_id: str, attributes: dict[str, str], *, replacing: str | None
    ) -> bool:
        current = self.entries.get(key)
        if current is not None and current.batch_id not in {batch_id, replacing}:
            return False
        self.entries[key] = LedgerEntry(key, batch_id, dict(attributes))
        return True

    def release(self, key: str, batch_id: str) -> None:
        current = self.entries.get(key)
        if current is not None and current.batch_id == batch_id:
            del self.entries[key]

    def record(self, key: str, batch_id: str, attributes: dict[str, str]) -> None:
        self.entries[key] = LedgerEntry(key, batch_id, dict(attributes))


@dataclass
class FakeObjectStore:
    """A versioned bucket: every put is a new version, the key shows the latest."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    copies: list[tuple[str, str]] = field(default_factory=list)

    def put(self, bucket: str, key: str, body: bytes) -> str:
        version_id = f"v{len(self.versions) + 1}"
        self.objects[(bucket, key)] = body
        self.versions[(bucket, key, version_id)] = body
        return version_id

    def _body(self, bucket: str, key: str, version_id: str | None) -> bytes | None:
        if version_id is None:
            return self.objects.get((bucket, key))
        return self.versions.get((bucket, key, version_id))

    def size_of(self, bucket: str, key: str, version_id: str | None = None) -> int | None:
        body = self._body(bucket, key, version_id)
        return None if body is None else len(body)

    def read_prefix(
        self, bucket: str, key: str, length: int, version_id: str | None = None
    ) -> bytes:
        body = self._body(bucket, key, version_id)
        assert body is not None
        return body[:length]

    def sha256_of(self, bucket: str, key: str, version_id: str | None = None) -> str:
        body = self._body(bucket, key, version_id)
        assert body is not None
        return hashlib.sha256(body).hexdigest()

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        version_id: str | None = None,
    ) -> None:
        body = self._body(source_bucket, source_key, version_id)
        assert body is not None
        self.put(bucket, key, body)
        self.copies.append((source_key, key))


@dataclass
class FakeQueue:
    pending: list[QueueMessage] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    visibility_changes: list[tuple[str, int]] = field(default_factory=list)
    receive_calls: int = 0

    def send(self, body: str) -> None:
        handle = f"rh-{len(self.pending) + len(self.deleted)}-{self.receive_calls}"
        self.pending.append(QueueMessage(f"m{len(self.pending)}", handle, body, 1))

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        self.receive_calls += 1
        taken, self.pending = self.pending[:max_messages], self.pending[max_messages:]
        return taken

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility_changes.append((receipt_handle, seconds))


T0 = datetime(2025, 4, 1, 6, 0, 0, tzinfo=UTC)


def landed(key: str, body: bytes, *, event_id: str, seconds: int = 0) -> LandedObject:
    return LandedObject(
        bucket="landing-bucket",
        key=key,
        size=len(body),
        etag=hashlib.md5(body, usedforsecurity=False).hexdigest(),
        sequencer=f"{seconds:016X}",
        event_time=T0 + timedelta(seconds=seconds),
        event_id=event_id,
    )


def s3_event(obj: LandedObject) -> str:
    import json

    return json.dumps(
        {
            "version": "0",
            "id": obj.event_id,
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": obj.event_time.isoformat(),
            "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{obj.bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": obj.bucket},
                "object": {
                    "key": obj.key,
                    "size": obj.size,
                    "etag": obj.etag,
                    "sequencer": obj.sequencer,
                },
                "reason": "PutObject",
            },
        }
    )


ORDERS_CSV = (
    b"order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item\n"
    b"1,7,Complete,2025-03-30T16:14:26,,2025-03-31 08:00:00 UTC,,1\n"
)
ITEMS_CSV = (
    b"id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    b"sale_price\n11,1,7,501,complete,2025-03-30T16:20:01,,,,59.99\n"
)
