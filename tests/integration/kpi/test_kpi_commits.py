"""A failed run changes nothing: the curated output of a batch that is not committed never
reaches the KPIs of another run (moto S3 and DynamoDB over HTTP, the bootstrap's wiring)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from aws_resources import NamedClients
from boto3.dynamodb.types import TypeDeserializer
from kpi_s3_lake import KpiStack
from shopflow_contracts.messages import KpiCommand, KpiOutcome, KpiRequest
from shopflow_contracts.rows import FileKind
from shopflow_contracts.storage import UncommittedBatch, uncommitted_key
from shopflow_kpi.adapters.commits import S3BatchCommits
from shopflow_kpi.bootstrap import build_handler
from shopflow_runtime.kpi_versions import read_published, visible

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1, MAR2 = date(2024, 3, 1), date(2024, 3, 2)


def run(stack: KpiStack, batch: str, work_dir: Path | None = None) -> KpiOutcome:
    """ComputeKpis of ``batch`` on a worker of its own work dir (the default one if None)."""
    settings = stack.settings
    if work_dir is not None:
        settings = settings.model_copy(update={"work_dir": work_dir})
    command = KpiCommand(
        message_id=uuid4(),
        run_id=f"run-{batch}",
        occurred_at=datetime.now(UTC),
        task_token="token",
        payload=KpiRequest(batch_id=batch, curated=stack.lake.batch(batch)),
    )
    return build_handler(settings, NamedClients(stack.clients)).handle(command).payload


def validated(stack: KpiStack, batch: str, order_dates: list[date] | None = None) -> None:
    """Leave the marker the validator leaves before a batch's curated files (with the dates
    its kpi stage was writing, when given)."""
    marker = UncommittedBatch(
        batch_id=batch, marked_at=datetime.now(UTC), order_dates=order_dates or []
    )
    stack.clients["s3"].put_object(
        Bucket=stack.settings.data_bucket,
        Key=uncommitted_key(batch),
        Body=marker.model_dump_json().encode(),
    )


def marked(stack: KpiStack) -> list[str]:
    return [
        m.batch_id for m in S3BatchCommits(stack.clients["s3"], stack.lake.bucket).uncommitted()
    ]


def day_orders(stack: KpiStack, on: date) -> Decimal | None:
    found: dict[str, Any] | None = (
        stack.clients["dynamodb"]
        .get_item(
            TableName=stack.settings.daily_kpis_table,
            Key={"order_year": {"S": str(on.year)}, "order_date": {"S": on.isoformat()}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if found is None:
        return None
    # As readers see it: at the published KPI version (a deleted row is a tombstone).
    published = read_published(stack.clients["dynamodb"], stack.settings.ledger_table)
    row = visible({k: TypeDeserializer().deserialize(v) for k, v in found.items()}, published)
    return None if row is None else Decimal(row["total_orders"])


def order(order_id: int, created_at: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "user_id": order_id,
        "status": "complete",
        "created_at": created_at,
    }


def item(item_id: int, order_id: int, price: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": order_id,
        "product_id": 1,
        "status": "complete",
        "sale_price": Decimal(price),
    }


def committed_history(stack: KpiStack) -> None:
    """Products and one day of orders, committed by a run of their own."""
    lake = stack.lake
    validated(stack, "b1")
    lake.add("b1", PRODUCTS, [{"id": 1, "category": "Jeans"}])
    lake.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    lake.add("b1", ITEMS, [item(1, 10, "50.00")])
    run(stack, "b1")


def failed_after_validation(stack: KpiStack) -> None:
    """A batch validated (curated files and marker written) whose run then failed: a second
    order on Mar 1 and one on Mar 2."""
    validated(stack, "bad")
    stack.lake.add(
        "bad", ORDERS, [order(20, "2024-03-01 10:00:00+00"), order(21, "2024-03-02 10:00:00+00")]
    )
    stack.lake.add("bad", ITEMS, [item(2, 20, "7.00"), item(3, 21, "8.00")])


def test_a_batch_that_failed_after_validation_counts_for_no_later_run(
    kpi_stack: KpiStack,
) -> None:
    # Given committed history, then a batch whose run failed after validation
    committed_history(kpi_stack)
    failed_after_validation(kpi_stack)
    # When a later batch (a new Mar 1 order) is computed
    validated(kpi_stack, "b2")
    kpi_stack.lake.add("b2", ORDERS, [order(30, "2024-03-01 11:00:00+00")])
    kpi_stack.lake.add("b2", ITEMS, [item(4, 30, "1.00")])
    outcome = run(kpi_stack, "b2")
    # Then its KPIs count the committed history and itself, nothing of the failed batch
    assert outcome.order_dates == [MAR1]
    assert (day_orders(kpi_stack, MAR1), day_orders(kpi_stack, MAR2)) == (Decimal(2), None)
    # And the later batch is committed, the failed one is still not
    assert marked(kpi_stack) == ["bad"]


def test_a_retried_failed_batch_counts_again(kpi_stack: KpiStack) -> None:
    # Given a batch that failed after validation, and a later run that left it out
    committed_history(kpi_stack)
    failed_after_validation(kpi_stack)
    validated(kpi_stack, "b2")
    kpi_stack.lake.add("b2", ORDERS, [order(30, "2024-03-01 11:00:00+00")])
    kpi_stack.lake.add("b2", ITEMS, [item(4, 30, "1.00")])
    run(kpi_stack, "b2")
    # When the failed batch's ComputeKpis is retried (or its execution redriven)
    outcome = run(kpi_stack, "bad")
    # Then its rows count, and from now on for every run
    assert outcome.order_dates == [MAR1, MAR2]
    assert (day_orders(kpi_stack, MAR1), day_orders(kpi_stack, MAR2)) == (Decimal(3), Decimal(1))
    assert marked(kpi_stack) == []


def test_rows_a_failed_kpi_stage_wrote_are_recomputed_without_it_by_another_worker(
    kpi_stack: KpiStack, tmp_path: Path
) -> None:
    # Given a batch whose kpi stage wrote its KPI rows and then failed before committing
    # (its marker names the dates it was writing)
    committed_history(kpi_stack)
    failed_after_validation(kpi_stack)
    run(kpi_stack, "bad")
    validated(kpi_stack, "bad", order_dates=[MAR1, MAR2])
    assert (day_orders(kpi_stack, MAR1), day_orders(kpi_stack, MAR2)) == (Decimal(2), Decimal(1))
    # When a later batch on another date runs on a worker that never saw the failed one
    validated(kpi_stack, "b3")
    kpi_stack.lake.add("b3", ORDERS, [order(40, "2024-03-05 11:00:00+00")])
    kpi_stack.lake.add("b3", ITEMS, [item(5, 40, "3.00")])
    outcome = run(kpi_stack, "b3", work_dir=tmp_path / "other-worker")
    # Then the failed batch's dates are written again from committed data only
    assert outcome.order_dates == [MAR1, MAR2, date(2024, 3, 5)]
    assert (day_orders(kpi_stack, MAR1), day_orders(kpi_stack, MAR2)) == (Decimal(1), None)
    # And the failed batch stays uncommitted, with nothing left to recompute for it
    (left,) = S3BatchCommits(kpi_stack.clients["s3"], kpi_stack.lake.bucket).uncommitted()
    assert (left.batch_id, left.order_dates) == ("bad", [])
