"""The only place the API asks for AWS clients: one aiobotocore session and one
``AioConfig`` built from the same options the workers' boto3 clients use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from shopflow_api.adapters.dynamo import DynamoKpiStore
from shopflow_api.adapters.s3 import S3ReportStore
from shopflow_api.adapters.stepfunctions import StepFunctionsRunHistory
from shopflow_api.ports import KpiStore, ReportStore, RunHistory
from shopflow_api.settings import ApiSettings


@dataclass(frozen=True)
class Services:
    kpis: KpiStore
    runs: RunHistory
    reports: ReportStore


@asynccontextmanager
async def open_services(settings: ApiSettings) -> AsyncIterator[Services]:
    """The adapters on open clients; the clients (and their connection pools) are closed
    when the context ends."""
    session = get_session()
    config = AioConfig(
        **settings.client_config_options(), max_pool_connections=settings.max_pool_connections
    )
    async with AsyncExitStack() as stack:
        clients = {
            service: await stack.enter_async_context(
                session.create_client(
                    service,
                    endpoint_url=settings.aws_endpoint_url,
                    config=config,
                )
            )
            for service in ("dynamodb", "stepfunctions", "s3")
        }
        yield Services(
            kpis=DynamoKpiStore(
                clients["dynamodb"],
                settings.daily_kpis_table,
                settings.category_kpis_table,
                settings.ledger_table,
            ),
            runs=StepFunctionsRunHistory(clients["stepfunctions"], settings.state_machine_arn),
            reports=S3ReportStore(clients["s3"], settings.data_bucket),
        )
