"""What the validator needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import duckdb


class SqlEngine(Protocol):
    """Where validation's SQL runs (``adapters.duckdb_engine``): the domain asks for a
    database, the engine decides how much of the machine it may use."""

    def connect(self, spill_dir: Path) -> duckdb.DuckDBPyConnection:
        """A fresh database of its own, spilling to ``spill_dir``, its timestamps in UTC."""
        ...


class ObjectStore(Protocol):
    def size_of(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        ...

    def download(self, bucket: str, key: str, target: Path) -> None:
        """Stream the object into the local file ``target``."""
        ...

    def upload(self, source: Path, bucket: str, key: str, content_type: str) -> None:
        """Stream the local file ``source`` into the object."""
        ...

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        """A small object's whole body, or None when there is no such object."""
        ...
