"""Wires the validator together; the only place that creates boto3 clients."""

from __future__ import annotations

from typing import Any, Final

import boto3
from botocore.config import Config
from shopflow_contracts.messages import ValidateCommand
from shopflow_contracts.taskworker import (
    DynamoFailureLog,
    SqsTaskQueue,
    StepFunctionsTaskCallback,
    TaskWorker,
)

from shopflow_validator.adapters.s3 import S3ObjectStore
from shopflow_validator.domain import ValidationConfig
from shopflow_validator.handler import HandlerConfig, ValidateHandler
from shopflow_validator.settings import ValidatorSettings

STAGE: Final = "validate"


def _client(settings: ValidatorSettings, service: str) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        # Emulators such as the moto server only understand path-style bucket addressing.
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


def build_handler(settings: ValidatorSettings, s3_client: Any | None = None) -> ValidateHandler:
    store = S3ObjectStore(s3_client if s3_client is not None else _client(settings, "s3"))
    return ValidateHandler(
        store,
        HandlerConfig(
            data_bucket=settings.data_bucket,
            reject_threshold=settings.reject_threshold,
            work_dir=settings.work_dir,
            validation=ValidationConfig(
                memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
            ),
        ),
    )


def build_worker(settings: ValidatorSettings) -> TaskWorker[ValidateCommand]:
    handler = build_handler(settings)
    return TaskWorker(
        stage=STAGE,
        command_type=ValidateCommand,
        handle=handler.handle,
        queue=SqsTaskQueue(_client(settings, "sqs"), settings.validator_queue_url),
        callback=StepFunctionsTaskCallback(_client(settings, "stepfunctions")),
        failure_log=DynamoFailureLog(_client(settings, "dynamodb"), settings.ledger_table),
        wait_seconds=settings.poll_wait_seconds,
    )
