"""Wires the validator together; its AWS clients come from the runtime's one client factory."""

from __future__ import annotations

from typing import Any, Final

from shopflow_contracts.messages import ValidateCommand
from shopflow_runtime.clients import AwsClientFactory, ClientSource
from shopflow_runtime.wiring import build_task_worker
from shopflow_runtime.worker import TaskWorker

from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.adapters.s3 import S3ObjectStore
from shopflow_validator.domain import ValidationConfig
from shopflow_validator.handler import HandlerConfig, ValidateHandler
from shopflow_validator.settings import ValidatorSettings

STAGE: Final = "validate"


def build_handler(settings: ValidatorSettings, s3_client: Any) -> ValidateHandler:
    store = S3ObjectStore(s3_client)
    return ValidateHandler(
        store,
        HandlerConfig(
            data_bucket=settings.data_bucket,
            reject_threshold=settings.reject_threshold,
            reject_policy=settings.reject_policy,
            work_dir=settings.work_dir,
            validation=ValidationConfig(money=settings.money_mode),
        ),
        engine=DuckDbEngine(
            memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        ),
    )


def build_worker(
    settings: ValidatorSettings, clients: ClientSource | None = None
) -> TaskWorker[ValidateCommand]:
    clients = clients or AwsClientFactory(settings)
    handler = build_handler(settings, clients.client("s3"))
    return build_task_worker(
        stage=STAGE,
        command_type=ValidateCommand,
        handle=handler.handle,
        queue_url=settings.validator_queue_url,
        settings=settings,
        clients=clients,
    )
