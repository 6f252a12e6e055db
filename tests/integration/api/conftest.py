"""The API over real HTTP against the session's moto server: the two KPI tables written by
the kpi service's own repository, a state machine whose runs carry golden stage results, a
validation report in a data bucket; the API its own process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from api_server import running_api
from api_stack import (
    REPORT_SOURCE,
    ApiStack,
    category_rows,
    day_rows,
    finished,
    pipeline_definition,
)
from aws_resources import create_kpi_tables, create_ledger_table
from report_bodies import report_body
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.ports import Stamp


@pytest.fixture(scope="module")
def api_stack(
    moto_endpoint: str,
    aws_client: Callable[[str], Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiStack]:
    suffix = f"{time.time_ns()}"
    clients = {name: aws_client(name) for name in ("dynamodb", "s3", "stepfunctions")}
    daily, category = f"api-daily-{suffix}", f"api-category-{suffix}"
    create_kpi_tables(clients["dynamodb"], daily, category)
    ledger = create_ledger_table(clients["dynamodb"], f"api-ledger-{suffix}")
    days = day_rows()
    # Written as a KPI run writes them: a version, both tables, then the published flip.
    repository = DynamoKpiRepository(clients["dynamodb"], daily, category, ledger_table=ledger)
    stamp = Stamp(batch_id="b-api-test", computed_at=datetime(2025, 1, 20, 6, tzinfo=UTC))
    repository.begin(stamp)
    repository.write_day_rows(days, stamp)
    repository.write_category_rows(category_rows(days), stamp)
    repository.publish(stamp)

    bucket = f"api-data-{suffix}"
    clients["s3"].create_bucket(Bucket=bucket)
    clients["s3"].put_object(
        Bucket=bucket,
        Key="reports/batch=b-api-test/0000-orders-2025-03.report.json",
        Body=json.dumps(
            report_body(source_key=REPORT_SOURCE, batch_id="b-api-test", accepted=5)
        ).encode(),
    )
    sfn = clients["stepfunctions"]
    machine = sfn.create_state_machine(
        name=f"api-pipeline-{suffix}",
        definition=pipeline_definition(quarantine=True),
        roleArn="arn:aws:iam::123456789012:role/api-test",
    )["stateMachineArn"]
    failure = {"error": "shopflow.DataError", "reason": "orders.csv has no header"}
    for name, run_input in (
        (
            "run-failed",
            {"fail": True, "error": {"Error": failure["error"], "Cause": json.dumps(failure)}},
        ),
        ("run-partial", {"fail": False}),
    ):
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(run_input))[
            "executionArn"
        ]
        finished(sfn, arn)
        # Distinct start times, so newest first is well defined.
        time.sleep(1.1)
    environment = {
        "SHOPFLOW_AWS_ENDPOINT_URL": moto_endpoint,
        "SHOPFLOW_DAILY_KPIS_TABLE": daily,
        "SHOPFLOW_CATEGORY_KPIS_TABLE": category,
        "SHOPFLOW_LEDGER_TABLE": ledger,
        "SHOPFLOW_DATA_BUCKET": bucket,
        "SHOPFLOW_STATE_MACHINE_ARN": machine,
        "SHOPFLOW_MAX_PAGE_DAYS": "31",
    }
    log = tmp_path_factory.mktemp("api") / "api.log"
    with running_api(environment, log) as url:
        yield ApiStack(url, clients, daily, category, ledger, days)
