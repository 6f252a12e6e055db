"""Settings come from SHOPFLOW_* variables; bootstrap wires a worker from them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from shopflow_contracts.messages import ValidateCommand
from shopflow_validator.bootstrap import build_worker
from shopflow_validator.settings import ValidatorSettings


def test_given_shopflow_variables_when_settings_load_then_they_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOPFLOW_DATA_BUCKET", "data")
    monkeypatch.setenv("SHOPFLOW_VALIDATOR_QUEUE_URL", "http://queue")
    monkeypatch.setenv("SHOPFLOW_LEDGER_TABLE", "ledger")
    monkeypatch.setenv("SHOPFLOW_REJECT_THRESHOLD", "0.1")
    monkeypatch.setenv("SHOPFLOW_DUCKDB_MEMORY_LIMIT", "256MB")
    monkeypatch.setenv("SHOPFLOW_WORK_DIR", str(tmp_path))

    settings = ValidatorSettings()

    assert settings.reject_threshold == Decimal("0.1")
    assert (settings.data_bucket, settings.duckdb_memory_limit, settings.work_dir) == (
        "data",
        "256MB",
        tmp_path,
    )
    assert (settings.poll_wait_seconds, settings.duckdb_threads, settings.aws_region) == (
        20,
        2,
        "us-east-1",
    )


def test_given_a_threshold_above_one_when_settings_load_then_they_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPFLOW_REJECT_THRESHOLD", "1.5")

    with pytest.raises(ValidationError):
        ValidatorSettings(
            data_bucket="data", validator_queue_url="http://queue", ledger_table="ledger"
        )


def test_given_settings_when_bootstrapped_then_a_validate_worker_polls_the_validator_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = ValidatorSettings(
        data_bucket="data",
        validator_queue_url="http://127.0.0.1:1/queue/validator",
        ledger_table="ledger",
        aws_endpoint_url="http://127.0.0.1:1",
        poll_wait_seconds=3,
    )

    worker = build_worker(settings)

    assert (worker.stage, worker.command_type, worker.wait_seconds) == (
        "validate",
        ValidateCommand,
        3,
    )
