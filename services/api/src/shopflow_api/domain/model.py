"""The rows the API reads back, with their numbers exact.

DynamoDB keeps a number's digits but not its trailing zeros (``10.50`` comes back ``10.5``):
money and rates are put back to their two places here, so every response spells them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """Two places; exact for the table's values, which have at most two."""
    return value.quantize(CENT)


def ratio_to_cents(numerator: Decimal, denominator: int) -> Decimal:
    """``numerator / denominator`` to the cent, half away from zero, in integer arithmetic
    (as the KPI service rounds its averages; see docs/kpis.md)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    scaled = int(numerator * 100)
    sign = -1 if scaled < 0 else 1
    whole, rest = divmod(abs(scaled), denominator)
    if 2 * rest >= denominator:
        whole += 1
    return Decimal(sign * whole).scaleb(-2)


@dataclass(frozen=True)
class DayKpis:
    order_date: date
    total_orders: int
    total_revenue: Decimal
    total_items_sold: int
    return_rate: Decimal
    unique_customers: int
    computed_at: str | None = None
    batch_id: str | None = None

    @property
    def avg_order_value(self) -> Decimal:
        """Revenue per order: the day table keeps both parts, not the ratio."""
        return ratio_to_cents(self.total_revenue, self.total_orders)

    def as_json(self) -> dict[str, Any]:
        return {
            "order_date": self.order_date.isoformat(),
            "total_orders": self.total_orders,
            "total_revenue": cents(self.total_revenue),
            "total_items_sold": self.total_items_sold,
            "avg_order_value": self.avg_order_value,
            "return_rate": cents(self.return_rate),
            "unique_customers": self.unique_customers,
            "computed_at": self.computed_at,
            "batch_id": self.batch_id,
        }


@dataclass(frozen=True)
class CategoryKpis:
    category: str
    order_date: date
    daily_revenue: Decimal
    avg_order_value: Decimal
    avg_return_rate: Decimal
    computed_at: str | None = None
    batch_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "order_date": self.order_date.isoformat(),
            "daily_revenue": cents(self.daily_revenue),
            "avg_order_value": cents(self.avg_order_value),
            "avg_return_rate": cents(self.avg_return_rate),
            "computed_at": self.computed_at,
            "batch_id": self.batch_id,
        }
