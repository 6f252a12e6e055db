"""The two KPI tables, read with the access patterns they were designed for (docs/kpis.md):
GetItem for a day, Query for a range of days (one per year spanned), for a category over a
range, and on the ``by_order_date`` index for a day's categories. Never a Scan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from shopflow_runtime import kpi_versions

from shopflow_api.domain.model import CategoryKpis, DayKpis
from shopflow_api.domain.queries import DateRange

CATEGORY_DATE_INDEX = "by_order_date"
BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
BATCH_GET_ATTEMPTS = 8
# How far back from next year the latest day is looked for when no date is given.
LATEST_DAY_YEARS = 30


_DESERIALIZER = TypeDeserializer()


class _Answered:
    """The pointer's GetItem response, already awaited, for ``kpi_versions.read_published``."""

    def __init__(self, response: dict[str, Any]) -> None:
        self._response = response

    def get_item(self, **_: Any) -> dict[str, Any]:
        return self._response


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as Python values (numbers ``Decimal``, exact)."""
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
        ledger_table: str | None = None,
    ) -> None:
        self._dynamodb = dynamodb_client
        self._daily_table = daily_table
        self._category_table = category_table
        self._ledger_table = ledger_table

    async def _published(self) -> kpi_versions.PublishedKpis:
        """What readers may see (the published KPI version: both tables of one run); without
        a ledger table every row as last written, deleted ones hidden."""
        if self._ledger_table is None:
            return kpi_versions.AS_WRITTEN
        response = await self._dynamodb.get_item(
            TableName=self._ledger_table, Key=kpi_versions.PUBLISHED_KEY, ConsistentRead=True
        )
        return kpi_versions.read_published(_Answered(response), self._ledger_table)

    async def _visible(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not items:
            return []
        published = await self._published()
        found = (kpi_versions.visible(_plain(item), published) for item in items)
        return [row for row in found if row is not None]

    async def day(self, order_date: date) -> DayKpis | None:
        response = await self._dynamodb.get_item(
            TableName=self._daily_table,
            Key={
                "order_year": {"S": f"{order_date.year:04d}"},
                "order_date": {"S": order_date.isoformat()},
            },
        )
        item = response.get("Item")
        rows = await self._visible([] if item is None else [item])
        return day_row(rows[0]) if rows else None

    async def days(self, span: DateRange, limit: int) -> list[DayKpis]:
        # Rows another version hides do not count: the range is read whole, then cut.
        items: list[dict[str, Any]] = []
        for year in span.years():
            async for item in self._query(
                None,
                TableName=self._daily_table,
                KeyConditionExpression="order_year = :y AND order_date BETWEEN :a AND :b",
                ExpressionAttributeValues={
                    ":y": {"S": year},
                    ":a": {"S": span.first.isoformat()},
                    ":b": {"S": span.last.isoformat()},
                },
            ):
                items.append(item)
        return [day_row(row) for row in await self._visible(items)][:limit]

    async def categories_on(self, order_date: date) -> list[CategoryKpis]:
        # The index holds keys only (the template's projection): its Query says which
        # categories the day has, BatchGetItem reads their rows.
        keys = [
            item
            async for item in self._query(
                None,
                TableName=self._category_table,
                IndexName=CATEGORY_DATE_INDEX,
                KeyConditionExpression="order_date = :d",
                ExpressionAttributeValues={":d": {"S": order_date.isoformat()}},
            )
        ]
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = [
                {"category": key["category"], "order_date": key["order_date"]}
                for key in keys[start : start + BATCH_GET_LIMIT]
            ]
            for _ in range(BATCH_GET_ATTEMPTS):
                response = await self._dynamodb.batch_get_item(
                    RequestItems={self._category_table: {"Keys": pending}}
                )
                items.extend(response.get("Responses", {}).get(self._category_table, []))
                left = response.get("UnprocessedKeys", {}).get(self._category_table)
                if not left:
                    break
                pending = list(left["Keys"])
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{len(pending)} category rows of {order_date} unread")
        rows = [category_row(row) for row in await self._visible(items)]
        return sorted(rows, key=lambda row: row.category)

    async def category(self, category: str, span: DateRange, limit: int) -> list[CategoryKpis]:
        items = [
            item
            async for item in self._query(
                None,
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
        return [category_row(row) for row in await self._visible(items)][:limit]

    async def latest_day(self, on_or_before: date | None = None) -> date | None:
        newest_year = on_or_before.year if on_or_before else datetime.now(UTC).year + 1
        for year in range(newest_year, newest_year - LATEST_DAY_YEARS, -1):
            condition = "order_year = :y"
            values = {":y": {"S": f"{year:04d}"}}
            if on_or_before is not None:
                condition += " AND order_date <= :d"
                values[":d"] = {"S": on_or_before.isoformat()}
            # Newest first, read on past rows the published version does not show.
            newest = [
                item
                async for item in self._query(
                    None,
                    TableName=self._daily_table,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ScanIndexForward=False,
                )
            ]
            shown = await self._visible(newest)
            if shown:
                return date.fromisoformat(shown[0]["order_date"])
        return None

    async def _query(self, limit: int | None, **request: Any) -> AsyncIterator[dict[str, Any]]:
        """Items of one Query, page by page, stopping after ``limit`` (None: all)."""
        left = limit
        while left is None or left > 0:
            page_request = dict(request)
            if left is not None:
                page_request["Limit"] = left
            response = await self._dynamodb.query(**page_request)
            for item in response.get("Items", []):
                yield item
            if left is not None:
                left -= len(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            request["ExclusiveStartKey"] = start
