"""The two KPI tables, read with the access patterns they were designed for (docs/kpis.md):
GetItem for a day, Query for a range of days (one per year spanned), for a category over a
range, and on the ``by_order_date`` index for a day's categories. Never a Scan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shopflow_api.domain.model import CategoryKpis, DayKpis
from shopflow_api.domain.queries import DateRange

CATEGORY_DATE_INDEX = "by_order_date"
BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
BATCH_GET_ATTEMPTS = 8
# How far back from next year the latest day is looked for when no date is given.
LATEST_DAY_YEARS = 30


def _value(attribute: dict[str, Any]) -> Any:
    """A DynamoDB attribute as Python: numbers as ``Decimal`` from their text (exact)."""
    if "N" in attribute:
        return Decimal(attribute["N"])
    if "S" in attribute:
        return attribute["S"]
    if "NULL" in attribute:
        return None
    raise ValueError(f"unexpected attribute type {sorted(attribute)}")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(attribute) for name, attribute in item.items()}


def day_row(item: dict[str, Any]) -> DayKpis:
    row = _plain(item)
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


def category_row(item: dict[str, Any]) -> CategoryKpis:
    row = _plain(item)
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
    def __init__(self, dynamodb_client: Any, daily_table: str, category_table: str) -> None:
        self._dynamodb = dynamodb_client
        self._daily_table = daily_table
        self._category_table = category_table

    async def day(self, order_date: date) -> DayKpis | None:
        response = await self._dynamodb.get_item(
            TableName=self._daily_table,
            Key={
                "order_year": {"S": f"{order_date.year:04d}"},
                "order_date": {"S": order_date.isoformat()},
            },
        )
        item = response.get("Item")
        return None if item is None else day_row(item)

    async def days(self, span: DateRange, limit: int) -> list[DayKpis]:
        rows: list[DayKpis] = []
        for year in span.years():
            async for item in self._query(
                limit - len(rows),
                TableName=self._daily_table,
                KeyConditionExpression="order_year = :y AND order_date BETWEEN :a AND :b",
                ExpressionAttributeValues={
                    ":y": {"S": year},
                    ":a": {"S": span.first.isoformat()},
                    ":b": {"S": span.last.isoformat()},
                },
            ):
                rows.append(day_row(item))
            if len(rows) >= limit:
                break
        return rows

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
                rows.extend(
                    category_row(item)
                    for item in response.get("Responses", {}).get(self._category_table, [])
                )
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
            category_row(item)
            async for item in self._query(
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
            response = await self._dynamodb.query(
                TableName=self._daily_table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ProjectionExpression="order_date",
                ScanIndexForward=False,
                Limit=1,
            )
            if response.get("Items"):
                return date.fromisoformat(response["Items"][0]["order_date"]["S"])
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
