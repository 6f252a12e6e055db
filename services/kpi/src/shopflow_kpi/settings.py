"""KPI service configuration: the only place the service reads its environment."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KpiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore")

    aws_endpoint_url: str | None = Field(
        default=None, description="Unset on AWS; the moto server URL on a laptop."
    )
    aws_region: str = "us-east-1"
    log_level: str = "INFO"
    poll_wait_seconds: int = Field(default=20, ge=0, le=20)

    data_bucket: str
    kpi_queue_url: str
    daily_kpis_table: str
    category_kpis_table: str
    ledger_table: str | None = Field(
        default=None,
        description="Where typed failures are recorded (FAILURE#<run id>) for the state "
        "machine's failure path; unset, failures are only reported to Step Functions.",
    )

    duckdb_memory_limit: str = Field(
        default="512MB", description="DuckDB memory_limit; beyond it DuckDB spills to work_dir."
    )
    duckdb_threads: int = Field(default=2, ge=1, le=64)
    work_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "shopflow-kpi",
        description="Scratch space: downloaded curated Parquet and DuckDB spill files.",
    )
