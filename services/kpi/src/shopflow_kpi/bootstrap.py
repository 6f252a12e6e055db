"""Wires the kpi service together: the only place that creates AWS clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import boto3
from botocore.config import Config
from shopflow_contracts.messages import KpiCommand
from shopflow_contracts.taskworker import (
    DynamoFailureLog,
    SqsTaskQueue,
    StepFunctionsTaskCallback,
    TaskWorker,
)

from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.adapters.lease import DynamoStateLease
from shopflow_kpi.adapters.s3 import S3CuratedStore, S3ReportSink
from shopflow_kpi.handler import KpiHandler, LeaseWait
from shopflow_kpi.settings import KpiSettings

STAGE: Final = "kpi"


def aws_clients(settings: KpiSettings) -> dict[str, Any]:
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        # Emulators such as the moto server only understand path-style bucket addressing.
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
    )
    session = boto3.session.Session(region_name=settings.aws_region)
    return {
        name: session.client(
            name,
            endpoint_url=settings.aws_endpoint_url,
            config=config,
        )
        for name in ("s3", "dynamodb", "sqs", "stepfunctions")
    }


def build_handler(settings: KpiSettings, clients: dict[str, Any]) -> KpiHandler:
    return KpiHandler(
        store=S3CuratedStore(clients["s3"], settings.data_bucket),
        repository=DynamoKpiRepository(
            clients["dynamodb"], settings.daily_kpis_table, settings.category_kpis_table
        ),
        engine=DuckDbEngine(
            memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        ),
        work_dir=settings.work_dir,
        lease=DynamoStateLease(
            clients["dynamodb"],
            settings.ledger_table,
            lease_seconds=settings.state_lease_seconds,
        ),
        lease_wait=LeaseWait(max_seconds=settings.state_lease_wait_seconds),
        reports=S3ReportSink(clients["s3"], settings.data_bucket),
        orphan_grace=timedelta(seconds=settings.orphan_grace_seconds),
    )


def build_worker(
    settings: KpiSettings, clients: dict[str, Any] | None = None
) -> TaskWorker[KpiCommand]:
    clients = clients or aws_clients(settings)
    return TaskWorker(
        stage=STAGE,
        command_type=KpiCommand,
        handle=build_handler(settings, clients).handle,
        queue=SqsTaskQueue(clients["sqs"], settings.kpi_queue_url),
        callback=StepFunctionsTaskCallback(clients["stepfunctions"]),
        failure_log=DynamoFailureLog(clients["dynamodb"], settings.ledger_table),
        wait_seconds=settings.poll_wait_seconds,
    )
