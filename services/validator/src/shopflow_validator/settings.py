"""The validator's configuration, read from ``SHOPFLOW_*`` environment variables only here."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ValidatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore")

    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    log_level: str = "INFO"
    poll_wait_seconds: int = Field(default=20, ge=0, le=20)
    data_bucket: str
    validator_queue_url: str
    # Typed failures are recorded here for the state machine's failure path.
    ledger_table: str
    # A file whose share of rejected rows is above this fails the run; exact, hence Decimal.
    # Half: a file mostly rejected is the wrong file or badly broken; a few bad rows in a
    # small piece of a split export must not stop the good rows of the whole batch.
    reject_threshold: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    duckdb_memory_limit: str = "512MB"
    duckdb_threads: int = Field(default=2, ge=1)
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
