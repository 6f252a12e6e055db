"""What the KPI computation reads and produces; plain values, no engine, no AWS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class CuratedPaths:
    """Local Parquet files (or glob patterns) of curated rows, per kind.

    A kind with no files is allowed: it reads as an empty table of the right shape, so a
    shop that has uploaded no products yet still gets a (product-less) computation.
    """

    orders: Sequence[str] = ()
    order_items: Sequence[str] = ()
    products: Sequence[str] = ()

    def is_empty(self) -> bool:
        return not (self.orders or self.order_items or self.products)


@dataclass(frozen=True)
class DayKpi:
    """KPIs of one order date over all its counted (non-cancelled) orders."""

    order_date: date
    total_orders: int
    total_revenue: Decimal
    total_items_sold: int
    return_rate: Decimal
    unique_customers: int


@dataclass(frozen=True)
class CategoryKpi:
    """KPIs of one product category on one order date."""

    category: str
    order_date: date
    daily_revenue: Decimal
    avg_order_value: Decimal
    avg_return_rate: Decimal


@dataclass(frozen=True)
class PendingItem:
    """An accepted item that does not count yet: its order or its product has not arrived."""

    item_id: int
    order_id: int
    product_id: int
    missing: str  # "order", "product" or "order and product"
    since: datetime | None  # first upload of the item; None when its upload time is unknown
    source_key: str
    source_line: int


@dataclass(frozen=True)
class PendingSummary:
    pending: int
    released: int
    orphaned: list[PendingItem]
    pending_by_file: dict[str, int]  # curated file key -> its items pending now
