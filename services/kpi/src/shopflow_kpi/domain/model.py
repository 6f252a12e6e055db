"""What the KPI computation reads and produces; plain values, no engine, no AWS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
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
