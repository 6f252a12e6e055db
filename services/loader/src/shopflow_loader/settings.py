"""Loader configuration: the only place the loader reads its environment.

The fields every worker shares (endpoint URL, region, retries, log level, poll wait, data
bucket, ledger table) come from :class:`shopflow_runtime.settings.WorkerSettings`.
"""

from __future__ import annotations

from pydantic import Field
from shopflow_runtime.settings import WorkerSettings


class LoaderSettings(WorkerSettings):
    landing_prefix: str = "landing/"
    arrivals_queue_url: str
    loader_queue_url: str
    state_machine_arn: str

    batch_window_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="Arrivals closer together than this form one batch (one execution).",
    )
    max_batch_objects: int = Field(default=100, ge=1, le=1000)
    unstarted_claim_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "A claim whose run was never started stands this long (its trigger may be about "
            "to start it), then may be taken over (its trigger died)."
        ),
    )
    wait_check_data_loaded_seconds: int = Field(default=30, ge=0, le=3600)
    wait_for_eventbridge_seconds: int = Field(default=40, ge=0, le=3600)
