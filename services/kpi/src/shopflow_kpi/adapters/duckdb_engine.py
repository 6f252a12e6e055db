"""The DuckDB connection the KPIs are computed on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class DuckDbEngine:
    memory_limit: str = "512MB"
    threads: int = 2

    def connect(self, scratch: Path) -> duckdb.DuckDBPyConnection:
        """An in-memory database that spills to ``scratch`` rather than exceed its limit."""
        return duckdb.connect(
            config={
                "memory_limit": self.memory_limit,
                "threads": self.threads,
                "temp_directory": str(scratch / "duckdb-spill"),
                # Curated files are local; nothing should ever be fetched from the network.
                "autoinstall_known_extensions": False,
            }
        )
