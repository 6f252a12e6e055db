"""A data bucket and the two KPI tables on the session's moto server, per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_resources import create_kpi_tables, create_ledger_table
from kpi_s3_lake import KpiStack, S3Lake
from shopflow_kpi.settings import KpiSettings


@pytest.fixture
def kpi_stack(
    moto_endpoint: str,
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> KpiStack:
    clients = {name: aws_client(name) for name in ("s3", "dynamodb", "sqs", "stepfunctions")}
    bucket = unique_name("kpi-data")
    clients["s3"].create_bucket(Bucket=bucket)
    daily, category = unique_name("daily-kpis"), unique_name("category-kpis")
    create_kpi_tables(clients["dynamodb"], daily, category)
    queue_url = clients["sqs"].create_queue(QueueName=unique_name("kpi"))["QueueUrl"]
    ledger = unique_name("ledger")
    create_ledger_table(clients["dynamodb"], ledger)
    settings = KpiSettings(
        ledger_table=ledger,
        aws_endpoint_url=moto_endpoint,
        data_bucket=bucket,
        kpi_queue_url=queue_url,
        daily_kpis_table=daily,
        category_kpis_table=category,
        duckdb_memory_limit="256MB",
        duckdb_threads=1,
        poll_wait_seconds=0,
        work_dir=tmp_path / "work",
    )
    return KpiStack(settings, clients, S3Lake(clients["s3"], bucket))
