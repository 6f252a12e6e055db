"""API configuration: the only place the service reads its environment (``SHOPFLOW_*``).

How it reaches AWS (endpoint, region, retries, timeouts) comes from
:class:`shopflow_runtime.settings.AwsSettings`, so it talks to AWS exactly as the workers do.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from shopflow_runtime.settings import AwsSettings


class ApiSettings(AwsSettings):
    daily_kpis_table: str
    category_kpis_table: str
    ledger_table: str = Field(
        description="Holds the published KPI version (PUBLISHED#kpi) every read follows."
    )
    data_bucket: str = Field(description="Where the validation reports are (reports/).")
    state_machine_arn: str = Field(description="The pipeline whose executions are the runs.")

    host: str = Field(default="127.0.0.1", description="0.0.0.0 in a container.")
    port: int = Field(default=8080, ge=1, le=65_535)
    max_pool_connections: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="Connections per AWS client: concurrent requests beyond it wait for one.",
    )
    cache_max_age_seconds: int = Field(
        default=5,
        ge=0,
        le=3600,
        description="Cache-Control max-age: a dashboard polling faster reuses its copy, then "
        "revalidates it with its ETag (304, no body).",
    )
    default_range_days: int = Field(
        default=30, ge=1, le=3660, description="A range with one end given spans this many days."
    )
    max_page_days: int = Field(
        default=366, ge=1, le=3660, description="Most rows in one page of a range."
    )
    max_runs: int = Field(default=100, ge=1, le=1000)
    health_file: Path | None = Field(
        default=None,
        description="Touched while the event loop runs (every health_touch_seconds); the "
        "image's shopflow-healthcheck reads it, as for every worker.",
    )
    health_touch_seconds: float = Field(default=15.0, gt=0, le=300)
