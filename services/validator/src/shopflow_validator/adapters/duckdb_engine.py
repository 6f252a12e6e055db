"""The DuckDB databases validation runs in: how much of the machine they may use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class DuckDbEngine:
    memory_limit: str = "512MB"
    threads: int = 2

    def connect(self, database: Path, spill_dir: Path) -> duckdb.DuckDBPyConnection:
        """A database file at ``database`` that spills to ``spill_dir`` rather than exceed
        its memory limit; timestamps in UTC."""
        connection = duckdb.connect(
            str(database),
            config={
                "memory_limit": self.memory_limit,
                "threads": self.threads,
                "temp_directory": str(spill_dir),
                # Keeping scan order would make DuckDB buffer whole tables in memory; every
                # output that needs an order (Parquet, rejects) asks for it with ORDER BY.
                "preserve_insertion_order": False,
                # Staged files are local; nothing should ever be fetched from the network.
                "autoinstall_known_extensions": False,
            },
        )
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        return connection
