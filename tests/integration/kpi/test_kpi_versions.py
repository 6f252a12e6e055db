"""Versioned KPI writes against DynamoDB (moto server over HTTP): readers that follow the
published version see both tables change together, whatever a writer's crash point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_resources import create_kpi_tables, create_ledger_table
from boto3.dynamodb.types import TypeDeserializer
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.ports import Stamp
from shopflow_runtime.kpi_versions import (
    PublishConflictError,
    PublishedKpis,
    begin,
    publish,
    read_published,
    visible_rows,
)

DAY = date(2025, 3, 1)


def day(orders: int) -> DayKpi:
    return DayKpi(
        order_date=DAY,
        total_orders=orders,
        total_revenue=Decimal(orders * 10),
        total_items_sold=orders,
        return_rate=Decimal("0.00"),
        unique_customers=orders,
    )


def category(name: str, revenue: int) -> CategoryKpi:
    return CategoryKpi(
        category=name,
        order_date=DAY,
        daily_revenue=Decimal(revenue),
        avg_order_value=Decimal(revenue),
        avg_return_rate=Decimal("0.00"),
    )


class Tables:
    def __init__(self, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]):
        self.dynamodb = aws_client("dynamodb")
        self.daily, self.category, self.ledger = (
            unique_name("daily"),
            unique_name("category"),
            unique_name("ledger"),
        )
        create_kpi_tables(self.dynamodb, self.daily, self.category)
        create_ledger_table(self.dynamodb, self.ledger)

    def repository(self) -> DynamoKpiRepository:
        return DynamoKpiRepository(
            self.dynamodb, self.daily, self.category, ledger_table=self.ledger
        )

    def seen(self, published: PublishedKpis | None = None) -> tuple[list[int], list[str]]:
        """What a reader sees: the day's orders, and the categories with their revenue."""
        view = published or read_published(self.dynamodb, self.ledger)
        deserializer = TypeDeserializer()

        def rows(table: str) -> list[dict[str, Any]]:
            items = self.dynamodb.scan(TableName=table)["Items"]
            plain = [{k: deserializer.deserialize(v) for k, v in i.items()} for i in items]
            return visible_rows(plain, view)

        days = [int(row["total_orders"]) for row in rows(self.daily)]
        categories = sorted(
            f"{r['category']}={int(r['daily_revenue'])}" for r in rows(self.category)
        )
        return days, categories


@pytest.fixture
def tables(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> Tables:
    return Tables(aws_client, unique_name)


def stamp(batch: str) -> Stamp:
    return Stamp(batch, datetime(2025, 3, 2, tzinfo=UTC))


def run(
    repository: DynamoKpiRepository,
    batch: str,
    orders: int,
    categories: dict[str, int],
    deleted: tuple[str, ...] = (),
    *,
    crash_between_tables: bool = False,
) -> None:
    """One KPI run's writes: the day row, the category rows, deletions, then publish; or a
    run killed between the two tables."""
    repository.begin(stamp(batch))
    repository.write_day_rows([day(orders)], stamp(batch))
    if crash_between_tables:
        return
    repository.write_category_rows(
        [category(name, revenue) for name, revenue in categories.items()], stamp(batch)
    )
    repository.delete_rows([], [(name, DAY) for name in deleted])
    repository.publish(stamp(batch))


def test_readers_see_both_tables_of_one_version_whatever_the_crash_point(
    tables: Tables,
) -> None:
    # Given run 1 published: 3 orders, Jeans and Tops
    run(tables.repository(), "b1", 3, {"Jeans": 30, "Tops": 5})
    assert tables.seen() == ([3], ["Jeans=30", "Tops=5"])

    # When run 2 is killed between the day table and the category table
    run(tables.repository(), "b2", 4, {"Jeans": 40}, ("Tops",), crash_between_tables=True)

    # Then readers still see run 1 in both tables (not run 2's day with run 1's categories)
    assert tables.seen() == ([3], ["Jeans=30", "Tops=5"])

    # When the retry (a new worker) runs in full, deleting Tops
    run(tables.repository(), "b2", 4, {"Jeans": 40}, ("Tops",))

    # Then readers see run 2 in both tables at once, Tops gone; the dead attempt's version
    # is aborted and never shows
    assert tables.seen() == ([4], ["Jeans=40"])
    published = read_published(tables.dynamodb, tables.ledger)
    assert (published.version, published.batch_id, published.aborted) == (3, "b2", frozenset({2}))
    assert published.pending is None


def test_a_reader_holding_the_old_version_keeps_seeing_it_while_the_next_is_written(
    tables: Tables,
) -> None:
    # Given run 1 published, and a reader that read the pointer then
    run(tables.repository(), "b1", 3, {"Jeans": 30})
    before = read_published(tables.dynamodb, tables.ledger)

    # When run 2 writes and publishes, adding a category
    run(tables.repository(), "b2", 5, {"Jeans": 50, "Dresses": 7})

    # Then the reader at the old version sees run 1 whole; a fresh reader sees run 2 whole
    assert tables.seen(before) == ([3], ["Jeans=30"])
    assert tables.seen() == ([5], ["Dresses=7", "Jeans=50"])


def test_a_writer_that_lost_the_pointer_cannot_publish(tables: Tables) -> None:
    # Given two writers that began on the same published version (a lost lease)
    version = begin(tables.dynamodb, tables.ledger)
    begin(tables.dynamodb, tables.ledger)
    # Then the first one's publish is refused: the pointer moved
    with pytest.raises(PublishConflictError):
        publish(tables.dynamodb, tables.ledger, version, "b1")
