"""The two KPI tables, read with the access patterns they were designed for (docs/kpis.md):
GetItem for a day, Query for a range of days (one per year spanned), for a category over a
range, and on the ``by_order_date`` index for a day's categories. Never a Scan.

Every row is read as of one published KPI version (``shopflow_runtime.kpi_versions``): a
KPI run writes the two tables with many writes and flips the ledger's ``PUBLISHED#kpi``
pointer after both, so a request that reads the pointer once (``pinned``) answers from one
run's tables, never half of the next one's; deleted rows and rows of unpublished runs are
passed over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from shopflow_runtime.kpi_versions import (
    NOTHING_PUBLISHED,
    PUBLISHED_KEY,
    PublishedKpis,
    published_from_item,
    visible,
)

from shopflow_api.domain.model import CategoryKpis, DayKpis
from shopflow_api.domain.queries import DateRange

CATEGORY_DATE_INDEX = "by_order_date"
BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
BATCH_GET_ATTEMPTS = 8
# How far back from next year the latest day is looked for when no date is given.
LATEST_DAY_YEARS = 30


_DESERIALIZER = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as Python: numbers as ``Decimal`` from their text (exact)."""
    return {name: _DESERIALIZER.deserialize(attribute) for name, attribute in item.items()}


def day_row(row: dict[str, Any]) -> DayKpis:
    return DayKpis(
        order_date=date.fromisoformat(row["order_date"]),
        total_orders=int(row["total_orders"]),
        total_revenue=row["total_revenue"],
        total_items_sold=int(row["total_items_sold"]),
        return_rate=row["return_rate"],
        unique_customers=int(row["unique_customers"]),
        computed_at=row.get("computed_at"),
        batch_id=row.get("batch_id"),
    )


def category_row(row: dict[str, Any]) -> CategoryKpis:
    return CategoryKpis(
        category=row["category"],
        order_date=date.fromisoformat(row["order_date"]),
        daily_revenue=row["daily_revenue"],
        avg_order_value=row["avg_order_value"],
        avg_return_rate=row["avg_return_rate"],
        computed_at=row.get("computed_at"),
        batch_id=row.get("batch_id"),
    )


class DynamoKpiStore:
    def __init__(
        self,
        dynamodb_client: Any,
        daily_table: str,
        category_table: str,
        ledger_table: str,
        published: PublishedKpis | None = None,
    ) -> None:
        self._dynamodb = dynamodb_client
        self._daily_table = daily_table
        self._category_table = category_table
        self._ledger_table = ledger_table
        # None until pinned: a store used unpinned reads the pointer on each call.
        self._published = published

    async def pinned(self) -> DynamoKpiStore:
        """This store as of the version published now (one consistent GetItem)."""
        response = await self._dynamodb.get_item(
            TableName=self._ledger_table, Key=PUBLISHED_KEY, ConsistentRead=True
        )
        return DynamoKpiStore(
            self._dynamodb,
            self._daily_table,
            self._category_table,
            self._ledger_table,
            published_from_item(response.get("Item")),
        )

    async def _version(self) -> PublishedKpis:
        if self._published is not None:
            return self._published
        return (await self.pinned())._published or NOTHING_PUBLISHED

    async def _visible(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if item is None else visible(_plain(item), await self._version())

    async def day(self, order_date: date) -> DayKpis | None:
        response = await self._dynamodb.get_item(
            TableName=self._daily_table,
            Key={
                "order_year": {"S": f"{order_date.year:04d}"},
                "order_date": {"S": order_date.isoformat()},
            },
        )
        row = await self._visible(response.get("Item"))
        return None if row is None else day_row(row)

    async def days(self, span: DateRange, limit: int) -> list[DayKpis]:
        rows: list[DayKpis] = []
        for year in span.years():
            async for row in self._query(
                limit - len(rows),
                TableName=self._daily_table,
                KeyConditionExpression="order_year = :y AND order_date BETWEEN :a AND :b",
                ExpressionAttributeValues={
                    ":y": {"S": year},
                    ":a": {"S": span.first.isoformat()},
                    ":b": {"S": span.last.isoformat()},
                },
            ):
                rows.append(day_row(row))
            if len(rows) >= limit:
                break
        return rows

    async def categories_on(self, order_date: date) -> list[CategoryKpis]:
        # The index holds keys only (the template's projection): its Query says which
        # categories the day has, BatchGetItem reads their rows.
        keys = [
            item
            async for item in self._query_items(
                TableName=self._category_table,
                IndexName=CATEGORY_DATE_INDEX,
                KeyConditionExpression="order_date = :d",
                ExpressionAttributeValues={":d": {"S": order_date.isoformat()}},
            )
        ]
        rows: list[CategoryKpis] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = [
                {"category": key["category"], "order_date": key["order_date"]}
                for key in keys[start : start + BATCH_GET_LIMIT]
            ]
            for _ in range(BATCH_GET_ATTEMPTS):
                response = await self._dynamodb.batch_get_item(
                    RequestItems={self._category_table: {"Keys": pending}}
                )
                for item in response.get("Responses", {}).get(self._category_table, []):
                    row = await self._visible(item)
                    if row is not None:
                        rows.append(category_row(row))
                left = response.get("UnprocessedKeys", {}).get(self._category_table)
                if not left:
                    break
                pending = list(left["Keys"])
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{len(pending)} category rows of {order_date} unread")
        return sorted(rows, key=lambda row: row.category)

    async def category(self, category: str, span: DateRange, limit: int) -> list[CategoryKpis]:
        return [
            category_row(row)
            async for row in self._query(
                limit,
                TableName=self._category_table,
                KeyConditionExpression="#c = :c AND order_date BETWEEN :a AND :b",
                ExpressionAttributeNames={"#c": "category"},
                ExpressionAttributeValues={
                    ":c": {"S": category},
                    ":a": {"S": span.first.isoformat()},
                    ":b": {"S": span.last.isoformat()},
                },
            )
        ]

    async def latest_day(self, on_or_before: date | None = None) -> date | None:
        newest_year = on_or_before.year if on_or_before else datetime.now(UTC).year + 1
        for year in range(newest_year, newest_year - LATEST_DAY_YEARS, -1):
            condition = "order_year = :y"
            values = {":y": {"S": f"{year:04d}"}}
            if on_or_before is not None:
                condition += " AND order_date <= :d"
                values[":d"] = {"S": on_or_before.isoformat()}
            # Newest first, a few at a time: the newest row may be deleted or unpublished.
            async for row in self._query(
                1,
                page_size=10,
                TableName=self._daily_table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
            ):
                return date.fromisoformat(str(row["order_date"]))
        return None

    async def _query(
        self, limit: int, page_size: int | None = None, **request: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """The first ``limit`` rows of one Query that readers of the version see (a
        deleted or unpublished row takes a place in a page, not in the answer)."""
        left = limit
        if left <= 0:
            return
        async for item in self._query_items(page_size or limit, **request):
            row = await self._visible(item)
            if row is None:
                continue
            yield row
            left -= 1
            if left == 0:
                return

    async def _query_items(
        self, page_size: int | None = None, **request: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of one Query, page by page (``page_size`` items a page; None: 1 MB)."""
        while True:
            page_request = dict(request)
            if page_size is not None:
                page_request["Limit"] = page_size
            response = await self._dynamodb.query(**page_request)
            for item in response.get("Items", []):
                yield item
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            request["ExclusiveStartKey"] = start
