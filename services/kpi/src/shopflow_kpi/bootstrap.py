"""Wires the kpi service together; its AWS clients come from the runtime's one client factory."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from shopflow_contracts.messages import KpiCommand
from shopflow_runtime.clients import AwsClientFactory, ClientSource
from shopflow_runtime.wiring import build_task_worker
from shopflow_runtime.worker import TaskWorker

from shopflow_kpi.adapters.commits import S3BatchCommits
from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.adapters.lease import DynamoStateLease
from shopflow_kpi.adapters.s3 import S3CuratedStore, S3ReportSink
from shopflow_kpi.handler import KpiHandler, LeaseWait
from shopflow_kpi.settings import KpiSettings

STAGE: Final = "kpi"


def build_handler(settings: KpiSettings, clients: ClientSource) -> KpiHandler:
    return KpiHandler(
        store=S3CuratedStore(clients.client("s3"), settings.data_bucket),
        repository=DynamoKpiRepository(
            clients.client("dynamodb"),
            settings.daily_kpis_table,
            settings.category_kpis_table,
            ledger_table=settings.ledger_table,
        ),
        engine=DuckDbEngine(
            memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        ),
        work_dir=settings.work_dir,
        lease=DynamoStateLease(
            clients.client("dynamodb"),
            settings.ledger_table,
            lease_seconds=settings.state_lease_seconds,
        ),
        lease_wait=LeaseWait(max_seconds=settings.state_lease_wait_seconds),
        reports=S3ReportSink(clients.client("s3"), settings.data_bucket),
        commits=S3BatchCommits(clients.client("s3"), settings.data_bucket),
        orphan_grace=timedelta(seconds=settings.orphan_grace_seconds),
    )


def build_worker(
    settings: KpiSettings, clients: ClientSource | None = None
) -> TaskWorker[KpiCommand]:
    clients = clients or AwsClientFactory(settings)
    return build_task_worker(
        stage=STAGE,
        command_type=KpiCommand,
        handle=build_handler(settings, clients).handle,
        queue_url=settings.kpi_queue_url,
        settings=settings,
        clients=clients,
    )
