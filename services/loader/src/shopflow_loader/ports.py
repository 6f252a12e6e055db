"""What the loader needs from the outside world, as small protocols."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shopflow_loader.domain.batching import ExecutionState


class Executions(Protocol):
    """Step Functions executions of the pipeline, addressed by name (the batch id)."""

    def start(self, name: str, input_json: str) -> bool:
        """Start an execution named ``name``; never a second one with the same name.

        False when a closed execution has the name. Like AWS, a running execution with the
        same name and input answers as if just started.
        """
        ...

    def state(self, name: str) -> ExecutionState: ...


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    batch_id: str
    attributes: dict[str, str] = field(default_factory=dict)


class Ledger(Protocol):
    """Claims on arrivals and on file contents, each held by one batch."""

    def get(self, key: str) -> LedgerEntry | None: ...

    def claim(
        self, key: str, batch_id: str, attributes: dict[str, str], *, replacing: str | None
    ) -> bool:
        """Record that ``batch_id`` holds ``key``.

        Succeeds when the key is free, already held by ``batch_id`` (a retry), or held by
        ``replacing`` (a stale claim being taken over); False when someone else holds it.
        """
        ...

    def release(self, key: str, batch_id: str) -> None:
        """Give up ``batch_id``'s claim on ``key`` (nothing if another batch holds it)."""
        ...

    def record(self, key: str, batch_id: str, attributes: dict[str, str]) -> None:
        """Write an informational entry unconditionally (e.g. a skipped duplicate)."""
        ...


class ObjectStore(Protocol):
    """Objects of a versioned bucket: ``version_id`` names one upload's bytes (None: the
    key's latest), so a late or repeated command never reads a later upload's."""

    def size_of(self, bucket: str, key: str, version_id: str | None = None) -> int | None:
        """Size in bytes, or None when the object (version) does not exist."""
        ...

    def read_prefix(
        self, bucket: str, key: str, length: int, version_id: str | None = None
    ) -> bytes: ...

    def sha256_of(self, bucket: str, key: str, version_id: str | None = None) -> str:
        """Hex SHA-256 of the object's content, streamed."""
        ...

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        version_id: str | None = None,
    ) -> None: ...
