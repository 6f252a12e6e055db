"""KPI service configuration: the only place the service reads its environment.

The fields every worker shares (endpoint URL, region, retries, log level, poll wait, data
bucket, ledger table) come from :class:`shopflow_runtime.settings.WorkerSettings`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from shopflow_runtime.settings import WorkerSettings


class KpiSettings(WorkerSettings):
    kpi_queue_url: str
    daily_kpis_table: str
    category_kpis_table: str
    state_lease_seconds: int = Field(
        default=900,
        ge=30,
        description="A lease left by a crashed run expires after this; longer than any run.",
    )
    state_lease_wait_seconds: float = Field(default=600, ge=0)
    orphan_grace_seconds: int = Field(
        default=86_400,
        ge=0,
        description="An item still waiting for its order or product after this is an orphan.",
    )

    duckdb_memory_limit: str = Field(
        default="512MB", description="DuckDB memory_limit; beyond it DuckDB spills to work_dir."
    )
    duckdb_threads: int = Field(default=2, ge=1, le=64)
    work_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "shopflow-kpi",
        description="Scratch space: downloaded curated Parquet and DuckDB spill files.",
    )
