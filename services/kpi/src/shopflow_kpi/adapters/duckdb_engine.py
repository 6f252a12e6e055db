"""The DuckDB connections the KPIs are computed on, and the KPI state over one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from shopflow_kpi.adapters.duckdb_state import CuratedState


@dataclass(frozen=True)
class DuckDbEngine:
    memory_limit: str = "512MB"
    threads: int = 2

    def connect(self, scratch: Path) -> duckdb.DuckDBPyConnection:
        """An in-memory database that spills to ``scratch`` rather than exceed its limit."""
        return duckdb.connect(config=self._config(scratch))

    def connect_database(self, database: Path, scratch: Path) -> duckdb.DuckDBPyConnection:
        """The persistent database at ``database``; an unreadable one is a cache, so rebuilt."""
        database.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(database), config=self._config(scratch))
        except (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException):
            for leftover in (database, database.with_name(database.name + ".wal")):
                leftover.unlink(missing_ok=True)
            return duckdb.connect(str(database), config=self._config(scratch))

    @contextmanager
    def open_state(self, database: Path, scratch: Path) -> Iterator[CuratedState]:
        """The KPI state kept in the database at ``database`` (``ports.KpiEngine``)."""
        with self.connect_database(database, scratch) as connection:
            yield CuratedState.open(connection)

    def _config(self, scratch: Path) -> dict[str, Any]:
        return {
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "temp_directory": str(scratch / "duckdb-spill"),
            # Curated files are local; nothing should ever be fetched from the network.
            "autoinstall_known_extensions": False,
        }
