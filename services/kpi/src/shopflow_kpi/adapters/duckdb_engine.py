"""The DuckDB connection the KPIs are computed on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb


@dataclass(frozen=True)
class DuckDbEngine:
    memory_limit: str = "512MB"
    threads: int = 2

    def connect(self, scratch: Path) -> duckdb.DuckDBPyConnection:
        """An in-memory database that spills to ``scratch`` rather than exceed its limit."""
        return duckdb.connect(config=self._config(scratch))

    def open_state(self, database: Path, scratch: Path) -> duckdb.DuckDBPyConnection:
        """The persistent state database; an unreadable one is a cache, so it is rebuilt."""
        database.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(database), config=self._config(scratch))
        except (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException):
            for leftover in (database, database.with_name(database.name + ".wal")):
                leftover.unlink(missing_ok=True)
            return duckdb.connect(str(database), config=self._config(scratch))

    def _config(self, scratch: Path) -> dict[str, Any]:
        return {
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "temp_directory": str(scratch / "duckdb-spill"),
            # Curated files are local; nothing should ever be fetched from the network.
            "autoinstall_known_extensions": False,
        }
