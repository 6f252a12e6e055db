"""The validator's configuration, read from ``SHOPFLOW_*`` environment variables only here.

The fields every worker shares (endpoint URL, region, retries, log level, poll wait, data
bucket, ledger table) come from :class:`shopflow_runtime.settings.WorkerSettings`.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from pydantic import Field
from shopflow_contracts.report import MoneyMode, RejectPolicy
from shopflow_runtime.settings import WorkerSettings


class ValidatorSettings(WorkerSettings):
    validator_queue_url: str
    # A file whose share of rejected rows is above this is quarantined (or fails the run, under
    # reject_policy fail_batch); compared exactly, hence Decimal.
    # Half: a file mostly rejected is the wrong file or badly broken; a few bad rows in a
    # small piece of a split export must not stop the good rows of the whole batch.
    reject_threshold: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    # quarantine: such a file is set aside alone; fail_batch: it fails its whole batch.
    reject_policy: RejectPolicy = "quarantine"
    # round: money to the cent, half away from zero; strict: more than 2 places rejects.
    money_mode: MoneyMode = "round"
    duckdb_memory_limit: str = "512MB"
    duckdb_threads: int = Field(default=2, ge=1)
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
