"""KPI rows in the two DynamoDB tables."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from shopflow_runtime import kpi_versions
from shopflow_runtime.kpi_versions import KpiVersion

from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.ports import Stamp

log = logging.getLogger("shopflow.kpi")

# BatchWriteItem takes at most 25 put/delete requests per call, BatchGetItem 100 keys.
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
CATEGORY_DATE_INDEX = "by_order_date"
DAY_KEY = ("order_year", "order_date")
CATEGORY_KEY = ("category", "order_date")


class UnprocessedWritesError(Exception):
    """DynamoDB kept refusing some writes; the task fails as transient and is retried."""


class DynamoKpiRepository:
    """Daily table: ``order_year`` + ``order_date``; category table: ``category`` +
    ``order_date`` with the GSI ``by_order_date`` (``order_date`` + ``category``).

    KPI attributes are stored under their own names as DynamoDB numbers, written from
    ``Decimal`` (the serializer refuses floats), plus ``computed_at`` and ``batch_id``.

    With a ledger table, writes are versioned (``shopflow_runtime.kpi_versions``): ``begin``
    takes a version, every row written or deleted keeps what readers of the published
    version see of it, and ``publish`` shows both tables' new rows at once.
    """

    def __init__(
        self,
        dynamodb_client: Any,
        daily_table: str,
        category_table: str,
        *,
        ledger_table: str | None = None,
        max_attempts: int = 8,
        base_delay_seconds: float = 0.05,
        max_delay_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dynamodb = dynamodb_client
        self._daily_table = daily_table
        self._category_table = category_table
        self._ledger_table = ledger_table
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._max_delay = max_delay_seconds
        self._sleep = sleep
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()
        self._version: KpiVersion | None = None

    def begin(self, stamp: Stamp) -> None:
        if self._ledger_table is not None:
            self._version = kpi_versions.begin(self._dynamodb, self._ledger_table)

    def publish(self, stamp: Stamp) -> None:
        if self._ledger_table is not None and self._version is not None:
            kpi_versions.publish(self._dynamodb, self._ledger_table, self._version, stamp.batch_id)
            self._version = None

    def write_day_rows(self, rows: Sequence[DayKpi], stamp: Stamp) -> int:
        items = self._staged(self._daily_table, [day_item(row, stamp) for row in rows])
        self._batch_write(self._daily_table, [{"PutRequest": {"Item": i}} for i in items])
        return len(items)

    def write_category_rows(self, rows: Sequence[CategoryKpi], stamp: Stamp) -> int:
        items = self._staged(self._category_table, [category_item(row, stamp) for row in rows])
        self._batch_write(self._category_table, [{"PutRequest": {"Item": i}} for i in items])
        return len(items)

    def _staged(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items to put: as they are, or versioned over what the table holds now."""
        if self._version is None:
            return [self._item(row) for row in rows]
        keys = [{name: row[name] for name in self._key_names(table)} for row in rows]
        current = self._current(table, keys)
        version = self._version
        return [
            self._item(
                kpi_versions.staged_row(
                    row, current.get(_key_id(key)), version.number, version.published
                )
            )
            for row, key in zip(rows, keys, strict=True)
        ]

    def categories_on(self, order_date: date) -> set[str]:
        paginator = self._dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._category_table,
            IndexName=CATEGORY_DATE_INDEX,
            KeyConditionExpression="#d = :d",
            ProjectionExpression="#c",
            ExpressionAttributeNames={"#d": "order_date", "#c": "category"},
            ExpressionAttributeValues={":d": {"S": order_date.isoformat()}},
        )
        return {entry["category"]["S"] for page in pages for entry in page.get("Items", [])}

    def delete_rows(self, days: Sequence[date], categories: Sequence[tuple[str, date]]) -> None:
        for table, keys in (
            (self._daily_table, [day_key(d) for d in days]),
            (self._category_table, [category_key(c, d) for c, d in categories]),
        ):
            self._batch_write(table, self._deletions(table, keys))

    def _deletions(self, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._version is None:
            return [{"DeleteRequest": {"Key": self._item(key)}} for key in keys]
        # Versioned: a tombstone, so readers of the published version still see the row.
        current = self._current(table, keys)
        version = self._version
        stones = [
            kpi_versions.tombstone(
                key, current.get(_key_id(key)), version.number, version.published
            )
            for key in keys
        ]
        return [{"PutRequest": {"Item": self._item(stone)}} for stone in stones if stone]

    def _key_names(self, table: str) -> tuple[str, str]:
        return DAY_KEY if table == self._daily_table else CATEGORY_KEY

    def _current(self, table: str, keys: list[dict[str, Any]]) -> dict[tuple[str, ...], Any]:
        """The items the table holds now under ``keys`` (absent keys left out)."""
        found: dict[tuple[str, ...], Any] = {}
        for chunk in _chunks(keys, BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                table: {"Keys": [self._item(key) for key in chunk], "ConsistentRead": True}
            }
            attempt = 1
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(table, []):
                    item = {name: self._deserializer.deserialize(v) for name, v in raw.items()}
                    found[_key_id(item, self._key_names(table))] = item
                request = {t: r for t, r in (response.get("UnprocessedKeys") or {}).items() if r}
                if request:
                    if attempt >= self._max_attempts:
                        raise UnprocessedWritesError(f"reads of {table} still unprocessed")
                    self._sleep(min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))
                    attempt += 1
        return found

    def days_with_rows(self, first: date, last: date) -> list[date]:
        # The daily table is partitioned by year: one Query per year of the range.
        paginator = self._dynamodb.get_paginator("query")
        found: list[date] = []
        for year in range(first.year, last.year + 1):
            pages = paginator.paginate(
                TableName=self._daily_table,
                KeyConditionExpression="#y = :y AND #d BETWEEN :first AND :last",
                ProjectionExpression="#d",
                ExpressionAttributeNames={"#y": "order_year", "#d": "order_date"},
                ExpressionAttributeValues={
                    ":y": {"S": f"{year:04d}"},
                    ":first": {"S": first.isoformat()},
                    ":last": {"S": last.isoformat()},
                },
            )
            found.extend(
                date.fromisoformat(entry["order_date"]["S"])
                for page in pages
                for entry in page.get("Items", [])
            )
        return sorted(found)

    def _item(self, attributes: dict[str, Any]) -> dict[str, Any]:
        return {name: self._serializer.serialize(value) for name, value in attributes.items()}

    def _batch_write(self, table: str, requests: list[dict[str, Any]]) -> None:
        for chunk in _chunks(requests, BATCH_WRITE_LIMIT):
            pending: dict[str, list[dict[str, Any]]] = {table: chunk}
            attempt = 1
            while True:
                response = self._dynamodb.batch_write_item(RequestItems=pending)
                pending = {t: r for t, r in (response.get("UnprocessedItems") or {}).items() if r}
                if not pending:
                    break
                left = sum(map(len, pending.values()))
                if attempt >= self._max_attempts:
                    raise UnprocessedWritesError(
                        f"{left} writes to {table} still unprocessed after {attempt} attempts"
                    )
                # Unprocessed items mean throttling: back off exponentially, with jitter so
                # that concurrent writers do not retry in lockstep.
                delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                log.info("retrying unprocessed writes", extra={"table": table, "unprocessed": left})
                self._sleep(random.uniform(delay / 2, delay))  # noqa: S311 (jitter, not crypto)
                attempt += 1


def _key_id(item: dict[str, Any], names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A hashable key of an item: its key attributes' values, in key order."""
    if names is None:
        names = DAY_KEY if "order_year" in item else CATEGORY_KEY
    return tuple(str(item[name]) for name in names)


def _chunks(requests: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(requests), size):
        yield requests[start : start + size]


def day_key(order_date: date) -> dict[str, Any]:
    return {"order_year": f"{order_date.year:04d}", "order_date": order_date.isoformat()}


def category_key(category: str, order_date: date) -> dict[str, Any]:
    return {"category": category, "order_date": order_date.isoformat()}


def _stamp(stamp: Stamp) -> dict[str, Any]:
    return {"computed_at": stamp.computed_at.isoformat(), "batch_id": stamp.batch_id}


# Items carry every KPI attribute under its contract name (the keys' own form aside).
def day_item(row: DayKpi, stamp: Stamp) -> dict[str, Any]:
    return {
        **day_key(row.order_date),
        **row.model_dump(exclude={"order_date"}),
        **_stamp(stamp),
    }


def category_item(row: CategoryKpi, stamp: Stamp) -> dict[str, Any]:
    return {
        **category_key(row.category, row.order_date),
        **row.model_dump(exclude={"category", "order_date"}),
        **_stamp(stamp),
    }
