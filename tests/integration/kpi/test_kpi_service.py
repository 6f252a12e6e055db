"""The kpi handler and worker against real S3 and DynamoDB APIs (moto server over HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from aws_resources import NamedClients, create_ledger_table
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from kpi_s3_lake import KpiStack
from shopflow_contracts.messages import (
    KpiCommand,
    KpiOutcome,
    KpiRequest,
    TaskErrorName,
    TaskFailure,
)
from shopflow_contracts.rows import FileKind
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.adapters.s3 import S3CuratedStore
from shopflow_kpi.bootstrap import build_handler, build_worker
from shopflow_kpi.domain import DayKpi
from shopflow_kpi.ports import CuratedObject, CuratedObjectsMissingError, Stamp
from shopflow_kpi.settings import KpiSettings
from shopflow_runtime.aws import failure_record_key
from shopflow_runtime.kpi_versions import read_published, visible

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS


def command(stack: KpiStack, batch: str) -> KpiCommand:
    return KpiCommand(
        message_id=uuid4(),
        run_id=f"run-{batch}",
        occurred_at=datetime.now(UTC),
        task_token="token",
        payload=KpiRequest(batch_id=batch, curated=stack.lake.batch(batch)),
    )


def run(stack: KpiStack, batch: str) -> KpiOutcome:
    clients = NamedClients(stack.clients)
    return build_handler(stack.settings, clients).handle(command(stack, batch)).payload


def order(order_id: int, created_at: str, user_id: int, status: str = "complete") -> dict[str, Any]:
    return {"order_id": order_id, "user_id": user_id, "status": status, "created_at": created_at}


def item(
    item_id: int,
    order_id: int,
    product_id: int,
    price: str,
    status: str = "complete",
    user_id: int = 1,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": user_id,
        "product_id": product_id,
        "status": status,
        "sale_price": Decimal(price),
    }


def as_read(stack: KpiStack, item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item as a reader following the published KPI version sees it (None: absent)."""
    if item is None:
        return None
    published = read_published(stack.clients["dynamodb"], stack.settings.ledger_table)
    deserializer, serializer = TypeDeserializer(), TypeSerializer()
    row = visible({k: deserializer.deserialize(v) for k, v in item.items()}, published)
    return None if row is None else {k: serializer.serialize(v) for k, v in row.items()}


def table_items(stack: KpiStack, table: str) -> list[dict[str, Any]]:
    # Scanning is fine in a test: the tables are this test's own.
    pages = stack.clients["dynamodb"].get_paginator("scan").paginate(TableName=table)
    seen = (as_read(stack, entry) for page in pages for entry in page["Items"])
    return [entry for entry in seen if entry is not None]


def day_row(stack: KpiStack, on: date) -> dict[str, Any] | None:
    response = stack.clients["dynamodb"].get_item(
        TableName=stack.settings.daily_kpis_table,
        Key={"order_year": {"S": str(on.year)}, "order_date": {"S": on.isoformat()}},
        ConsistentRead=True,
    )
    return as_read(stack, response.get("Item"))


def categories_on(stack: KpiStack, on: date) -> dict[str, dict[str, Any]]:
    response = stack.clients["dynamodb"].query(
        TableName=stack.settings.category_kpis_table,
        IndexName="by_order_date",
        KeyConditionExpression="order_date = :d",
        ExpressionAttributeValues={":d": {"S": on.isoformat()}},
    )
    found = {}
    for key in response["Items"]:
        full = stack.clients["dynamodb"].get_item(
            TableName=stack.settings.category_kpis_table,
            Key={"category": key["category"], "order_date": key["order_date"]},
            ConsistentRead=True,
        )
        seen = as_read(stack, full["Item"])
        if seen is not None:
            found[key["category"]["S"]] = seen
    return found


def numbers(entry: dict[str, Any], *names: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(entry[name]["N"]) for name in names)


MAR1 = date(2024, 3, 1)


@pytest.fixture
def first_batch(kpi_stack: KpiStack) -> KpiStack:
    lake = kpi_stack.lake
    lake.add("b0", PRODUCTS, [{"id": 1, "category": "Jeans"}, {"id": 2, "category": "Tops"}])
    lake.add(
        "b1",
        ORDERS,
        [
            order(10, "2024-03-01 09:00:00+00", 100),
            order(11, "2024-03-01 22:00:00+00", 101),
            order(12, "2024-03-01 23:00:00+00", 100, status="Cancelled"),
        ],
    )
    lake.add(
        "b1",
        ITEMS,
        [
            item(1, 10, 1, "50.00", status="returned", user_id=100),
            item(2, 10, 2, "30.10", user_id=100),
            item(3, 11, 2, "19.95", user_id=101),
            item(4, 12, 1, "999.99", user_id=100),
        ],
    )
    return kpi_stack


def test_handler_stores_exact_kpis_in_both_tables(first_batch: KpiStack) -> None:
    # When
    outcome = run(first_batch, "b1")
    # Then
    assert outcome.model_copy(update={"settled_files": []}) == KpiOutcome(
        batch_id="b1",
        order_dates=[MAR1],
        day_rows_written=1,
        category_rows_written=2,
        pending_report_key="reports/pending/pending-items.json",
    )
    assert [(f.duplicates, f.pending) for f in outcome.settled_files] == [(0, 0), (0, 0)]
    day = day_row(first_batch, MAR1)
    assert day is not None
    assert numbers(
        day, "total_orders", "total_revenue", "total_items_sold", "return_rate", "unique_customers"
    ) == (Decimal(2), Decimal("100.05"), Decimal(3), Decimal("50"), Decimal(2))
    assert day["batch_id"] == {"S": "b1"}
    assert datetime.fromisoformat(day["computed_at"]["S"]).utcoffset() is not None
    categories = categories_on(first_batch, MAR1)
    assert set(categories) == {"Jeans", "Tops"}
    revenue_aov_rate = ("daily_revenue", "avg_order_value", "avg_return_rate")
    assert numbers(categories["Jeans"], *revenue_aov_rate) == (
        Decimal("50.00"),
        Decimal("50.00"),
        Decimal("100"),
    )
    assert numbers(categories["Tops"], *revenue_aov_rate) == (
        Decimal("50.05"),
        Decimal("25.03"),
        Decimal("0"),
    )


def test_rerunning_the_same_command_changes_nothing(first_batch: KpiStack) -> None:
    # Given the batch computed once
    first = run(first_batch, "b1")
    settings = first_batch.settings

    def snapshot() -> list[list[dict[str, Any]]]:
        # computed_at records when a row was last written, so it is the one attribute
        # allowed to move.
        return [
            sorted(
                (
                    {k: v for k, v in entry.items() if k != "computed_at"}
                    for entry in table_items(first_batch, table)
                ),
                key=lambda entry: json.dumps(entry, sort_keys=True),
            )
            for table in (settings.daily_kpis_table, settings.category_kpis_table)
        ]

    before = snapshot()
    # When
    second = run(first_batch, "b1")
    # Then
    assert second == first
    assert snapshot() == before
    assert len(before[0]) == 1 and len(before[1]) == 2


def test_a_correction_cancelling_a_days_orders_deletes_its_rows(first_batch: KpiStack) -> None:
    # Given Mar 1 computed, then a correction cancelling both remaining orders
    run(first_batch, "b1")
    first_batch.lake.add(
        "b2",
        ORDERS,
        [
            order(10, "2024-03-01 09:00:00+00", 100, "cancelled"),
            order(11, "2024-03-01 22:00:00+00", 101, "cancelled"),
        ],
    )
    # When
    outcome = run(first_batch, "b2")
    # Then
    assert outcome.order_dates == [MAR1]
    assert day_row(first_batch, MAR1) is None
    assert categories_on(first_batch, MAR1) == {}


def test_category_rows_go_out_in_batch_writes_of_at_most_25(kpi_stack: KpiStack) -> None:
    # Given 60 products in 60 categories, each sold once on Mar 1
    lake = kpi_stack.lake
    lake.add("b0", PRODUCTS, [{"id": n, "category": f"cat-{n:02d}"} for n in range(60)])
    lake.add("b1", ORDERS, [order(1, "2024-03-01 09:00:00+00", 1)])
    lake.add("b1", ITEMS, [item(n, 1, n, "1.00") for n in range(60)])
    # ... and a spy on every BatchWriteItem the service sends
    sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sizes.append(sum(len(requests) for requests in params["RequestItems"].values()))

    kpi_stack.clients["dynamodb"].meta.events.register(
        "provide-client-params.dynamodb.BatchWriteItem", count
    )
    # When
    outcome = run(kpi_stack, "b1")
    # Then
    assert outcome.category_rows_written == 60
    assert sizes and max(sizes) <= 25
    assert sum(sizes) == 61  # 60 category rows and 1 day row; nothing to delete
    assert len(categories_on(kpi_stack, MAR1)) == 60


def test_a_category_emptied_by_a_product_correction_is_deleted(first_batch: KpiStack) -> None:
    # Given Mar 1 computed, then product 1 re-filed from Jeans to Denim
    run(first_batch, "b1")
    first_batch.lake.add("b2", PRODUCTS, [{"id": 1, "category": "Denim"}])
    # When
    outcome = run(first_batch, "b2")
    # Then
    assert outcome.order_dates == [MAR1]
    assert set(categories_on(first_batch, MAR1)) == {"Denim", "Tops"}


def test_worker_answers_a_queued_command_through_the_bootstrap_wiring(
    first_batch: KpiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the service configured from its environment only, as the container runs it
    configured = first_batch.settings
    for name, value in configured.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"SHOPFLOW_{name.upper()}", str(value))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = KpiSettings()
    assert settings == configured
    # ... and a command on the kpi queue, sent as the state machine would
    first_batch.clients["sqs"].send_message(
        QueueUrl=settings.kpi_queue_url, MessageBody=command(first_batch, "b1").model_dump_json()
    )
    worker = build_worker(settings)
    # When
    handled = worker.poll_once()
    # Then: the KPIs are stored and the message is gone (moto does not know the token, which
    # the worker treats as an execution that no longer waits)
    assert handled == 1
    assert day_row(first_batch, MAR1) is not None
    remaining = first_batch.clients["sqs"].receive_message(
        QueueUrl=settings.kpi_queue_url, WaitTimeSeconds=0
    )
    assert remaining.get("Messages", []) == []


def test_worker_records_a_missing_batch_file_as_a_typed_failure(
    first_batch: KpiStack, monkeypatch: pytest.MonkeyPatch, unique_name: Any
) -> None:
    # Given a worker configured with a ledger table, and a command naming a curated file
    # that is not in the bucket
    dynamodb = first_batch.clients["dynamodb"]
    ledger = create_ledger_table(dynamodb, unique_name("ledger"))
    settings = first_batch.settings.model_copy(update={"ledger_table": ledger})
    ghost = first_batch.lake.batch("b1")[0].model_copy(
        update={"key": "curated/orders/batch=b9/ghost.parquet"}
    )
    lost = command(first_batch, "b1").model_copy(
        update={"run_id": "run-b9", "payload": KpiRequest(batch_id="b9", curated=[ghost])}
    )
    first_batch.clients["sqs"].send_message(
        QueueUrl=settings.kpi_queue_url, MessageBody=lost.model_dump_json()
    )
    # When
    build_worker(settings, NamedClients(first_batch.clients)).poll_once()
    # Then
    record = dynamodb.get_item(
        TableName=ledger, Key=failure_record_key("run-b9"), ConsistentRead=True
    )["Item"]
    cause = TaskFailure.model_validate_json(record["cause"]["S"])
    assert (cause.error, cause.stage, cause.files) == (
        TaskErrorName.STAGED_OBJECT_MISSING,
        "kpi",
        [ghost.key],
    )
    assert day_row(first_batch, MAR1) is None


def test_s3_store_lists_only_curated_parquet_of_a_kind(kpi_stack: KpiStack) -> None:
    s3, bucket = kpi_stack.clients["s3"], kpi_stack.settings.data_bucket
    key = kpi_stack.lake.add("b1", ORDERS, [order(1, "2024-03-01 09:00:00+00", 1)], stem="a [1]*")
    s3.put_object(Bucket=bucket, Key="curated/orders/batch=b1/_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key="curated/order_items/batch=b1/x.parquet", Body=b"")
    store = S3CuratedStore(s3, bucket)
    assert store.list_curated(ORDERS) == [CuratedObject(ORDERS, bucket, key)]


def test_s3_store_reports_missing_objects(kpi_stack: KpiStack, tmp_path: Any) -> None:
    bucket = kpi_stack.settings.data_bucket
    present = kpi_stack.lake.add("b1", ORDERS, [order(1, "2024-03-01 09:00:00+00", 1)])
    wanted = [
        CuratedObject(ORDERS, bucket, present),
        CuratedObject(ORDERS, bucket, "curated/orders/gone.parquet"),
    ]
    with pytest.raises(CuratedObjectsMissingError) as missing:
        S3CuratedStore(kpi_stack.clients["s3"], bucket).fetch(wanted, tmp_path)
    assert missing.value.objects == wanted[1:]


def test_curated_keys_with_glob_characters_are_read_literally(kpi_stack: KpiStack) -> None:
    # Given a curated file whose stem DuckDB would read as a glob pattern
    lake = kpi_stack.lake
    lake.add("b1", ORDERS, [order(1, "2024-03-01 09:00:00+00", 1)], stem="orders [2024]*?")
    # When
    outcome = run(kpi_stack, "b1")
    # Then
    assert outcome.day_rows_written == 1


def test_days_with_rows_reads_a_range_across_years_by_query(kpi_stack: KpiStack) -> None:
    # Given day rows on both sides of a new year and outside the range asked for
    repository = DynamoKpiRepository(
        kpi_stack.clients["dynamodb"],
        kpi_stack.settings.daily_kpis_table,
        kpi_stack.settings.category_kpis_table,
    )
    zero = Decimal("0.00")
    days = [date(2023, 12, 30), date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 3)]
    repository.write_day_rows(
        [
            DayKpi(
                order_date=day,
                total_orders=1,
                total_revenue=zero,
                total_items_sold=1,
                return_rate=zero,
                unique_customers=1,
            )
            for day in days
        ],
        Stamp("b", datetime.now(UTC)),
    )
    # When the dates of Dec 31 to Jan 2 are asked for
    found = repository.days_with_rows(date(2023, 12, 31), date(2024, 1, 2))
    # Then exactly the two in the range come back, in order
    assert found == [date(2023, 12, 31), date(2024, 1, 1)]
