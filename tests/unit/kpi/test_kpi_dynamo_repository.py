"""DynamoKpiRepository against a fake DynamoDB client that records every call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository, UnprocessedWritesError
from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.ports import Stamp

STAMP = Stamp("batch-7", datetime(2024, 3, 5, 8, 0, tzinfo=UTC))


class FakeDynamoDb:
    """Records batch_write_item calls; leaves the first ``throttle`` requests of each of the
    first ``throttled_calls`` calls unprocessed, as throttled DynamoDB does."""

    def __init__(self, throttle: int = 0, throttled_calls: int = 0) -> None:
        self.calls: list[dict[str, list[dict[str, Any]]]] = []
        self.throttle = throttle
        self.throttled_calls = throttled_calls

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803 (boto3 spelling)
        self.calls.append(RequestItems)
        if len(self.calls) > self.throttled_calls:
            return {"UnprocessedItems": {}}
        return {
            "UnprocessedItems": {
                table: requests[: self.throttle] for table, requests in RequestItems.items()
            }
        }


def repository(client: FakeDynamoDb, sleeps: list[float] | None = None) -> DynamoKpiRepository:
    return DynamoKpiRepository(
        client,
        "daily",
        "category",
        max_attempts=4,
        sleep=(sleeps if sleeps is not None else []).append,
    )


def days(count: int) -> list[DayKpi]:
    start = date(2024, 1, 1)
    return [
        DayKpi(
            order_date=start + timedelta(n),
            total_orders=3,
            total_revenue=Decimal("12.30"),
            total_items_sold=4,
            return_rate=Decimal("33.33"),
            unique_customers=2,
        )
        for n in range(count)
    ]


def test_writes_go_out_in_batches_of_at_most_25() -> None:
    # Given 60 category rows
    client = FakeDynamoDb()
    rows = [
        CategoryKpi(
            category=f"c{n:02d}",
            order_date=date(2024, 3, 1),
            daily_revenue=Decimal("1.00"),
            avg_order_value=Decimal("1.00"),
            avg_return_rate=Decimal(0),
        )
        for n in range(60)
    ]
    # When
    written = repository(client).write_category_rows(rows, STAMP)
    # Then
    assert written == 60
    assert [len(call["category"]) for call in client.calls] == [25, 25, 10]
    sent = [r["PutRequest"]["Item"]["category"]["S"] for c in client.calls for r in c["category"]]
    assert sent == [row.category for row in rows]


def test_unprocessed_items_are_retried_alone_with_growing_backoff() -> None:
    # Given DynamoDB throttling 5 requests of each of its first 2 answers
    client = FakeDynamoDb(throttle=5, throttled_calls=2)
    sleeps: list[float] = []
    # When
    repository(client, sleeps).write_day_rows(days(20), STAMP)
    # Then: the retries carry exactly the unprocessed requests
    assert [len(call["daily"]) for call in client.calls] == [20, 5, 5]
    assert client.calls[1]["daily"] == client.calls[0]["daily"][:5]
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 0.05 < sleeps[1] <= 0.1


def test_writes_still_unprocessed_after_the_last_attempt_fail_the_run() -> None:
    client = FakeDynamoDb(throttle=1, throttled_calls=100)
    sleeps: list[float] = []
    with pytest.raises(UnprocessedWritesError):
        repository(client, sleeps).write_day_rows(days(3), STAMP)
    assert len(client.calls) == 4
    assert len(sleeps) == 3


def test_day_item_carries_the_kpis_as_exact_numbers_plus_provenance() -> None:
    client = FakeDynamoDb()
    repository(client).write_day_rows(days(1), STAMP)
    assert client.calls[0]["daily"][0]["PutRequest"]["Item"] == {
        "order_year": {"S": "2024"},
        "order_date": {"S": "2024-01-01"},
        "total_orders": {"N": "3"},
        "total_revenue": {"N": "12.30"},
        "total_items_sold": {"N": "4"},
        "return_rate": {"N": "33.33"},
        "unique_customers": {"N": "2"},
        "computed_at": {"S": "2024-03-05T08:00:00+00:00"},
        "batch_id": {"S": "batch-7"},
    }


def test_category_item_carries_the_kpis_as_exact_numbers_plus_provenance() -> None:
    client = FakeDynamoDb()
    row = CategoryKpi(
        category="Jeans",
        order_date=date(2024, 3, 1),
        daily_revenue=Decimal("0.25"),
        avg_order_value=Decimal("0.13"),
        avg_return_rate=Decimal("50.00"),
    )
    repository(client).write_category_rows([row], STAMP)
    assert client.calls[0]["category"][0]["PutRequest"]["Item"] == {
        "category": {"S": "Jeans"},
        "order_date": {"S": "2024-03-01"},
        "daily_revenue": {"N": "0.25"},
        "avg_order_value": {"N": "0.13"},
        "avg_return_rate": {"N": "50.00"},
        "computed_at": {"S": "2024-03-05T08:00:00+00:00"},
        "batch_id": {"S": "batch-7"},
    }


def test_deletes_are_chunked_per_table_and_nothing_is_sent_for_nothing() -> None:
    # Given 30 stale days and 2 stale category rows
    client = FakeDynamoDb()
    stale_days = [d.order_date for d in days(30)]
    # When
    repository(client).delete_rows(
        stale_days, [("Jeans", date(2024, 1, 1)), ("Tops", date(2024, 1, 2))]
    )
    repository(client).delete_rows([], [])
    # Then
    assert [(list(c), len(next(iter(c.values())))) for c in client.calls] == [
        (["daily"], 25),
        (["daily"], 5),
        (["category"], 2),
    ]
    assert client.calls[0]["daily"][0] == {
        "DeleteRequest": {"Key": {"order_year": {"S": "2024"}, "order_date": {"S": "2024-01-01"}}}
    }
    assert client.calls[2]["category"][1] == {
        "DeleteRequest": {"Key": {"category": {"S": "Tops"}, "order_date": {"S": "2024-01-02"}}}
    }
