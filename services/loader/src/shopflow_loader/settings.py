"""Loader configuration: the only place the loader reads its environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoaderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore")

    aws_endpoint_url: str | None = Field(
        default=None, description="Unset on AWS; the moto server URL on a laptop."
    )
    aws_region: str = "us-east-1"
    log_level: str = "INFO"
    poll_wait_seconds: int = Field(default=20, ge=0, le=20)

    data_bucket: str
    landing_prefix: str = "landing/"
    arrivals_queue_url: str
    loader_queue_url: str
    state_machine_arn: str
    ledger_table: str

    batch_window_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="Arrivals closer together than this form one batch (one execution).",
    )
    max_batch_objects: int = Field(default=100, ge=1, le=1000)
    wait_check_data_loaded_seconds: int = Field(default=30, ge=0, le=3600)
    wait_for_eventbridge_seconds: int = Field(default=40, ge=0, le=3600)
